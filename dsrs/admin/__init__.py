"""Back office: DSRs come from ingestion, so admin only shows them and deletes them; reference
data (ISO codes, ECB rates) comes from migrations and update_ecb_rates, so admin only shows it.

The DSR list fits one line per DSR on a 1400 px screen; a DSR's page adds the chart of its revenue
concentration (dsrs.admin.concentration measures it, dsrs.admin.charts draws it).

Deleting goes through dsrs.storage.deletion.delete_dsrs (one DROP TABLE per DSR), never through Django's
collector: the usage lines have no model, and a DELETE over millions of rows is what the
partitions exist to avoid. The confirmation pages count the lines from `lines_stored`.
"""

from collections.abc import Iterable
from datetime import datetime
from pathlib import PurePath

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from dsrs.admin.charts import revenue_concentration_chart
from dsrs.admin.concentration import revenue_concentration
from dsrs.ecb.rates import newest_ecb_date
from dsrs.imports.services import NotRequeueable, requeue_import
from dsrs.models import DSR, Currency, EcbRate, EcbRateUpdate, Import, Territory
from dsrs.storage.deletion import DeletionBusy, delete_dsrs

# Three models: the index page is navigation enough, and the sidebar's 300 px are the DSR list's.
admin.site.enable_nav_sidebar = False
admin.site.site_header = admin.site.site_title = "DSR service administration"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by migrations or ingestion: viewable, never added or edited here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ReferenceDataAdmin(ReadOnlyAdmin):
    """ISO data and ECB rates, which DSRs refer to: not deleted here either."""

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(Currency)
class CurrencyAdmin(ReferenceDataAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Territory)
class TerritoryAdmin(ReferenceDataAdmin):
    list_display = ["code_2", "code_3", "name"]
    search_fields = ["code_2", "code_3", "name"]


class EcbDataAdmin(ReferenceDataAdmin):
    """ECB rates and their loads, under a heading that says when the rates were last updated."""

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return super().changelist_view(request, {"subtitle": last_update_summary(), **(extra_context or {})})


def last_update_summary() -> str:
    last = EcbRateUpdate.objects.first()
    if last is None:
        return "No ECB rates loaded yet: run update_ecb_rates."
    return f"Last update {when(last.loaded_at)} from {last.source}: {last.added}. Rates up to {newest_ecb_date()}."


def when(moment: datetime) -> str:
    return f"{localtime(moment):%Y-%m-%d %H:%M %Z}"


@admin.register(EcbRate)
class EcbRateAdmin(EcbDataAdmin):
    list_display = ["day", "currency", "published_rate", "source", "loaded_at"]
    list_select_related = ["update"]
    search_fields = ["=currency"]
    date_hierarchy = "date"
    fields = ["day", "currency", "published_rate", "source", "loaded_at"]
    readonly_fields = fields

    @admin.display(description="date", ordering="date")
    def day(self, rate: EcbRate) -> str:
        return rate.date.isoformat()

    @admin.display(description="units per 1 EUR", ordering="rate")
    def published_rate(self, rate: EcbRate) -> str:
        return f"{rate.rate.normalize():f}"  # as the ECB publishes it: 0.8338, not 0.83380000

    @admin.display(description="source", ordering="update__source")
    def source(self, rate: EcbRate) -> str:
        return rate.update.source

    @admin.display(description="loaded at", ordering="update__loaded_at")
    def loaded_at(self, rate: EcbRate) -> str:
        return when(rate.update.loaded_at)


@admin.register(EcbRateUpdate)
class EcbRateUpdateAdmin(EcbDataAdmin):
    list_display = ["loaded", "source", "days_added", "currencies_added", "rates_added"]

    @admin.display(description="loaded at", ordering="loaded_at")
    def loaded(self, update: EcbRateUpdate) -> str:
        return when(update.loaded_at)


class PeriodFilter(admin.SimpleListFilter):
    """The reporting periods that DSRs have, e.g. 2020-01-01 – 2020-01-31, latest first."""

    title = "period"
    parameter_name = "period"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        periods = (
            DSR.objects.order_by("-period_start", "-period_end").values_list("period_start", "period_end").distinct()
        )
        return [(f"{start}/{end}", f"{start} – {end}") for start, end in periods]

    def queryset(self, request: HttpRequest, queryset: QuerySet[DSR]) -> QuerySet[DSR]:
        if self.value() is None:
            return queryset
        start, _, end = self.value().partition("/")
        try:
            return queryset.filter(period_start=start, period_end=end)
        except ValidationError as error:
            # As for any bad filter value: the change list redirects to itself with ?e=1.
            raise IncorrectLookupParameters(error) from error


