import gzip
import os
import signal
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from dsrs.ingest.service import Outcome, Remedy, ingest_dsr
from dsrs.models import DSR, Currency, Territory
from dsrs.tests.support.database import stored_lines, usage_partitions
from dsrs.tests.support.paths import SEED_DATA

pytestmark = pytest.mark.django_db

NOK_JANUARY_2020 = "Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv.gz"
EUR_JANUARY_2020 = "Spotify_SpotifyFamilyPlan_ES_EUR_20200101-20200131.tsv"
GOOD = ["id1\tSong One\tAna|Ben\tES0000000001\t10\t1.5", "id2\tSong Two\tCarla\tES0000000002\t20\t2.25"]


def test_it_ingests_a_gzipped_file(write_dsr):
    path = write_dsr(NOK_JANUARY_2020, GOOD)

    result = ingest_dsr(path=path)

    assert result.outcome == Outcome.INGESTED
    assert result.message == f"{path}: ingested as DSR {result.dsr.id}"
    dsr = DSR.objects.get()
    assert (dsr.status, dsr.path, dsr.dsp, dsr.service, dsr.society) == (
        "ingested",
        str(path),
        "Spotify",
        "SpotifyDuo",
        None,
    )
    assert (dsr.territory.name, dsr.currency.name) == ("Norway", "Norwegian Krone")
    assert (str(dsr.period_start), str(dsr.period_end)) == ("2020-01-01", "2020-01-31")
    assert (dsr.lines_read, dsr.lines_stored, dsr.lines_rejected, dsr.rejections) == (2, 2, 0, [])
    assert (dsr.eur_rate, dsr.eur_rate_source) == (Decimal("9.9384227273"), "ecb")
    assert dsr.error == ""
    assert stored_lines(dsr.id) == [
        ("id1", "Song One", "Ana|Ben", "ES0000000001", 10, Decimal("1.5")),
        ("id2", "Song Two", "Carla", "ES0000000002", 20, Decimal("2.25")),
    ]


def test_it_ingests_a_plain_crlf_file_with_a_bom_and_a_society(write_dsr):
    path = write_dsr(
        "Spotify_SpotifyStudent_SGAE_GB_GBP_20210901-20210930.tsv",
        GOOD,
        header="\ufeffdsp_id\ttitle\tartists\tisrc\tusages\trevenue",
        newline="\r\n",
    )

    dsr = ingest_dsr(path=path).dsr

    assert (dsr.status, dsr.society, dsr.territory.name, dsr.currency.name) == (
        "ingested",
        "SGAE",
        "United Kingdom",
        "Pound Sterling",
    )
    assert [line[:2] for line in stored_lines(dsr.id)] == [("id1", "Song One"), ("id2", "Song Two")]


def test_the_last_line_may_lack_its_line_end(tmp_path):
    path = tmp_path / EUR_JANUARY_2020
    path.write_bytes(b"dsp_id\ttitle\tartists\tisrc\tusages\trevenue\nid1\tt\ta\ti\t1\t2")

    dsr = ingest_dsr(path=path).dsr

    assert stored_lines(dsr.id) == [("id1", "t", "a", "i", 1, Decimal(2))]


def test_empty_numbers_are_zero_and_empty_texts_are_stored_empty(write_dsr):
    path = write_dsr(EUR_JANUARY_2020, ["id1\t\t\t\t\t", "id2\tt\ta\ti\t\t3.5", "id3\tt\ta\ti\t4\t"])

    dsr = ingest_dsr(path=path).dsr

    assert (dsr.lines_stored, dsr.lines_rejected) == (3, 0)
    assert stored_lines(dsr.id) == [
        ("id1", "", "", "", 0, Decimal(0)),
        ("id2", "t", "a", "i", 0, Decimal("3.5")),
        ("id3", "t", "a", "i", 4, Decimal(0)),
    ]


def test_text_is_stored_exactly_as_reported(write_dsr):
    path = write_dsr(EUR_JANUARY_2020, ['id\\1\t"Quoted" \\N caf\u00e9\tA|B\t\t1\t2.220446049250313e-16'])

    dsr = ingest_dsr(path=path).dsr

    assert stored_lines(dsr.id) == [("id\\1", '"Quoted" \\N caf\u00e9', "A|B", "", 1, Decimal("2.220446049250313e-16"))]


