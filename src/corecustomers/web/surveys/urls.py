"""Page URLs of surveys (namespace ``surveys``)."""

from __future__ import annotations

from django.urls import URLPattern

app_name = "surveys"

urlpatterns: list[URLPattern] = []
