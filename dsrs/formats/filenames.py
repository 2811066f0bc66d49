"""Where a DSR file name is parsed: DSP, service, optional society, territory, currency, period;
and the DDEX DSRF file name convention, which tells a DSRF file and names generated ones."""

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

FILE_NAME = re.compile(
    r"(?P<dsp>[A-Za-z0-9]+)_(?P<service>[A-Za-z0-9]+)(?:_(?P<society>[A-Za-z0-9]+))?"
    r"_(?P<territory>[A-Z]{2})_(?P<currency>[A-Z]{3})"
    r"_(?P<start>[0-9]{8})-(?P<end>[0-9]{8})\.tsv(?P<gz>\.gz)?"
)
EXPECTED = "{DSP}_{Service}[_{Society}]_{Territory}_{Currency}_{YYYYMMDD}-{YYYYMMDD}.tsv[.gz]"


# The longest DSP, service, society or party ID a name may give: the columns of dsrs.models.DSR
# they fill hold 100 characters.
MAX_NAME_FIELD_CHARS = 100


class FileNameError(ValueError):
    pass


def _check_lengths(**fields: str | None) -> None:
    for label, value in fields.items():
        if value is not None and len(value) > MAX_NAME_FIELD_CHARS:
            raise FileNameError(
                f"the {label.replace('_', ' ')} {value[:20]!r}... is {len(value)} characters long, more than the "
                f"{MAX_NAME_FIELD_CHARS} a DSR holds"
            )


@dataclass(frozen=True)
class DsrFileName:
    dsp: str
    service: str
    society: str | None
    territory: str
    currency: str
    period_start: date
    period_end: date
    gzipped: bool


def parse_dsr_file_name(path: Path) -> DsrFileName:
    match = FILE_NAME.fullmatch(path.name)
    if not match:
        raise FileNameError(f"file name does not match {EXPECTED}")
    _check_lengths(DSP=match["dsp"], service=match["service"], society=match["society"])
    start = _parse_date(match["start"])
    end = _parse_date(match["end"])
    if start > end:
        raise FileNameError(f"period starts after it ends ({start} > {end})")
    return DsrFileName(
        dsp=match["dsp"],
        service=match["service"],
        society=match["society"],
        territory=match["territory"],
        currency=match["currency"],
        period_start=start,
        period_end=end,
        gzipped=bool(match["gz"]),
    )


def _parse_date(text: str) -> date:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise FileNameError(f"{text} is not a valid YYYYMMDD date") from None


# DDEX DSRF: DSR_{SenderPartyId}_{RecipientPartyId}_{ServiceDescription}_{Start}--{End}_{Territory}_{XofY}_{Created}
# The territory is empty for a multi-territory report. The file's HEAD record, not its name, says
# what it reports: the name only tells a DSRF file whose first line is not a HEAD record.
DSRF_FILE_NAME = re.compile(
    r"DSR_(?P<sender>[A-Za-z0-9]+)_(?P<recipient>[A-Za-z0-9]+)_(?P<service>[A-Za-z0-9-]+)"
    r"_(?P<start>[0-9]{8})--(?P<end>[0-9]{8})_(?P<territory>[A-Z]{2})?_(?P<file_number>[0-9]+)of(?P<number_of_files>[0-9]+)"
    r"_(?P<created>[0-9]{8}T[0-9]{6})\.tsv(?P<gz>\.gz)?"
)
DSRF_EXPECTED = (
    "DSR_{SenderPartyId}_{RecipientPartyId}_{ServiceDescription}_{YYYYMMDD}--{YYYYMMDD}_{Territory}_{XofY}_"
    "{YYYYMMDDTHHMMSS}.tsv[.gz]"
)


@dataclass(frozen=True)
class DsrfFileName:
    sender: str
    recipient: str
    service: str
    territory: str | None
    period_start: date
    period_end: date


def is_dsrf_file_name(path: Path) -> bool:
    return DSRF_FILE_NAME.fullmatch(path.name) is not None


def parse_dsrf_file_name(path: Path) -> DsrfFileName:
    match = DSRF_FILE_NAME.fullmatch(path.name)
    if not match:
        raise FileNameError(f"file name does not match {DSRF_EXPECTED}")
    _check_lengths(sender_party_ID=match["sender"], recipient_party_ID=match["recipient"], service=match["service"])
    start = _parse_date(match["start"])
    end = _parse_date(match["end"])
    if start > end:
        raise FileNameError(f"period starts after it ends ({start} > {end})")
    return DsrfFileName(
        sender=match["sender"],
        recipient=match["recipient"],
        service=match["service"],
        territory=match["territory"],
        period_start=start,
        period_end=end,
    )
