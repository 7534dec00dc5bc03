"""The contact pages: consents on the profile, the outbox, and the unsubscribe link.

Each view parses the request, calls one use case of this app and renders plain objects. A
customer or message outside the user's scope is a 404; changing needs ``change`` access.
The contact settings page is in :mod:`.settings_views`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from corecustomers.web.contact.care import care_due
from corecustomers.web.contact.consent import (
    ConsentChange,
    ConsentInputError,
    record_consents,
    set_do_not_contact,
)
from corecustomers.web.contact.delivery import deliver_due
from corecustomers.web.contact.festivals import OCCASIONS
from corecustomers.web.contact.models import (
    CONTACT_CHANNELS,
    CONTACT_PURPOSES,
    MESSAGE_CHANNELS,
    Channel,
    ConsentStatus,
    LawfulBasis,
    MessageStatus,
    OutboxMessage,
    Purpose,
)
from corecustomers.web.contact.outbox import PlanError, plan_campaign, plan_messages
from corecustomers.web.contact.unsubscribe import BadTokenError, read_token, unsubscribe
from corecustomers.web.contact.wording import DEFAULT_TEMPLATES
from corecustomers.web.customers.models import AccountMember, Customer
from corecustomers.web.customers.queries import CustomerNotFoundError, find_customer
from corecustomers.web.pages.present import page_lang

__all__ = ["consents_post", "outbox_page", "prepare_care", "send_now", "unsubscribe_page"]


class ConsentForm(forms.Form):
    purpose = forms.ChoiceField(
        label=gettext_lazy("Purpose"),
        choices=[(p, Purpose(p).label) for p in (*CONTACT_PURPOSES, "sensitive_data")],
    )
    channel = forms.ChoiceField(
        label=gettext_lazy("Channel"),
        choices=[(c, Channel(c).label) for c in (*CONTACT_CHANNELS, "any")],
    )
    status = forms.ChoiceField(
        label=gettext_lazy("Answer"),
        choices=ConsentStatus.choices,
    )
    lawful_basis = forms.ChoiceField(
        label=gettext_lazy("Lawful basis"), choices=LawfulBasis.choices
    )
    source = forms.CharField(
        label=gettext_lazy("Source (where the answer came from)"), max_length=40
    )
    wording_version = forms.CharField(
        label=gettext_lazy("Wording version"), max_length=40, required=False
    )
    evidence = forms.CharField(label=gettext_lazy("Evidence"), max_length=500, required=False)


def _customer(request: HttpRequest, key: str, action: str = "view") -> Customer:
    try:
        return find_customer(request.user, key, action)
    except CustomerNotFoundError:
        raise Http404(key) from None


@login_required
@require_POST
def consents_post(request: HttpRequest, key: str) -> HttpResponse:
    """Record an answer, or set or lift do-not-contact, from the profile's consent panel."""
    customer = _customer(request, key)
    if not Customer.objects.restrict(request.user, "change").filter(pk=customer.pk).exists():
        raise PermissionDenied
    back = reverse("pages:customer", kwargs={"key": key}) + "#consents"
    try:
        if request.POST.get("do_not_contact") in {"on", "off"}:
            active = request.POST["do_not_contact"] == "on"
            set_do_not_contact(
                customer,
                active=active,
                reason=request.POST.get("reason", ""),
                user=request.user,
            )
            messages.success(
                request, _("Do not contact: on.") if active else _("Do not contact: lifted.")
            )
            return redirect(back)
        form = ConsentForm(request.POST, prefix="consent")
        if not form.is_valid():
            field, errors = next(iter(form.errors.items()))
            messages.error(
                request,
                _("Not recorded: %(field)s: %(error)s") % {"field": field, "error": errors[0]},
            )
            return redirect(back)
        record_consents(customer, [ConsentChange(**form.cleaned_data)], user=request.user)
    except ConsentInputError as exc:
        messages.error(
            request,
            _("Not recorded: %(field)s: %(error)s") % {"field": exc.field, "error": str(exc)},
        )
        return redirect(back)
    messages.success(request, _("Consent recorded."))
    return redirect(back)


def _own(user: Any) -> list[Customer]:
    return list(
        Customer.objects.restrict(user, "change").filter(
            pk__in=AccountMember.objects.filter(user=user).values("customer_id")
        )
    )


STATUS_FILTERS = ("all", "held", "queued", "sent", "rejected", "failed", "duplicate")


@login_required
def outbox_page(request: HttpRequest) -> HttpResponse:
    """The outbox: care to prepare for one's own customers, and the messages in scope."""
    user: Any = request.user
    if user.role == "analyst" and not user.is_superuser:
        raise PermissionDenied
    zh = page_lang() == "zh"
    today = timezone.localdate()
    status = request.GET.get("status", "all")
    if status not in STATUS_FILTERS:
        status = "all"
    rows = OutboxMessage.objects.restrict(user, "view").select_related("customer")
    if status == "duplicate":
        rows = rows.filter(possible_duplicate=True)
    elif status != "all":
        rows = rows.filter(status=status)
    page = Paginator(rows.order_by("-created", "-pk"), 50).get_page(request.GET.get("page"))
    changeable = set(
        OutboxMessage.objects.restrict(user, "change")
        .filter(pk__in=[m.pk for m in page])
        .values_list("pk", flat=True)
    )
    care = [
        {
            "due": due,
            "occasion": OCCASIONS[due.occasion].name_zh if zh else OCCASIONS[due.occasion].name_en,
        }
        for due in care_due(_own(user), today)
    ]
    items = [
        {
            "m": m,
            "reason": (m.reason_zh if zh else m.reason_en) or m.reason_en,
            "can_send": m.pk in changeable and m.status == "queued",
            "status_label": MessageStatus(m.status).label,
            "channel_label": Channel(m.channel).label,
            "purpose_label": Purpose(m.purpose).label,
        }
        for m in page
    ]
    manager = user.is_superuser or user.role in {"admin", "manager"}
    context = {
        "care": care,
        "items": items,
        "page": page,
        "status": status,
        "statuses": [(s, _status_label(s)) for s in STATUS_FILTERS],
        "can_campaign": manager,
        "templates": sorted(DEFAULT_TEMPLATES),
        "purposes": [(p, Purpose(p).label) for p in CONTACT_PURPOSES],
        "channels": [(c, Channel(c).label) for c in MESSAGE_CHANNELS],
        "now": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
    }
    return render(request, "contact/outbox.html", context)


