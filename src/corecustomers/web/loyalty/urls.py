"""Page URLs of loyalty (namespace ``loyalty``)."""

from __future__ import annotations

from django.urls import URLPattern, path

from corecustomers.web.loyalty import views

app_name = "loyalty"

urlpatterns: list[URLPattern] = [
    path("loyalty/events/", views.event_list, name="events"),
    path("loyalty/events/<int:pk>/", views.event_detail, name="event"),
    path("loyalty/points/<int:pk>/", views.points_form, name="points"),
]
