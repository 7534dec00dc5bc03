"""Alerts from each analysis, routed to a person, reopened when flagged again, escalated once.

:func:`route_alerts` runs after an analysis is imported (the ``analysis_imported`` signal
queues it as a job). For every customer the analysis flags:

* an alert for the same customer and reason that is still open is updated (value at stake,
  run), never raised twice;
* a resolved or dismissed one is reopened with a note, and routed again;
* otherwise a new alert is raised, assigned to the customer's owner -- or, with no owner,
  to the lead of the customer's team -- with a deadline of the tier's SLA in working days
  (:mod:`.calendar`), and its assignee is notified (in the app and by e-mail).

:func:`escalate_overdue` (a scheduled job) hands each alert whose deadline passed unresolved
to the team lead, exactly once: the escalation is a conditional update that only one
worker can win.

:func:`raise_alert` is the same routing for one alert raised outside an analysis (e.g. a
survey's detractor, :mod:`corecustomers.web.surveys.alerts`): to the owner or the team lead,
due after the tier's SLA, notified, and never twice while one is open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from corecustomers.web.accounts.models import Team, User
from corecustomers.web.audit.log import record
from corecustomers.web.customers.models import AccountMember, Customer, CustomerState
from corecustomers.web.work.calendar import add_working_days
from corecustomers.web.work.models import OPEN_STATUSES, Alert, Notification
from corecustomers.web.work.policy import sla_calendar, sla_days
from corecustomers.web.work.raising import raise_new, to_reopen, update_open

__all__ = ["Routed", "escalate_overdue", "raise_alert", "route_alerts", "team_lead"]


@dataclass(frozen=True)
class Routed:
    raised: int
    reopened: int
    updated: int
    unassigned: int

    def to_json(self) -> dict[str, int]:
        return {
            "raised": self.raised,
            "reopened": self.reopened,
            "updated": self.updated,
            "unassigned": self.unassigned,
        }


def team_lead(customer: Customer, owner: User | None) -> User | None:
    """The lead of the customer's team, else of the owner's first team that has a lead."""
    if customer.team_id and customer.team and customer.team.lead_id:
        return customer.team.lead
    if owner is not None:
        team = (
            Team.objects.filter(members=owner, lead__isnull=False)
            .exclude(lead=owner)
            .order_by("name")
            .first()
        )
        if team is not None:
            return team.lead
    return None


def _label(customer: Customer) -> str:
    return f"{customer.external_id} {customer.name}".strip()


def _deadline(tier: str, now: dt.datetime) -> tuple[dt.datetime, str]:
    deadline = add_working_days(now, sla_days(tier), sla_calendar())
    return deadline.at, deadline.note


def _announce(
    alert: Alert, user: User | None, *, kind: str, lead_in_en: str, lead_in_zh: str
) -> None:
    note = _notification(alert, user, kind=kind, lead_in_en=lead_in_en, lead_in_zh=lead_in_zh)
    if note is not None:
        note.save()


def _notification(
    alert: Alert, user: User | None, *, kind: str, lead_in_en: str, lead_in_zh: str
) -> Notification | None:
    """The notification :func:`_announce` would write, unsaved (for a bulk insert)."""
    if user is None:
        return None
    due = timezone.localtime(alert.due_at).date().isoformat() if alert.due_at else "-"
    who = _label(alert.customer)
    return Notification(
        user=user,
        kind=kind,
        message_en=f"{lead_in_en}: {who} ({alert.tier}). {alert.reason_en} Act by {due}.",
        message_zh=f"{lead_in_zh}：{who}（{alert.tier}）。{alert.reason_zh} 请在{due}前处理。",
        alert=alert,
        customer=alert.customer,
    )


def raise_alert(
    customer: Customer,
    *,
    code: str,
    reason_en: str,
    reason_zh: str,
    tier: str,
    value_at_stake: float | None = None,
    run_id: str = "",
    note: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[Alert, bool]:
    """Raise one alert for ``customer`` and reason ``code``, routed as the analysis' are.

    Assigned to the customer's owner, or the team lead with none (:func:`team_lead`); due
    after the tier's SLA in working days; its assignee notified (in the app; by e-mail
    through the notification job). If an alert for the same customer and reason is open,
    none is raised: the open one gets ``note`` (default: ``reason_en``) on a new line.
    Returns ``(alert, new)``.
    """
    now = now or timezone.now()
    with transaction.atomic():
        current = (
            Alert.objects.select_for_update()
            .filter(customer=customer, reason_code=code, status__in=OPEN_STATUSES)
            .first()
        )
        if current is not None:
            added = reason_en if note is None else note
            if added:
                current.note = (f"{current.note}\n" if current.note else "") + added
                current.save(update_fields=["note"])
            return current, False
        owner = (
            AccountMember.objects.filter(customer=customer, role="owner")
            .select_related("user")
            .order_by("pk")
            .first()
        )
        assignee = owner.user if owner else team_lead(customer, None)
        due, sla_note = _deadline(tier, now)
        alert = Alert.objects.create(
            customer=customer,
            reason_code=code,
            reason_en=reason_en,
            reason_zh=reason_zh,
            tier=tier,
            value_at_stake=value_at_stake,
            run_id=run_id,
            as_of=timezone.localdate(now),
            assignee=assignee,
            raised_at=now,
            due_at=due,
            sla_note=sla_note,
        )
        _announce(alert, assignee, kind="alert", lead_in_en="New alert", lead_in_zh="新预警")
    return alert, True


#: Alerts to reopen handled per step (a few bulk statements each).
CHUNK = 2000


def route_alerts(run_id: str, *, now: dt.datetime | None = None) -> Routed:
    """Raise, reopen or update the alerts of the analysis ``run_id`` (see the module doc).

    Set-based (:mod:`.raising`): one statement updates the alerts still open, one raises
    every new alert and one writes their notifications; only the alerts to reopen (closed
    by someone, flagged again) go through Python, in chunks of :data:`CHUNK`. All in one
    transaction, and routings are serialised (an advisory lock on PostgreSQL; SQLite
    writes one at a time anyway), so two jobs for one run never raise an alert twice and
    a job that dies leaves nothing half done: run again, it completes the routing.
    """
    now = now or timezone.now()
    deadlines: dict[str, tuple[dt.datetime, str]] = {}

    def deadline(tier: str) -> tuple[dt.datetime, str]:
        if tier not in deadlines:
            deadlines[tier] = _deadline(tier, now)
        return deadlines[tier]

    totals = {"raised": 0, "reopened": 0, "updated": 0, "unassigned": 0}
    with transaction.atomic():
        _serialise_routing()
        totals["updated"] = update_open(run_id)
        reopen = to_reopen(run_id)
        for start in range(0, len(reopen), CHUNK):
            counts = _route_chunk(run_id, reopen[start : start + CHUNK], now, deadlines)
            for key, value in counts.items():
                totals[key] += value
        raised, unassigned = raise_new(run_id, now, deadline)
        totals["raised"] += raised
        totals["unassigned"] += unassigned
    return Routed(**totals)


def _serialise_routing() -> None:
    """One routing at a time (PostgreSQL: a transaction-level advisory lock)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROUTING_LOCK])


