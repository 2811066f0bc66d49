from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from dsrs.devtools.generator import generate_dsr, generate_dsrf, generate_samples
from dsrs.formats.filenames import FileNameError, parse_dsr_file_name, parse_dsrf_file_name


class Command(BaseCommand):
    help = (
        "Write a sample DSR in the real format, deterministic by seed "
        "(generate_dsr data/Spotify_SpotifyDuo_NO_NOK_20200101-20200131.tsv.gz --lines 1000), "
        "or the samples of data/ (generate_dsr --samples data), or a DDEX DSRF file of N sales "
        "(generate_dsr --format dsrf "
        "data/DSR_PADPIDA2011021501G_PADPIDA2007040502I_SpotifyPremium_20240101--20240131_ES_1of1_20240205T120000.tsv.gz "  # noqa: E501 (a file name, whole)
        "--lines N)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("path", nargs="?", type=Path, help="where to write; the name must be a valid DSR file name")
        target.add_argument("--samples", type=Path, metavar="DIR", help="write the project's sample DSRs into DIR")
        parser.add_argument("--lines", type=int, default=1000, help="usage lines; with --format dsrf, sales records")
        parser.add_argument(
            "--format",
            dest="file_format",
            choices=["tsv", "dsrf"],
            default="tsv",
            help="tsv: the project's format; dsrf: a DDEX DSR flat file (Basic Audio), named by the DSRF convention",
        )
        parser.add_argument("--seed", type=int, default=1)

    def handle(
        self, *args, path: Path | None, samples: Path | None, lines: int, seed: int, file_format: str, **options
    ) -> None:
        if samples:
            for written in generate_samples(samples):
                self.stdout.write(f"{written}")
            return
        try:
            parse_dsrf_file_name(path) if file_format == "dsrf" else parse_dsr_file_name(path)
        except FileNameError as error:
            raise CommandError(f"{path}: {error}") from None
        if file_format == "dsrf":
            generate_dsrf(path, sales=lines, seed=seed)
            self.stdout.write(f"{path}: {lines:,} sales records")
            return
        generate_dsr(path, lines=lines, seed=seed)
        self.stdout.write(f"{path}: {lines:,} lines")
