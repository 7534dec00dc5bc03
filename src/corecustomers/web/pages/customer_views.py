"""The Customers list, its CSV export and the customer profile (客户档案).

Each view parses the request, calls one use case of :mod:`corecustomers.web.customers`
(``customer_page``, ``export_csv``, ``profile``, ``set_override`` …) and renders the plain
records it returns. A customer outside the user's scope is a 404, whatever the action.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from corecustomers.errors import InputError
from corecustomers.report.labels import label
from corecustomers.web.access import reaches_everything
from corecustomers.web.accounts.models import Team, User
from corecustomers.web.customers import changes, overrides, queries
from corecustomers.web.customers.models import Analysis, Customer, Relationship
from corecustomers.web.pages import forms
from corecustomers.web.pages.present import number_format, page_lang, tiers
from corecustomers.web.pages.profile_view import profile_context

__all__ = ["customer_list", "export", "profile"]

PAGE_SIZE = 50
SORT_CHOICES = ("-core_score", "-clv", "-value_at_stake")


#: How long the filter form's regions are reused before they are read again (seconds).
OPTIONS_SECONDS = 300


def _filter_options(user: Any) -> dict[str, Any]:
    """The choices of the filter form, from what the user may see.

    Segments come from the latest analysis' segment table (no scan of the customers);
    regions from :func:`queries.regions` (the region index for whole-base users), kept for
    a few minutes per analysis and scope, because over a manager's part of a million
    customers that read is the slowest part of the page.
    """
    latest = Analysis.objects.only("run_id", "summary").first()
    table = ((latest.summary.get("segments") or {}).get("table") or []) if latest else []
    segments = {
        str(row["segment"]): str(row.get("label") or row["segment"])
        for row in table
        if row.get("segment")
    }
    whole_base = reaches_everything(Customer, user, "view")
    key = "cc:regions:{}:{}".format(
        latest.run_id if latest else "-", "all" if whole_base else user.pk
    )
    regions = cache.get(key)
    if regions is None:
        regions = queries.regions(user)
        cache.set(key, regions, OPTIONS_SECONDS)
    return {
        "segments": sorted(segments.items()),
        "regions": regions,
        "owners": list(
            User.objects.filter(
                is_active=True, role__in=("admin", "manager", "account_manager")
            ).values_list("username", flat=True)
        ),
        "teams": list(Team.objects.values_list("name", flat=True)),
        "relationships": Relationship.choices,
    }


def filter_message(exc: queries.FilterError) -> str:
    """The filter error in the page's language, naming the field and the values it takes."""
    known = {
        "sort": _("Sort by core score, lifetime value or value at stake."),
        "alert": _("Alert is yes or no."),
        "abc": _("ABC class is A, B or C."),
        "relationship": _("Relationship level is vendor, partner or alliance."),
        "core": _("Core is yes or no."),
        "movement": _("Movement is won, kept, downgraded or lost."),
    }
    return _("The filter %(field)s is not valid: %(message)s") % {
        "field": exc.field,
        "message": known.get(exc.field, str(exc)),
    }


def _parse(request: HttpRequest) -> tuple[queries.CustomerFilter, int, str | None]:
    """The filter and page number of the request, or the default and an error message."""
    try:
        flt = queries.CustomerFilter.from_mapping(request.GET)
    except queries.FilterError as exc:
        return queries.CustomerFilter(), 1, filter_message(exc)
    table = tiers()
    if flt.tier and table.order and flt.tier not in table.order:
        return (
            flt,
            1,
            _("There is no tier %(tier)s; choose one from the list.") % {"tier": flt.tier},
        )
    raw_page = request.GET.get("page") or "1"
    if not raw_page.isdigit() or int(raw_page) < 1:
        return flt, 1, _("The page number must be a whole number from 1.")
    return flt, int(raw_page), None


