"""Pages of surveys: the public answer page (no login; the signed link is the authority),
and from the profile's panel an answer recorded during a call or an invitation by link."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from corecustomers.web.customers.models import Customer
from corecustomers.web.customers.queries import CustomerNotFoundError, find_customer
from corecustomers.web.surveys.models import Survey
from corecustomers.web.surveys.responses import (
    BadLinkError,
    SurveyError,
    invite,
    read_token,
    record_response,
)


def _question(survey: Survey) -> str:
    zh = (get_language() or "").startswith("zh")
    return survey.question_zh if zh else survey.question_en


@require_http_methods(["GET", "POST"])
def respond(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's answer page: GET shows the question, POST (with CSRF) records once."""
    try:
        link = read_token(token)
    except BadLinkError:
        return render(request, "surveys/respond.html", {"error": True}, status=400)
    low, high = link.survey.scale
    context: dict[str, Any] = {
        "question": _question(link.survey),
        "scores": range(low, high + 1),
        "low": low,
        "high": high,
        "nps": link.survey.kind == "nps",
    }
    if request.method == "POST":
        raw = request.POST.get("score", "")
        try:
            score = int(raw) if raw.strip().lstrip("-").isdigit() else raw
            record_response(
                link.survey,
                link.customer,
                score,
                channel="link",
                comment=request.POST.get("comment", ""),
                key=link.key,
            )
        except SurveyError as exc:
            if exc.field == "token":
                return render(request, "surveys/respond.html", {"answered": True})
            context["form_error"] = (
                _("Choose a score from %(low)s to %(high)s.") % {"low": low, "high": high}
                if exc.field == "score"
                else _("The comment is too long (at most 2000 characters).")
            )
            return render(request, "surveys/respond.html", context, status=422)
        return render(request, "surveys/respond.html", {"done": True})
    return render(request, "surveys/respond.html", context)


def _customer(request: HttpRequest, key: str) -> Customer:
    try:
        customer = find_customer(request.user, key, "view")
    except CustomerNotFoundError:
        raise Http404(key) from None
    if not Customer.objects.restrict(request.user, "change").filter(pk=customer.pk).exists():
        raise PermissionDenied
    return customer


@login_required
@require_POST
def record_call(request: HttpRequest, key: str) -> HttpResponse:
    """An answer the account manager heard during a call, from the profile's panel."""
    customer = _customer(request, key)
    back = reverse("pages:customer", kwargs={"key": key}) + "#surveys"
    survey = Survey.objects.filter(pk=request.POST.get("survey") or 0, active=True).first()
    if survey is None:
        messages.error(request, _("Not recorded: choose a survey."))
        return redirect(back)
    raw = request.POST.get("score", "").strip()
    try:
        record_response(
            survey,
            customer,
            int(raw) if raw.isdigit() else raw,
            channel="call",
            user=request.user,
            comment=request.POST.get("comment", ""),
        )
    except SurveyError as exc:
        low, high = survey.scale
        messages.error(
            request,
            _("Not recorded: score: choose a whole number from %(low)s to %(high)s.")
            % {"low": low, "high": high}
            if exc.field == "score"
            else _("Not recorded: %(field)s: %(error)s") % {"field": exc.field, "error": exc},
        )
        return redirect(back)
    messages.success(request, _("Answer recorded."))
    return redirect(back)


@login_required
@require_POST
def invite_post(request: HttpRequest, key: str) -> HttpResponse:
    """Plan an invitation by link into the outbox (consent- and budget-checked)."""
    customer = _customer(request, key)
    back = reverse("pages:customer", kwargs={"key": key}) + "#surveys"
    survey = Survey.objects.filter(pk=request.POST.get("survey") or 0, active=True).first()
    if survey is None:
        messages.error(request, _("Not sent: choose a survey."))
        return redirect(back)
    result = invite(survey, [customer], user=request.user)
    if result.queued:
        messages.success(request, _("Invitation queued in the outbox."))
    else:
        message = result.messages[0] if result.messages else None
        zh = (get_language() or "").startswith("zh")
        reason = (message.reason_zh if zh else message.reason_en) if message else ""
        messages.warning(request, _("Invitation held: %(reason)s") % {"reason": reason})
    return redirect(back)


@login_required
def follow_ups_page(request: HttpRequest) -> HttpResponse:
    """回访: the follow-ups after complaints and service requests, with their state."""
    from corecustomers.web.surveys.followups import tracked

    rows, totals = tracked(request.user)
    done = totals["done_on_time"] + totals["done_late"]
    context = {
        "rows": rows,
        "totals": totals,
        "on_time": round(100 * totals["done_on_time"] / done) if done else None,
    }
    return render(request, "surveys/follow_ups.html", context)
