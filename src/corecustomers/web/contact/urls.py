"""Page URLs of contact (namespace ``contact``)."""

from __future__ import annotations

from django.urls import URLPattern, path

from corecustomers.web.contact import settings_views, views

app_name = "contact"

urlpatterns: list[URLPattern] = [
    path("contact/consents/<path:key>/", views.consents_post, name="consents"),
    path("outbox/", views.outbox_page, name="outbox"),
    path("outbox/prepare/", views.prepare_care, name="outbox-prepare"),
    path("outbox/campaign/", views.campaign_post, name="outbox-campaign"),
    path("outbox/<int:pk>/send/", views.send_now, name="outbox-send"),
    path("contact/settings/", settings_views.settings_page, name="care-settings"),
    path("unsubscribe/<str:token>/", views.unsubscribe_page, name="unsubscribe"),
]
