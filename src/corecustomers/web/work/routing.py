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
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from corecustomers.web.accounts.models import Team, User
from corecustomers.web.audit.log import record
from corecustomers.web.customers.models import AccountMember, Customer, CustomerState
from corecustomers.web.work.calendar import add_working_days
from corecustomers.web.work.models import OPEN_STATUSES, Alert
from corecustomers.web.work.notify import notify
from corecustomers.web.work.policy import sla_calendar, sla_days

__all__ = ["Routed", "escalate_overdue", "route_alerts", "team_lead"]


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
    if user is None:
        return
    due = timezone.localtime(alert.due_at).date().isoformat() if alert.due_at else "-"
    who = _label(alert.customer)
    notify(
        user,
        kind,
        message_en=f"{lead_in_en}: {who} ({alert.tier}). {alert.reason_en} Act by {due}.",
        message_zh=f"{lead_in_zh}：{who}（{alert.tier}）。{alert.reason_zh} 请在{due}前处理。",
        alert=alert,
        customer=alert.customer,
    )


def route_alerts(run_id: str, *, now: dt.datetime | None = None) -> Routed:
    """Raise, reopen or update the alerts of the analysis ``run_id`` (see the module doc)."""
    now = now or timezone.now()
    flagged = (
        CustomerState.objects.filter(run_id=run_id, alert=True)
        .select_related("customer", "customer__team", "customer__team__lead")
        .order_by("-value_at_stake", "customer_id")
    )
    owners = {
        m.customer_id: m.user
        for m in AccountMember.objects.filter(
            role="owner", customer__state__run_id=run_id, customer__state__alert=True
        ).select_related("user")
    }
    raised = reopened = updated = unassigned = 0
    for state in flagged.iterator(chunk_size=2000):
        customer = state.customer
        code = state.alert_code or "early_warning"
        with transaction.atomic():
            current = (
                Alert.objects.select_for_update()
                .filter(customer=customer, reason_code=code, status__in=OPEN_STATUSES)
                .first()
            )
            if current is not None:
                current.value_at_stake, current.run_id = state.value_at_stake, run_id
                current.as_of = state.as_of
                current.save(update_fields=["value_at_stake", "run_id", "as_of"])
                updated += 1
                continue
            owner = owners.get(customer.pk)
            assignee = owner or team_lead(customer, None)
            if assignee is None:
                unassigned += 1
            due, note = _deadline(state.tier, now)
            closed = (
                Alert.objects.select_for_update()
                .filter(customer=customer, reason_code=code)
                .order_by("-raised_at", "-pk")
                .first()
            )
            if closed is not None:
                closed.status = "open"
                closed.reopened += 1
                closed.note = (
                    f"{closed.note}\n" if closed.note else ""
                ) + f"Reopened: the analysis of {state.as_of} flags the customer again."
                closed.assignee, closed.due_at, closed.sla_note = assignee, due, note
                closed.escalated_at = closed.escalated_to = closed.resolved_at = None
                closed.value_at_stake, closed.run_id, closed.as_of = (
                    state.value_at_stake,
                    run_id,
                    state.as_of,
                )
                closed.reason_en, closed.reason_zh = state.alert_reason_en, state.alert_reason_zh
                closed.save()
                alert, kind = closed, "alert_reopened"
                reopened += 1
            else:
                alert = Alert.objects.create(
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
                kind = "alert"
                raised += 1
            _announce(
                alert,
                assignee,
                kind=kind,
                lead_in_en="Alert reopened" if kind == "alert_reopened" else "New alert",
                lead_in_zh="预警重新打开" if kind == "alert_reopened" else "新预警",
            )
    return Routed(raised, reopened, updated, unassigned)


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
