import pytest

from dsrs.formats.tsv import HeaderError, check_header, line_rejection, to_copy_text
from dsrs.formats.usage_lines import Rejection


@pytest.mark.parametrize(
    "line, reason",
    [
        (b"id1\tt\ta\ti\t1", "expected 6 tab-separated fields, found 5"),
        (b"id1\tt\ta\ti\t1\t2.0\textra", "expected 6 tab-separated fields, found 7"),
        (b"", "expected 6 tab-separated fields, found 1"),
        (b"\tt\ta\ti\t1\t2.0", "empty dsp_id"),
        (b"id1\tt\xff\ta\ti\t1\t2.0", "invalid UTF-8 at byte 6"),
        (b"id1\tt\x00\ta\ti\t1\t2.0", "contains a NUL character"),
        (b"id1\tt\ta\ti\t-1\t2.0", "usages '-1' is not an unsigned integer (digits 0-9)"),
        (b"id1\tt\ta\ti\t1.5\t2.0", "usages '1.5' is not an unsigned integer (digits 0-9)"),
        (b"id1\tt\ta\ti\tmany\t2.0", "usages 'many' is not an unsigned integer (digits 0-9)"),
        (b"id1\tt\ta\ti\t 1\t2.0", "usages ' 1' is not an unsigned integer (digits 0-9)"),
        (b"id1\tt\ta\ti\t-0\t2.0", "usages '-0' is not an unsigned integer (digits 0-9)"),
        ("id1\tt\ta\ti\t\u0661\t2.0".encode(), "usages '\u0661' is not an unsigned integer (digits 0-9)"),
        (b"id1\tt\ta\ti\t1000000000000\t2.0", "usages '1000000000000' is over the limit of 999,999,999,999"),
        (b"id1\tt\ta\ti\t" + b"9" * 1_000_000 + b"\t2.0", f"usages '{'9' * 50}' is over the limit of 999,999,999,999"),
        (b"id1\tt\ta\ti\t1\t-2.0", "revenue '-2.0' is not an unsigned decimal number"),
        (b"id1\tt\ta\ti\t1\tNaN", "revenue 'NaN' is not an unsigned decimal number"),
        (b"id1\tt\ta\ti\t1\tinf", "revenue 'inf' is not an unsigned decimal number"),
        (b"id1\tt\ta\ti\t1\t1,5", "revenue '1,5' is not an unsigned decimal number"),
        (b"id1\tt\ta\ti\t1\t1e", "revenue '1e' is not an unsigned decimal number"),
        (b"id1\tt\ta\ti\t1\t.", "revenue '.' is not an unsigned decimal number"),
        (b"id1\tt\ta\ti\t1\t\xe2\x82\xac5", "revenue '\u20ac5' is not an unsigned decimal number"),
        (b"id1\tt\ta\ti\t1\t-0", "revenue '-0' is not an unsigned decimal number"),
        (b"id1\tt\ta\ti\t1\t+1", "revenue '+1' is not an unsigned decimal number"),
        ("id1\tt\ta\ti\t1\t\u0661.5".encode(), "revenue '\u0661.5' is not an unsigned decimal number"),
        (b"id1\tt\ta\ti\t1\t1e400", "revenue '1e400' is not below the limit of 10^15"),
        (b"id1\tt\ta\ti\t1\t1000000000000000", "revenue '1000000000000000' is not below the limit of 10^15"),
        (b"id1\tt\ta\ti\t1\t0.1e16", "revenue '0.1e16' is not below the limit of 10^15"),
        (b"id1\tt\ta\ti\t1\t1e1000", "revenue '1e1000' is not an unsigned decimal number"),
        (b"id1\tt\ta\ti\t1\t" + b"1" * 140_000, f"revenue '{'1' * 50}' is longer than the limit of 100 characters"),
        (b"id1\tt\ta\ti\t1\t0." + b"0" * 99, f"revenue '0.{'0' * 48}' is longer than the limit of 100 characters"),
    ],
)
def test_it_rejects_a_bad_line_with_its_reason(line, reason):
    assert line_rejection(line) == reason


@pytest.mark.parametrize(
    "line",
    [
        b"id1\tt\ta\ti\t1\t2.0",
        b"id1\t\t\t\t\t",  # empty title, artists, isrc, usages, revenue
        b"id1\tt\ta\ti\t999999999999\t2",
        b"id1\tt\ta\ti\t0000999999999999\t2",
        b"id1\tt\ta\ti\t1\t999999999999999.999",
        b"id1\tt\ta\ti\t1\t9.99e14",
        b"id1\tt\ta\ti\t1\t1e-999",
        b"id1\tt\ta\ti\t1\t0." + b"0" * 98,  # 100 characters
        b"id1\tt\ta\ti\t1\t2.220446049250313e-16",
        b"id1\tt\ta\ti\t1\t1E+5",
        b"id1\tt\ta\ti\t1\t.5",
        b"id1\tt\ta\ti\t1\t5.",
        b'id1\t"quoted" title\ta\ti\t1\t2',
        b"id1\tback\\slash\ta\ti\t1\t2",
        "id1\tcaf\u00e9 \u266b\ta\ti\t1\t2".encode(),
    ],
)
def test_it_accepts_a_good_line(line):
    assert line_rejection(line) is None


