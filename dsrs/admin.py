"""Back office: DSRs come from ingestion, so admin only shows them and deletes them.

Deleting goes through dsrs.deletion.delete_dsrs (one DROP TABLE per DSR), never through Django's
collector: the usage lines have no model, and a DELETE over millions of rows is what the
partitions exist to avoid. The confirmation pages count the lines from `lines_stored`.
"""

from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected as django_delete_selected
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from dsrs.deletion import DeletionBusy, delete_dsrs
from dsrs.models import DSR, Currency, Territory


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by migrations or ingestion: viewable, never added or edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReferenceDataAdmin(ReadOnlyAdmin):
    """ISO data loaded by a migration, which DSRs refer to: not deleted here either."""

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Currency)
class CurrencyAdmin(ReferenceDataAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]


@admin.register(Territory)
class TerritoryAdmin(ReferenceDataAdmin):
    list_display = ["code_2", "code_3", "name"]
    search_fields = ["code_2", "code_3", "name"]


class PeriodFilter(admin.SimpleListFilter):
    """The reporting periods that DSRs have, e.g. 2020-01-01 – 2020-01-31, latest first."""

    title = "period"
    parameter_name = "period"

    def lookups(self, request, model_admin):
        periods = DSR.objects.order_by("-period_start", "-period_end").values_list("period_start", "period_end").distinct()
        return [(f"{start}/{end}", f"{start} – {end}") for start, end in periods]

    def queryset(self, request, queryset):
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
    list_display = [
        "id",
        "path",
        "dsp",
        "service",
        "society",
        "territory",
        "currency",
        "period",
        "status",
        "lines_read",
        "lines_stored",
        "lines_rejected",
    ]
    list_filter = [
        "status",
        ("territory", admin.RelatedOnlyFieldListFilter),
        ("currency", admin.RelatedOnlyFieldListFilter),
        PeriodFilter,
    ]
    search_fields = ["path"]
    actions = ["delete_selected"]
    fieldsets = [
        (None, {"fields": ["path", "status", "error", "dsp", "service", "society", "territory", "currency", "period"]}),
        ("EUR conversion", {"fields": ["eur_rate_used", "eur_rate_origin"]}),
        ("Lines", {"fields": ["lines_read", "lines_stored", "lines_rejected", "rejection_report"]}),
        ("File", {"fields": ["sha256", "created_at", "updated_at"]}),
    ]
    readonly_fields = ["period", "eur_rate_used", "eur_rate_origin", "rejection_report", "created_at", "updated_at"]

    @admin.display(ordering="period_start")
    def period(self, dsr: DSR) -> str:
        return f"{dsr.period_start} – {dsr.period_end}"

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
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", ((r["line"], r["reason"]) for r in dsr.rejections))
        shown = len(dsr.rejections)
        caption = format_html("<caption>the first {} of {} rejected lines</caption>", shown, dsr.lines_rejected) if shown < dsr.lines_rejected else ""
        return format_html(
            "<table>{}<thead><tr><th>line</th><th>reason</th></tr></thead><tbody>{}</tbody></table>",
            caption,
            rows,
        )

    @admin.action(permissions=["delete"], description="Delete selected DSRs and their usages")
    def delete_selected(self, request, queryset):
        # Django's own action (confirmation page, permission check, log entries), named like it so
        # that its confirmation template posts back here; it deletes through the hooks below.
        # Atomic, as Django makes the delete page: no log entry stays for a deletion that failed.
        try:
            with transaction.atomic():
                return django_delete_selected(self, request, queryset)
        except DeletionBusy as error:
            self.message_user(request, str(error), messages.ERROR)
            return None  # back to the list

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DeletionBusy as error:
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:dsrs_dsr_change", args=[object_id], current_app=self.admin_site.name))

    def get_deleted_objects(self, objs, request):
        """What the confirmation pages list: each DSR with its line count, and the totals."""
        dsrs = list(objs)
        deleted_objects = [f"{dsr} ({dsr.lines_stored:,} usage lines)" for dsr in dsrs]
        model_count = {"DSRs": f"{len(dsrs):,}", "usage lines": f"{sum(dsr.lines_stored for dsr in dsrs):,}"}
        return deleted_objects, model_count, set(), []

    def delete_model(self, request, obj):
        delete_dsrs([obj])

    def delete_queryset(self, request, queryset):
        delete_dsrs(queryset)

    def response_delete(self, request, obj_display, obj_id):
        # Django sends users who may not change the model (here: everyone) to the admin index
        # after a deletion; the DSR list is where they came from.
        response = super().response_delete(request, obj_display, obj_id)
        if response.status_code == 302:  # not the popup's response
            changelist = reverse("admin:dsrs_dsr_changelist", current_app=self.admin_site.name)
            context = {"preserved_filters": self.get_preserved_filters(request), "opts": self.opts}
            response["Location"] = add_preserved_filters(context, changelist)
        return response
