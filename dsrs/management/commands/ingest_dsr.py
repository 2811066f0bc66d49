"""`manage.py ingest_dsr PATH...`: where files are ingested by hand or by a batch job.

The outcome of each file is told once: as a report for people (LOG_FORMAT=text), or only as the
ingestion service's JSON log records (LOG_FORMAT=json, for log collectors).
"""

import re
import sys
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dsrs.formats.filenames import FileNameError
from dsrs.imports.services import create_import
from dsrs.ingest import interrupts
from dsrs.ingest.service import IngestResult, Progress, Remedy, ingest_dsr
from dsrs.money import RATE_LIMIT, RATE_PLACES

# ASCII digits only: Decimal() alone also takes other scripts' digits, underscores and spaces.
DECIMAL = re.compile(r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


# What the user can do about a refused or failed file, in this command's words.
REMEDIES = {
    Remedy.REPLACE: "to swap it for this file, ingest it with --replace",
    Remedy.EUR_RATE: "give one with --eur-rate",
}


def positive_decimal(text: str) -> Decimal:
    """A rate that DSR.eur_rate holds: neither rounded to 0 nor overflowing."""
    if not DECIMAL.fullmatch(text) or not RATE_PLACES <= Decimal(text) < RATE_LIMIT:
        raise ValueError(text)
    return Decimal(text)


class Command(BaseCommand):
    help = (
        "Ingest DSR files (.tsv or .tsv.gz): the project's TSV or DDEX DSR flat files (Basic Audio). "
        "Exits non-zero unless every file ends up ingested."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
        parser.add_argument(
            "--replace",
            action="store_true",
            help="swap an ingested DSR of the same DSP, service, society, territory and period for this file",
        )
        parser.add_argument(
            "--eur-rate",
            type=positive_decimal,
            metavar="X",
            help="units of the file's currency per 1 EUR (0.0000000001 to below 10^14), "
            "instead of the mean ECB rate over its period",
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="copy the files to the imports storage and queue them for the workers (ingest_worker) instead",
        )

    def handle(
        self, *args, paths: list[Path], replace: bool, eur_rate: Decimal | None, enqueue: bool, **options
    ) -> None:
        """Exit status: 0 when every file ends up ingested (or was already), 1 otherwise, and
        128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM) when a signal rolled the
        current file back. A signal during a commit lets the commit finish: the file is reported,
        the next files are not started, and the status is 0 or 1 as for any other run."""
        if enqueue:
            self._enqueue(paths, replace=replace, eur_rate=eur_rate)
            return
        # With LOG_FORMAT=json the service's log records (one JSON line per file) are the report.
        for_people = settings.LOG_FORMAT == "text"
        failures = 0
        with interrupts.caught() as signals:
            for done, path in enumerate(paths):
                if signals.received is not None:
                    self.stderr.write(
                        f"interrupted by {signals.name}: {len(paths) - done} of {len(paths)} files not started"
                    )
                    failures += len(paths) - done
                    break
                on_progress = self._progress_bar(path) if sys.stderr.isatty() else None
                try:
                    result = ingest_dsr(path=path, replace=replace, eur_rate=eur_rate, on_progress=on_progress)
                except interrupts.Interrupted as interrupted:
                    if on_progress:
                        sys.stderr.write("\r\033[K")
                    self.stderr.write(
                        self.style.ERROR(f"{path}: interrupted by {interrupted}, rolled back: nothing of it is stored")
                    )
                    raise CommandError(
                        f"interrupted: {failures + len(paths) - done} of {len(paths)} files not ingested",
                        returncode=128 + interrupted.signum,
                    ) from None
                if on_progress:
                    sys.stderr.write("\r\033[K")
                failures += not result.ok
                if for_people:
                    self._report(result)
            else:
                if signals.received is not None:
                    self.stderr.write(f"interrupted by {signals.name} after the last file was handled")
        if failures:
            raise CommandError(f"{failures} of {len(paths)} files not ingested")

    def _enqueue(self, paths: list[Path], *, replace: bool, eur_rate: Decimal | None) -> None:
        """Exit status 0 when every file is queued, 1 otherwise."""
        failures = 0
        for path in paths:
            try:
                with open(path, "rb") as content:
                    queued = create_import(
                        file_name=path.name, content=File(content), replace=replace, eur_rate=eur_rate
                    )
            except (FileNameError, OSError) as error:
                failures += 1
                self.stderr.write(
                    self.style.ERROR(
                        f"{path}: {(error.strerror or error) if isinstance(error, OSError) else error}: not queued"
                    )
                )
                continue
            self.stdout.write(f"{path}: queued as import {queued.id}")
        if failures:
            raise CommandError(f"{failures} of {len(paths)} files not queued")

    def _report(self, result: IngestResult) -> None:
        if result.ok:
            self.stdout.write(result.message)
        else:
            remedy = f"; {REMEDIES[result.remedy]}" if result.remedy else ""
            self.stderr.write(self.style.ERROR(result.message + remedy))
        if result.lines_read:
            rate = result.lines_read / result.seconds if result.seconds else 0
            self.stdout.write(
                f"  lines read {result.lines_read:,}, stored {result.lines_stored:,}, "
                f"rejected {result.lines_rejected:,} in {result.seconds:.1f} s ({rate:,.0f} lines/s)"
            )
        dsrs = result.dsrs or ([result.dsr] if result.dsr else [])
        rejections = sorted(
            (rejection for dsr in dsrs for rejection in dsr.rejections), key=lambda rejection: rejection["line"]
        )
        for rejection in rejections[:5]:
            self.stdout.write(f"  rejected line {rejection['line']}: {rejection['reason']}")

    @staticmethod
    def _progress_bar(path: Path):
        last_drawn = -1.0

        def show(progress: Progress) -> None:
            nonlocal last_drawn
            if progress.seconds - last_drawn < 0.1 and progress.bytes_read < progress.file_size:
                return  # ten frames a second are enough for a terminal
            last_drawn = progress.seconds
            done = progress.bytes_read / progress.file_size if progress.file_size else 1
            bar = "#" * int(done * 30)
            speed = progress.bytes_read / progress.seconds / 1e6 if progress.seconds else 0
            sys.stderr.write(f"\r\033[K{path.name} [{bar:<30}] {done:4.0%} {progress.lines:,} lines {speed:.1f} MB/s")
            sys.stderr.flush()

        return show
