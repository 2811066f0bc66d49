"""Where a DDEX DSR flat file (DSRF, Basic Audio profile 1.0 to 1.3) is read into usage lines.

A DSRF file is a HEAD record, summary records (SY01/SY02: a territory, a currency, the usages and
the net revenue of one commercial model and use type), blocks of records sharing a BlockId
(RE releases, AS resources, SU sales, each sale naming a summary record and a resource of its
block), and a FOOT record with the file's counts. Cells are read by position; a record type is
accepted in every minor version (`SY02.03`, `AS02.02`, ...).

Read twice, both times streaming: `read_prelude` reads the HEAD and summary records (which come
before the blocks) to tell which DSRs the file makes, one per (territory, currency);
`usage_chunks` then reads the whole file in the ingestion pipeline's validation thread, holding
the summaries and one block at a time, and yields the usage lines as COPY text, each led by its
DSR's id. The checks that need the whole file (each summary's usages, the FOOT counts) run after
its last record, before the commit.

Revenue: sales carry no money; a sale's revenue is NetRevenue x its usages / the summary's Usages,
rounded cumulatively over the summary's sales at REVENUE_SCALE decimals (or NetRevenue's own
scale when finer): sale i gets round(R x cum_i / U) - round(R x cum_(i-1) / U), cum_i being the
usages of the summary's sales up to it. Each sale is within one unit of that scale of its exact
pro rata, and the sales of a summary add up to its NetRevenue exactly. Integer arithmetic only.
"""

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from dsrs.formats.blocks import MAX_LINE_BYTES, Block, TooLong, read_blocks, read_errors_as_failures, whole_lines
from dsrs.formats.limits import input_limits
from dsrs.formats.usage_lines import REPORTED_REJECTIONS, Chunk, Rejection
from dsrs.formats.values import MAX_REVENUE_CHARS, MAX_USAGES, MAX_USAGES_DIGITS, REVENUE, REVENUE_LIMIT
from dsrs.formats.values import shown as _show

PROFILE = "basicaudioprofile"  # "BasicAudioProfile", compared without case or spaces
PROFILE_VERSIONS = ("1.0", "1.1", "1.2", "1.3")
REVENUE_SCALE = 10
# A summary's Usages adds up its sales' usages (each at most MAX_USAGES): 18 digits stay exact and
# far from any limit of Python ints; PostgreSQL never stores it.
MAX_SUMMARY_USAGES_DIGITS = 18
MAX_NAME_CHARS = 100  # DSR.dsp, service, society and recipient_party_id
SUMMARY_KINDS = (b"SY01", b"SY02")

_ESCAPE_TOKEN = re.compile(rb"\\.|\\$|\t|[^\t\\]+", re.S)
_UNESCAPED = {b"\t", b"\n", b"\\"}
_TERRITORY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, slots=True)
class _SaleCells:
    """Where a sale record's cells are (SU01 and SU02 differ by their usages')."""

    block: int = 1  # BlockId
    summary: int = 2  # SummaryRecordId
    resource: int = 5  # ResourceReference, within the block
    usages: int = 8  # SU01 Usages; SU02 NumberOfStreams is cell 7
    count: int = 9


@dataclass(frozen=True, slots=True)
class _ResourceCells:
    """Where a resource record's cells are (AS01, AS02; a release RE01 is read for its BlockId)."""

    block: int = 1  # BlockId
    reference: int = 2  # ResourceReference
    dsp_resource_id: int = 3
    isrc: int = 4
    title: int = 5
    artists: int = 7  # DisplayArtistName
    count: int = 8


@dataclass(frozen=True, slots=True)
class _SummaryCells:
    """Where a summary record's cells are (SY01, SY02)."""

    id: int = 1  # SummaryRecordId
    territory: int = 6
    usages: int = 8
    currency: int = 10
    net_revenue: int = 11
    count: int = 12


@dataclass(frozen=True, slots=True)
class _HeadCells:
    """Where the HEAD record's cells are."""

    profile: int = 2
    version: int = 3
    file_number: int = 6
    number_of_files: int = 7
    usage_start: int = 8
    usage_end: int = 9
    sender_party_id: int = 10
    sender_name: int = 11
    service: int = 12  # ServiceDescription
    recipient_party_id: int = 13
    recipient_name: int = 14
    count: int = 15


