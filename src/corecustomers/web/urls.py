"""The service's URLs: pages at ``/``, the JSON API at ``/api/v1/``, probes at ``/healthz``
and ``/readyz``."""

from __future__ import annotations

from django.urls import include, path

from corecustomers.web.api.app import api
from corecustomers.web.security.health import healthz, readyz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("api/v1/", api.urls),
    path("", include("corecustomers.web.pages.urls")),
    path("", include("corecustomers.web.loyalty.urls")),
    path("", include("corecustomers.web.contact.urls")),
    path("", include("corecustomers.web.surveys.urls")),
    path("", include("corecustomers.web.experiments.urls")),
]

handler404 = "corecustomers.web.pages.errors.not_found"
handler500 = "corecustomers.web.pages.errors.server_error"
handler403 = "corecustomers.web.pages.errors.forbidden"
handler400 = "corecustomers.web.pages.errors.bad_request"
