"""dsrs.formats.blocks and dsrs.formats.tsv: a DSR file into validated COPY text, in bounded memory and linear time."""

import gzip
import io
import tracemalloc

import pytest

from dsrs.formats.blocks import CHUNK_BYTES, MAX_LINE_BYTES, FileFailure, read_blocks
from dsrs.formats.tsv import validated_chunks
from dsrs.formats.usage_lines import LineCounts, Rejection

HEADER = b"dsp_id\ttitle\tartists\tisrc\tusages\trevenue\n"


def read(data: bytes, *, gzipped: bool = False) -> tuple[bytes, LineCounts]:
    counts = LineCounts()
    raw = io.BytesIO(gzip.compress(data) if gzipped else data)
    copy_text = b"".join(counts.taking(validated_chunks(read_blocks(raw, gzipped=gzipped))))
    return copy_text, counts


def test_lines_across_blocks_come_out_whole_and_in_order():
    lines = [b"id%d\t%s\ta\ti\t%d\t1\n" % (i, b"x" * (i % 5000), i) for i in range(300)]

    copy_text, counts = read(HEADER + b"".join(lines))

    assert copy_text == b"".join(lines)
    assert (counts.lines_read, counts.lines_stored, counts.bytes_read) == (300, 300, len(HEADER + b"".join(lines)))


def test_a_line_longer_than_the_limit_is_rejected_with_its_number_and_the_next_lines_are_kept():
    long_line = b"id2\t" + b"x" * MAX_LINE_BYTES + b"\ta\ti\t1\t1\n"

    copy_text, counts = read(HEADER + b"id1\tt\ta\ti\t1\t1\n" + long_line + b"id3\tt\ta\ti\t1\t1\n")

    assert copy_text == b"id1\tt\ta\ti\t1\t1\nid3\tt\ta\ti\t1\t1\n"
    assert (counts.lines_stored, counts.lines_rejected) == (2, 1)
    assert counts.rejections == [Rejection(3, "longer than the limit of 1,048,576 bytes")]


def test_a_line_at_the_limit_is_kept():
    line = b"id1\t" + b"x" * (MAX_LINE_BYTES - len(b"id1\t\ta\ti\t1\t1")) + b"\ta\ti\t1\t1\n"

    copy_text, counts = read(HEADER + line)

    assert (copy_text, counts.lines_rejected) == (line, 0)


def test_a_last_line_longer_than_the_limit_without_line_end_is_rejected():
    _, counts = read(HEADER + b"id1\tt\ta\ti\t1\t1\n" + b"x" * (3 * MAX_LINE_BYTES))

    assert (counts.lines_stored, counts.rejections) == (1, [Rejection(3, "longer than the limit of 1,048,576 bytes")])


def test_a_100_mb_line_is_rejected_in_bounded_memory():
    data = HEADER + b"id1\tt\ta\ti\t1\t1\n" + b"y" * (100 << 20) + b"\nid3\tt\ta\ti\t1\t1\n"
    raw = io.BytesIO(data)
    counts = LineCounts()

    tracemalloc.start()
    try:
        copy_text = b"".join(counts.taking(validated_chunks(read_blocks(raw, gzipped=False))))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert (counts.lines_stored, counts.lines_rejected, len(copy_text)) == (2, 1, 28)
    assert peak < MAX_LINE_BYTES + 16 * CHUNK_BYTES


def test_the_header_is_checked_in_the_first_block_even_without_a_line_end():
    # The rest of the file is broken gzip: the header's failure must come first, not that one.
    compressed = gzip.compress(b"no header " * 100_000)

    with pytest.raises(FileFailure, match=r"^line 1: expected the header .* found 'no header no header "):
        read_through(io.BytesIO(compressed[: len(compressed) // 2]), gzipped=True)


def read_through(raw, *, gzipped: bool) -> None:
    for _ in validated_chunks(read_blocks(raw, gzipped=gzipped)):
        pass


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "line 1: the file is empty, expected a header line"),
        (
            b"dsp_id\ttitle",
            "line 1: expected the header 'dsp_id title artists isrc usages revenue' (tab-separated), found "
            "'dsp_id\\ttitle'",
        ),
    ],
)
def test_a_file_without_its_header_fails(data, message):
    with pytest.raises(FileFailure) as raised:
        read_through(io.BytesIO(data), gzipped=False)

    assert str(raised.value) == message


def test_a_file_that_is_not_gzip_fails_without_claiming_a_line_was_read():
    with pytest.raises(FileFailure) as raised:
        read_through(io.BytesIO(HEADER + b"id1\tt\ta\ti\t1\t1\n"), gzipped=True)

    assert str(raised.value) == "not a readable gzip file (Not a gzipped file (b'ds'))"


def test_a_truncated_gzip_says_after_which_line_it_ends():
    compressed = gzip.compress(HEADER + b"id\tt\ta\ti\t1\t1\n" * 100_000)

    with pytest.raises(FileFailure, match=r"^truncated gzip: the file ends after line \d+$"):
        read_through(io.BytesIO(compressed[: len(compressed) // 2]), gzipped=True)