#: The advisory lock key of routing (any constant shared by every worker).
ROUTING_LOCK = 7_310_011


def _route_chunk(
    run_id: str,
    customer_ids: list[int],
    now: dt.datetime,
    deadlines: dict[str, tuple[dt.datetime, str]],
) -> dict[str, int]:
    states = {
        s.customer_id: s
        for s in CustomerState.objects.filter(customer_id__in=customer_ids)
        .select_related("customer", "customer__team", "customer__team__lead")
        .defer("recommendations", "pattern", "customer__notes")
    }
    owners = {
        m.customer_id: m.user
        for m in AccountMember.objects.filter(
            role="owner", customer_id__in=customer_ids
        ).select_related("user")
    }
    open_alerts = {
        (a.customer_id, a.reason_code): a
        for a in Alert.objects.select_for_update().filter(
            customer_id__in=customer_ids, status__in=OPEN_STATUSES
        )
    }
    closed: dict[tuple[int, str], Alert] = {}
    for a in (
        Alert.objects.select_for_update()
        .filter(customer_id__in=customer_ids)
        .exclude(status__in=OPEN_STATUSES)
        .order_by("customer_id", "reason_code", "-raised_at", "-pk")
    ):
        closed.setdefault((a.customer_id, a.reason_code), a)
    updated: list[Alert] = []
    reopened: list[Alert] = []
    created: list[Alert] = []
    unassigned = 0
    for pk in customer_ids:
        state = states.get(pk)
        if state is None:  # the state was replaced meanwhile
            continue
        customer = state.customer
        code = state.alert_code or "early_warning"
        current = open_alerts.get((pk, code))
        if current is not None:
            current.value_at_stake, current.run_id = state.value_at_stake, run_id
            current.as_of = state.as_of
            updated.append(current)
            continue
        assignee = owners.get(pk) or team_lead(customer, None)
        if assignee is None:
            unassigned += 1
        if state.tier not in deadlines:
            deadlines[state.tier] = _deadline(state.tier, now)
        due, note = deadlines[state.tier]
        alert = closed.get((pk, code))
        if alert is not None:
            alert.status = "open"
            alert.reopened += 1
            alert.note = (
                f"{alert.note}\n" if alert.note else ""
            ) + f"Reopened: the analysis of {state.as_of} flags the customer again."
            alert.assignee, alert.due_at, alert.sla_note = assignee, due, note
            alert.escalated_at = alert.escalated_to = alert.resolved_at = None
            alert.value_at_stake, alert.run_id, alert.as_of = (
                state.value_at_stake,
                run_id,
                state.as_of,
            )
            alert.reason_en, alert.reason_zh = state.alert_reason_en, state.alert_reason_zh
            alert.customer = customer
            reopened.append(alert)
        else:
            created.append(
                Alert(
                    customer=customer,
                    reason_code=code,
                    reason_en=state.alert_reason_en,
                    reason_zh=state.alert_reason_zh,
                    tier=state.tier,
                    value_at_stake=state.value_at_stake,
                    run_id=run_id,
                    as_of=state.as_of,
                    assignee=assignee,
                    raised_at=now,
                    due_at=due,
                    sla_note=note,
                )
            )
    if updated:  # one statement: the still-open alerts take the run's values
        state = CustomerState.objects.filter(customer_id=OuterRef("customer_id"))
        Alert.objects.filter(pk__in=[a.pk for a in updated]).update(
            value_at_stake=Subquery(state.values("value_at_stake")[:1]),
            as_of=Subquery(state.values("as_of")[:1]),
            run_id=run_id,
        )
    Alert.objects.bulk_update(
        reopened,
        [
            "status", "reopened", "note", "assignee", "due_at", "sla_note", "escalated_at",
            "escalated_to", "resolved_at", "value_at_stake", "run_id", "as_of", "reason_en",
            "reason_zh",
        ],
        batch_size=500,
    )  # fmt: skip
    created = Alert.objects.bulk_create(created, batch_size=1000)
    if created and created[0].pk is None:  # a backend that does not return ids (old SQLite)
        created = list(
            Alert.objects.filter(
                customer_id__in=[a.customer_id for a in created],
                status__in=OPEN_STATUSES,
                raised_at=now,
            ).select_related("customer")
        )
    notes = [
        _notification(a, a.assignee, kind="alert_reopened", lead_in_en="Alert reopened",
                      lead_in_zh="预警重新打开")
        for a in reopened
    ] + [
        _notification(a, a.assignee, kind="alert", lead_in_en="New alert", lead_in_zh="新预警")
        for a in created
    ]  # fmt: skip
    Notification.objects.bulk_create([n for n in notes if n is not None], batch_size=1000)
    return {
        "raised": len(created),
        "reopened": len(reopened),
        "updated": len(updated),
        "unassigned": unassigned,
    }


def escalate_overdue(*, now: dt.datetime | None = None) -> int:
    """Escalate every open alert past its deadline to the team lead, once; how many."""
    now = now or timezone.now()
    escalated = 0
    overdue = Alert.objects.filter(
        status__in=OPEN_STATUSES, due_at__lt=now, escalated_at__isnull=True
    ).select_related("customer", "customer__team", "assignee")
    for alert in overdue.iterator(chunk_size=1000):
        lead = team_lead(alert.customer, alert.assignee)
        with transaction.atomic():
            won = Alert.objects.filter(pk=alert.pk, escalated_at__isnull=True).update(
                escalated_at=now, escalated_to=lead
            )
            if not won:
                continue  # another worker escalated it
            escalated += 1
            record(
                "escalate",
                object_type="alert",
                object_key=alert.pk,
                customer_key=alert.customer_id,
                message=f"deadline {alert.due_at:%Y-%m-%d %H:%M} passed; escalated to "
                + (lead.username if lead else "nobody (no team lead)"),
                channel="system",
                user=None,
            )
            _announce(
                alert,
                lead,
                kind="escalation",
                lead_in_en="Escalated: an alert passed its deadline",
                lead_in_zh="升级：预警已超过处理期限",
            )
    return escalated
