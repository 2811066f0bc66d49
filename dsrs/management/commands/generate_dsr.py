from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from dsrs.filenames import FileNameError, parse_dsr_file_name
from dsrs.generator import generate_dsr, generate_samples


class Command(BaseCommand):
    help = (
        "Write a sample DSR in the real format, deterministic by seed "
        "(generate_dsr data/Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv.gz --lines 1000), "
        "or the samples of data/ (generate_dsr --samples data)."
    )

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("path", nargs="?", type=Path, help="where to write; the name must be a valid DSR file name")
        target.add_argument("--samples", type=Path, metavar="DIR", help="write the project's sample DSRs into DIR")
        parser.add_argument("--lines", type=int, default=1000)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, path: Path | None, samples: Path | None, lines: int, seed: int, **options):
        if samples:
            for written in generate_samples(samples):
                self.stdout.write(f"{written}")
            return
        try:
            parse_dsr_file_name(path)
        except FileNameError as error:
            raise CommandError(f"{path}: {error}") from None
        generate_dsr(path, lines=lines, seed=seed)
        self.stdout.write(f"{path}: {lines:,} lines")
