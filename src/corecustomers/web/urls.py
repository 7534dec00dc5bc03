"""The service's URLs: pages at ``/``, the JSON API at ``/api/v1/``."""

from __future__ import annotations

from django.urls import include, path

from corecustomers.web.api.app import api

urlpatterns = [
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