# The FOOT record's counts, in cells 1 to 5, with what each counts.
_FOOT_COUNTS = (
    ("NumberOfLinesInFile", "lines"),
    ("NumberOfLinesInReport", "lines"),
    ("NumberOfSummaryRecords", "summary records"),
    ("NumberOfBlocksInFile", "blocks"),
    ("NumberOfBlocksInReport", "blocks"),
)
_FOOT_CELLS = 1 + len(_FOOT_COUNTS)

SALES = {b"SU01": _SaleCells(), b"SU02": _SaleCells(usages=7)}
RESOURCE = _ResourceCells()
SUMMARY = _SummaryCells()
HEAD = _HeadCells()


class DsrfError(Exception):
    """The file fails as a whole: this message names the line and the record."""


@dataclass(frozen=True)
class Head:
    period_start: date
    period_end: date
    sender_party_id: str
    sender_name: str
    service: str
    recipient_party_id: str
    recipient_name: str


@dataclass
class Summary:
    id: bytes
    line: int
    territory: str
    currency: str
    usages: int
    net_revenue: Decimal
    report: int  # index of its (territory, currency) in Prelude.reports
    scale: int
    revenue_units: int  # net_revenue in units of 10^-scale
    sold: int = 0  # usages of its sales read so far
    shared: int = 0  # round(R x sold / U) in units of 10^-scale: the revenue given to them
    unreadable_sales: int = 0  # sales whose usages are not a number

    def sell(self, usages: int) -> int:
        """The revenue of a sale of `usages`, in units of 10^-scale: its cumulative rounding."""
        self.sold += usages
        if self.usages == 0:  # then NetRevenue is 0 too (read_prelude)
            return 0
        # round(R x sold / U), half up, in integers: floor((2 R sold + U) / 2U)
        shared = (2 * self.revenue_units * self.sold + self.usages) // (2 * self.usages)
        revenue, self.shared = shared - self.shared, shared
        return revenue


@dataclass(frozen=True)
class Prelude:
    head: Head
    summaries: dict[bytes, Summary]
    reports: list[tuple[str, str]]  # (territory, currency), in order of first appearance


@dataclass
class Tally:
    """The usage lines of one DSR of the file: its sales."""

    lines_stored: int = 0
    lines_rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    @property
    def lines_read(self) -> int:
        return self.lines_stored + self.lines_rejected

    def reject(self, rejection: Rejection) -> None:
        self.lines_rejected += 1
        if len(self.rejections) < REPORTED_REJECTIONS:
            self.rejections.append(rejection)


def read_prelude(path: Path, *, gzipped: bool) -> Prelude:
    """The HEAD and summary records, checked: they say which DSRs the file makes."""
    with open(path, "rb") as raw:
        limits = input_limits(file_size=os.fstat(raw.fileno()).st_size, gzipped=gzipped)
        records = _records(read_blocks(raw, gzipped=gzipped, limits=limits))
        head = None
        summaries: dict[bytes, Summary] = {}
        reports: list[tuple[str, str]] = []
        for number, record in records:
            if record.startswith(b"#"):
                continue
            cells = _cells(record)
            kind = cells[0][:4]
            if head is None:
                if cells[0] != b"HEAD":
                    raise DsrfError(f"line {number}: expected a HEAD record, found {_show(cells[0])}")
                head = _head(number, cells)
            elif kind in SUMMARY_KINDS:
                summary = _summary(number, cells, summaries, reports)
                summaries[summary.id] = summary
            else:
                break
    if head is None:
        raise DsrfError("line 1: expected a HEAD record, found an empty file")
    if not summaries:
        raise DsrfError("no summary record (SY01, SY02) before the blocks: the file reports nothing")
    return Prelude(head, summaries, reports)


