"""The account team's pages: My work (今日工作), logging an interaction, alerts,
notifications and the team view.

Each view parses the request, calls one use case of :mod:`corecustomers.web.work` and
renders plain objects. A customer, an alert or a colleague's queue outside the user's scope
is a 404; the team view is for managers and administrators (403 for the others).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.apps import apps
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from corecustomers.web.accounts.models import Team, User
from corecustomers.web.customers import queries
from corecustomers.web.customers.models import Customer
from corecustomers.web.pages.present import latest_summary, number_format, page_lang, tiers
from corecustomers.web.work.interactions import InteractionError
from corecustomers.web.work.management import management
from corecustomers.web.work.models import (
    OPEN_STATUSES,
    Alert,
    InteractionKind,
    Notification,
)
from corecustomers.web.work.policy import setting
from corecustomers.web.work.queue import (
    QueueError,
    WorkItem,
    can_see_queue_of,
    hand_over,
    snooze,
    work_queue,
)
from corecustomers.web.work.triage import (
    AlertChangeError,
    AlertNotFoundError,
    alert_outcomes,
    change_alert,
    log_with_result,
    recorded_outcomes,
)

__all__ = [
    "alert_change",
    "alerts_page",
    "hand_over_item",
    "log_page",
    "notifications_page",
    "snooze_item",
    "team_page",
    "work_page",
]

#: Items of My work per page (most urgent first).
WORK_PAGE = 50

CHANNELS = ("in_person", "phone", "wechat", "sms", "email", "post", "online")


def outcome_label(code: str) -> str:
    labels = {
        "reached": _("Reached"),
        "not_reachable": _("Not reachable"),
        "retained": _("Retained"),
        "at_risk": _("At risk"),
        "lost": _("Lost"),
        "follow_up_needed": _("Follow-up needed"),
        "false_alarm": _("False alarm"),
        "not_relevant": _("Not relevant"),
    }
    return labels.get(code, code.replace("_", " "))


def channel_label(code: str) -> str:
    labels = {
        "in_person": _("In person"),
        "phone": _("Phone"),
        "wechat": _("WeChat"),
        "sms": _("Text message"),
        "email": _("E-mail"),
        "post": _("Post"),
        "online": _("Online meeting"),
    }
    return labels.get(code, code)


class InteractionForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=InteractionKind.choices)
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), required=False)
    outcome = forms.ChoiceField(label=gettext_lazy("Outcome"), required=False)
    notes = forms.CharField(
        label=gettext_lazy("Notes"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    next_step = forms.CharField(label=gettext_lazy("Next step"), required=False, max_length=300)
    next_step_due = forms.DateField(
        label=gettext_lazy("Next step by"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = [("", "–")] + [(c, channel_label(c)) for c in CHANNELS]
        self.fields["outcome"].choices = [("", "–")] + [
            (str(o), outcome_label(str(o))) for o in setting("interaction_outcomes")
        ]


def _next(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}):
        return default
    return target


def _profile_url(user: Any, customer: Customer) -> str:
    key = customer.external_id if queries.sees_personal_data(user) else customer.pseudonym
    return reverse("pages:customer", kwargs={"key": key})


def _logged_message(kind: str, resolved: int) -> str:
    done = _("%(kind)s logged.") % {"kind": InteractionKind(kind).label}
    if resolved == 1:
        return done + " " + _("Alert resolved.")
    if resolved > 1:
        return done + " " + _("%(count)s alerts resolved.") % {"count": resolved}
    return done


@login_required
@require_http_methods(["GET", "POST"])
def log_page(request: HttpRequest, key: str) -> HttpResponse:
    """Log a visit, call … with the customer ``key``; back to ``next`` with what it settled."""
    try:
        customer = queries.find_customer(request.user, key)
    except queries.CustomerNotFoundError as exc:
        raise Http404(key) from exc
    if not Customer.objects.restrict(request.user, "change").filter(pk=customer.pk).exists():
        raise PermissionDenied
    back = _next(request, _profile_url(request.user, customer))
    form = InteractionForm(request.POST or None, initial={"kind": "visit"})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                logged = log_with_result(
                    request.user,
                    customer,
                    kind=data["kind"],
                    channel=data["channel"],
                    outcome=data["outcome"],
                    notes=data["notes"],
                    next_step=data["next_step"],
                    next_step_due=data["next_step_due"],
                )
            except InteractionError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, str(exc))
            except queries.CustomerNotFoundError as exc:  # the scope changed meanwhile
                raise Http404(key) from exc
            else:
                messages.success(
                    request, _logged_message(data["kind"], len(logged.resolved_alerts))
                )
                return redirect(back)
    context = {
        "customer": customer,
        "label": f"{customer.external_id} {customer.name}".strip()
        if queries.sees_personal_data(request.user)
        else customer.pseudonym,
        "form": form,
        "next": back,
        "profile_url": _profile_url(request.user, customer),
    }
    return render(request, "pages/work_log.html", context, status=status)


@dataclass(frozen=True)
class ItemRow:
    item: WorkItem
    reason: str
    kind_label: str
    profile_url: str
    log_url: str
    overdue: bool
    movable: bool
    #: Why the item waits (another app's check, e.g. no consent for the channel); empty if not.
    held: str = ""


def _kind_label(kind: str) -> str:
    """The item kind's name; kinds other apps add are named by their ``work_item_kinds``."""
    labels = {
        "alert": _("Alert"),
        "follow_up": _("Follow-up"),
        "action": _("Next-best action"),
        "cadence": _("Contact due"),
        "birthday": _("Birthday"),
    }
    if kind in labels:
        return str(labels[kind])
    for config in apps.get_app_configs():
        label = getattr(config, "work_item_kinds", {}).get(kind)
        if label is not None:
            return str(label)
    return kind


