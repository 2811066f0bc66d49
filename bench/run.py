"""`make bench`: the scale targets of design.md section 5, measured as ratios within one run.

    python -m bench.run            # 2.5M-line DSRs
    python -m bench.run --large    # and peak RSS of a 10M-line ingestion
"""

import argparse

from bench import deletion, harness, ingest, percentile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--large", action="store_true", help="also ingest a 10M-line DSR for its peak RSS")
    args = parser.parse_args()

    harness.setup_django()
    files = harness.bench_files()
    report = harness.Report()
    ingest.run(report, files[0])
    for path in files[1:]:  # the other DSRs of the 10M usage lines the queries run over
        ingest.ingest_in_subprocess(path)
    percentile.run(report, files)
    deletion.run(report, files[0])
    if args.large:
        ingest.run_large(report, harness.bench_file(harness.LARGE_FILE, harness.LARGE_LINES, seed=6))
    report.print_table()


if __name__ == "__main__":
    main()
