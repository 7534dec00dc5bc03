"""Page URLs of surveys (namespace ``surveys``)."""

from __future__ import annotations

from django.urls import URLPattern, path

from corecustomers.web.surveys import views

app_name = "surveys"

urlpatterns: list[URLPattern] = [
    path("survey/<str:token>/", views.respond, name="respond"),
    path("follow-ups/", views.follow_ups_page, name="follow-ups"),
    path("surveys/call/<path:key>/", views.record_call, name="record-call"),
    path("surveys/invite/<path:key>/", views.invite_post, name="invite"),
]