@admin.register(DSR)
class DSRAdmin(ReadOnlyAdmin):
    # One line per DSR at 1400 px: the file's name (its path on hover) starts with the DSP and
    # service; the rest of it is in the territory, currency and period columns.
    list_display = [
        "id",
        "file_name",
        "territory_code",
        "currency_code",
        "period",
        "status_badge",
        "lines",
        "rejected",
    ]
    list_filter = [
        "status",
        ("territory", admin.RelatedOnlyFieldListFilter),
        ("currency", admin.RelatedOnlyFieldListFilter),
        PeriodFilter,
    ]
    list_display_links = ["id", "file_name"]
    list_select_related = ["territory", "currency"]
    search_fields = ["path"]
    actions = ["delete_selected"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "path",
                    "status",
                    "error",
                    "dsp",
                    "service",
                    "society",
                    "recipient_party_id",
                    "territory",
                    "currency",
                    "period",
                ]
            },
        ),
        ("EUR conversion", {"fields": ["eur_rate_used", "eur_rate_origin"]}),
        ("Lines", {"fields": ["lines_read", "lines_stored", "lines_rejected", "rejection_report"]}),
        ("Revenue concentration", {"fields": ["concentration_chart"]}),
        ("File", {"fields": ["sha256", "created_at", "updated_at"]}),
    ]
    readonly_fields = [
        "period",
        "eur_rate_used",
        "eur_rate_origin",
        "rejection_report",
        "concentration_chart",
        "created_at",
        "updated_at",
    ]

    class Media:
        css = {"all": ["dsrs/admin.css"]}

    @admin.display(description="file", ordering="path")
    def file_name(self, dsr: DSR) -> str:
        return format_html('<span title="{}">{}</span>', dsr.path, PurePath(dsr.path).name)

    @admin.display(description="territory", ordering="territory")
    def territory_code(self, dsr: DSR) -> str:
        return format_html('<span title="{}">{}</span>', dsr.territory.name, dsr.territory_id)

    @admin.display(description="currency", ordering="currency")
    def currency_code(self, dsr: DSR) -> str:
        return format_html('<span title="{}">{}</span>', dsr.currency.name, dsr.currency_id)

    @admin.display(ordering="period_start")
    def period(self, dsr: DSR) -> str:
        return f"{dsr.period_start} – {dsr.period_end}"

    @admin.display(description="status", ordering="status")
    def status_badge(self, dsr: DSR) -> str:
        # A failed DSR's error on hover; its page shows it whole.
        return format_html(
            '<span class="dsr-status dsr-status-{}" title="{}">{}</span>', dsr.status, dsr.error, dsr.status
        )

    @admin.display(description="lines", ordering="lines_stored")
    def lines(self, dsr: DSR) -> str:
        return f"{dsr.lines_stored:,}"

    @admin.display(description="rejected", ordering="lines_rejected")
    def rejected(self, dsr: DSR) -> str:
        return f"{dsr.lines_rejected:,}"

    @admin.display(description="share of revenue by share of resources")
    def concentration_chart(self, dsr: DSR) -> str:
        concentration = revenue_concentration(dsr_id=dsr.id)
        if concentration is None:
            return "no revenue: every resource earned 0" if dsr.lines_stored else "no usage line stored"
        return revenue_concentration_chart(concentration)

    @admin.display(description="EUR rate used")
    def eur_rate_used(self, dsr: DSR) -> str:
        if dsr.eur_rate is None:
            return "none (the DSR failed before a rate was chosen)"
        return f"1 EUR = {dsr.eur_rate.normalize():f} {dsr.currency_id}"

    @admin.display(description="EUR rate source")
    def eur_rate_origin(self, dsr: DSR) -> str:
        return dsr.get_eur_rate_source_display() or "-"

    @admin.display(description="rejection report")
    def rejection_report(self, dsr: DSR) -> str:
        if not dsr.rejections:
            return "no rejected line"
        rows = format_html_join(
            "", "<tr><td>{}</td><td>{}</td></tr>", ((r["line"], r["reason"]) for r in dsr.rejections)
        )
        shown = len(dsr.rejections)
        caption = (
            format_html("<caption>the first {} of {} rejected lines</caption>", shown, dsr.lines_rejected)
            if shown < dsr.lines_rejected
            else ""
        )
        return format_html(
            "<table>{}<thead><tr><th>line</th><th>reason</th></tr></thead><tbody>{}</tbody></table>",
            caption,
            rows,
        )

    @admin.action(permissions=["delete"], description="Delete selected DSRs and their usages")
    def delete_selected(self, request: HttpRequest, queryset: QuerySet[DSR]) -> HttpResponse | None:
        # Django's own action (confirmation page, permission check, log entries), named like it so
        # that its confirmation template posts back here; it deletes through the hooks below.
        # Atomic, as Django makes the delete page: no log entry stays for a deletion that failed.
        try:
            with transaction.atomic():
                return django_delete_selected(self, request, queryset)
        except DeletionBusy as error:
            self.message_user(request, str(error), messages.ERROR)
            return None  # back to the list

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: dict | None = None) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except DeletionBusy as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:dsrs_dsr_change", args=[object_id], current_app=self.admin_site.name)
            )

    def get_deleted_objects(
        self, objs: Iterable[DSR], request: HttpRequest
    ) -> tuple[list[str], dict[str, str], set, list]:
        """What the confirmation pages list: each DSR with its line count, and the totals."""
        dsrs = list(objs)
        deleted_objects = [f"{dsr} ({dsr.lines_stored:,} usage lines)" for dsr in dsrs]
        model_count = {"DSRs": f"{len(dsrs):,}", "usage lines": f"{sum(dsr.lines_stored for dsr in dsrs):,}"}
        return deleted_objects, model_count, set(), []

    def delete_model(self, request: HttpRequest, obj: DSR) -> None:
        delete_dsrs([obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[DSR]) -> None:
        delete_dsrs(queryset)

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: int) -> HttpResponse:
        # Django sends users who may not change the model (here: everyone) to the admin index
        # after a deletion; the DSR list is where they came from.
        response = super().response_delete(request, obj_display, obj_id)
        if response.status_code == 302:  # not the popup's response
            changelist = reverse("admin:dsrs_dsr_changelist", current_app=self.admin_site.name)
            context = {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts}
            response["Location"] = add_preserved_filters(context, changelist)
        return response