def test_a_valid_chunk_becomes_copy_text_with_empty_numbers_as_zero():
    chunk = b"a\tt\tx|y\tI1\t\t\nb\t\t\t\t7\t\nc\tt\tx\tI3\t\t1.5\n"
    assert to_copy_text(chunk, first_line=2) == (
        b"a\tt\tx|y\tI1\t0\t0\nb\t\t\t\t7\t0\nc\tt\tx\tI3\t0\t1.5\n",
        3,
        [],
    )


def test_crlf_line_ends_become_lf():
    assert to_copy_text(b"a\tt\tx\ti\t1\t2\r\nb\tt\tx\ti\t3\t4\r\n", first_line=2) == (
        b"a\tt\tx\ti\t1\t2\nb\tt\tx\ti\t3\t4\n",
        2,
        [],
    )


def test_backslashes_and_lone_carriage_returns_are_escaped_for_copy():
    assert to_copy_text(b"a\\b\tt\rx\tx\ti\t1\t2\n", first_line=2)[0] == b"a\\\\b\tt\\rx\tx\ti\t1\t2\n"


def test_bad_lines_are_dropped_and_reported_with_their_line_numbers():
    chunk = b"a\tt\tx\ti\t1\t2\nb\tt\tx\ti\t-1\t2\nc\tt\tx\ti\t\t\n\tt\tx\ti\t1\t2\n"
    assert to_copy_text(chunk, first_line=10) == (
        b"a\tt\tx\ti\t1\t2\nc\tt\tx\ti\t0\t0\n",
        2,
        [Rejection(11, "usages '-1' is not an unsigned integer (digits 0-9)"), Rejection(13, "empty dsp_id")],
    )


def test_the_fast_path_and_the_line_by_line_path_agree():
    # A bad line sends the whole chunk through the line-by-line path; the good lines must come
    # out exactly as the all-valid fast path writes them.
    good = (
        b"a\tt\tx\ti\t1\t2\n"
        b"b\t\t\t\t\t\n"
        b'c\t"q"\t\\\t\t12\t2.220446049250313e-16\n'
        b"d\tt\r\tx\ti\t999999999999\t.5\n"
        b"e\tt\tx\ti\t0\t5.\r\n" + "f\t\u00e9\tx\ti\t3\t1E+5\n".encode()
    )
    fast, fast_count, _ = to_copy_text(good, first_line=2)
    slow, slow_count, rejections = to_copy_text(good + b"bad line\n", first_line=2)
    assert (slow, slow_count) == (fast, fast_count)
    assert rejections == [Rejection(8, "expected 6 tab-separated fields, found 1")]


@pytest.mark.parametrize(
    "usages, revenue",
    [
        (b"999999999999", b"999999999999999"),
        (b"1000000000000", b"1"),
        (b"1", b"1000000000000000"),
        (b"1", b"999999999999999.9e0"),
        (b"1", b"999999999999999e-1"),
        (b"1", b"9.99e14"),
        (b"1", b"9.9e+014"),
        (b"1", b"1e15"),
        (b"1", b"10e14"),
        (b"1", b"1e400"),
        (b"1", b"1e-999"),
        (b"1", b"0." + b"1" * 98),
        (b"1", b"0." + b"1" * 99),
    ],
)
def test_the_fast_path_accepts_nothing_beyond_the_bounds(usages, revenue):
    line = b"a\tt\tx\ti\t" + usages + b"\t" + revenue
    assert to_copy_text(line + b"\n", first_line=2)[1] == (line_rejection(line) is None)


def test_the_header_names_are_case_insensitive_and_a_bom_is_tolerated():
    check_header(b"\xef\xbb\xbfDSP_ID\tTitle\tArtists\tISRC\tUsages\tRevenue")


@pytest.mark.parametrize(
    "line",
    [
        b"dsp_id\ttitle\tartists\tisrc\tusages",
        b"dsp_id,title,artists,isrc,usages,revenue",
        b"id1\tt\ta\ti\t1\t2.0",
        b"\xff\xfed\x00s\x00",
    ],
)
def test_a_wrong_header_is_an_error(line):
    with pytest.raises(HeaderError, match="line 1: expected the header 'dsp_id title artists isrc usages revenue'"):
        check_header(line)
