from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from dsrs.ecb.history import HistoryError
from dsrs.ecb.rates import newest_ecb_date
from dsrs.ecb.sources import ECB_HISTORY_URL, source_name
from dsrs.ecb.update import update_ecb_rates


class Command(BaseCommand):
    help = (
        "Add the ECB reference rates not stored yet from the ECB's published history. "
        "Running it again adds nothing; a bad source changes nothing and exits non-zero."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--source",
            default=ECB_HISTORY_URL,
            metavar="URL_OR_FILE",
            help=f"the history as a zip or CSV, from a http(s) URL or a file (default: {ECB_HISTORY_URL})",
        )

    def handle(self, *args, source: str, **options) -> None:
        try:
            update = update_ecb_rates(source=source)
        except HistoryError as error:
            raise CommandError(f"ECB rates not updated: {error}") from None
        except DatabaseError as error:
            raise CommandError(f"ECB rates not updated: {source_name(source)}: {error}") from None
        self.stdout.write(f"{update.source}: {update.added}; the ECB rates now end on {newest_ecb_date()}")