def _head(number: int, cells: list[bytes]) -> Head:
    text = [_text(number, "HEAD", cell) for cell in _padded(cells, HEAD.count)]
    profile, version = text[HEAD.profile], text[HEAD.version]
    if profile.replace(" ", "").lower() != PROFILE or version not in PROFILE_VERSIONS:
        raise DsrfError(
            f"line {number}: HEAD Profile {profile!r} version {version!r}: only the Basic Audio profile "
            f"(BasicAudioProfile {PROFILE_VERSIONS[0]} to {PROFILE_VERSIONS[-1]}) is read"
        )
    file_number, number_of_files = text[HEAD.file_number], text[HEAD.number_of_files]
    if number_of_files != "1" or file_number != "1":
        raise DsrfError(
            f"line {number}: HEAD says file {file_number!r} of {number_of_files!r}: only single-file reports (1 of "
            "1) are read; "
            f"ask the sender for the report in one file"
        )
    start = _date(number, "UsageStartDate", text[HEAD.usage_start])
    end = _date(number, "UsageEndDate", text[HEAD.usage_end])
    if start > end:
        raise DsrfError(f"line {number}: HEAD usage period starts after it ends ({start} > {end})")
    head = Head(
        period_start=start,
        period_end=end,
        sender_party_id=text[HEAD.sender_party_id],
        sender_name=text[HEAD.sender_name],
        service=text[HEAD.service],
        recipient_party_id=text[HEAD.recipient_party_id],
        recipient_name=text[HEAD.recipient_name],
    )
    for name, value in (("SenderName", head.sender_name), ("ServiceDescription", head.service)):
        if not value:
            raise DsrfError(f"line {number}: HEAD {name} is empty")
    for name, value in (
        ("SenderPartyId", head.sender_party_id),
        ("SenderName", head.sender_name),
        ("ServiceDescription", head.service),
        ("RecipientPartyId", head.recipient_party_id),
        ("RecipientName", head.recipient_name),
    ):
        if len(value) > MAX_NAME_CHARS:
            raise DsrfError(f"line {number}: HEAD {name} is longer than {MAX_NAME_CHARS} characters")
    return head


def _summary(
    number: int, cells: list[bytes], summaries: dict[bytes, Summary], reports: list[tuple[str, str]]
) -> Summary:
    record = _name(cells[0])
    cells = _padded(cells, SUMMARY.count)
    summary_id = cells[SUMMARY.id]
    if not summary_id:
        raise DsrfError(f"line {number}: {record} has an empty SummaryRecordId")
    if summary_id in summaries:
        raise DsrfError(
            f"line {number}: {record} SummaryRecordId {_show(summary_id)} is also that of line "
            f"{summaries[summary_id].line}"
        )
    territory = _text(number, record, cells[SUMMARY.territory])
    if not _TERRITORY.fullmatch(territory):
        raise DsrfError(f"line {number}: {record} Territory {territory!r} is not an ISO 3166 alpha-2 code")
    currency = _text(number, record, cells[SUMMARY.currency])
    if not _CURRENCY.fullmatch(currency):
        raise DsrfError(f"line {number}: {record} Currency {currency!r} is not an ISO 4217 code")
    usages_text = cells[SUMMARY.usages]
    if not usages_text.isdigit() or len(usages_text.lstrip(b"0")) > MAX_SUMMARY_USAGES_DIGITS:
        raise DsrfError(
            f"line {number}: {record} Usages {_show(usages_text)} is not an unsigned integer of at most "
            f"{MAX_SUMMARY_USAGES_DIGITS} digits"
        )
    revenue_text = cells[SUMMARY.net_revenue]
    if len(revenue_text) > MAX_REVENUE_CHARS or not REVENUE.fullmatch(revenue_text):
        raise DsrfError(f"line {number}: {record} NetRevenue {_show(revenue_text)} is not an unsigned decimal number")
    net_revenue = Decimal(revenue_text.decode())
    if net_revenue >= REVENUE_LIMIT:
        raise DsrfError(f"line {number}: {record} NetRevenue {_show(revenue_text)} is not below the limit of 10^15")
    usages = int(usages_text)
    if usages == 0 and net_revenue:
        raise DsrfError(
            f"line {number}: {record} has a NetRevenue of {revenue_text.decode()} but no Usages to share it"
        )
    for other_territory, other_currency in reports:
        if other_territory == territory and other_currency != currency:
            raise DsrfError(
                f"line {number}: {record} reports territory {territory} in {currency}, an earlier summary in "
                f"{other_currency}: "
                f"the service keeps one report per DSP, service, recipient, territory and period"
            )
    if (territory, currency) not in reports:
        reports.append((territory, currency))
    _, digits, exponent = net_revenue.as_tuple()
    scale = max(REVENUE_SCALE, -exponent)
    return Summary(
        id=summary_id,
        line=number,
        territory=territory,
        currency=currency,
        usages=usages,
        net_revenue=net_revenue,
        report=reports.index((territory, currency)),
        scale=scale,
        revenue_units=int("".join(map(str, digits)) or "0") * 10 ** (scale + exponent),
    )


# A resource of the current block: its cells as COPY text (dsp_id, title, artists, isrc), its line,
# and why it is rejected (its COPY text is None then).
_Resource = tuple[bytes | None, int, str]


