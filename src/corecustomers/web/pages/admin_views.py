"""Administration pages: users and roles, teams, API tokens, the audit log, settings.

Administrators only: anyone else gets 403 with a message (these pages are no secret; a
customer's existence is, so customers answer 404 instead). Every change goes through
:mod:`corecustomers.web.accounts.administration` (or ``users.create_or_update_user``),
which audits it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from corecustomers.errors import ConfigError
from corecustomers.web.accounts import administration as admin
from corecustomers.web.accounts.models import ApiToken, Role, Team, User
from corecustomers.web.accounts.users import create_or_update_user
from corecustomers.web.customers.models import ServiceSetting
from corecustomers.web.pages import forms

__all__ = ["audit", "home", "service_settings", "teams", "tokens", "users"]

View = Callable[..., HttpResponse]
AUDIT_PAGE = 50


def admin_only(view: View) -> View:
    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user: Any = request.user
        if not (user.is_superuser or user.role == Role.ADMIN):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapped


def _error(form: Any, exc: admin.AdministrationError | ConfigError) -> None:
    field = getattr(exc, "field", None)
    form.add_error(field if field in form.fields else None, getattr(exc, "message", str(exc)))


@admin_only
def home(request: HttpRequest) -> HttpResponse:
    return redirect("pages:admin-users")


@admin_only
@require_http_methods(["GET", "POST"])
def users(request: HttpRequest) -> HttpResponse:
    form = forms.UserForm()
    status = 200
    if request.method == "POST":
        action = request.POST.get("form", "")
        username = request.POST.get("username", "")
        try:
            if action == "create":
                form = forms.UserForm(request.POST)
                if form.is_valid():
                    data = form.cleaned_data
                    if User.objects.filter(username=data["username"].strip()).exists():
                        raise admin.AdministrationError(
                            "username", _("That user name is taken; choose another.")
                        )
                    create_or_update_user(
                        data["username"],
                        role=data["role"],
                        password=data["password"],
                        teams=data["teams"],
                        email=data["email"],
                    )
                    messages.success(request, _("User %(name)s created.") % {"name": username})
                    return redirect("pages:admin-users")
            elif action == "role":
                admin.set_role(request.user, username, request.POST.get("role", ""))
                messages.success(request, _("Role of %(name)s changed.") % {"name": username})
                return redirect("pages:admin-users")
            elif action in {"deactivate", "activate"}:
                admin.set_active(request.user, username, action == "activate")
                messages.success(
                    request,
                    _("%(name)s can log in again.") % {"name": username}
                    if action == "activate"
                    else _("%(name)s is deactivated and logged out everywhere.")
                    % {"name": username},
                )
                return redirect("pages:admin-users")
        except (admin.AdministrationError, ConfigError) as exc:
            if action == "create":
                _error(form, exc)
            else:
                messages.error(request, getattr(exc, "message", str(exc)))
                return redirect("pages:admin-users")
        status = 400
    people = User.objects.order_by("username").prefetch_related("teams")
    return render(
        request,
        "pages/admin_users.html",
        {"people": people, "form": form, "roles": Role.choices, "section": "users"},
        status=status,
    )


@admin_only
@require_http_methods(["GET", "POST"])
def teams(request: HttpRequest) -> HttpResponse:
    form = forms.TeamForm()
    status = 200
    if request.method == "POST":
        form = forms.TeamForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                saved, created = admin.save_team(
                    request.user,
                    data["name"],
                    region=data["region"],
                    lead=data["lead"] or None,
                    members=data["members"],
                )
            except admin.AdministrationError as exc:
                _error(form, exc)
            else:
                text = _("Team %(name)s created.") if created else _("Team %(name)s saved.")
                messages.success(request, text % {"name": saved.name})
                return redirect("pages:admin-teams")
        status = 400
    rows = Team.objects.select_related("lead").prefetch_related("members").order_by("name")
    return render(
        request,
        "pages/admin_teams.html",
        {"teams": rows, "form": form, "section": "teams"},
        status=status,
    )


@admin_only
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    form = forms.TokenForm()
    status = 200
    created: tuple[ApiToken, str] | None = None
    if request.method == "POST":
        if request.POST.get("form") == "revoke":
            try:
                token = admin.revoke_token(request.user, int(request.POST.get("token", "0") or 0))
            except (admin.AdministrationError, ValueError):
                messages.error(request, _("No such token."))
            else:
                messages.success(
                    request, _("Token %(prefix)s… revoked.") % {"prefix": token.prefix}
                )
            return redirect("pages:admin-tokens")
        form = forms.TokenForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = admin.issue_token(
                    request.user,
                    data["username"],
                    scope=data["scope"],
                    name=data["name"],
                    expires_days=data["expires_days"],
                )
            except admin.AdministrationError as exc:
                _error(form, exc)
                status = 400
            else:
                form = forms.TokenForm()
        else:
            status = 400
    rows = ApiToken.objects.select_related("user").order_by("-created")
    response = render(
        request,
        "pages/admin_tokens.html",
        {
            "tokens": rows,
            "form": form,
            "created": created,
            "section": "tokens",
        },
        status=status,
    )
    if created is not None:
        response["Cache-Control"] = "no-store"
    return response


@admin_only
def audit(request: HttpRequest) -> HttpResponse:
    form = forms.AuditFilterForm(request.GET or None)
    flt = admin.AuditFilter()
    status = 200
    if form.is_bound:
        if form.is_valid():
            data = form.cleaned_data
            flt = admin.AuditFilter(
                user=data["user"],
                action=data["action"],
                since=data["since"],
                until=data["until"],
                customer=data["customer"],
            )
        else:
            status = 400
    entries = admin.audit_entries(request.user, flt)
    paginator = Paginator(entries, AUDIT_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "pages/admin_audit.html",
        {"form": form, "page": page, "section": "audit"},
        status=status,
    )


@admin_only
@require_http_methods(["GET", "POST"])
def service_settings(request: HttpRequest) -> HttpResponse:
    key = "account_managers_see_unassigned"
    if request.method == "POST":
        form = forms.SettingsForm(request.POST)
        if form.is_valid():
            admin.set_setting(request.user, key, bool(form.cleaned_data[key]))
            messages.success(request, _("Settings saved."))
            return redirect("pages:admin-settings")
    form = forms.SettingsForm(initial={key: bool(ServiceSetting.get(key))})
    return render(request, "pages/admin_settings.html", {"form": form, "section": "settings"})
