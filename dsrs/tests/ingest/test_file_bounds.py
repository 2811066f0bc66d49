"""The bounds on a whole file (dsrs.formats.limits): decompressed size, expansion of a .gz, line
count, and a rejection ratio the file can no longer meet. Each fails the file as soon as it is
passed, naming the bound and the line reached, and leaves the database as it was."""

import gzip
import re

import pytest

from dsrs.formats.blocks import CHUNK_BYTES
from dsrs.ingest.service import Outcome, ingest_dsr
from dsrs.models import DSR
from dsrs.tests.support.database import usage_partitions

pytestmark = pytest.mark.django_db

NAME = "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv"
HEADER = b"dsp_id\ttitle\tartists\tisrc\tusages\trevenue\n"
LINE = b"id\tSong\tArtist\tISRC\t1\t0.5\n"


def failed_after_line(result, message: str) -> int:
    """The line the failure names, once its message is checked."""
    assert (result.outcome, result.dsr.status, result.dsr.lines_stored) == (Outcome.FAILED, "failed", 0)
    assert usage_partitions() == []
    match = re.fullmatch(re.escape(f"{result.path}: {message}") + r", after line ([0-9,]+)", result.message)
    assert match, result.message
    return int(match[1].replace(",", ""))


def test_a_decompression_bomb_fails_within_its_first_megabytes(tmp_path):
    path = tmp_path / f"{NAME}.gz"
    path.write_bytes(gzip.compress(HEADER + LINE * 1_000_000))  # 26 MB of one line in 26 KB
    size = path.stat().st_size

    result = ingest_dsr(path=path)

    line = failed_after_line(
        result,
        f"decompresses to more than 100 times its {size:,} bytes (DSR_MAX_EXPANSION): DSPs' files do not, "
        "decompression bombs do",
    )
    # Stopped at the block that passed 100 times the file's size, its lines before it validated.
    bound = 100 * size
    assert (bound - 2 * CHUNK_BYTES) // len(LINE) <= line <= bound // len(LINE)
    assert DSR.objects.get().error == result.message


def test_a_real_dsrs_expansion_is_far_below_the_bound(tmp_path):
    lines = b"".join(
        b"%x\tSong %d\tArtist %d\tISRC%07d\t%d\t%d.25\n" % (i * 7919, i, i % 97, i, i % 9, i) for i in range(50_000)
    )
    path = tmp_path / f"{NAME}.gz"
    path.write_bytes(gzip.compress(HEADER + lines))

    assert ingest_dsr(path=path).outcome == Outcome.INGESTED


def test_a_file_past_dsr_max_bytes_fails(tmp_path, settings):
    settings.DSR_MAX_BYTES = 200_000
    path = tmp_path / NAME
    path.write_bytes(HEADER + LINE * 10_000)  # 290 KB

    line = failed_after_line(ingest_dsr(path=path), "more than 200,000 bytes once decompressed (DSR_MAX_BYTES)")

    assert line < 200_000 // len(LINE)


def test_a_file_past_dsr_max_lines_fails(tmp_path, settings):
    settings.DSR_MAX_LINES = 1_000
    path = tmp_path / NAME
    path.write_bytes(HEADER + LINE * 5_000)

    result = ingest_dsr(path=path)

    assert (result.outcome, result.message) == (Outcome.FAILED, f"{path}: more than 1,000 lines (DSR_MAX_LINES)")
    assert usage_partitions() == []


def test_a_file_of_junk_fails_once_it_can_no_longer_meet_the_rejection_ratio(tmp_path):
    path = tmp_path / NAME
    path.write_bytes(HEADER + b"junk\n" * 2_000_000)  # 10 MB, every line rejected

    result = ingest_dsr(path=path)

    # At most 10M lines fit in 10 MB: past 100,000 rejected (1%), the file cannot pass.
    assert result.outcome == Outcome.FAILED
    match = re.fullmatch(
        re.escape(f"{path}: ")
        + r"([0-9,]+) of the first ([0-9,]+) lines rejected: more than DSR_MAX_REJECTED_RATIO \(1\.00%\) of the most "
        + re.escape("lines the file can hold (10,000,041), so it cannot pass; first: line 2: expected 6 tab-separated ")
        + r"fields, found 1",
        result.message,
    )
    assert match, result.message
    rejected, read = (int(group.replace(",", "")) for group in match.groups())
    assert rejected == read and 100_000 < read < 120_000  # about a hundredth of the file
    assert usage_partitions() == []


def test_rejected_lines_that_the_rest_of_the_file_can_still_outweigh_do_not_stop_it(tmp_path):
    path = tmp_path / NAME
    path.write_bytes(HEADER + b"junk\n" * 500 + LINE * 100_000)

    result = ingest_dsr(path=path)

    assert (result.outcome, result.lines_rejected, result.lines_stored) == (Outcome.INGESTED, 500, 100_000)