def usage_chunks(
    blocks: Iterable[Block], prelude: Prelude, dsr_ids: list[int], tallies: list[Tally]
) -> Iterator[Chunk]:
    """The file's sales as usage lines in COPY text (dsr_id first), an input block at a time,
    counted in `tallies` (one per report of the prelude); the whole-file checks after the last
    record raise DsrfError."""
    return _SalesReader(prelude, dsr_ids, tallies).chunks(blocks)


class _SalesReader:
    """One pass over a DSRF file's records, after its prelude: a handler per record type, and the
    state they share (the current block and its resources, the counts the FOOT is checked against,
    what the chunk being read yields).

    A Python loop over records, kept lean: a chunk of lines without a backslash, CR or NUL and in
    valid UTF-8 (the usual case, checked in C for the whole chunk) is split on tabs alone and its
    cells go to COPY as they are; any other chunk is read record by record with escapes."""

    def __init__(self, prelude: Prelude, dsr_ids: list[int], tallies: list[Tally]) -> None:
        # Each summary record with what its sales need: the COPY text of their DSR's id, and the
        # tally of that DSR's lines.
        id_fields = [str(dsr_id).encode() + b"\t" for dsr_id in dsr_ids]
        self.sales_of = {
            summary.id: (summary, id_fields[summary.report], tallies[summary.report])
            for summary in prelude.summaries.values()
        }
        self.lines = _Lines()
        self.lines_in_file = self.summary_records = self.blocks_in_file = 0
        self.block_id: bytes | None = None
        self.resources: dict[bytes, _Resource] = {}
        self.head_seen = False
        self.foot: tuple[int, list[bytes]] | None = None
        # The chunk being read: whether its cells are plain (split on tabs alone), and its output.
        self.plain = False
        self.copy_text: list[bytes] = []
        self.rejections: list[Rejection] = []
        self.handlers = {
            b"SU01": self.sale,
            b"SU02": self.sale,
            b"AS01": self.block_record,
            b"AS02": self.block_record,
            b"RE01": self.block_record,
            b"SY01": self.summary,
            b"SY02": self.summary,
            b"FOOT": self.footer,
            b"HEAD": self.head,
        }

    def chunks(self, blocks: Iterable[Block]) -> Iterator[Chunk]:
        lines, handlers = self.lines, self.handlers
        for chunk, bytes_read in whole_lines(read_errors_as_failures(blocks, lambda: lines.number)):
            if chunk is TooLong:
                raise DsrfError(f"line {lines.number + 1}: longer than the limit of {MAX_LINE_BYTES:,} bytes")
            if b"\r" in chunk:
                chunk = chunk.replace(b"\r\n", b"\n")
            self.plain = plain = not lines.continued and _plain(chunk)
            physical = chunk.split(b"\n")
            physical.pop()  # after the last line end
            self.copy_text, self.rejections = [], []
            if plain:
                records = enumerate(physical, lines.count(len(physical)))
                self.lines_in_file += len(physical)
            else:
                records = lines.numbered(physical)
                self.lines_in_file += len(records)
            for number, record in records:
                kind = record[:4]
                handler = handlers.get(kind)
                if handler is not None:
                    handler(number, record, kind)
                elif record and record[:1] != b"#":
                    self._unknown(number, record)
            yield Chunk(b"".join(self.copy_text), len(self.copy_text), self.rejections, bytes_read)
        self._check_whole_file()

    def sale(self, number: int, record: bytes, kind: bytes) -> None:
        layout = SALES[kind]
        cells = record.split(b"\t") if self.plain else _cells(record)
        if len(cells) < layout.count:
            cells += [b""] * (layout.count - len(cells))
        if cells[layout.block] != self.block_id:
            self._start_block(cells[layout.block])
        sold = self.sales_of.get(cells[layout.summary])
        if sold is None:
            raise DsrfError(
                f"line {number}: {_name(cells[0])} sale points to summary record {_show(cells[layout.summary])}, "
                "which does not exist"
            )
        resource = self.resources.get(cells[layout.resource])
        if resource is None:
            raise DsrfError(
                f"line {number}: {_name(cells[0])} sale points to resource {_show(cells[layout.resource])}, "
                f"which block {_show(self.block_id)} does not hold"
            )
        summary, id_field, tally = sold
        usages_text = cells[layout.usages]
        if usages_text.isdigit() and (
            len(usages_text) <= MAX_USAGES_DIGITS or len(usages_text.lstrip(b"0")) <= MAX_USAGES_DIGITS
        ):
            usages = int(usages_text)
        elif not usages_text:
            usages = 0
        else:
            summary.unreadable_sales += 1
            self._reject(tally, Rejection(number, _usages_rejection(usages_text)))
            return
        revenue = summary.sell(usages)
        copy_fields, line, rejection = resource
        if copy_fields is None:
            self._reject(tally, Rejection(number, f"its resource record (line {line}) is rejected: {rejection}"))
            return
        whole, fraction = divmod(revenue, 10**summary.scale)
        self.copy_text.append(b"%s%s\t%d\t%d.%0*d\n" % (id_field, copy_fields, usages, whole, summary.scale, fraction))
        tally.lines_stored += 1

    def block_record(self, number: int, record: bytes, kind: bytes) -> None:
        """A resource (AS01, AS02) of the current block, or a release (RE01), which only tells the block."""
        cells = record.split(b"\t") if self.plain else _cells(record)
        if cells[0][4:5] not in (b"", b"."):
            raise DsrfError(f"line {number}: unknown record type {_show(cells[0])}")
        if len(cells) < RESOURCE.count:
            cells += [b""] * (RESOURCE.count - len(cells))
        if cells[RESOURCE.block] != self.block_id:
            self._start_block(cells[RESOURCE.block])
        if kind == b"RE01":
            return
        reference = cells[RESOURCE.reference]
        if reference in self.resources:
            raise DsrfError(
                f"line {number}: resource {_show(reference)} of block {_show(self.block_id)} is also that of "
                f"line {self.resources[reference][1]}"
            )
        if self.plain and cells[RESOURCE.dsp_resource_id]:
            copy_fields = b"%s\t%s\t%s\t%s" % (
                cells[RESOURCE.dsp_resource_id],
                cells[RESOURCE.title],
                cells[RESOURCE.artists],
                cells[RESOURCE.isrc],
            )
            self.resources[reference] = (copy_fields, number, "")
        else:
            self.resources[reference] = _resource(number, record, cells)

    def summary(self, number: int, record: bytes, kind: bytes) -> None:
        if self.blocks_in_file:
            raise DsrfError(
                f"line {number}: summary record {_show(_cells(record)[0])} after the first block: "
                "summaries come before the blocks"
            )
        self.summary_records += 1

    def footer(self, number: int, record: bytes, kind: bytes) -> None:
        self.foot = (number, _padded(_cells(record), _FOOT_CELLS))
        # Nothing but comments may follow: every record type is now an error.
        for known in self.handlers:
            self.handlers[known] = self._after_foot

    def head(self, number: int, record: bytes, kind: bytes) -> None:
        if self.head_seen:
            raise DsrfError(f"line {number}: a second HEAD record")
        self.head_seen = True

    def _after_foot(self, number: int, record: bytes, kind: bytes) -> None:
        raise DsrfError(f"line {number}: a record after the FOOT record of line {self.foot[0]}")

    def _unknown(self, number: int, record: bytes) -> None:
        if self.foot is not None:
            self._after_foot(number, record, record[:4])
        raise DsrfError(
            f"line {number}: unknown record type {_show(_cells(record)[0])}: not part of the Basic Audio profile"
        )

    def _start_block(self, block_id: bytes) -> None:
        self.block_id, self.resources = block_id, {}
        self.blocks_in_file += 1

    def _reject(self, tally: Tally, rejection: Rejection) -> None:
        self.rejections.append(rejection)
        tally.reject(rejection)

    def _check_whole_file(self) -> None:
        lines = self.lines
        if lines.continued:
            raise DsrfError(f"line {lines.number}: the file ends within a record, after an escaped line end")
        if self.foot is None:
            raise DsrfError(f"the file ends after line {lines.number} without a FOOT record")
        number, cells = self.foot
        actual = (
            self.lines_in_file,
            self.lines_in_file,
            self.summary_records,
            self.blocks_in_file,
            self.blocks_in_file,
        )
        for cell, (name, what), count in zip(cells[1:_FOOT_CELLS], _FOOT_COUNTS, actual, strict=True):
            if not cell.isdigit() or int(cell) != count:
                raise DsrfError(f"line {number}: FOOT {name} is {_show(cell)}, the file has {count:,} {what}")
        for summary, _, _ in self.sales_of.values():
            if summary.sold != summary.usages or summary.unreadable_sales:
                unreadable = (
                    f", and {summary.unreadable_sales:,} of its sales have unreadable usages"
                    if summary.unreadable_sales
                    else ""
                )
                raise DsrfError(
                    f"line {summary.line}: the sales of summary record {_show(summary.id)} add up to "
                    f"{summary.sold:,} usages, its Usages says {summary.usages:,}{unreadable}"
                )


