"""The endpoints of the API's contract (docs/api.md): parse the input, call one function, render."""

import itertools
import re

from django.db.models import QuerySet
from django.http import HttpResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from dsrs.api.access import REFUSED, ReadApi
from dsrs.api.serializers import (
    DSRSerializer,
    ResourceSerializer,
    TopPercentileFilterSerializer,
    TopPercentileInputSerializer,
)
from dsrs.models import DSR
from dsrs.percentile import top_percentile_json

NOT_FOUND = OpenApiResponse(
    {"type": "object", "properties": {"detail": {"type": "string", "default": "Not found."}}},
    description="DSR does not exist.",
)
BAD_REQUEST = OpenApiResponse(
    {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
    description="A parameter is malformed or out of range: the messages, by parameter name.",
)


# A bigint id as written: ASCII digits only, at most 19 (int() refuses more than 4,300 digits).
DSR_ID = re.compile(r"[0-9]{1,19}")


def dsrs() -> QuerySet[DSR]:
    return DSR.objects.select_related("territory", "currency").order_by("id")


class DSRListView(ReadApi):
    name = "DSRs"  # the title of the page browsers get

    @extend_schema(
        tags=["dsrs"],
        operation_id="dsrs_list",
        responses={
            200: OpenApiResponse(DSRSerializer(many=True), description="An array of DSR in JSON format."),
            **REFUSED,
        },
    )
    def get(self, request: Request) -> Response:
        return Response(DSRSerializer(dsrs(), many=True).data)


class DSRDetailView(ReadApi):
    name = "DSR"

    @extend_schema(
        tags=["dsrs"],
        operation_id="dsrs_retrieve",
        summary="Get dsr details",
        # The route takes any text so that every miss, "abc" or -1 too, is this JSON 404.
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={
            200: OpenApiResponse(DSRSerializer, description="DSR found in JSON format."),
            404: NOT_FOUND,
            **REFUSED,
        },
    )
    def get(self, request: Request, id: str) -> Response:
        dsr = dsrs().filter(id=int(id)).first() if DSR_ID.fullmatch(id) else None
        if dsr is None:
            raise NotFound()  # not Http404, whose message DRF would pass on instead of "Not found."
        return Response(DSRSerializer(dsr).data)


class TopPercentileView(ReadApi):
    @extend_schema(
        tags=["resources"],
        operation_id="resources_percentile",
        summary="TOP percentile by revenue.",
        description=(
            'This resource returns the TOP percentile by revenue (inverse of percentile). For example, "top '
            'percentile 10" returns the unique resources by revenue that accounts 10% of the total revenue.'
        ),
        parameters=[
            OpenApiParameter(
                "number",
                {"type": "integer", "minimum": 1, "maximum": 100},
                OpenApiParameter.PATH,
                description="Number.",
            ),
            TopPercentileFilterSerializer,
        ],
        responses={
            200: OpenApiResponse(
                ResourceSerializer(many=True), description="List of resources in JSON format ordered by revenue in EURO"
            ),
            400: BAD_REQUEST,
            **REFUSED,
        },
    )
    def get(self, request: Request, number: str) -> HttpResponse:
        query = TopPercentileInputSerializer(data={**request.query_params.dict(), "number": number})
        query.is_valid(raise_exception=True)
        answer = top_percentile_json(**query.validated_data)
        # The first pieces are computed here, so that a failure is an error response, not a cut
        # stream. An answer in one piece (a kept one, or a small one) goes with its length; a
        # larger one streams, so that millions of resources are never in the process's memory.
        first, second = next(answer), next(answer, None)
        if second is None:
            return HttpResponse(first, content_type="application/json")
        return StreamingHttpResponse(itertools.chain([first, second], answer), content_type="application/json")