def test_a_dsp_id_repeated_in_one_file_is_kept_as_separate_lines(write_dsr):
    path = write_dsr(EUR_JANUARY_2020, ["id1\tt\ta\ti\t1\t2", "id1\tt\ta\ti\t1\t2"])

    dsr = ingest_dsr(path=path).dsr

    assert stored_lines(dsr.id) == [("id1", "t", "a", "i", 1, Decimal(2))] * 2


def test_rejected_lines_are_counted_and_reported_but_not_stored(write_dsr, settings):
    settings.DSR_MAX_REJECTED_RATIO = 0.5
    path = write_dsr(
        EUR_JANUARY_2020, ["id1\tt\ta\ti\t1\t2", "id2\tt\ta\ti\t-1\t2", b"id3\t\xff\ta\ti\t1\t2", "id4\tt\ta\ti\t1\t2"]
    )

    result = ingest_dsr(path=path)

    dsr = result.dsr
    assert (dsr.status, dsr.lines_read, dsr.lines_stored, dsr.lines_rejected) == ("ingested", 4, 2, 2)
    assert dsr.rejections == [
        {"line": 3, "reason": "usages '-1' is not an unsigned integer (digits 0-9)"},
        {"line": 4, "reason": "invalid UTF-8 at byte 5"},
    ]
    assert [line[0] for line in stored_lines(dsr.id)] == ["id1", "id4"]


def test_the_rejection_report_keeps_the_first_100_rejected_lines(write_dsr, settings):
    settings.DSR_MAX_REJECTED_RATIO = 0.5
    path = write_dsr(EUR_JANUARY_2020, ["bad"] * 150 + ["id\tt\ta\ti\t1\t2"] * 150)

    dsr = ingest_dsr(path=path).dsr

    assert (dsr.status, dsr.lines_rejected) == ("ingested", 150)
    assert [r["line"] for r in dsr.rejections] == list(range(2, 102))


def test_a_file_over_the_rejection_ratio_fails_whole(write_dsr):
    path = write_dsr(EUR_JANUARY_2020, ["id\tt\ta\ti\t1\t2"] * 98 + ["id\tt\ta\ti\tx\t2"] * 2)

    result = ingest_dsr(path=path)

    assert result.outcome == Outcome.FAILED
    assert result.message == (
        f"{path}: 2 of 100 lines rejected (2.00%), more than DSR_MAX_REJECTED_RATIO (1.00%); "
        "first: line 100: usages 'x' is not an unsigned integer (digits 0-9)"
    )
    dsr = DSR.objects.get()
    assert (dsr.status, dsr.error, dsr.lines_read, dsr.lines_stored, dsr.lines_rejected) == (
        "failed",
        result.message,
        100,
        0,
        2,
    )
    assert stored_lines(dsr.id) == []
    assert usage_partitions() == []


def test_a_file_at_the_rejection_ratio_is_ingested(write_dsr):
    path = write_dsr(EUR_JANUARY_2020, ["id\tt\ta\ti\t1\t2"] * 99 + ["id\tt\ta\ti\tx\t2"])

    assert ingest_dsr(path=path).dsr.status == "ingested"


def test_a_file_without_valid_lines_fails(write_dsr):
    result = ingest_dsr(path=write_dsr(EUR_JANUARY_2020, []))

    assert result.outcome == Outcome.FAILED
    assert result.message.endswith(": no valid usage line (0 rejected)")
    assert DSR.objects.get().status == "failed"


@pytest.mark.parametrize(
    "header, error",
    [
        (
            "dsp_id\ttitle\tartists\tisrc\tusages",
            "line 1: expected the header 'dsp_id title artists isrc usages revenue' (tab-separated), found "
            "'dsp_id\\ttitle\\tartists\\tisrc\\tusages'",
        ),
        (
            "id0\tt\ta\ti\t1\t2",
            "line 1: expected the header 'dsp_id title artists isrc usages revenue' (tab-separated), found "
            "'id0\\tt\\ta\\ti\\t1\\t2'",
        ),
    ],
)
def test_a_wrong_header_fails_the_file(write_dsr, header, error):
    path = write_dsr(EUR_JANUARY_2020, GOOD, header=header)

    result = ingest_dsr(path=path)

    assert (result.outcome, result.message) == (Outcome.FAILED, f"{path}: {error}")
    assert DSR.objects.get().error == f"{path}: {error}"


