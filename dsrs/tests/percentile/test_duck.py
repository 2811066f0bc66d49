"""The API process's DuckDB (dsrs.percentile.duck): one database per process, whose memory limit
every ranking running at once shares, each with temporary tables of its own."""

from dsrs.percentile import duck


def test_every_ranking_of_a_process_uses_one_database_with_the_configured_memory_limit(settings):
    settings.COLUMNAR_MEMORY_LIMIT = "300MB"
    first, second = duck.connection(), duck.connection()
    try:
        first.execute("CREATE OR REPLACE TABLE seen_by_both AS SELECT 42 AS answer")

        assert second.execute("SELECT answer FROM seen_by_both").fetchall() == [(42,)]
        assert second.execute("SELECT current_setting('memory_limit')").fetchone()[0] in ("286.1 MiB", "300.0 MB")
    finally:
        first.execute("DROP TABLE seen_by_both")
        first.close()
        second.close()


def test_each_ranking_has_temporary_tables_of_its_own():
    first, second = duck.connection(), duck.connection()
    first.execute("CREATE TEMPORARY TABLE resources AS SELECT 1 AS units")
    second.execute("CREATE TEMPORARY TABLE resources AS SELECT 2 AS units")

    assert (
        first.execute("SELECT units FROM resources").fetchone(),
        second.execute("SELECT units FROM resources").fetchone(),
    ) == ((1,), (2,))
    first.close()
    second.close()
