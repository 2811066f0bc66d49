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
    society = models.CharField(max_length=100, null=True, blank=True)
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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "DSR"
        constraints = [
            # The same file is ingested at most once.
            models.UniqueConstraint(
                fields=["sha256"],
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
