"""The shapes of the REST API, as its contract fixes them (docs/api.md).

Output fields the contract does not list as required are `required=False`, which is all that
makes drf-spectacular leave them out of `required`; they are always present in responses.
"""

import re
from datetime import date, datetime

from django.http import QueryDict
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dsrs.models import DSR


@extend_schema_field(OpenApiTypes.DATETIME)
class MidnightUtcField(serializers.Field):
    """A date shown as the date-time of its start in UTC, since the contract says date-time."""

    def to_representation(self, value: date) -> str:
        return f"{value.isoformat()}T00:00:00Z"


@extend_schema_field(OpenApiTypes.DATETIME)
class CalendarDateField(serializers.Field):
    """A date or a date-time (ISO 8601), read as the calendar date it is written with."""

    default_error_messages = {"invalid": "Enter a date (2020-01-31) or a date-time (2020-01-31T00:00:00Z)."}

    def to_internal_value(self, value: object) -> date:
        if not (isinstance(value, str) and value.isascii()):  # Django's parsers take any script's digits
            self.fail("invalid")
        try:
            parsed = parse_date(value) or parse_datetime(value)
        except ValueError:  # a well-formed but impossible date
            parsed = None
        if parsed is None:
            self.fail("invalid")
        return parsed.date() if isinstance(parsed, datetime) else parsed


class AsciiIntegerField(serializers.IntegerField):
    """An integer as written in a URL: ASCII digits 0-9 and an optional minus, nothing else. int()
    alone would also take '+10', ' 10' and other scripts' digits ('\u0661\u0660')."""

    ASCII_INTEGER = re.compile(r"-?[0-9]+")

    def to_internal_value(self, data: object) -> int:
        if not (isinstance(data, str) and self.ASCII_INTEGER.fullmatch(data)):
            self.fail("invalid")
        return super().to_internal_value(data)


@extend_schema_field(OpenApiTypes.STR)
class AnyTextField(serializers.Field):
    """Text taken as it is: unlike CharField, no trimming and no refusal of NUL characters."""

    def to_internal_value(self, value: object) -> str:
        return str(value)


class TerritorySerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    code_2 = serializers.CharField(required=False)


class CurrencySerializer(serializers.Serializer):
    name = serializers.CharField(required=False)
    code = serializers.CharField(required=False)


# In the contract's order (and under its name, StatusEnum: see settings.ENUM_NAME_OVERRIDES).
DSR_STATUSES = sorted(DSR.Status.values)


class DSRSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    path = serializers.CharField()
    period_start = MidnightUtcField()
    period_end = MidnightUtcField()
    status = serializers.ChoiceField(choices=DSR_STATUSES)
    territory = TerritorySerializer()
    currency = CurrencySerializer()
    dsp = serializers.CharField(required=False)
    service = serializers.CharField(required=False)
    society = serializers.CharField(required=False, allow_null=True)
    eur_rate = serializers.FloatField(
        required=False,
        allow_null=True,
        help_text="Units of the DSR's currency per 1 EUR: revenue in EUR = revenue / eur_rate.",
    )
    lines_read = serializers.IntegerField(required=False)
    lines_stored = serializers.IntegerField(required=False)
    lines_rejected = serializers.IntegerField(required=False)
    error = serializers.CharField(required=False, help_text="Why a failed DSR failed; empty otherwise.")


class ResourceSerializer(serializers.Serializer):
    dsp = serializers.CharField(required=False, help_text="The DSP reporting the resource; with dsp_id, its identity.")
    dsp_id = serializers.CharField()
    title = serializers.CharField(required=False)
    artists = serializers.CharField(required=False, help_text="Multivalue, pipe-separated list of artist names.")
    isrc = serializers.CharField(required=False)
    usages = serializers.IntegerField(required=False)
    revenue = serializers.FloatField(required=False, help_text="In EUR.")
    dsrs = serializers.ListField(
        child=serializers.IntegerField(), required=False, help_text="List of DSRs on which the resource is reported."
    )


class TopPercentileFilterSerializer(serializers.Serializer):
    """The query parameters of /resources/percentile/{number}. An empty territory counts as
    absent; an empty date is no date-time, as the contract's format says: a 400."""

    territory = AnyTextField(required=False, help_text="Territory code. ES, FR..")
    period_start = CalendarDateField(required=False, help_text="Datetime of the starting date of the associated DSRs")
    period_end = CalendarDateField(required=False, help_text="Datetime of the ending date of the associated DSRs.")

    def to_internal_value(self, data: QueryDict) -> dict:
        return super().to_internal_value(
            {name: value for name, value in data.items() if (name, value) != ("territory", "")}
        )


class TopPercentileInputSerializer(TopPercentileFilterSerializer):
    number = AsciiIntegerField(min_value=1, max_value=100)