def test_an_empty_file_fails(tmp_path):
    path = tmp_path / EUR_JANUARY_2020
    path.write_bytes(b"")

    assert ingest_dsr(path=path).message == f"{path}: line 1: the file is empty, expected a header line"


def test_a_truncated_gzip_fails_and_stores_nothing(tmp_path):
    path = tmp_path / NOK_JANUARY_2020
    data = "dsp_id\ttitle\tartists\tisrc\tusages\trevenue\n" + "".join(
        f"id{i}\tt\ta\ti\t1\t2\n" for i in range(600_000)
    )
    compressed = gzip.compress(data.encode())
    path.write_bytes(compressed[: len(compressed) * 3 // 4])

    result = ingest_dsr(path=path)

    assert result.outcome == Outcome.FAILED
    assert result.message.startswith(f"{path}: truncated gzip: the file ends after line ")
    assert 0 < result.lines_read < 600_000  # it failed in the middle of the load...
    dsr = DSR.objects.get()
    assert (dsr.status, dsr.lines_read) == ("failed", result.lines_read)
    assert stored_lines(dsr.id) == []  # ...and nothing of it remains
    assert usage_partitions() == []


def test_a_corrupt_gzip_fails_and_stores_nothing(tmp_path):
    path = tmp_path / NOK_JANUARY_2020
    compressed = gzip.compress(
        ("dsp_id\ttitle\tartists\tisrc\tusages\trevenue\n" + "id\tt\ta\ti\t1\t2\n" * 1000).encode()
    )
    path.write_bytes(compressed[:20] + b"\x00" * 50 + compressed[70:])

    result = ingest_dsr(path=path)

    assert result.message == f"{path}: not a readable gzip file (Error -1 Invalid deflate block found)"
    assert (DSR.objects.get().status, usage_partitions()) == ("failed", [])


def test_a_gz_name_on_a_plain_file_fails(write_dsr, tmp_path):
    path = tmp_path / NOK_JANUARY_2020
    path.write_text("dsp_id\ttitle\tartists\tisrc\tusages\trevenue\n")

    result = ingest_dsr(path=path)

    assert result.message == f"{path}: not a readable gzip file (Not a gzipped file (b'ds'))"


def test_a_missing_file_fails(tmp_path):
    path = tmp_path / EUR_JANUARY_2020

    result = ingest_dsr(path=path)

    assert (result.outcome, result.message) == (
        Outcome.FAILED,
        f"{path}: [Errno 2] No such file or directory: '{path}'",
    )


def test_a_database_error_in_the_middle_of_the_load_leaves_no_trace(write_dsr, monkeypatch):
    from dsrs.storage import partitions

    def failing_attach(dsr_id):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1/0")

    monkeypatch.setattr(partitions, "attach_partition", failing_attach)

    result = ingest_dsr(path=write_dsr(EUR_JANUARY_2020, GOOD))

    assert result.outcome == Outcome.FAILED
    assert "division by zero" in result.message
    assert list(DSR.objects.values_list("status", flat=True)) == ["failed"]
    assert usage_partitions() == []


@pytest.mark.parametrize(
    "name, message",
    [
        ("Spotify_SpotifyDuo_NO_NOK_2020-01.tsv", "file name does not match"),
        ("Spotify_SpotifyDuo_XX_NOK_20200101-20200131.tsv", "unknown territory 'XX' (ISO 3166 alpha-2)"),
        ("Spotify_SpotifyDuo_NO_QQQ_20200101-20200131.tsv", "unknown currency 'QQQ' (ISO 4217)"),
    ],
)
def test_a_bad_name_or_unknown_code_stores_nothing(write_dsr, name, message):
    result = ingest_dsr(path=write_dsr(name, GOOD))

    assert result.outcome == Outcome.REFUSED
    assert message in result.message
    assert DSR.objects.count() == 0


def test_the_same_file_is_not_ingested_twice(write_dsr):
    path = write_dsr(EUR_JANUARY_2020, GOOD)
    first = ingest_dsr(path=path).dsr

    result = ingest_dsr(path=path)

    assert (result.outcome, result.message) == (
        Outcome.SKIPPED,
        f"{path}: skipped, this file is already ingested as DSR {first.id}",
    )
    assert DSR.objects.count() == 1


def test_a_second_delivery_of_a_report_is_refused_without_replace(write_dsr, tmp_path):
    first = ingest_dsr(path=write_dsr(EUR_JANUARY_2020, GOOD)).dsr
    (tmp_path / "again").mkdir()
    second = write_dsr(f"again/{EUR_JANUARY_2020}", GOOD[:1])

    result = ingest_dsr(path=second)

    assert (result.outcome, result.remedy) == (Outcome.REFUSED, Remedy.REPLACE)
    assert result.message == (
        f"{second}: DSR {first.id} ({first.path}) already reports this DSP, service, society, territory and period"
    )
    assert list(DSR.objects.values_list("id", flat=True)) == [first.id]


def test_the_command_says_how_to_replace_a_report_already_ingested(write_dsr, tmp_path, capsys):
    first = ingest_dsr(path=write_dsr(EUR_JANUARY_2020, GOOD)).dsr
    (tmp_path / "again").mkdir()
    second = write_dsr(f"again/{EUR_JANUARY_2020}", GOOD[:1])

    with pytest.raises(CommandError, match="1 of 1 files not ingested"):
        call_command("ingest_dsr", str(second))

    assert capsys.readouterr().err == (
        f"{second}: DSR {first.id} ({first.path}) already reports this DSP, service, society, territory and "
        "period; to swap it for this file, ingest it with --replace\n"
    )


def test_replace_swaps_the_ingested_report_for_the_new_file(write_dsr, tmp_path):
    first = ingest_dsr(path=write_dsr(EUR_JANUARY_2020, GOOD)).dsr
    (tmp_path / "again").mkdir()

    result = ingest_dsr(path=write_dsr(f"again/{EUR_JANUARY_2020}", ["id9\tt\ta\ti\t9\t9"]), replace=True)

    assert result.message.endswith(f"ingested as DSR {result.dsr.id}, replacing DSR {first.id}")
    assert list(DSR.objects.values_list("id", flat=True)) == [result.dsr.id]
    assert stored_lines(first.id) == []
    assert stored_lines(result.dsr.id) == [("id9", "t", "a", "i", 9, Decimal(9))]
    assert usage_partitions() == [f"dsrs_usage_{result.dsr.id}"]


def test_a_failed_replacement_keeps_the_ingested_report(write_dsr, tmp_path):
    first = ingest_dsr(path=write_dsr(EUR_JANUARY_2020, GOOD)).dsr
    (tmp_path / "again").mkdir()

    result = ingest_dsr(path=write_dsr(f"again/{EUR_JANUARY_2020}", ["bad"]), replace=True)

    assert result.outcome == Outcome.FAILED
    assert DSR.objects.get(id=first.id).status == "ingested"
    assert len(stored_lines(first.id)) == 2


def test_other_societies_and_periods_are_other_reports(write_dsr):
    ingest_dsr(path=write_dsr("Spotify_SpotifyStudent_GB_GBP_20210901-20210930.tsv", GOOD))
    ingest_dsr(path=write_dsr("Spotify_SpotifyStudent_SGAE_GB_GBP_20210901-20210930.tsv", GOOD[:1]))
    ingest_dsr(path=write_dsr("Spotify_SpotifyStudent_GB_GBP_20211001-20211031.tsv", GOOD[1:]))

    assert DSR.objects.filter(status="ingested").count() == 3


def test_euro_reports_have_rate_one(write_dsr):
    assert ingest_dsr(path=write_dsr(EUR_JANUARY_2020, GOOD)).dsr.eur_rate == Decimal(1)


def test_the_eur_rate_can_be_given(write_dsr):
    dsr = ingest_dsr(path=write_dsr(NOK_JANUARY_2020, GOOD), eur_rate=Decimal("10.5")).dsr

    assert (dsr.eur_rate, dsr.eur_rate_source) == (Decimal("10.5"), "override")


def test_a_period_without_ecb_rate_fails_the_file(write_dsr):
    path = write_dsr("Spotify_SpotifyDuo_RU_RUB_20230101-20230131.tsv", GOOD)

    result = ingest_dsr(path=path)

    assert (result.message, result.remedy) == (
        f"{path}: no ECB rate for RUB published between 2023-01-01 and 2023-01-31",
        Remedy.EUR_RATE,
    )
    assert DSR.objects.get().status == "failed"


def test_the_reference_data_has_iso_names():
    assert Territory.objects.get(code_2="ES").name == "Spain"
    assert Territory.objects.get(code_2="GB").name == "United Kingdom"
    assert Currency.objects.get(code="EUR").name == "Euro"
    assert Currency.objects.get(code="NOK").name == "Norwegian Krone"
    assert (Territory.objects.count(), Currency.objects.count()) == (249, 178)


@pytest.mark.skipif(not SEED_DATA.is_dir(), reason="the seed DSRs are not checked out beside the project")
def test_the_real_sample_files_are_ingested():
    for path in sorted(SEED_DATA.iterdir()):
        assert ingest_dsr(path=path).outcome == Outcome.INGESTED

    assert list(
        DSR.objects.values_list("path", "status", "lines_read", "lines_stored", "lines_rejected", "eur_rate")
    ) == [
        (
            str(SEED_DATA / "Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv.gz"),
            "ingested",
            1000,
            1000,
            0,
            Decimal("9.9384227273"),
        ),
        (
            str(SEED_DATA / "Spotify_SpotifyFamilyPlan_ES_EUR_20200101-20200131.tsv.gz"),
            "ingested",
            1000,
            1000,
            0,
            Decimal(1),
        ),
        (
            str(SEED_DATA / "Spotify_SpotifyFree_CH_CHF_20200201-20200228.tsv.gz"),
            "ingested",
            1000,
            1000,
            0,
            Decimal("1.0647800000"),
        ),
        (
            str(SEED_DATA / "Spotify_SpotifyStudent_GB_GBP_20200301-20200331.tsv.gz"),
            "ingested",
            1000,
            1000,
            0,
            Decimal("0.8945954545"),
        ),
        (
            str(SEED_DATA / "Spotify_SpotifyStudent_SGAE_GB_GBP_20210901-20210930.tsv"),
            "ingested",
            13,
            13,
            0,
            Decimal("0.8568331818"),
        ),
    ]


class TestCommand:
    def test_it_reports_each_file_and_exits_zero_when_all_are_ingested(self, write_dsr, capsys):
        first = write_dsr(EUR_JANUARY_2020, GOOD)
        second = write_dsr(NOK_JANUARY_2020, GOOD[:1])

        call_command("ingest_dsr", str(first), str(second), "--eur-rate", "10")

        out = capsys.readouterr().out.splitlines()
        ids = list(DSR.objects.values_list("id", flat=True))
        assert out[0] == f"{first}: ingested as DSR {ids[0]}"
        assert out[1].startswith("  lines read 2, stored 2, rejected 0 in ")
        assert out[2] == f"{second}: ingested as DSR {ids[1]}"

    def test_it_exits_non_zero_when_a_file_fails(self, write_dsr, capsys):
        good = write_dsr(EUR_JANUARY_2020, GOOD)
        bad = write_dsr("Spotify_SpotifyDuo_NO_NOK_2020.tsv", GOOD)

        with pytest.raises(CommandError, match="1 of 2 files not ingested"):
            call_command("ingest_dsr", str(good), str(bad))

        assert f"{bad}: file name does not match" in capsys.readouterr().err
        assert DSR.objects.get().status == "ingested"

    def test_it_shows_the_first_rejected_lines(self, write_dsr, capsys, settings):
        settings.DSR_MAX_REJECTED_RATIO = 0.5
        call_command("ingest_dsr", str(write_dsr(EUR_JANUARY_2020, [*GOOD, "id3\tt\ta\ti\t1"])))

        assert "  rejected line 4: expected 6 tab-separated fields, found 5" in capsys.readouterr().out

    def test_an_ingested_file_is_skipped_without_error(self, write_dsr, capsys):
        path = write_dsr(EUR_JANUARY_2020, GOOD)
        call_command("ingest_dsr", str(path))

        call_command("ingest_dsr", str(path))

        assert "skipped, this file is already ingested as DSR" in capsys.readouterr().out

    @pytest.mark.parametrize("rate", ["0", "-1", "abc", "nan", "inf", "\u0661\u0660", "1_0", " 10", "1e1000"])
    def test_it_rejects_a_bad_eur_rate(self, write_dsr, rate):
        with pytest.raises(CommandError, match="argument --eur-rate: invalid positive_decimal value"):
            call_command("ingest_dsr", str(write_dsr(EUR_JANUARY_2020, GOOD)), "--eur-rate", rate)


class TestSignals:
    """The command catches SIGINT and SIGTERM; the signals here are real, sent to this process at
    a chosen point: before a file's commit it is rolled back, during its commit it stays."""

    @pytest.fixture
    def signal_at(self, monkeypatch):
        def send_when_called(module, function_name: str, signum: int) -> None:
            function = getattr(module, function_name)

            def sending(*args, **kwargs):
                # Python's own handlers would stop the test run itself (SIGINT) or kill it (SIGTERM).
                assert signal.getsignal(signum) not in (signal.default_int_handler, signal.SIG_DFL), (
                    "the signal is not caught"
                )
                os.kill(os.getpid(), signum)
                return function(*args, **kwargs)

            monkeypatch.setattr(module, function_name, sending)

        return send_when_called

    def test_a_signal_before_the_commit_rolls_the_file_back_and_exits_128_plus_its_number(
        self, write_dsr, signal_at, capsys
    ):
        from dsrs.storage import partitions

        first, second = write_dsr(EUR_JANUARY_2020, GOOD), write_dsr(NOK_JANUARY_2020, GOOD)
        signal_at(partitions, "take_turn_to_commit", signal.SIGTERM)

        with pytest.raises(CommandError, match=r"^interrupted: 2 of 2 files not ingested$") as raised:
            call_command("ingest_dsr", str(first), str(second))

        assert raised.value.returncode == 143
        assert capsys.readouterr().err == f"{first}: interrupted by SIGTERM, rolled back: nothing of it is stored\n"
        assert (DSR.objects.count(), usage_partitions()) == (0, [])

    def test_a_signal_during_a_commit_lets_it_finish_and_stops_before_the_next_file(self, write_dsr, signal_at, capsys):
        from dsrs.ingest import service as ingestion

        first, second = write_dsr(EUR_JANUARY_2020, GOOD), write_dsr(NOK_JANUARY_2020, GOOD)
        signal_at(ingestion, "_log_result", signal.SIGINT)

        with pytest.raises(CommandError, match=r"^1 of 2 files not ingested$") as raised:
            call_command("ingest_dsr", str(first), str(second))

        assert raised.value.returncode == 1
        dsr = DSR.objects.get()
        out, err = capsys.readouterr()
        assert out.splitlines()[0] == f"{first}: ingested as DSR {dsr.id}"
        assert err == "interrupted by SIGINT: 1 of 2 files not started\n"
        assert (dsr.status, usage_partitions()) == ("ingested", [f"dsrs_usage_{dsr.id}"])

    def test_a_signal_during_the_last_commit_exits_zero(self, write_dsr, signal_at, capsys):
        from dsrs.ingest import service as ingestion

        signal_at(ingestion, "_log_result", signal.SIGINT)

        call_command("ingest_dsr", str(write_dsr(EUR_JANUARY_2020, GOOD)))

        assert capsys.readouterr().err == "interrupted by SIGINT after the last file was handled\n"
        assert DSR.objects.get().status == "ingested"

    def test_the_handlers_before_the_command_are_back_after_it(self, write_dsr):
        call_command("ingest_dsr", str(write_dsr(EUR_JANUARY_2020, GOOD)))

        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_progress_is_reported_until_the_whole_file_is_read(write_dsr):
    path = write_dsr(NOK_JANUARY_2020, [f"id{i}\ttitle {i}\tartist\tisrc\t{i}\t{i}.5" for i in range(100_000)])
    seen = []

    ingest_dsr(path=path, on_progress=seen.append)

    assert len(seen) > 1
    assert [p.lines for p in seen] == sorted(p.lines for p in seen)
    assert (seen[-1].lines, seen[-1].bytes_read, seen[-1].file_size) == (
        100_000,
        path.stat().st_size,
        path.stat().st_size,
    )


def test_an_interrupted_ingestion_leaves_no_trace_and_can_be_run_again(write_dsr):
    path = write_dsr(NOK_JANUARY_2020, [f"id{i}\ttitle {i}\tartist\tisrc\t{i}\t{i}.5" for i in range(100_000)])

    def interrupt(progress):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        ingest_dsr(path=path, on_progress=interrupt)

    assert (DSR.objects.count(), usage_partitions()) == (0, [])
    assert ingest_dsr(path=path).dsr.lines_stored == 100_000


def test_a_line_longer_than_a_read_block_is_stored_whole(write_dsr):
    long_title = "la " * 100_000  # 300 KB, several read blocks
    path = write_dsr(NOK_JANUARY_2020, [GOOD[0], f"id9\t{long_title}\ta\ti\t1\t2", GOOD[1]])

    dsr = ingest_dsr(path=path).dsr

    assert [(line[0], len(line[1])) for line in stored_lines(dsr.id)] == [("id1", 8), ("id2", 8), ("id9", 300_000)]


def test_a_line_longer_than_the_limit_is_rejected_and_the_others_are_stored(write_dsr, settings):
    settings.DSR_MAX_REJECTED_RATIO = 0.5
    settings.DSR_MAX_EXPANSION = 10_000  # one word 400,000 times over gzips a thousandfold, as a bomb does
    path = write_dsr(NOK_JANUARY_2020, [GOOD[0], "id9\t" + "la " * 400_000 + "\ta\ti\t1\t2", GOOD[1]])

    dsr = ingest_dsr(path=path).dsr

    assert (dsr.status, dsr.lines_read, dsr.lines_stored) == ("ingested", 3, 2)
    assert dsr.rejections == [{"line": 3, "reason": "longer than the limit of 1,048,576 bytes"}]
    assert [line[0] for line in stored_lines(dsr.id)] == ["id1", "id2"]


def test_a_file_without_a_line_end_fails_at_its_header_without_reading_on(tmp_path):
    path = tmp_path / NOK_JANUARY_2020
    compressed = gzip.compress(b"x" * 50_000_000)
    path.write_bytes(compressed[: len(compressed) // 2])  # a broken end, which is never reached

    result = ingest_dsr(path=path)

    assert result.message.startswith(
        f"{path}: line 1: expected the header 'dsp_id title artists isrc usages revenue' (tab-separated), found 'xxx"
    )
    assert DSR.objects.get().status == "failed"


def test_after_a_copy_error_the_counts_are_those_of_the_lines_handed_to_copy_and_no_reader_thread_runs(
    write_dsr, monkeypatch
):
    import threading

    import psycopg

    from dsrs.ingest import service as ingestion
    from dsrs.storage import partitions

    path = write_dsr(NOK_JANUARY_2020, [f"id{i}\ttitle {i}\tartist\tisrc\t{i}\t{i}.5" for i in range(100_000)])
    handed_over = []

    def copy_failing_at_the_fourth_chunk(dsr_id, chunks):
        for chunk in chunks:
            handed_over.append(chunk.count(b"\n"))
            if len(handed_over) == 4:
                raise psycopg.errors.QueryCanceled("canceling statement due to statement timeout")

    threads_while_recording = []
    record_failure = ingestion._record_failure

    def spying_record_failure(*args):
        threads_while_recording.extend(t.name for t in threading.enumerate() if t.name.startswith("dsr-"))
        return record_failure(*args)

    monkeypatch.setattr(partitions, "load_partition", copy_failing_at_the_fourth_chunk)
    monkeypatch.setattr(ingestion, "_record_failure", spying_record_failure)

    result = ingest_dsr(path=path)

    assert result.message == f"{path}: database error: canceling statement due to statement timeout"
    assert threads_while_recording == []
    dsr = DSR.objects.get()
    assert (dsr.status, dsr.lines_read, dsr.lines_stored) == ("failed", sum(handed_over), 0)
    assert 0 < dsr.lines_read < 100_000
