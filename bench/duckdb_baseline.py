"""The top-percentile answer computed by DuckDB over the same usage lines, in the same run: from
Parquet copies of the lines (written untimed, as a columnar store would hold them) and from the
.tsv.gz files themselves. The yardstick of the scale targets (docs/performance.md)."""

import os
import tempfile
from pathlib import Path

import duckdb

# The percentile of docs/api.md in DuckDB, with the service's arithmetic (a line's EUR revenue rounded to
# 1e-8 EUR, here in DOUBLE): resources ranked by revenue, then dsp_id and DSP; the head cut at
# N% of the total; metadata of the most recent DSR with a non-empty value, for the head only.
RANKED_HEAD = """
WITH lines AS (
    SELECT d.dsr_id, d.dsp, d.recency, l.dsp_id, l.title, l.artists, l.isrc, l.usages,
           round(l.revenue * 1e8 / d.eur_rate) AS units
    FROM {source} l JOIN dsr d ON d.path = l.filename
),
resources AS (
    SELECT dsp, dsp_id, sum(units) AS units FROM lines GROUP BY dsp, dsp_id
),
head AS (
    SELECT dsp, dsp_id, units
    FROM (
        SELECT dsp, dsp_id, units,
               coalesce(sum(units) OVER (
                   ORDER BY units DESC, dsp_id, dsp ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
               ), 0) AS before,
               sum(units) OVER () AS total
        FROM resources
    )
    WHERE units > 0 AND before * 100 < total * $number
)
"""
TOP_PERCENTILE = (
    RANKED_HEAD
    + """
SELECT h.dsp, h.dsp_id,
       coalesce(arg_max(l.title, l.recency) FILTER (WHERE l.title <> ''), '') AS title,
       coalesce(arg_max(l.artists, l.recency) FILTER (WHERE l.artists <> ''), '') AS artists,
       coalesce(arg_max(l.isrc, l.recency) FILTER (WHERE l.isrc <> ''), '') AS isrc,
       sum(l.usages) AS usages, any_value(h.units) / 1e8 AS revenue, list_sort(list(DISTINCT l.dsr_id)) AS dsrs
FROM head h JOIN lines l USING (dsp, dsp_id)
GROUP BY h.dsp, h.dsp_id, h.units
ORDER BY h.units DESC, h.dsp_id, h.dsp
"""
)
# The same head, its resources' ids only: one pass over the lines' dsp_id and revenue (DuckDB reads
# no other column), without the second pass for the details: the yardstick of the cold N=10 target.
HEAD_IDS = RANKED_HEAD + "SELECT dsp, dsp_id FROM head ORDER BY units DESC, dsp_id, dsp\n"
SPILL = Path(__file__).resolve().parent.parent / ".bench" / "duckdb-spill"
PARQUET = "read_parquet($files, filename = true)"
TSV = (
    "(SELECT * REPLACE (coalesce(nullif(usages, '')::BIGINT, 0) AS usages, coalesce(nullif(revenue, '')::DOUBLE, 0) "
    "AS revenue) "
    "FROM read_csv($files, delim = '\t', header = true, quote = '', escape = '', all_varchar = true, filename = true))"
)


def write_parquet(path: Path) -> Path:
    """A Parquet copy of a DSR file's lines, typed, beside it in the cache."""
    parquet = path.with_suffix("").with_suffix(".parquet")
    if not parquet.exists():
        partial = parquet.with_suffix(".partial")
        with duckdb.connect() as duck:
            duck.execute(
                "COPY (SELECT dsp_id, title, artists, isrc, coalesce(nullif(usages, '')::BIGINT, 0) AS usages, "
                "coalesce(nullif(revenue, '')::DOUBLE, 0) AS revenue "
                f"FROM read_csv('{path}', delim = '\t', header = true, quote = '', escape = '', all_varchar = true)) "
                f"TO '{partial}' (FORMAT parquet)"
            )
        partial.rename(parquet)
    return parquet


class DuckDb:
    """DuckDB over the lines of `dsrs` (DSR rows, with their `path`), from `source` files."""

    def __init__(self, dsrs: list, *, parquet: bool) -> None:
        # Half of the machine's memory, spilling beyond: with DuckDB's default (80%), its query over
        # 100M Zipf lines was killed by the kernel at 17 GB, beside PostgreSQL's shared buffers.
        half = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
        self.duck = duckdb.connect(config={"memory_limit": f"{half >> 20}MB", "temp_directory": str(SPILL)})
        self.source = PARQUET if parquet else TSV
        by_recency = sorted(dsrs, key=lambda d: (d.period_end, d.id))
        self.duck.execute(
            "CREATE TABLE dsr (dsr_id BIGINT, dsp VARCHAR, path VARCHAR, eur_rate DOUBLE, recency INTEGER)"
        )
        self.files = {}
        for dsr in dsrs:
            path = write_parquet(Path(dsr.path)) if parquet else Path(dsr.path)
            self.files[dsr.id] = str(path)
            self.duck.execute(
                "INSERT INTO dsr VALUES (?, ?, ?, ?, ?)",
                [dsr.id, dsr.dsp, str(path), float(dsr.eur_rate), by_recency.index(dsr)],
            )

    def top_percentile(self, dsr_ids: list[int], number: int) -> list[tuple]:
        return self.duck.execute(
            self._query(), {"files": [self.files[i] for i in dsr_ids], "number": number}
        ).fetchall()

    def head_ids(self, dsr_ids: list[int], number: int) -> list[tuple[str, str]]:
        """The head of top_percentile as (dsp, dsp_id), in its order."""
        return self.duck.execute(
            self._query(HEAD_IDS), {"files": [self.files[i] for i in dsr_ids], "number": number}
        ).fetchall()

    def top_percentile_json_size(self, dsr_ids: list[int], number: int) -> int:
        """The answer written as a JSON array, as the API sends it: its size in bytes."""
        files = "[" + ", ".join(f"'{self.files[i]}'" for i in dsr_ids) + "]"
        query = self._query().replace("$files", files).replace("$number", str(int(number)))
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            self.duck.execute(f"COPY ({query}) TO '{out.name}' (FORMAT json, ARRAY true)")
            return Path(out.name).stat().st_size

    def _query(self, query: str = TOP_PERCENTILE) -> str:
        return query.format(source=self.source)

    def close(self) -> None:
        self.duck.close()
