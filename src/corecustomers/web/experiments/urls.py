"""Page URLs of experiments (namespace ``experiments``)."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "experiments"

urlpatterns: list[URLPattern] = []
