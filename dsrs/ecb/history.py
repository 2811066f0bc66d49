"""Where an ECB history file (eurofxref-hist, as its zip or as the CSV inside) is read and checked.

The ECB publishes the whole history as one CSV, newest day first: a header `Date,USD,JPY,...,`
and one line per publication day, `2026-10-30,1.1172,175.68,N/A,...,`, each rate in units of the
currency per 1 EUR, `N/A` where that currency was not quoted. A file is read whole (about 2 MB)
and checked before anything is stored, so a bad one changes nothing.
"""

import io
import re
import zipfile
import zlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

# The real history is about 2 MB of CSV; anything much larger is not an ECB history.
MAX_HISTORY_BYTES = 64 << 20
# What EcbRate.rate holds (18 digits, 8 decimals); the ECB publishes at most 7 and 6.
RATE = re.compile(r"\d{1,10}(\.\d{1,8})?")
CURRENCY = re.compile(r"[A-Z]{3}")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
NOT_QUOTED = ("N/A", "")


class HistoryError(ValueError):
    """The source is not a complete ECB history; the message says where and why."""


@dataclass(frozen=True)
class Rate:
    date: date
    currency: str
    rate: Decimal


def read_history(data: bytes) -> list[Rate]:
    """Every rate of an ECB history file (zip or CSV), or HistoryError naming the first problem."""
    csv = _unzip(data) if data.startswith(b"PK") else data
    try:
        text = csv.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = csv.count(b"\n", 0, error.start) + 1
        raise HistoryError(f"line {line}: not UTF-8 text") from None
    return _parse_csv(text)


def _unzip(data: bytes) -> bytes:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
        if len(members) != 1:
            names = ", ".join(member.filename for member in members) or "nothing"
            raise HistoryError(f"expected one CSV file in the zip, found {names}")
        if members[0].file_size > MAX_HISTORY_BYTES:
            raise HistoryError(
                f"{members[0].filename} holds {members[0].file_size:,} bytes, more than {MAX_HISTORY_BYTES:,}"
            )
        return archive.read(members[0])
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise HistoryError(f"not a readable zip file ({error}): damaged or truncated") from None


def _parse_csv(text: str) -> list[Rate]:
    lines = text.split("\n")
    if lines[-1]:  # the ECB ends every line, the last one too, with a line end
        raise HistoryError(f"line {len(lines)} has no line end: the file is truncated")
    currencies = _parse_header(lines[0].removesuffix("\r"))
    rates = []
    first_seen: dict[date, int] = {}
    for number, line in enumerate(lines[1:-1], start=2):
        fields = line.removesuffix("\r").split(",")
        if len(fields) != len(currencies) + 1:
            raise HistoryError(
                f"line {number}: expected {len(currencies) + 1} comma-separated fields like the header, "
                f"found {len(fields)}"
            )
        day = _parse_date(fields[0], number)
        if day in first_seen:
            raise HistoryError(f"line {number}: {day} already appears on line {first_seen[day]}")
        first_seen[day] = number
        for currency, value in zip(currencies, fields[1:], strict=False):
            if value in NOT_QUOTED:
                continue
            if currency is None:
                raise HistoryError(f"line {number}: {value!r} under the header's empty last column")
            if not RATE.fullmatch(value) or not Decimal(value):
                raise HistoryError(
                    f"line {number}: {currency} rate {value!r} is not N/A nor a positive decimal "
                    "(at most 10 digits before the point and 8 after)"
                )
            rates.append(Rate(day, currency, Decimal(value)))
    if not rates:
        raise HistoryError("no rate in the file")
    return rates


def _parse_header(header: str) -> list[str | None]:
    """The currency of each rate column; None for the empty column after the trailing comma."""
    names = header.split(",")
    if names[0].strip().lower() != "date":
        raise HistoryError(f"line 1: expected the header 'Date,USD,JPY,...', found {header[:80]!r}")
    currencies: list[str | None] = []
    for position, name in enumerate(names[1:], start=2):
        if name == "" and position == len(names):
            currencies.append(None)
        elif not CURRENCY.fullmatch(name):
            raise HistoryError(f"line 1: column {position} is {name!r}, not a currency code such as USD")
        elif name in currencies:
            raise HistoryError(f"line 1: {name} is a column twice")
        else:
            currencies.append(name)
    if not any(currencies):
        raise HistoryError("line 1: the header names no currency")
    return currencies


def _parse_date(text: str, number: int) -> date:
    try:
        if DATE.fullmatch(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise HistoryError(f"line {number}: {text!r} is not a date such as 2026-10-30")