@admin.register(Import)
class ImportAdmin(ReadOnlyAdmin):
    """Uploaded files and their ingestion, newest first; a failed one can be queued again (its
    file is kept in the imports storage)."""

    list_display = ["id", "file_name", "status_badge", "progress", "dsr_link", "message", "created", "took"]
    list_filter = ["status"]
    search_fields = ["file_name"]
    actions = ["requeue"]
    fields = [
        "file_name",
        "status",
        "progress",
        "bytes",
        "dsr_link",
        "message",
        "replace",
        "eur_rate",
        "created_by",
        "created",
        "started",
        "finished",
        "stored_as",
        "job_id",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["dsrs/admin.css"]}

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # an import is the record of a delivery

    def has_requeue_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("dsrs.add_import")

    @admin.display(description="file name", ordering="file_name")
    def file_name(self, record: Import) -> str:
        return format_html('<span title="{}">{}</span>', record.file_name, record.file_name)

    @admin.display(description="status", ordering="status")
    def status_badge(self, record: Import) -> str:
        return format_html('<span class="dsr-status dsr-status-{}">{}</span>', record.status, record.status)

    @admin.display(description="progress")
    def progress(self, record: Import) -> str:
        """Lines read, and while running the share of the file read; the bytes on hover."""
        if record.status == Import.Status.QUEUED:
            return "-"
        share = (
            f", {record.bytes_read / record.file_size:.0%}"
            if record.file_size and record.status == Import.Status.RUNNING
            else ""
        )
        return format_html('<span title="{}">{} lines{}</span>', self.bytes(record), f"{record.lines_read:,}", share)

    @admin.display(description="bytes read")
    def bytes(self, record: Import) -> str:
        return f"{record.bytes_read:,} of {record.file_size:,} bytes"

    @admin.display(description="took")
    def took(self, record: Import) -> str:
        """How long it ran, or has been running so far; its start and end on hover."""
        if record.started_at is None:
            return "-"
        end = record.finished_at or timezone.now()
        seconds = (end - record.started_at).total_seconds()
        span = f"{when(record.started_at)} – {when(record.finished_at) if record.finished_at else 'now'}"
        return format_html('<span title="{}">{}</span>', span, f"{seconds:.1f} s")

    @admin.display(description="DSR", ordering="dsr")
    def dsr_link(self, record: Import) -> str:
        if record.dsr_id is None:
            return "-"
        url = reverse("admin:dsrs_dsr_change", args=[record.dsr_id], current_app=self.admin_site.name)
        return format_html('<a href="{}">DSR {}</a>', url, record.dsr_id)

    @admin.display(description="created", ordering="created_at")
    def created(self, record: Import) -> str:
        return format_html(
            '<span title="{}">{}</span>', when(record.created_at), f"{localtime(record.created_at):%m-%d %H:%M}"
        )

    @admin.display(description="started", ordering="started_at")
    def started(self, record: Import) -> str:
        return when(record.started_at) if record.started_at else "-"

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, record: Import) -> str:
        return when(record.finished_at) if record.finished_at else "-"

    @admin.action(permissions=["requeue"], description="Queue selected failed imports again")
    def requeue(self, request: HttpRequest, queryset: QuerySet[Import]) -> None:
        queued, refused = [], []
        for record in queryset.order_by("id"):
            try:
                queued.append(requeue_import(import_id=record.id).id)
            except NotRequeueable as error:
                refused.append(str(error))
        if queued:
            self.message_user(request, f"Queued again: {', '.join(f'import {i}' for i in queued)}.", messages.SUCCESS)
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)
