"""Reading an ECB history file: what is taken from it, and every way it can be refused."""

import io
import zipfile
from datetime import date
from decimal import Decimal

import pytest

from dsrs.ecb import history
from dsrs.ecb.history import HistoryError, Rate, read_history
from dsrs.ecb.sources import BUNDLED_HISTORY

HEADER = "Date,USD,GBP,ISK,"
GOOD = f"{HEADER}\n2026-11-02,1.1204,0.8342,N/A,\n2026-10-30,1.1172,0.8338,136,\n"


def zipped(*members: tuple[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


def test_it_reads_every_published_rate_and_skips_the_unquoted_ones():
    assert read_history(GOOD.encode()) == [
        Rate(date(2026, 11, 2), "USD", Decimal("1.1204")),
        Rate(date(2026, 11, 2), "GBP", Decimal("0.8342")),
        Rate(date(2026, 10, 30), "USD", Decimal("1.1172")),
        Rate(date(2026, 10, 30), "GBP", Decimal("0.8338")),
        Rate(date(2026, 10, 30), "ISK", Decimal("136")),
    ]


def test_it_reads_the_csv_inside_the_ecb_zip():
    assert read_history(zipped(("eurofxref-hist.csv", GOOD.encode()))) == read_history(GOOD.encode())


def test_it_takes_crlf_lines_a_bom_and_a_header_without_trailing_comma():
    text = "\ufeffDate,USD,GBP\r\n2026-10-30,1.1172,0.8338\r\n"

    assert read_history(text.encode()) == [
        Rate(date(2026, 10, 30), "USD", Decimal("1.1172")),
        Rate(date(2026, 10, 30), "GBP", Decimal("0.8338")),
    ]


def test_it_reads_the_whole_bundled_history():
    rates = read_history(BUNDLED_HISTORY.read_bytes())

    assert (len(rates), rates[0], rates[-1]) == (
        221_702,
        Rate(date(2026, 10, 30), "USD", Decimal("1.1172")),
        Rate(date(1999, 1, 4), "ZAR", Decimal("6.9358")),
    )


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "line 1: expected the header 'Date,USD,JPY,...', found ''"),
        (
            "<html><body>Service unavailable</body></html>\n",
            "line 1: expected the header 'Date,USD,JPY,...', found '<html><body>Service unavailable</body></html>'",
        ),
        ("Date,USD,usd,\n", "line 1: column 3 is 'usd', not a currency code such as USD"),
        ("Date,USD,,GBP,\n", "line 1: column 3 is '', not a currency code such as USD"),
        ("Date,USD,GBP,USD,\n", "line 1: USD is a column twice"),
        ("Date,\n2026-10-30,\n", "line 1: the header names no currency"),
        (f"{HEADER}\n", "no rate in the file"),
        (f"{HEADER}\n2026-10-30,N/A,N/A,N/A,\n", "no rate in the file"),
        (
            f"{HEADER}\n2026-10-30,1.1172,0.8338,\n",
            "line 2: expected 5 comma-separated fields like the header, found 4",
        ),
        (
            f"{HEADER}\n2026-10-30,1.1172,0.8338,136,,\n",
            "line 2: expected 5 comma-separated fields like the header, found 6",
        ),
        (f"{HEADER}\n\n", "line 2: expected 5 comma-separated fields like the header, found 1"),
        (
            f"{HEADER}\n30 October 2026,1.1172,0.8338,136,\n",
            "line 2: '30 October 2026' is not a date such as 2026-10-30",
        ),
        (f"{HEADER}\n2026-02-30,1.1172,0.8338,136,\n", "line 2: '2026-02-30' is not a date such as 2026-10-30"),
        (
            f"{HEADER}\n2026-10-30,1.1172,0.8338,136,\n2026-10-30,1.1172,0.8338,136,\n",
            "line 3: 2026-10-30 already appears on line 2",
        ),
        (f"{HEADER}\n2026-10-30,1.1172,0.8338,136,7\n", "line 2: '7' under the header's empty last column"),
        (
            f"{HEADER}\n2026-10-30,1.1172,abc,136,\n",
            "line 2: GBP rate 'abc' is not N/A nor a positive decimal (at most 10 digits before the point and 8 after)",
        ),
        (
            f"{HEADER}\n2026-10-30,1.1172,0.0000,136,\n",
            "line 2: GBP rate '0.0000' is not N/A nor a positive decimal (at most 10 digits before the point and 8 "
            "after)",
        ),
        (
            f"{HEADER}\n2026-10-30,1.1172,-0.8338,136,\n",
            "line 2: GBP rate '-0.8338' is not N/A nor a positive decimal (at most 10 digits before the point and 8 "
            "after)",
        ),
        (
            f"{HEADER}\n2026-10-30,1.1172,8.338e-1,136,\n",
            "line 2: GBP rate '8.338e-1' is not N/A nor a positive decimal (at most 10 digits before the point and "
            "8 after)",
        ),
        (
            f"{HEADER}\n2026-10-30,1.1172,0.833812345,136,\n",
            "line 2: GBP rate '0.833812345' is not N/A nor a positive decimal (at most 10 digits before the point "
            "and 8 after)",
        ),
        (
            f"{HEADER}\n2026-10-30,12345678901,0.8338,136,\n",
            "line 2: USD rate '12345678901' is not N/A nor a positive decimal (at most 10 digits before the point "
            "and 8 after)",
        ),
        (
            f"{HEADER}\n2026-10-30,1.1172, 0.8338,136,\n",
            "line 2: GBP rate ' 0.8338' is not N/A nor a positive decimal (at most 10 digits before the point and 8 "
            "after)",
        ),
    ],
)
def test_a_malformed_csv_is_refused_with_its_line_and_reason(text, reason):
    with pytest.raises(HistoryError) as raised:
        read_history(text.encode())

    assert str(raised.value) == reason


