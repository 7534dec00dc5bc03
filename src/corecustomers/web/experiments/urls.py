"""Page URLs of experiments (namespace ``experiments``)."""

from __future__ import annotations

from django.urls import URLPattern, path

from corecustomers.web.experiments import views

app_name = "experiments"

urlpatterns: list[URLPattern] = [
    path("uplift/", views.uplift_page, name="uplift"),
]
