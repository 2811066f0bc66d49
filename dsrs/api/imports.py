"""The imports API: POST /imports/ uploads a DSR file and queues it (202); GET /imports/ and
GET /imports/{id} tell how it went. Authenticated by a DRF token or an admin session.

The upload is refused (413) from its Content-Length before any of the body is read; a body that
is read streams to a temporary file (Django's upload handlers), and from it to the imports
storage, so the web process holds a few chunks of it at a time.
"""

import re

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from dsrs.api.access import DETAIL, FORBIDDEN, THROTTLED, UNAUTHENTICATED
from dsrs.api.import_serializers import ImportPageSerializer, ImportSerializer, UploadSerializer
from dsrs.api.throttling import READS, UPLOADS
from dsrs.formats.filenames import FileNameError
from dsrs.imports.services import create_import
from dsrs.models import Import

IMPORT_ID = re.compile(r"[0-9]{1,19}")


class UploadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


class ImportPermission(BasePermission):
    """Uploading needs "Can add import"; reading, "Can view import" or "Can add import" (a
    client polls the imports it uploaded)."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method == "POST":
            return user.has_perm("dsrs.add_import")
        return user.has_perm("dsrs.view_import") or user.has_perm("dsrs.add_import")


class ImportsApi(APIView):
    # Token first: its 401 carries `WWW-Authenticate: Token`, which a session cannot offer.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [ImportPermission]

    def get_throttles(self) -> list:
        # Following an import is a read; only an upload counts against the uploads' rates.
        return [throttle() for throttle in (UPLOADS if self.request.method == "POST" else READS)]


class ImportPagination(PageNumberPagination):
    page_size = 50


class ImportListView(ImportsApi):
    name = "Imports"
    parser_classes = [MultiPartParser]

    @extend_schema(
        tags=["imports"],
        operation_id="imports_list",
        summary="Imports, newest first",
        parameters=[OpenApiParameter("page", OpenApiTypes.INT, description="Page number, from 1.")],
        responses={
            200: OpenApiResponse(ImportPageSerializer, description="A page of imports, newest first."),
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            429: THROTTLED,
            404: OpenApiResponse(DETAIL, description="No such page."),
        },
    )
    def get(self, request: Request) -> Response:
        pages = ImportPagination()
        page = pages.paginate_queryset(Import.objects.all(), request, view=self)
        return pages.get_paginated_response(ImportSerializer(page, many=True).data)

    @extend_schema(
        tags=["imports"],
        operation_id="imports_create",
        summary="Upload a DSR file to be ingested",
        request={"multipart/form-data": UploadSerializer},
        responses={
            202: OpenApiResponse(ImportSerializer, description="Queued; Location: /imports/{id} tells how it goes."),
            400: OpenApiResponse(
                {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
                description="No file, or its name does not parse or names an unknown territory or currency: "
                "nothing queued.",
            ),
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            429: THROTTLED,
            413: OpenApiResponse(DETAIL, description="Larger than IMPORTS_MAX_UPLOAD_BYTES."),
        },
    )
    def post(self, request: Request) -> Response:
        _refuse_too_large(request)
        upload = UploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        file = upload.validated_data["file"]
        try:
            queued = create_import(
                file_name=file.name, content=file, replace=upload.validated_data["replace"], created_by=request.user
            )
        except FileNameError as error:
            raise ValidationError({"file": [f"{file.name}: {error}"]}) from None
        return Response(
            ImportSerializer(queued).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/imports/{queued.id}"},
        )


class ImportDetailView(ImportsApi):
    name = "Import"

    @extend_schema(
        tags=["imports"],
        operation_id="imports_retrieve",
        summary="How an import goes",
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={
            200: OpenApiResponse(ImportSerializer, description="The import."),
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            429: THROTTLED,
            404: OpenApiResponse(DETAIL, description="No such import."),
        },
    )
    def get(self, request: Request, id: str) -> Response:
        found = Import.objects.filter(id=int(id)).first() if IMPORT_ID.fullmatch(id) else None
        if found is None:
            raise NotFound()
        return Response(ImportSerializer(found).data)


def _refuse_too_large(request: Request) -> None:
    """Before the body is read: Django reads no more than Content-Length anyway."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = settings.IMPORTS_MAX_UPLOAD_BYTES
    if length > limit:
        raise UploadTooLarge(f"the upload is {length:,} bytes, more than IMPORTS_MAX_UPLOAD_BYTES ({limit:,} bytes)")
