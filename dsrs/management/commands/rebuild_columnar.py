from django.core.management.base import BaseCommand, CommandParser

from dsrs.storage.columnar import rebuild


class Command(BaseCommand):
    help = (
        "Write the columnar copy (COLUMNAR_DIR) of each ingested DSR that has none, from its lines in "
        "PostgreSQL, and remove the files no DSR names. The percentile query reads the copies."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="write the copy of every ingested DSR again")

    def handle(self, *args, all: bool, **options) -> None:
        rebuilt = rebuild(every=all)
        for dsr_id in rebuilt.written:
            self.stdout.write(f"DSR {dsr_id}: columnar copy written")
        self.stdout.write(
            f"{_counted(len(rebuilt.written), 'columnar copy', 'columnar copies')} written, "
            f"{_counted(len(rebuilt.removed), 'file', 'files')} no DSR named removed"
        )


def _counted(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"
