"""Loyalty's pages: club events (list, create, invitations, RSVP, attendance) and the
forms of the profile panel (points, the manual member level, gifts). Routes parse, call
one use case, and render plain objects; a customer or an event outside the user's scope
is a 404.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from corecustomers.web.customers.models import Customer
from corecustomers.web.customers.queries import sees_personal_data
from corecustomers.web.loyalty import events, ledger, levels
from corecustomers.web.loyalty.models import Invitation, KeyedRequest
from corecustomers.web.pages.present import tiers


def _profile_url(user: Any, customer: Customer) -> str:
    key = customer.external_id if sees_personal_data(user) else customer.pseudonym
    return reverse("pages:customer", kwargs={"key": key})


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.replace("，", ",").split(",") if part.strip()][:20]


class EventForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    starts = forms.DateTimeField(
        label=gettext_lazy("Starts"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    capacity = forms.IntegerField(label=gettext_lazy("Places"), min_value=1, max_value=1_000_000)
    cost = forms.DecimalField(label=gettext_lazy("Cost"), min_value=0, initial=0, max_digits=12)
    tiers = forms.CharField(
        label=gettext_lazy("Invite tiers (comma-separated codes)"), required=False
    )
    levels = forms.CharField(
        label=gettext_lazy("Invite member levels (comma-separated codes)"), required=False
    )
    segments = forms.CharField(
        label=gettext_lazy("Invite RFM segments (comma-separated codes)"), required=False
    )


@login_required
@require_http_methods(["GET", "POST"])
def event_list(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    organiser = user.is_superuser or user.role in events.ORGANISERS
    form = EventForm(request.POST or None)
    if request.method == "POST":
        if not organiser:
            raise Http404
        if form.is_valid():
            data = form.cleaned_data
            try:
                event = events.create_event(
                    user,
                    name=data["name"],
                    starts=data["starts"],
                    capacity=data["capacity"],
                    cost=data["cost"],
                    tiers=_names(data["tiers"]),
                    levels=_names(data["levels"]),
                    segments=_names(data["segments"]),
                )
            except events.EventError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            else:
                invited = events.counts(user, event)["invited"]
                messages.success(
                    request,
                    _("Event created; %(n)d members invited.") % {"n": invited},
                )
                return redirect("loyalty:event", pk=event.pk)
    rows = [(e, events.counts(user, e)) for e in events.visible(user)[:200]]
    return render(
        request,
        "loyalty/events.html",
        {"rows": rows, "form": form, "organiser": organiser},
    )


@login_required
@require_http_methods(["GET", "POST"])
def event_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user: Any = request.user
    event = events.visible(user).filter(pk=pk).first()
    if event is None:
        raise Http404
    if request.method == "POST":
        customer = (
            Customer.objects.restrict(user, "change")
            .filter(
                pk=request.POST.get("customer", "0")
                if request.POST.get("customer", "").isdigit()
                else 0
            )
            .first()
        )
        if customer is None:
            raise Http404
        action = request.POST.get("action", "")
        try:
            if action in {"yes", "no"}:
                events.rsvp(user, event.pk, customer, action)
                messages.success(request, _("Answer recorded."))
            elif action == "attended":
                events.attend(user, event.pk, customer)
                messages.success(request, _("Attendance recorded on the timeline."))
            else:
                messages.error(request, _("Choose an answer."))
        except events.EventError as exc:
            messages.error(request, str(exc))
        return redirect("loyalty:event", pk=event.pk)
    invitations = (
        Invitation.objects.restrict(user, "view")
        .filter(event=event)
        .select_related("customer")
        .order_by("customer__external_id")[:500]
    )
    personal = sees_personal_data(user)
    rows = [
        {
            "inv": inv,
            "label": (inv.customer.name or inv.customer.external_id)
            if personal
            else inv.customer.pseudonym,
            "url": _profile_url(user, inv.customer),
        }
        for inv in invitations
    ]
    return render(
        request,
        "loyalty/event.html",
        {"event": event, "rows": rows, "counts": events.counts(user, event), "tiers": tiers()},
    )


@login_required
@require_POST
def points_form(request: HttpRequest, pk: int) -> HttpResponse:
    """The profile panel's form: redeem, or (managers) adjust, with a key per rendering."""
    user: Any = request.user
    customer = Customer.objects.restrict(user, "change").filter(pk=pk).first()
    if customer is None:
        raise Http404
    back = _profile_url(user, customer)
    kind = request.POST.get("kind", "")
    text = request.POST.get("points", "").strip()
    key = request.POST.get("key", "").strip() or str(uuid.uuid4())
    reason = request.POST.get("reason", "")[:500]
    if not text.lstrip("-").isdigit():
        messages.error(request, _("Points: give a whole number."))
        return redirect(back)
    points = int(text)
    try:
        if kind == "redeem":
            outcome = ledger.redeem(customer, points, key=key, reason=reason, user=user)
        elif kind == "adjust" and (user.is_superuser or user.role in {"admin", "manager"}):
            outcome = ledger.adjust(customer, points, key=key, reason=reason, user=user)
        else:
            raise Http404
    except ledger.InsufficientPointsError:
        messages.error(request, _("Not enough points available."))
        return redirect(back)
    except ledger.LedgerError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    if not outcome.replayed:
        from corecustomers.web.audit.log import record

        record(
            f"points_{kind}",
            object_type="customer",
            object_key=customer.pk,
            customer_key=customer.pk,
            message=reason,
            after={"movement": outcome.movement_id, "points": points, "key": key},
            user=user,
        )
    messages.success(
        request,
        _("Done: %(n)s points available now.") % {"n": outcome.balance.available},
    )
    return redirect(back)


