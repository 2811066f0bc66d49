"""`make bench`: the scale targets (docs/performance.md, "Targets"), measured as ratios within one run.

python -m bench.run            # 10M usage lines of each distribution (Pareto, Zipf, flat), and a DSRF file
python -m bench.run --large    # and peak RSS of a 10M-line ingestion
python -m bench.run --huge     # and the percentile over 100M flat lines (40 DSRs of 2.5M lines)
"""

import argparse
import time

from bench import deletion, harness, imports, ingest, percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="also ingest a 10M-line DSR for its peak RSS")
    parser.add_argument(
        "--huge", action="store_true", help="also query 100M usage lines (generating them takes about 20 minutes)"
    )
    args = parser.parse_args()

    harness.setup_django()
    from dsrs.models import DSR
    from dsrs.storage.deletion import delete_dsrs

    report = harness.Report()
    for distribution in ("pareto", "zipf", "flat"):
        files = harness.bench_files(distribution)
        outcome = ingest.run(report, files[0], distribution)
        if distribution == "pareto":
            ingest.run_dsrf(report, harness.bench_dsrf_file(), outcome)
        for path in files[1:]:  # the other DSRs of the 10M usage lines the queries run over
            ingest.ingest_in_subprocess(path)
        background = ingest.run_background_jobs()
        report.add(
            f"background work after ingesting the {distribution} DSRs (resource segments, warmed answers), one worker",
            f"{background:.1f} s",
        )
        percentile.run(report, distribution, files)
        if distribution == "pareto":
            deletion.run(report, files[0])
        delete_dsrs(DSR.objects.all())  # each distribution is queried on its own
    imports.run(report, harness.bench_files("pareto")[:2])
    if args.large:
        ingest.run_large(report, harness.bench_file(harness.LARGE_FILE, harness.LARGE_LINES, seed=6))
    if args.huge:
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
    report.print_table()


if __name__ == "__main__":
    main()
