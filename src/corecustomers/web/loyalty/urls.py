"""Page URLs of loyalty (namespace ``loyalty``)."""

from __future__ import annotations

from django.urls import URLPattern, path

from corecustomers.web.loyalty import views

app_name = "loyalty"

urlpatterns: list[URLPattern] = [
    path("loyalty/events/", views.event_list, name="events"),
    path("loyalty/events/<int:pk>/", views.event_detail, name="event"),
    path("loyalty/points/<int:pk>/", views.points_form, name="points"),
    path("loyalty/level/<int:pk>/", views.level_form, name="level"),
    path("loyalty/gift/<int:pk>/", views.gift_form, name="gift"),
]
