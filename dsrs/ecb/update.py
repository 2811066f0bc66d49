"""Where the stored ECB rates are brought up to date from the ECB's published history.

What update_ecb_rates (and cron, until a queue runs it daily) calls. The source is read and
checked whole before anything is written, and the rates and the update's record are committed
together: a bad source changes nothing, and running it again adds nothing new.
"""

from django.db import transaction

from dsrs.ecb import storage
from dsrs.ecb.history import HistoryError, read_history
from dsrs.ecb.sources import ECB_HISTORY_URL, fetch_history, source_name
from dsrs.models import EcbRateUpdate


def update_ecb_rates(*, source: str = ECB_HISTORY_URL) -> EcbRateUpdate:
    """Add the rates of `source` (URL or file) not stored yet; HistoryError when it is bad."""
    name = source_name(source)
    try:
        rates = read_history(fetch_history(source))
    except HistoryError as error:
        raise HistoryError(f"{name}: {error}") from None
    with transaction.atomic():
        update = EcbRateUpdate.objects.create(source=name)
        added = storage.add_rates(rates=rates, update_id=update.id)
        update.rates_added, update.days_added, update.currencies_added = added.rates, added.days, added.currencies
        update.save(update_fields=["rates_added", "days_added", "currencies_added"])
    return update
