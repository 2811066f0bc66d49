"""How often one user, and one address, may call the API: DRF throttles whose counts live in the
shared cache (a table of the database, so that every API process and machine counts the same
requests), at the rates of API_THROTTLE_RATES. A request over a rate gets 429 with `Retry-After`.

Reads (the contract's paths, and following imports) and uploads are counted apart, each per user
(authenticated requests) and per address (every request, so that one machine's clients share a
bound whatever accounts they use). The address is the peer's, or behind the one proxy that
TRUST_X_FORWARDED_PROTO trusts, the address that proxy saw (DRF's NUM_PROXIES).
"""

from django.conf import settings
from django.core.cache import caches
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

SHARED_CACHE = "shared"


class _Throttle(SimpleRateThrottle):
    per_user = False

    def __init__(self) -> None:
        # Looked up per request: caches hands each thread its own connection to the table.
        self.cache = caches[SHARED_CACHE]
        super().__init__()

    def get_rate(self) -> str | None:
        # The settings' rates at each request, not DRF's copy of them made at import.
        return settings.API_THROTTLE_RATES[self.scope]

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if self.per_user:
            user = request.user
            if not (user and user.is_authenticated):
                return None  # the address's rate alone
            return self.cache_format % {"scope": self.scope, "ident": user.pk}
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ReadsPerUser(_Throttle):
    scope = "reads_per_user"
    per_user = True


class ReadsPerAddress(_Throttle):
    scope = "reads_per_address"


class UploadsPerUser(_Throttle):
    scope = "uploads_per_user"
    per_user = True


class UploadsPerAddress(_Throttle):
    scope = "uploads_per_address"


READS = [ReadsPerUser, ReadsPerAddress]
UPLOADS = [UploadsPerUser, UploadsPerAddress]
