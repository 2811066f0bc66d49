from django.core.management.base import BaseCommand, CommandError, CommandParser

from dsrs.storage.columnar import rebuild


class Command(BaseCommand):
    help = (
        "Write the columnar copy and the resource segment (COLUMNAR_DIR) of each ingested DSR that has "
        "none, or a damaged one, from its lines in PostgreSQL, going on past any that fails, and remove "
        "the files no DSR names and the resource descriptions no segment names. The percentile query "
        "reads them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="write the copy of every ingested DSR again")

    def handle(self, *args, all: bool, **options) -> None:
        rebuilt = rebuild(every=all)
        for dsr_id in rebuilt.written:
            self.stdout.write(f"DSR {dsr_id}: columnar copy written")
        for dsr_id in rebuilt.segments:
            self.stdout.write(f"DSR {dsr_id}: resource segment written")
        pruned = (
            "descriptions not pruned: a resource segment is missing or damaged on this machine"
            if rebuilt.descriptions_removed is None
            else f"{_counted(rebuilt.descriptions_removed, 'description', 'descriptions')} no segment named removed"
        )
        self.stdout.write(
            f"{_counted(len(rebuilt.written), 'columnar copy', 'columnar copies')} and "
            f"{_counted(len(rebuilt.segments), 'resource segment', 'resource segments')} written, "
            f"{_counted(len(rebuilt.removed), 'file', 'files')} no DSR named removed, {pruned}"
        )
        for failure in rebuilt.failed:
            self.stderr.write(failure)
        if rebuilt.failed:
            raise CommandError(f"{_counted(len(rebuilt.failed), 'file', 'files')} could not be written")


def _counted(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"