def _plain(chunk: bytes) -> bool:
    """Whether the chunk's cells go to COPY as they are: no escape, no CR, no NUL, valid UTF-8."""
    if b"\\" in chunk or b"\r" in chunk or b"\x00" in chunk:
        return False
    if chunk.isascii():
        return True
    try:
        chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _usages_rejection(usages: bytes) -> str:
    if usages.isdigit():
        return f"usages {_show(usages)} is over the limit of {MAX_USAGES:,}"
    return f"usages {_show(usages)} is not an unsigned integer (digits 0-9)"


def _resource(number: int, record: bytes, cells: list[bytes]) -> _Resource:
    """A resource of the current block; rejected (its sales with it) as a TSV line would be."""
    try:
        record.decode("utf-8")
    except UnicodeDecodeError as error:
        return (None, number, f"invalid UTF-8 at byte {error.start + 1}")
    if b"\x00" in record:
        return (None, number, "contains a NUL character")
    dsp_id, isrc = cells[RESOURCE.dsp_resource_id], cells[RESOURCE.isrc]
    title, artists = cells[RESOURCE.title], cells[RESOURCE.artists]
    if not dsp_id:
        return (None, number, "empty DspResourceId")
    return (b"\t".join(_copy_field(value) for value in (dsp_id, title, artists, isrc)), number, "")


