"""Page URLs of loyalty (namespace ``loyalty``)."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "loyalty"

urlpatterns: list[URLPattern] = []
