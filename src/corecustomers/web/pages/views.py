"""Page views: parse the request, call one use case, render plain objects."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from corecustomers.web.accounts.middleware import LANGUAGE_SESSION_KEY
from corecustomers.web.accounts.models import User
from corecustomers.web.audit.log import record
from corecustomers.web.customers import queries
from corecustomers.web.pages.dashboard_view import dashboard_context


class LoginView(auth_views.LoginView):
    template_name = "pages/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: auth_views.AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        user = form.get_user()
        if isinstance(user, User) and user.language:
            self.request.session[LANGUAGE_SESSION_KEY] = user.language
        record("login", object_type="user", object_key=user.pk, user=user)
        return response


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch the language for this session (and remember it for a logged-in user)."""
    language = request.POST.get("language", "")
    if language in {"en", "zh-hans"}:
        request.session[LANGUAGE_SESSION_KEY] = language
        if request.user.is_authenticated:
            User.objects.filter(pk=request.user.pk).update(language=language)
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        target = "/"
    response = HttpResponseRedirect(target)
    response.set_cookie("django_language", language, samesite="Lax", httponly=True)
    return response


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Management's view: concentration, tiers, movement, alerts and coverage."""
    data = queries.dashboard(request.user)
    return render(request, "pages/dashboard.html", dashboard_context(request.user, data))