class _Lines:
    """Numbers a file's lines, a chunk at a time, and joins those whose line end is escaped by a
    backslash into one record, numbered as its first line."""

    def __init__(self) -> None:
        self.number = 0
        self.continued: list[bytes] = []

    def count(self, lines: int) -> int:
        """Count `lines` lines none of which continues a record; the number of the first."""
        first = self.number + 1
        self.number += lines
        return first

    def numbered(self, lines: list[bytes]) -> list[tuple[int, bytes]]:
        records = []
        for line in lines:
            self.number += 1
            if line.endswith(b"\r"):
                line = line[:-1]
            if line.endswith(b"\\") and (len(line) - len(line.rstrip(b"\\"))) % 2:
                self.continued.append(line + b"\n")
                continue
            if self.continued:
                records.append((self.number - len(self.continued), b"".join(self.continued) + line))
                self.continued = []
                continue
            records.append((self.number, line))
        return records


def _records(blocks: Iterable[Block]) -> Iterator[tuple[int, bytes]]:
    """(line number, record without its line end) of each record, comments included."""
    lines = _Lines()
    for chunk, _ in whole_lines(read_errors_as_failures(blocks, lambda: lines.number)):
        if chunk is TooLong:
            raise DsrfError(f"line {lines.number + 1}: longer than the limit of {MAX_LINE_BYTES:,} bytes")
        yield from lines.numbered(chunk.split(b"\n")[:-1])


def _cells(record: bytes) -> list[bytes]:
    """The record's cells, a backslash escaping a tab, a line end or a backslash."""
    if b"\\" not in record:
        return record.split(b"\t")
    cells, current = [], []
    for token in _ESCAPE_TOKEN.findall(record):
        if token == b"\t":
            cells.append(b"".join(current))
            current = []
        elif token[:1] == b"\\" and token[1:] in _UNESCAPED:
            current.append(token[1:])
        else:
            current.append(token)
    cells.append(b"".join(current))
    return cells


def _padded(cells: list[bytes], count: int) -> list[bytes]:
    """At least `count` cells: trailing cells left out are empty."""
    return cells if len(cells) >= count else cells + [b""] * (count - len(cells))


def _copy_field(value: bytes) -> bytes:
    if b"\\" in value:
        value = value.replace(b"\\", b"\\\\")
    return value.replace(b"\t", b"\\t").replace(b"\n", b"\\n").replace(b"\r", b"\\r")


def _text(number: int, record: str, cell: bytes) -> str:
    try:
        text = cell.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DsrfError(f"line {number}: {record} has invalid UTF-8 at byte {error.start + 1} of a cell") from None
    if "\x00" in text:
        raise DsrfError(f"line {number}: {record} contains a NUL character")
    return text.strip()


def _date(number: int, name: str, text: str) -> date:
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise DsrfError(f"line {number}: HEAD {name} {text!r} is not a YYYY-MM-DD date") from None


def _name(record_type: bytes) -> str:
    return record_type[:20].decode("utf-8", "replace")
