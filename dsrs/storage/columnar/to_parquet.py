"""A DSR's usage lines, as the PostgreSQL COPY text its ingestion loads, read on stdin and written
as its Parquet copy: `python to_parquet.py OUTPUT MEMORY_LIMIT EUR_RATE [--led-by-dsr-id]`.

For COLUMNAR_FORMAT=parquet (dsrs.storage.columnar.streamed). Run as a process of its own, beside the
ingestion that feeds it the very bytes its COPY sends: DuckDB parses and writes on the core the
ingestion leaves idle, its memory stays out of the ingesting process, and a crash of it out of
the ingestion. A plain script, without Django, so that it starts in a fraction of a second; the
lines and their exact units are those of a text copy (copy_text, beside it; the project's root is
on the path streamed.py starts it with, for dsrs.money).
"""

import sys
from decimal import Decimal

import duckdb
from copy_text import quoted, text_lines


def main() -> None:
    output, memory_limit, eur_rate, *options = sys.argv[1:]
    lines = text_lines("/dev/stdin", Decimal(eur_rate), led_by_dsr_id=options == ["--led-by-dsr-id"])
    # One thread: the ingestion that feeds this keeps the other core busy. Lines need no order.
    config = {"memory_limit": memory_limit, "threads": 1, "preserve_insertion_order": False}
    with duckdb.connect(config=config) as duck:
        duck.execute(f"COPY ({lines}) TO {quoted(output)} (FORMAT parquet)")


if __name__ == "__main__":
    try:
        main()
    except duckdb.Error as error:
        sys.exit(f"{error}".splitlines()[0])
