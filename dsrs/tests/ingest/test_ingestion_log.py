"""What ingest_dsr tells, once: a report for people, or JSON records with LOG_FORMAT=json."""

import json
import logging.config

import pytest
from django.core.management import CommandError, call_command

from dsr_project.settings import LOGGING, logging_config
from dsrs.formats.filenames import EXPECTED
from dsrs.ingest.service import ingest_dsr

pytestmark = pytest.mark.django_db

NAME = "Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv"


@pytest.fixture
def log_format(settings, capsys):
    """Configure logging as LOG_FORMAT and LOG_LEVEL would (stdout: capsys's, set up first)."""

    def configure(name: str, level: str = "INFO") -> None:
        settings.LOG_FORMAT = name
        logging.config.dictConfig(logging_config(name, level))

    yield configure
    logging.config.dictConfig(LOGGING)


def json_records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def without_time(entry: dict) -> dict:
    assert entry.pop("time").endswith("+00:00")
    assert entry.pop("seconds") >= 0
    return entry


def test_a_file_logs_one_json_line_with_its_outcome_and_counts(write_dsr, log_format, capsys):
    log_format("json")
    path = write_dsr(NAME, ["id1\tt\ta\ti\t1\t2", "id2\tt\ta\ti\t3\t4", "\tt\ta\ti\t5\t6"])

    dsr = ingest_dsr(path=path).dsr

    assert [without_time(entry) for entry in json_records(capsys.readouterr().out)] == [
        {
            "level": "WARNING",
            "logger": "dsrs.ingestion",
            "message": f"{path}: 1 of 3 lines rejected (33.33%), more than DSR_MAX_REJECTED_RATIO (1.00%); first: line 4: empty dsp_id",  # noqa: E501 (an exact value, whole)
            "path": str(path),
            "outcome": "failed",
            "dsr_id": dsr.id,
            "lines_read": 3,
            "lines_stored": 0,
            "lines_rejected": 1,
        }
    ]


def test_ingested_and_skipped_files_log_at_info_refused_ones_at_warning(write_dsr, log_format, capsys):
    log_format("json")
    path = write_dsr(NAME, ["id1\tt\ta\ti\t1\t2"])
    bad_name = write_dsr("not-a-dsr.tsv", ["id1\tt\ta\ti\t1\t2"])

    dsr = ingest_dsr(path=path).dsr
    ingest_dsr(path=path)
    ingest_dsr(path=bad_name)

    assert [
        (e["level"], e["outcome"], e["dsr_id"], e["lines_read"], e["lines_stored"], e["lines_rejected"])
        for e in json_records(capsys.readouterr().out)
    ] == [
        ("INFO", "ingested", dsr.id, 1, 1, 0),
        ("INFO", "skipped", dsr.id, 0, 0, 0),
        ("WARNING", "refused", None, 0, 0, 0),
    ]


def test_log_level_warning_logs_only_the_files_not_ingested(write_dsr, log_format, capsys):
    log_format("json", "WARNING")

    ingest_dsr(path=write_dsr(NAME, ["id1\tt\ta\ti\t1\t2"]))
    ingest_dsr(path=write_dsr("not-a-dsr.tsv", ["id1\tt\ta\ti\t1\t2"]))

    assert [e["outcome"] for e in json_records(capsys.readouterr().out)] == ["refused"]


def test_with_log_format_json_the_command_prints_json_records_only(write_dsr, log_format, capsys):
    log_format("json")
    good = write_dsr(NAME, ["id1\tt\ta\ti\t1\t2"])
    bad = write_dsr("not-a-dsr.tsv", ["id1\tt\ta\ti\t1\t2"])

    with pytest.raises(CommandError, match="1 of 2 files not ingested"):
        call_command("ingest_dsr", str(good), str(bad))

    output = capsys.readouterr()
    assert [(e["path"], e["outcome"]) for e in json_records(output.out)] == [
        (str(good), "ingested"),
        (str(bad), "refused"),
    ]
    assert output.err == ""


def test_with_log_format_text_the_command_tells_each_file_once(write_dsr, log_format, capsys):
    log_format("text")
    good = write_dsr(NAME, ["id1\tt\ta\ti\t1\t2"])
    bad = write_dsr("not-a-dsr.tsv", ["id1\tt\ta\ti\t1\t2"])

    with pytest.raises(CommandError, match="1 of 2 files not ingested"):
        call_command("ingest_dsr", str(good), str(bad))

    output = capsys.readouterr()
    out = output.out.splitlines()
    assert len(out) == 2
    assert out[0].startswith(f"{good}: ingested as DSR ")
    assert out[1].startswith("  lines read 1, stored 1, rejected 0 in ")
    assert output.err == f"{bad}: file name does not match {EXPECTED}\n"


def test_a_server_error_is_logged_with_its_traceback(client, log_format, capsys, monkeypatch):
    from dsrs.api import views

    def broken_selector(**filters):
        raise OverflowError("a bug")

    log_format("json")
    monkeypatch.setattr(views, "top_percentile_json", broken_selector)
    client.raise_request_exception = False

    assert client.get("/resources/percentile/10").status_code == 500
    [entry] = json_records(capsys.readouterr().out)
    assert (entry["level"], entry["logger"], entry["message"]) == (
        "ERROR",
        "django.request",
        "Internal Server Error: /resources/percentile/10",
    )
    assert entry["exc_info"].endswith("OverflowError: a bug")
