"""How DuckDB reads a copy of a DSR's lines kept as the very COPY text its ingestion sent to
PostgreSQL (dsrs.storage.columnar.streamed), or as Parquet (dsrs.storage.columnar.read_back): the SQL of its lines,
`dsp_id, title, artists, isrc, usages, units`, for the ranking (dsrs.percentile.columnar_ranking).

Each line's units of 1e-8 EUR are those of the PostgreSQL ranking (dsrs.money.
line_units), exactly: round half up of revenue * 10^8 / eur_rate. A Parquet copy holds them; a
text copy holds the revenue as sent, and they are computed as the lines are read. Revenue of up
to 18 decimal places (any line of the DSR files seen so far) is held exactly as DECIMAL(33,18) =
X / 10^18, and with eur_rate = R / 10^10 (its 10 decimal places), units = floor((2X + R) / 2R) in
128-bit integers. That division costs about 0.6 us a line; a product of doubles gives the same
integer for almost every line at a fraction of the cost, and is taken wherever its error (below
5e-5 under 10^11 units: three roundings of 2^-53 and the half) cannot change it: more than 0.001
away from the next integer, whatever the revenue's decimal places. A line that needs the exact
division and has more than 18 decimal places raises duckdb.InvalidInputException (INEXACT), and
PostgreSQL ranks instead.
"""

from decimal import Decimal
from pathlib import Path

from dsrs.money import RATE_DECIMALS, RATE_SCALE, UNITS_PER_EUR

REVENUE_PLACES = 18
# Below this many units, the product of doubles is within 5e-5 of the exact quotient.
DOUBLE_EXACT_BELOW = 1e11
DOUBLE_MARGIN = 0.001
# A line is at most 1 MiB as read (dsrs.formats.blocks.MAX_LINE_BYTES); COPY text escapes a
# backslash as two.
MAX_LINE_BYTES = 4 << 20
INEXACT = "no exact units"
# The kinds of copies, by the end of their file name: COPY text of a TSV file's lines, of a DSRF
# file's lines (led by their DSR's id), and Parquet.
TEXT = ".tsv"
DSRF_TEXT = ".dsrf.tsv"
PARQUET = ".parquet"
COLUMNS = {
    "dsp_id": "VARCHAR",
    "title": "VARCHAR",
    "artists": "VARCHAR",
    "isrc": "VARCHAR",
    "usages": "BIGINT",
    "revenue": "VARCHAR",
}


def unescaped(column: str) -> str:
    """COPY text of a text column as its value: dsrs.formats.tsv escapes a backslash (as \\\\) and a
    carriage return (as \\r), the DSRF reader a tab and a line feed too (\\t, \\n). NUL, which no
    stored line holds, stands for an escaped backslash while the others are unescaped. DuckDB
    reads an empty field as NULL."""
    escaped = f"replace({column}, '\\\\', chr(0))"
    for escape, character in (("r", 13), ("t", 9), ("n", 10)):
        escaped = f"replace({escaped}, '\\{escape}', chr({character}))"
    return f"CASE WHEN contains({column}, '\\') THEN replace({escaped}, chr(0), '\\') ELSE coalesce({column}, '') END"


def decimal_places(revenue: str) -> str:
    """An upper bound of the decimal places of a validated revenue (dsrs.formats.values.REVENUE): the digits
    after the point, plus the negative exponent's, if any."""
    mantissa_places = "CASE WHEN strpos({m}, '.') = 0 THEN 0 ELSE length({m}) - strpos({m}, '.') END"
    plain = mantissa_places.format(m=revenue)
    mantissa, exponent = f"split_part(lower({revenue}), 'e', 1)", f"split_part(lower({revenue}), 'e', 2)"
    scientific = f"{mantissa_places.format(m=mantissa)} - CAST({exponent} AS INTEGER)"
    return f"CASE WHEN contains(lower({revenue}), 'e') THEN {scientific} ELSE {plain} END"


def units(eur_rate: Decimal) -> str:
    scaled_rate = int(eur_rate * RATE_SCALE)
    if scaled_rate != eur_rate * RATE_SCALE or scaled_rate <= 0:
        raise ValueError(f"EUR rate {eur_rate} is not a positive number of {RATE_DECIMALS} decimal places")
    revenue = f"CAST(revenue AS DECIMAL(33,{REVENUE_PLACES}))"
    whole = f"CAST(floor({revenue}) AS HUGEINT) * {10**REVENUE_PLACES}"
    fraction = f"CAST(({revenue} - floor({revenue})) * {10**REVENUE_PLACES} AS HUGEINT)"
    exact = f"(({whole} + {fraction}) * 2 + {scaled_rate}) // {2 * scaled_rate}"
    units_per_revenue = repr(float(UNITS_PER_EUR / eur_rate))
    approximate = f"(CAST(revenue AS DOUBLE) * CAST('{units_per_revenue}' AS DOUBLE) + 0.5)"
    return (
        f"CASE WHEN {approximate} < {DOUBLE_EXACT_BELOW} AND {approximate} - floor({approximate}) BETWEEN "
        f"{DOUBLE_MARGIN} AND {1 - DOUBLE_MARGIN} "
        f"THEN CAST(floor({approximate}) AS DECIMAL(38,0)) "
        f"WHEN {decimal_places('revenue')} > {REVENUE_PLACES} "
        f"THEN error('{INEXACT}: revenue ' || revenue || ' has more than {REVENUE_PLACES} decimal places') "
        f"ELSE CAST({exact} AS DECIMAL(38,0)) END"
    )


def quoted(text: str) -> str:
    """`text` as a DuckDB string literal."""
    return "'" + text.replace("'", "''") + "'"


def _lines(source: str, columns: dict[str, str]) -> str:
    return (
        f"read_csv({quoted(source)}, header = false, auto_detect = false, delim = '\t', quote = '', escape = '', "
        f"max_line_size = {MAX_LINE_BYTES}, buffer_size = {2 * MAX_LINE_BYTES}, "
        f"columns = {{{', '.join(f'{quoted(name)}: {quoted(kind)}' for name, kind in columns.items())}}})"
    )


TEXT_COLUMNS = ", ".join(f"{unescaped(name)} AS {name}" for name in ("dsp_id", "title", "artists", "isrc"))


def text_lines(source: str, eur_rate: Decimal, *, led_by_dsr_id: bool) -> str:
    """The SQL of lines read as COPY text from `source`; `led_by_dsr_id`: each led by its DSR's
    id, as a DSRF file's lines are."""
    columns = {"dsr_id": "BIGINT", **COLUMNS} if led_by_dsr_id else COLUMNS
    return f"SELECT {TEXT_COLUMNS}, usages, {units(eur_rate)} AS units FROM {_lines(source, columns)}"


def copy_lines(path: Path, eur_rate: Decimal) -> str:
    """The SQL of the lines of the copy at `path`, by its kind (TEXT, DSRF_TEXT, PARQUET)."""
    if path.name.endswith(PARQUET):
        return f"SELECT dsp_id, title, artists, isrc, usages, units FROM read_parquet({quoted(str(path))})"
    return text_lines(str(path), eur_rate, led_by_dsr_id=path.name.endswith(DSRF_TEXT))
