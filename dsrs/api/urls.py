"""Where the API's paths are routed: the contract's paths, with and without a trailing slash
exactly as it writes them (the other spelling redirects; Django's APPEND_SLASH does it for
/dsrs), the imports, the browsable API's login, and the schema with its Swagger UI."""

from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from dsrs.api.imports import ImportDetailView, ImportListView
from dsrs.api.views import DSRDetailView, DSRListView, TopPercentileView

urlpatterns = [
    path("dsrs/", DSRListView.as_view(), name="dsr-list"),
    path("dsrs/<str:id>", DSRDetailView.as_view(), name="dsr-detail"),
    path("dsrs/<str:id>/", RedirectView.as_view(pattern_name="dsr-detail", permanent=True, query_string=True)),
    path("resources/percentile/<str:number>", TopPercentileView.as_view(), name="top-percentile"),
    path(
        "resources/percentile/<str:number>/",
        RedirectView.as_view(pattern_name="top-percentile", permanent=True, query_string=True),
    ),
    # Uploads, queued for the ingestion workers (dsrs.imports).
    path("imports/", ImportListView.as_view(), name="import-list"),
    path("imports/<str:id>", ImportDetailView.as_view(), name="import-detail"),
    path("imports/<str:id>/", RedirectView.as_view(pattern_name="import-detail", permanent=True)),
    # The browsable API's "Log in" link: an admin session reads the API in a browser.
    path("api-auth/", include("rest_framework.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
]
