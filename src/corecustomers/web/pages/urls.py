"""Page URLs (namespace ``pages``)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from corecustomers.web.pages import views

app_name = "pages"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", views.set_language, name="language"),
    path("", views.dashboard, name="dashboard"),
]