@login_required
@require_POST
def level_form(request: HttpRequest, pk: int) -> HttpResponse:
    """The profile panel's manual level: hold the member at a level until a date, or clear
    it (managers; the reason is required and audited)."""
    user: Any = request.user
    customer = Customer.objects.restrict(user, "change").filter(pk=pk).first()
    if customer is None:
        raise Http404
    back = _profile_url(user, customer)
    code = request.POST.get("level", "").strip()[:40]
    text = request.POST.get("until", "").strip()
    until = None
    if text:
        try:
            until = dt.date.fromisoformat(text)
        except ValueError:
            messages.error(request, _("Until: give a date as YYYY-MM-DD."))
            return redirect(back)
    try:
        levels.set_manual_level(
            user, customer, code or None, until, request.POST.get("reason", "")[:500]
        )
    except levels.LevelError as exc:
        if exc.field is None:
            raise Http404 from exc  # not a manager: the form is not theirs to send
        messages.error(request, str(exc))
        return redirect(back)
    if code:
        messages.success(
            request,
            _("Level held at %(level)s until %(day)s.")
            % {"level": code, "day": date_format(until) if until else ""},
        )
    else:
        messages.success(request, _("The manual level is cleared."))
    return redirect(back)


@login_required
@require_POST
def gift_form(request: HttpRequest, pk: int) -> HttpResponse:
    """The profile panel's gift: one from stock, once per rendering of the form (its key)."""
    user: Any = request.user
    customer = Customer.objects.restrict(user, "change").filter(pk=pk).first()
    if customer is None:
        raise Http404
    back = _profile_url(user, customer)
    text = request.POST.get("gift", "").strip()
    key = "page:" + (request.POST.get("key", "").strip()[:190] or str(uuid.uuid4()))
    if not text.isdigit():
        messages.error(request, _("Gift: choose one."))
        return redirect(back)
    try:
        with transaction.atomic():
            if KeyedRequest.objects.select_for_update().filter(customer=customer, key=key).exists():
                messages.info(request, _("This gift was given already (the form was sent twice)."))
                return redirect(back)
            given = events.give_gift(
                user, int(text), customer, request.POST.get("reason", "")[:500]
            )
            KeyedRequest.objects.create(
                customer=customer,
                key=key,
                fingerprint=f"gift:{text}",
                result={"gift": given.gift_id},
            )
    except IntegrityError:
        messages.info(request, _("This gift was given already (the form was sent twice)."))
        return redirect(back)
    except events.EventError as exc:
        messages.error(request, str(exc))
        return redirect(back)
    messages.success(
        request, _("Given: %(name)s (%(n)s left).") % {"name": given.name, "n": given.stock}
    )
    return redirect(back)


def new_key() -> str:
    return str(uuid.uuid4())