def test_a_csv_cut_in_the_middle_of_a_line_is_truncated():
    cut = GOOD.encode()[: GOOD.index("0.8338") + 4]  # ...,1.1172,0.83

    with pytest.raises(HistoryError, match=r"^line 3 has no line end: the file is truncated$"):
        read_history(cut)


def test_text_that_is_not_utf8_is_refused_with_its_line():
    with pytest.raises(HistoryError, match=r"^line 3: not UTF-8 text$"):
        read_history(GOOD.encode().replace(b"136", b"\xff36"))


def test_a_truncated_zip_is_refused():
    data = zipped(("eurofxref-hist.csv", GOOD.encode()))

    with pytest.raises(
        HistoryError, match=r"^not a readable zip file \(File is not a zip file\): damaged or truncated$"
    ):
        read_history(data[: len(data) // 2])


def test_a_zip_with_a_corrupted_csv_is_refused():
    data = zipped(("eurofxref-hist.csv", GOOD.encode() * 50))
    start = data.index(b"eurofxref-hist.csv") + len("eurofxref-hist.csv")  # the compressed bytes follow the name
    damaged = data[: start + 20] + bytes(byte ^ 0xFF for byte in data[start + 20 : start + 40]) + data[start + 40 :]

    with pytest.raises(HistoryError, match=r"^not a readable zip file \(.+\): damaged or truncated$"):
        read_history(damaged)


@pytest.mark.parametrize(
    "members, found",
    [([], "nothing"), ([("a.csv", b"x"), ("b.csv", b"y")], "a.csv, b.csv")],
)
def test_a_zip_must_hold_exactly_one_file(members, found):
    with pytest.raises(HistoryError, match=rf"^expected one CSV file in the zip, found {found}$"):
        read_history(zipped(*members))


def test_a_zip_holding_more_than_the_size_limit_is_refused_before_inflating_it(monkeypatch):
    monkeypatch.setattr(history, "MAX_HISTORY_BYTES", 100)

    with pytest.raises(HistoryError, match=r"^eurofxref-hist.csv holds 1,000 bytes, more than 100$"):
        read_history(zipped(("eurofxref-hist.csv", b"x" * 1000)))
