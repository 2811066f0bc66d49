import io
import json
import logging

import pytest
from django.conf import settings

from dsr_project.json_logging import JsonFormatter
from dsrs.ingestion import ingest_dsr

pytestmark = pytest.mark.django_db

NAME = "Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv"


@pytest.fixture
def log_lines():
    """What the configured handler of dsrs.ingestion writes, as parsed JSON lines."""
    (handler,) = [h for h in logging.getLogger("dsrs.ingestion").handlers if isinstance(h.formatter, JsonFormatter)]
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    handler.setStream(previous)


def without_time(entry: dict) -> dict:
    assert entry.pop("time").endswith("+00:00")
    assert entry.pop("seconds") >= 0
    return entry


def test_the_ingestion_log_goes_to_stdout():
    assert settings.LOGGING["handlers"]["stdout"]["stream"] == "ext://sys.stdout"


def test_a_file_logs_one_json_line_with_its_outcome_and_counts(write_dsr, log_lines):
    path = write_dsr(NAME, ["id1\tt\ta\ti\t1\t2", "id2\tt\ta\ti\t3\t4", "\tt\ta\ti\t5\t6"])

    dsr = ingest_dsr(path=path).dsr

    assert [without_time(entry) for entry in log_lines()] == [
        {
            "level": "WARNING",
            "logger": "dsrs.ingestion",
            "message": f"{path}: 1 of 3 lines rejected (33.33%), more than DSR_MAX_REJECTED_RATIO (1.00%); first: line 4: empty dsp_id",
            "path": str(path),
            "outcome": "failed",
            "dsr_id": dsr.id,
            "lines_read": 3,
            "lines_stored": 0,
            "lines_rejected": 1,
        }
    ]


def test_ingested_and_skipped_files_log_at_info_refused_ones_at_warning(write_dsr, log_lines):
    path = write_dsr(NAME, ["id1\tt\ta\ti\t1\t2"])
    bad_name = write_dsr("not-a-dsr.tsv", ["id1\tt\ta\ti\t1\t2"])

    dsr = ingest_dsr(path=path).dsr
    ingest_dsr(path=path)
    ingest_dsr(path=bad_name)

    assert [
        (e["level"], e["outcome"], e["dsr_id"], e["lines_read"], e["lines_stored"], e["lines_rejected"]) for e in log_lines()
    ] == [
        ("INFO", "ingested", dsr.id, 1, 1, 0),
        ("INFO", "skipped", dsr.id, 0, 0, 0),
        ("WARNING", "refused", None, 0, 0, 0),
    ]


def test_a_server_error_is_logged_with_its_traceback_on_the_same_stream(client, log_lines, monkeypatch):
    from dsrs import views

    def broken_selector(**filters):
        raise OverflowError("a bug")

    monkeypatch.setattr(views, "top_percentile_resources", broken_selector)
    client.raise_request_exception = False

    assert client.get("/resources/percentile/10").status_code == 500
    [entry] = log_lines()
    assert (entry["level"], entry["logger"], entry["message"]) == ("ERROR", "django.request", "Internal Server Error: /resources/percentile/10")
    assert entry["exception"].endswith("OverflowError: a bug")
