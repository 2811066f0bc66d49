"""Where usage lines and the data derived from them are kept: `partitions.py` (one partition of
dsrs_usage per DSR, loaded by COPY), `columnar/` (the copies of the lines DuckDB ranks),
`kept_answers.py` (percentile answers kept for the next request), `deletion.py` (a DSR leaves with
all of these), `connections.py` (a connection of its own beside Django's)."""