def _colleagues(user: Any) -> list[str]:
    teams = Team.objects.filter(Q(members=user) | Q(lead=user))
    people = User.objects.filter(is_active=True).exclude(pk=user.pk)
    mates = people.filter(Q(teams__in=teams) | Q(teams_led__in=teams)).distinct()
    chosen = mates if mates.exists() else people.filter(role__in=("account_manager", "manager"))
    return list(chosen.order_by("username").values_list("username", flat=True))


def _queue_people(user: Any) -> list[str]:
    """Whose queue the viewer may pick: oneself and, for managers, their teams' members."""
    if user.is_superuser or user.role == "admin":
        people = User.objects.filter(is_active=True, role__in=("account_manager", "manager"))
    elif user.role == "manager":
        teams = Team.objects.filter(Q(members=user) | Q(lead=user))
        people = User.objects.filter(is_active=True, teams__in=teams).distinct()
    else:
        return []
    names = set(people.values_list("username", flat=True)) | {user.username}
    return sorted(names)


@login_required
def work_page(request: HttpRequest) -> HttpResponse:
    """My work (今日工作); ``?user=NAME`` for a manager's team member (404 otherwise)."""
    viewer: Any = request.user
    person = viewer
    wanted = request.GET.get("user", "").strip()
    if wanted and wanted != viewer.username:
        person = User.objects.filter(username=wanted, is_active=True).first()
        if person is None or not can_see_queue_of(viewer, person):
            raise Http404(wanted)
    zh = page_lang() == "zh"
    today = timezone.localdate()
    rows = []
    # a page at a time: a book of thousands of accounts can have hundreds of items
    # (the checks of other apps run on this page's items only)
    page = Paginator(work_queue(person, today=today), WORK_PAGE).get_page(request.GET.get("page"))
    work_url = reverse("pages:work")
    for item in page:
        profile_url = reverse("pages:customer", kwargs={"key": item.customer_key})
        rows.append(
            ItemRow(
                item=item,
                reason=(item.reason_zh if zh else item.reason_en) or item.reason_en,
                kind_label=_kind_label(item.kind),
                profile_url=profile_url,
                log_url=reverse("pages:log-interaction", kwargs={"key": item.customer_key})
                + "?next="
                + work_url,
                overdue=item.due is not None and item.due < today,
                movable=item.kind in {"alert", "follow_up"},
                held=(item.held_zh if zh else item.held_en) or item.held_en,
            )
        )
    own = person.pk == viewer.pk
    context = {
        "person": person,
        "own": own,
        "rows": rows,
        "page": page,
        "fmt": number_format(),
        "today": today,
        "tomorrow": today + dt.timedelta(days=1),
        "colleagues": _colleagues(viewer) if own else [],
        "queue_people": _queue_people(viewer),
        "has_customers": Customer.objects.restrict(person, "view").exists(),
    }
    return render(request, "pages/work.html", context)


@login_required
@require_POST
def snooze_item(request: HttpRequest) -> HttpResponse:
    item = request.POST.get("item", "")
    raw_until = request.POST.get("until", "")
    try:
        until = dt.date.fromisoformat(raw_until)
    except ValueError:
        messages.error(request, _("Not snoozed: give the date until which the item waits."))
        return redirect("pages:work")
    try:
        snooze(request.user, item, until=until, reason=request.POST.get("reason", ""))  # type: ignore[arg-type]
    except QueueError as exc:
        known = {
            "until": _("Not snoozed: choose a later day than today."),
            "reason": _("Not snoozed: say why the item waits."),
        }
        messages.error(request, known.get(exc.field, str(exc)))
    else:
        messages.success(request, _("Snoozed until %(day)s.") % {"day": until.isoformat()})
    return redirect("pages:work")


@login_required
@require_POST
def hand_over_item(request: HttpRequest) -> HttpResponse:
    item = request.POST.get("item", "")
    name = request.POST.get("to", "")
    to = User.objects.filter(username=name, is_active=True).first()
    if to is None:
        messages.error(request, _("Not handed over: choose a colleague from the list."))
        return redirect("pages:work")
    try:
        hand_over(request.user, item, to=to)  # type: ignore[arg-type]
    except QueueError as exc:
        if exc.field == "to":
            messages.error(
                request,
                _("Not handed over: %(name)s is not on this customer's account team.")
                % {"name": name},
            )
        else:
            messages.error(request, _("Not handed over: the item is no longer in your queue."))
    else:
        messages.success(request, _("Handed over to %(name)s.") % {"name": name})
    return redirect("pages:work")