@login_required
def customer_list(request: HttpRequest) -> HttpResponse:
    """Search, filter, sort and page through the customers the user may see."""
    flt, page_number, error = _parse(request)
    page = None
    if error is None:
        try:
            page = queries.customer_page(
                request.user, flt, limit=PAGE_SIZE, offset=(page_number - 1) * PAGE_SIZE
            )
        except queries.FilterError as exc:
            error = filter_message(exc)
    pages = -(-page.count // PAGE_SIZE) if page else 0
    context = {
        "flt": flt,
        "page": page,
        "page_number": page_number,
        "pages": pages,
        "error": error,
        "fmt": number_format(),
        "tiers": tiers(),
        "options": _filter_options(request.user),
        "sorts": [
            ("-core_score", _("Core score")),
            ("-clv", _("Lifetime value")),
            ("-value_at_stake", _("Value at stake")),
        ],
        "personal": queries.sees_personal_data(request.user),
        "abc_classes": _abc_labels(),
        "movements": _movement_labels(),
        "export_query": request.GET.urlencode(),
    }
    return render(request, "pages/customers.html", context, status=400 if error else 200)


def _abc_labels() -> list[tuple[str, str]]:
    lang = page_lang()
    return [(code, f"{code} · {label(lang, f'abc.{code}') or code}") for code in ("A", "B", "C")]


def _movement_labels() -> list[tuple[str, str]]:
    lang = page_lang()
    return [(code, label(lang, f"mig.{code}") or code) for code in queries.MOVEMENTS]


@login_required
def export(request: HttpRequest) -> HttpResponse:
    """The CSV of the customers under the current filter (streamed; audited with its count)."""
    try:
        flt = queries.CustomerFilter.from_mapping(request.GET)
    except queries.FilterError as exc:
        messages.error(
            request, _("Nothing exported: %(message)s") % {"message": filter_message(exc)}
        )
        return redirect("pages:customers")
    today = dt.date.today().isoformat()
    response = StreamingHttpResponse(
        queries.export_csv(request.user, flt), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="customers-{today}.csv"'
    return response


def _find(user: Any, key: str) -> Customer:
    try:
        return queries.find_customer(user, key)
    except queries.CustomerNotFoundError as exc:
        raise Http404(key) from exc


def profile_url(key: str) -> str:
    return reverse("pages:customer", kwargs={"key": key})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest, key: str) -> HttpResponse:
    """The customer profile; its forms post back here with ``form`` naming which one."""
    customer = _find(request.user, key)
    bound: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        try:
            outcome = _change(request, customer)
        except queries.CustomerNotFoundError as exc:  # the scope changed meanwhile
            raise Http404(key) from exc
        if isinstance(outcome, HttpResponse):
            return outcome
        bound, status = outcome
    record = queries.profile(request.user, customer, audit=request.method == "GET")
    context = profile_context(request.user, record, bound)
    return render(request, "pages/profile.html", context, status=status)


def _change(request: HttpRequest, customer: Customer) -> HttpResponse | tuple[dict[str, Any], int]:
    """Apply one of the profile's forms; a redirect on success, else the bound form."""
    user = request.user
    which = request.POST.get("form", "")
    shown_key = customer.external_id if queries.sees_personal_data(user) else customer.pseudonym
    done = redirect(profile_url(shown_key))
    if which in {"override", "remove_override"}:
        try:
            target = queries.find_customer(user, shown_key, "change")
        except queries.CustomerNotFoundError as exc:
            raise PermissionDenied from exc
        if which == "remove_override":
            removed = overrides.remove_override(target, user=user)
            messages.success(
                request, _("Manual tier removed.") if removed else _("There was no manual tier.")
            )
            return done
        form: Any = forms.OverrideForm(request.POST, tiers=overrides.known_tiers())
        if form.is_valid():
            try:
                overrides.set_override(
                    target,
                    tier=form.cleaned_data["tier"],
                    reason=form.cleaned_data["reason"],
                    until=form.cleaned_data["until"],
                    user=user,
                )
            except InputError as exc:
                form.add_error(exc.column if exc.column in form.fields else None, str(exc))
            else:
                messages.success(request, _("Tier held by hand; the next analysis keeps it."))
                return done
        return {"override_form": form}, 400
    if which == "team":
        form = forms.AccountTeamForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                changes.set_account_team(
                    user,
                    customer,
                    owner=data["owner"] or None,
                    support=data["support"],
                    sponsor=data["sponsor"] or None,
                    team=data["team"] or None,
                    relationship=data["relationship"] or None,
                )
            except changes.ChangeNotAllowedError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                return {"team_form": form}, 403
            except changes.ChangeError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, _("Account team saved."))
                return done
        return {"team_form": form}, 400
    if which == "notes":
        form = forms.NotesForm(request.POST)
        if form.is_valid():
            try:
                changes.set_notes(user, customer, form.cleaned_data["notes"])
            except changes.ChangeNotAllowedError as exc:
                form.add_error(None, exc.message)
                return {"notes_form": form}, 403
            except changes.ChangeError as exc:
                form.add_error("notes", exc.message)
            else:
                messages.success(request, _("Notes saved."))
                return done
        return {"notes_form": form}, 400
    messages.error(request, _("Unknown form; nothing was changed."))
    return done
