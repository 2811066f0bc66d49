"""Where the DSRs a file makes are known, before any of its lines is read: one for a TSV file, from
its name; one per (territory, currency) of a DDEX DSRF file's summary records. Each kind of file
also says how its lines are read (its format's reader) and stored (one partition per DSR).

A file that makes no DSR (a name that does not parse, an unknown territory or currency, a DSRF
file whose HEAD or summaries are wrong) raises Refused: nothing of it is recorded.
"""

import abc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from dsrs.formats import dsrf
from dsrs.formats.blocks import Block, FileFailure
from dsrs.formats.filenames import DsrFileName, FileNameError, parse_dsr_file_name
from dsrs.formats.tsv import validated_chunks
from dsrs.formats.usage_lines import Chunk, LineCounts
from dsrs.models import DSR, Currency, Territory
from dsrs.storage import columnar, partitions


class Refused(Exception):
    """The file makes no DSR: this message says why."""


@dataclass(frozen=True)
class RecognisedName:
    name: DsrFileName
    territory: Territory
    currency: Currency


def recognised_file_name(path: Path) -> RecognisedName:
    """The file's name parsed, with its territory and currency; FileNameError says what is wrong."""
    name = parse_dsr_file_name(path)
    territory, currency = _territory_and_currency(name.territory, name.currency)
    return RecognisedName(name, territory, currency)


@dataclass(kw_only=True)
class FileReports(abc.ABC):
    """The DSRs of one file, with the counts of its lines: `counts` for the file as a whole (which
    decide whether it is acceptable), `tallies` for each of its DSRs."""

    dsrs: list[DSR]
    gzipped: bool
    counts: LineCounts = field(default_factory=LineCounts)

    @property
    @abc.abstractmethod
    def tallies(self) -> list[LineCounts | dsrf.Tally]:
        """The counts of each DSR's lines, in the order of `dsrs`."""

    @abc.abstractmethod
    def read(self, blocks: Iterable[Block]) -> Iterator[Chunk]:
        """The file's blocks in, its usage lines out as chunks of COPY text (the pipeline's
        validation stage)."""

    @abc.abstractmethod
    def store(self, streamed: columnar.StreamedCopies, copy_text: Iterator[bytes]) -> None:
        """COPY the lines into the DSRs' partitions, with the copies of the lines `streamed` writes."""

    @abc.abstractmethod
    def described(self) -> str:
        """The DSRs as the result names them."""


@dataclass(kw_only=True)
class TsvReport(FileReports):
    """A TSV file's one DSR, whose lines are all the file's."""

    @property
    def tallies(self) -> list[LineCounts]:
        return [self.counts]

    def read(self, blocks: Iterable[Block]) -> Iterator[Chunk]:
        return validated_chunks(blocks)

    def store(self, streamed: columnar.StreamedCopies, copy_text: Iterator[bytes]) -> None:
        [dsr] = self.dsrs
        partitions.load_partition(dsr.id, streamed.feeding(self.dsrs, copy_text))

    def described(self) -> str:
        return str(self.dsrs[0].id)


@dataclass(kw_only=True)
class DsrfReports(FileReports):
    """A DSRF file's DSRs, one per (territory, currency) of its summary records (its prelude),
    each with the tally of its sales."""

    prelude: dsrf.Prelude
    sales: list[dsrf.Tally]

    @property
    def tallies(self) -> list[dsrf.Tally]:
        return self.sales

    def read(self, blocks: Iterable[Block]) -> Iterator[Chunk]:
        return dsrf.usage_chunks(blocks, self.prelude, [dsr.id for dsr in self.dsrs], self.sales)

    def store(self, streamed: columnar.StreamedCopies, copy_text: Iterator[bytes]) -> None:
        # Each sale's COPY text leads with its DSR's id: one COPY routes them to their partitions,
        # and a file of one report gets the copy of its lines as they go.
        partitions.load_partitions(
            [dsr.id for dsr in self.dsrs], streamed.feeding(self.dsrs, copy_text, led_by_dsr_id=True)
        )

    def described(self) -> str:
        return ", ".join(f"{dsr.id} ({dsr.territory_id} {dsr.currency_id})" for dsr in self.dsrs)


def tsv_report(path: Path) -> TsvReport:
    try:
        recognised = recognised_file_name(path)
    except FileNameError as error:
        raise Refused(str(error)) from None
    name = recognised.name
    dsr = DSR(
        path=str(path),
        dsp=name.dsp,
        service=name.service,
        society=name.society,
        territory=recognised.territory,
        currency=recognised.currency,
        period_start=name.period_start,
        period_end=name.period_end,
    )
    return TsvReport(dsrs=[dsr], gzipped=name.gzipped)


def dsrf_reports(path: Path, *, eur_rate: Decimal | None) -> DsrfReports:
    """The DSRs of a DSRF file, from its HEAD and summary records; `eur_rate`, when given, is the
    one rate of all of them, so they must share a currency."""
    gzipped = path.name.endswith(".gz")
    try:
        prelude = dsrf.read_prelude(path, gzipped=gzipped)
    except (dsrf.DsrfError, FileFailure, OSError) as error:
        raise Refused(str(error) or type(error).__name__) from None
    head = prelude.head
    dsrs = []
    for territory_code, currency_code in prelude.reports:
        try:
            territory, currency = _territory_and_currency(territory_code, currency_code)
        except FileNameError as error:
            raise Refused(str(error)) from None
        dsrs.append(
            DSR(
                path=str(path),
                dsp=head.sender_name,
                service=head.service,
                society=head.recipient_name or None,
                recipient_party_id=head.recipient_party_id,
                territory=territory,
                currency=currency,
                period_start=head.period_start,
                period_end=head.period_end,
            )
        )
    currencies = sorted({dsr.currency_id for dsr in dsrs})
    if eur_rate is not None and len(currencies) > 1:
        raise Refused(f"one EUR rate was given, the file reports in {', '.join(currencies)}")
    return DsrfReports(dsrs=dsrs, gzipped=gzipped, prelude=prelude, sales=[dsrf.Tally() for _ in dsrs])


def _territory_and_currency(territory_code: str, currency_code: str) -> tuple[Territory, Currency]:
    """The territory and currency of these ISO codes; FileNameError names the unknown one."""
    territory = Territory.objects.filter(code_2=territory_code).first()
    if territory is None:
        raise FileNameError(f"unknown territory {territory_code!r} (ISO 3166 alpha-2)")
    currency = Currency.objects.filter(code=currency_code).first()
    if currency is None:
        raise FileNameError(f"unknown currency {currency_code!r} (ISO 4217)")
    return territory, currency
