"""Who may read the API's DSRs and top percentiles: anyone (API_READ_ACCESS=public, as `make run`
serves the samples), or, by default, a user holding Django's "Can view DSR" permission
(dsrs.view_dsr), by DRF token or admin session. Revenue statements are confidential: a server
reachable by others keeps the default."""

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from dsrs.api.throttling import READS

PUBLIC = "public"
READ_PERMISSION = "dsrs.view_dsr"
DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}}
UNAUTHENTICATED = OpenApiResponse(DETAIL, description="No token (or session), or a bad one.")
FORBIDDEN = OpenApiResponse(DETAIL, description="The user lacks the permission.")
THROTTLED = OpenApiResponse(DETAIL, description="Too many requests: try again after Retry-After seconds.")
# What the read endpoints answer besides the contract's responses (401 and 403 unless
# API_READ_ACCESS=public).
REFUSED = {401: UNAUTHENTICATED, 403: FORBIDDEN, 429: THROTTLED}


class CanViewDsrs(BasePermission):
    message = f'Reading DSRs needs the "Can view DSR" permission ({READ_PERMISSION}).'

    def has_permission(self, request: Request, view: APIView) -> bool:
        if settings.API_READ_ACCESS == PUBLIC:
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(READ_PERMISSION))


# The contract's read endpoints. Token first: a request without a credential gets 401 with
# `WWW-Authenticate: Token`, which a session cannot offer; one whose user lacks the permission, 403.
# (A comment, not a docstring: the schema would show a view's docstring as each operation's text.)
class ReadApi(APIView):
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [CanViewDsrs]
    throttle_classes = READS