ALERT_STATUS_FILTERS = ("open", "resolved", "dismissed", "all")


@login_required
def alerts_page(request: HttpRequest) -> HttpResponse:
    """Alerts in scope, most value at stake first, with their SLA and escalation."""
    user: Any = request.user
    shown = request.GET.get("status", "open")
    if shown not in ALERT_STATUS_FILTERS:
        shown = "open"
    alerts = Alert.objects.restrict(user, "view").select_related(
        "customer", "assignee", "escalated_to"
    )
    if shown == "open":
        alerts = alerts.filter(status__in=OPEN_STATUSES)
    elif shown != "all":
        alerts = alerts.filter(status=shown)
    page = Paginator(alerts.order_by("-value_at_stake", "pk"), 50).get_page(request.GET.get("page"))
    changeable = set(
        Alert.objects.restrict(user, "change")
        .filter(pk__in=[a.pk for a in page])
        .values_list("pk", flat=True)
    )
    zh = page_lang() == "zh"
    now = timezone.now()
    personal = queries.sees_personal_data(user)
    rows = [
        {
            "alert": a,
            "reason": (a.reason_zh if zh else a.reason_en) or a.reason_en,
            "label": f"{a.customer.external_id} {a.customer.name}".strip()
            if personal
            else a.customer.pseudonym,
            "url": _profile_url(user, a.customer),
            "overdue": a.status in OPEN_STATUSES and a.due_at is not None and a.due_at < now,
            "can_change": a.pk in changeable and a.status in OPEN_STATUSES,
            "outcome": outcome_label(a.outcome) if a.outcome else "",
        }
        for a in page
    ]
    recorded = recorded_outcomes(user)
    evaluation = (latest_summary().get("alerts") or {}).get("evaluation") or {}
    precision = evaluation.get("precision") if isinstance(evaluation, dict) else None
    context = {
        "rows": rows,
        "page": page,
        "shown": shown,
        "filters": [
            ("open", _("Open")),
            ("resolved", _("Resolved")),
            ("dismissed", _("Dismissed")),
            ("all", _("All")),
        ],
        "fmt": number_format(),
        "tiers": tiers(),
        "precision": float(precision) if precision is not None else None,
        "recorded": [(outcome_label(k), v) for k, v in recorded.items() if k],
        "statuses": [
            ("in_progress", _("In progress")),
            ("resolved", _("Resolved")),
            ("dismissed", _("Dismissed")),
        ],
        "outcomes": [(o, outcome_label(o)) for o in alert_outcomes("dismissed")],
    }
    return render(request, "pages/alerts.html", context)


@login_required
@require_POST
def alert_change(request: HttpRequest, pk: int) -> HttpResponse:
    back = _next(request, reverse("pages:alerts"))
    try:
        change_alert(
            request.user,
            pk,
            status=request.POST.get("status", ""),
            outcome=request.POST.get("outcome", ""),
            note=request.POST.get("note", ""),
        )
    except AlertNotFoundError as exc:
        raise Http404(str(pk)) from exc
    except AlertChangeError as exc:
        known = {
            "outcome": _("Not changed: choose the outcome when you resolve or dismiss an alert."),
            "status": _("Not changed: the alert is no longer open, or the status is unknown."),
        }
        messages.error(request, known.get(exc.field, str(exc)))
    else:
        messages.success(request, _("Alert updated."))
    return redirect(back)


@login_required
def notifications_page(request: HttpRequest) -> HttpResponse:
    """The user's notifications, newest first; showing them marks them read."""
    mine = Notification.objects.restrict(request.user, "view")  # type: ignore[arg-type]
    page = Paginator(mine.select_related("customer").order_by("-created", "-pk"), 50).get_page(
        request.GET.get("page")
    )
    zh = page_lang() == "zh"
    rows = [
        {
            "n": n,
            "message": (n.message_zh if zh else n.message_en) or n.message_en,
            "unread": n.read_at is None,
            "url": _profile_url(request.user, n.customer) if n.customer else "",
        }
        for n in page
    ]
    unread = [row["n"].pk for row in rows if row["unread"]]
    if unread:
        mine.filter(pk__in=unread).update(read_at=timezone.now())
    return render(request, "pages/notifications.html", {"rows": rows, "page": page})


@login_required
def team_page(request: HttpRequest) -> HttpResponse:
    """The management view: coverage, SLA, outcomes and work, with each member's queue."""
    user: Any = request.user
    if not (user.is_superuser or user.role in {"admin", "manager"}):
        raise PermissionDenied
    view = management(user)
    last = view.period.previous()
    context = {
        "view": view,
        "fmt": number_format(),
        "tiers": tiers(),
        "month": view.period.start.date(),
        "last_month": last.start.date(),
        "outcomes": [{**row, "label": outcome_label(row["outcome"])} for row in view.outcomes],
        "members": [name for name in _queue_people(user) if name != user.username],
    }
    return render(request, "pages/work_team.html", context)
