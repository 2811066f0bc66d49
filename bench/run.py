"""`make bench`: the scale targets (docs/performance.md, "Targets"), measured as ratios within one run.

python -m bench.run            # 10M usage lines of each distribution (Pareto, Zipf, flat), and a DSRF file
python -m bench.run --large    # and peak RSS of a 10M-line ingestion
python -m bench.run --huge     # instead, the percentile over 100M flat lines (40 DSRs of 2.5M lines)
"""

import argparse
import time

from bench import deletion, harness, imports, ingest, percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="also ingest a 10M-line DSR for its peak RSS")
    parser.add_argument(
        "--huge",
        action="store_true",
        help="query 100M usage lines instead (generating them takes about 20 minutes, the run about 35)",
    )
    args = parser.parse_args()

    harness.setup_django()
    report = harness.Report()
    if args.huge:
        run_huge(report)
    else:
        run_standard(report, large=args.large)
    report.print_table()


def run_standard(report: harness.Report, *, large: bool) -> None:
    """10M lines of each distribution, a DSRF file, uploads and workers; `large`: and a 10M-line file."""
    from dsrs.models import DSR
    from dsrs.storage.deletion import delete_dsrs

    for distribution in ("pareto", "zipf", "flat"):
        files = harness.bench_files(distribution)
        outcome = ingest.run(report, files[0], distribution)
        if distribution == "pareto":
            ingest.run_dsrf(report, harness.bench_dsrf_file(), outcome)
        for path in files[1:]:  # the other DSRs of the 10M usage lines the queries run over
            ingest.ingest_in_subprocess(path)
        background = ingest.run_background_jobs()
        report.add(
            f"background work after ingesting the {distribution} DSRs (segments, warmed answers), one worker",
            f"{background:.1f} s",
        )
        percentile.run(report, distribution, files)
        if distribution == "pareto":
            deletion.run(report, files[0])
        delete_dsrs(DSR.objects.all())  # each distribution is queried on its own
    imports.run(report, harness.bench_files("pareto")[:2])
    if large:
        ingest.run_large(report, harness.bench_file(harness.LARGE_FILE, harness.LARGE_LINES, seed=6))


def run_huge(report: harness.Report) -> None:
    """100M flat lines, as 40 DSRs: ingested, their background work, then the percentile."""
    files = harness.bench_files(harness.HUGE_DISTRIBUTION, harness.HUGE_FILES, harness.HUGE_LINES)
    started = time.perf_counter()
    for path in files:
        ingest.ingest_in_subprocess(path)
    ingested = time.perf_counter() - started
    background = ingest.run_background_jobs()
    report.add(
        f"the {len(files)} files of 100M {harness.HUGE_DISTRIBUTION} lines: ingested one after the other, then "
        "the background work (resource segments, warmed answers) by one worker",
        f"{ingested:.0f} s + {background:.0f} s = {ingested + background:.0f} s",
    )
    percentile.run(report, harness.HUGE_DISTRIBUTION, files, huge=True)


if __name__ == "__main__":
    main()
