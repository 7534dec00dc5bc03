"""Acting on alerts by hand, and logging an interaction with what it settled.

* :func:`change_alert` -- mark an alert in progress, resolved or dismissed, with an
  outcome and a note (audited). Only open alerts change; a closed one is reopened by the
  next analysis that flags the customer again (:mod:`.routing`).
* :func:`log_with_result` -- :func:`.interactions.log_interaction`, answering which of the
  customer's open alerts it resolved, so that the page and the API can say so.

Errors: :class:`AlertNotFoundError` (outside the caller's scope, answered as "not found"
so that an alert's existence does not leak) and :class:`AlertChangeError` (a field is
invalid; ``field`` names it).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from corecustomers.web.audit.log import record
from corecustomers.web.customers.models import Customer
from corecustomers.web.work.interactions import log_interaction
from corecustomers.web.work.models import OPEN_STATUSES, Alert, Interaction
from corecustomers.web.work.policy import setting

__all__ = [
    "DISMISS_OUTCOMES",
    "AlertChangeError",
    "AlertNotFoundError",
    "Logged",
    "alert_outcomes",
    "change_alert",
    "log_with_result",
    "recorded_outcomes",
]

#: The statuses a person sets by hand (the analysis opens and reopens alerts).
CLOSE_OR_PROGRESS = ("in_progress", "resolved", "dismissed")

#: Outcomes that only a dismissal records, besides the interaction outcomes.
DISMISS_OUTCOMES = ("false_alarm", "not_relevant")


class AlertNotFoundError(LookupError):
    """No alert with this id that the caller may change."""


class AlertChangeError(ValueError):
    """A field of the change is invalid; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def alert_outcomes(status: str) -> list[str]:
    """The outcomes an alert closed with ``status`` may record."""
    outcomes = [str(o) for o in setting("interaction_outcomes")]
    return outcomes + list(DISMISS_OUTCOMES) if status == "dismissed" else outcomes


def change_alert(
    user: Any, alert_id: int, *, status: str, outcome: str = "", note: str = ""
) -> Alert:
    """Set the status of the open alert ``alert_id`` (see the module docstring)."""
    if status not in CLOSE_OR_PROGRESS:
        raise AlertChangeError("status", "status is one of in_progress, resolved, dismissed")
    closing = status in {"resolved", "dismissed"}
    if closing and outcome not in alert_outcomes(status):
        raise AlertChangeError(
            "outcome", f"give the outcome, one of {', '.join(alert_outcomes(status))}"
        )
    if not closing and outcome:
        raise AlertChangeError("outcome", "an outcome is recorded when the alert is closed")
    if len(note) > 2000:
        raise AlertChangeError("note", "keep the note under 2,000 characters")
    with transaction.atomic():
        alert = (
            Alert.objects.restrict(user, "change").select_for_update().filter(pk=alert_id).first()
        )
        if alert is None:
            raise AlertNotFoundError(alert_id)
        if alert.status not in OPEN_STATUSES:
            raise AlertChangeError(
                "status",
                f"the alert is already {alert.status}; the next analysis reopens it if the "
                "customer is flagged again",
            )
        before = {"status": alert.status, "outcome": alert.outcome}
        alert.status = status
        if closing:
            alert.outcome = outcome
            alert.resolved_at, alert.resolved_by = timezone.now(), user
        if note.strip():
            stamp = timezone.localdate().isoformat()
            alert.note = (f"{alert.note}\n" if alert.note else "") + f"{stamp} {note.strip()}"
        alert.save(update_fields=["status", "outcome", "resolved_at", "resolved_by", "note"])
        record(
            "update",
            object_type="alert",
            object_key=alert.pk,
            customer_key=alert.customer_id,
            before=before,
            after={"status": status, "outcome": alert.outcome},
            message=note.strip(),
            user=user,
        )
    return alert


@dataclass(frozen=True)
class Logged:
    interaction: Interaction
    resolved_alerts: list[int]


def log_with_result(
    user: Any,
    customer: Customer,
    *,
    kind: str,
    outcome: str = "",
    channel: str = "",
    at: dt.datetime | None = None,
    notes: str = "",
    next_step: str = "",
    next_step_due: dt.date | None = None,
) -> Logged:
    """Log the interaction; which of the customer's open alerts it resolved."""
    open_before = list(
        Alert.objects.filter(customer=customer, status__in=OPEN_STATUSES).values_list(
            "pk", flat=True
        )
    )
    interaction = log_interaction(
        user,
        customer,
        kind=kind,
        outcome=outcome,
        channel=channel,
        at=at,
        notes=notes,
        next_step=next_step,
        next_step_due=next_step_due,
    )
    resolved = list(
        Alert.objects.filter(pk__in=open_before, status="resolved").values_list("pk", flat=True)
    )
    return Logged(interaction, sorted(resolved))


def recorded_outcomes(user: Any) -> dict[str, int]:
    """How many alerts the user may see were closed with each outcome (one query).

    The Alerts page shows these beside the engine's measured precision; the full
    management view (:func:`.management.management`) is too heavy for a page that busy.
    """
    rows = (
        Alert.objects.restrict(user, "view")
        .filter(status__in=("resolved", "dismissed"))
        .values_list("outcome")
        .annotate(n=Count("pk"))
        .order_by("outcome")
    )
    return {str(outcome): int(n) for outcome, n in rows}