def _status_label(code: str) -> str:
    if code == "all":
        return _("All")
    if code == "duplicate":
        return _("Possible duplicates")
    return str(MessageStatus(code).label)


@login_required
@require_POST
def prepare_care(request: HttpRequest) -> HttpResponse:
    """Plan the care message of one care day of one's own customer (checked, or held)."""
    customer = _customer(request, request.POST.get("customer", ""), "change")
    occasion = request.POST.get("occasion", "")
    try:
        day = dt.date.fromisoformat(request.POST.get("day", ""))
    except ValueError:
        messages.error(request, _("Not prepared: the care day is not a date."))
        return redirect("contact:outbox")
    due = [
        d
        for d in care_due([customer], timezone.localdate())
        if (d.occasion, d.day) == (occasion, day)
    ]
    if not due:
        messages.error(request, _("Not prepared: no such care day for this customer now."))
        return redirect("contact:outbox")
    if due[0].message is not None:
        messages.error(request, _("Already prepared."))
        return redirect("contact:outbox")
    result = plan_messages(
        [customer],
        purpose="care",
        channels=list(due[0].channels),
        template=occasion,
        occasion=occasion,
        occasion_date=day,
        user=request.user,
    )
    if result.queued:
        messages.success(request, _("Care message prepared."))
    else:
        message = result.messages[0]
        reason = message.reason_zh if page_lang() == "zh" else message.reason_en
        messages.error(request, _("Care message held: %(reason)s") % {"reason": reason})
    return redirect("contact:outbox")


@login_required
@require_POST
def send_now(request: HttpRequest, pk: int) -> HttpResponse:
    """Deliver one queued message now (checked again; the same path as the worker's)."""
    message = OutboxMessage.objects.restrict(request.user, "change").filter(pk=pk).first()
    if message is None:
        raise Http404(str(pk))
    if message.status != "queued":
        messages.error(request, _("Only a queued message can be sent."))
        return redirect("contact:outbox")
    now = timezone.now()
    if message.planned_for > now:
        OutboxMessage.objects.filter(pk=pk, status="queued").update(planned_for=now)
    counts = deliver_due(only=[pk], now=now)
    message.refresh_from_db()
    if counts["sent"]:
        messages.success(request, _("Sent to %(to)s.") % {"to": message.recipient})
    else:
        reason = (message.reason_zh if page_lang() == "zh" else message.reason_en) or message.error
        messages.error(request, _("Not sent: %(reason)s") % {"reason": reason})
    return redirect("contact:outbox")


class CampaignForm(forms.Form):
    name = forms.CharField(max_length=200)
    purpose = forms.ChoiceField(choices=[(p, p) for p in CONTACT_PURPOSES])
    template = forms.ChoiceField(choices=[(t, t) for t in sorted(DEFAULT_TEMPLATES)])
    channels = forms.MultipleChoiceField(choices=[(c, c) for c in MESSAGE_CHANNELS])
    tier = forms.CharField(max_length=40, required=False)
    planned_for = forms.DateTimeField(input_formats=["%Y-%m-%dT%H:%M"])


@login_required
@require_POST
def campaign_post(request: HttpRequest) -> HttpResponse:
    """Plan a campaign over the customers in the manager's scope (optionally one tier)."""
    user: Any = request.user
    if not (user.is_superuser or user.role in {"admin", "manager"}):
        raise PermissionDenied
    form = CampaignForm(request.POST)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        messages.error(
            request, _("Not planned: %(field)s: %(error)s") % {"field": field, "error": errors[0]}
        )
        return redirect("contact:outbox")
    data = form.cleaned_data
    customers = Customer.objects.restrict(user, "change")
    if data["tier"]:
        customers = customers.filter(state__tier=data["tier"])
    try:
        _campaign, result = plan_campaign(
            customers,
            name=data["name"],
            purpose=data["purpose"],
            channels=data["channels"],
            template=data["template"],
            planned_for=data["planned_for"],
            user=user,
        )
    except PlanError as exc:
        messages.error(
            request,
            _("Not planned: %(field)s: %(error)s") % {"field": exc.field, "error": str(exc)},
        )
        return redirect("contact:outbox")
    messages.success(
        request,
        _("Campaign planned: %(queued)d queued, %(held)d held (each with its reason).")
        % {"queued": result.queued, "held": result.held},
    )
    return redirect("contact:outbox")


@csrf_exempt  # the signed token is the authority; mail clients' one-click POST has no cookie
@require_http_methods(["GET", "POST"])
def unsubscribe_page(request: HttpRequest, token: str) -> HttpResponse:
    """Withdraw one consent without logging in (GET asks; POST withdraws, RFC 8058)."""
    try:
        found = read_token(token)
    except BadTokenError as exc:
        return render(request, "contact/unsubscribe.html", {"error": str(exc)}, status=400)
    done = False
    if request.method == "POST":
        unsubscribe(token)
        done = True
    context = {
        "done": done,
        "purpose": Purpose(found.purpose).label,
        "channel": Channel(found.channel).label,
    }
    return render(request, "contact/unsubscribe.html", context)
