"""Page URLs of contact (namespace ``contact``)."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "contact"

urlpatterns: list[URLPattern] = []
