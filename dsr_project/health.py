"""GET /health/: "ok" while the app serves requests, for the Docker HEALTHCHECK.

A middleware ahead of all others rather than a view: the check comes over plain HTTP from inside
the container, addressed to localhost, which the HTTPS redirect and ALLOWED_HOSTS would refuse.
It does not touch the database, so a database outage does not get the app containers restarted.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

PATH = "/health/"


def health_middleware(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        if request.path == PATH and request.method in ("GET", "HEAD"):
            return HttpResponse("ok", content_type="text/plain")
        return get_response(request)

    return middleware
