"""Log a visit, call, message … against a customer; it answers the customer's open alerts.

An interaction whose outcome is a closing one (``reached``, ``retained``, ``lost`` by
default) resolves the customer's open alerts with that outcome; a complaint or a service
request opens a follow-up for the customer's owner. Everything is written in one
transaction with an audit entry; after the commit the interactions export for the engine
is queued (:mod:`.export`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from corecustomers.web.audit.log import record
from corecustomers.web.customers.models import AccountMember, Customer
from corecustomers.web.customers.queries import CustomerNotFoundError
from corecustomers.web.work.export import queue_export_on_commit
from corecustomers.web.work.models import (
    OPEN_STATUSES,
    Alert,
    FollowUp,
    Interaction,
    InteractionKind,
)
from corecustomers.web.work.policy import setting

__all__ = ["InteractionError", "log_interaction"]

FOLLOW_UP_KINDS = {"complaint", "service_request"}


class InteractionError(ValueError):
    """A field of the interaction is invalid; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def log_interaction(
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
) -> Interaction:
    """Record an interaction by ``user`` with ``customer`` (see the module docstring)."""
    if not Customer.objects.restrict(user, "change").filter(pk=customer.pk).exists():
        raise CustomerNotFoundError(customer.external_id)
    if kind not in InteractionKind.values:
        raise InteractionError("kind", f"kind is one of {', '.join(InteractionKind.values)}")
    outcomes = list(setting("interaction_outcomes"))
    if outcome and outcome not in outcomes:
        raise InteractionError("outcome", f"outcome is one of {', '.join(outcomes)}")
    when = at or timezone.now()
    if when > timezone.now() + dt.timedelta(minutes=5):
        raise InteractionError("at", "an interaction cannot be in the future")
    if next_step and next_step_due is None:
        raise InteractionError("next_step_due", "give the date of the next step")
    with transaction.atomic():
        open_alerts = list(
            Alert.objects.select_for_update().filter(customer=customer, status__in=OPEN_STATUSES)
        )
        interaction = Interaction.objects.create(
            customer=customer,
            kind=kind,
            channel=channel,
            at=when,
            user=user,
            outcome=outcome,
            notes=notes,
            next_step=next_step,
            next_step_due=next_step_due,
            alert=open_alerts[0] if open_alerts else None,
        )
        closing = outcome in set(setting("closing_outcomes"))
        for alert in open_alerts:
            if closing:
                alert.status, alert.outcome = "resolved", outcome
                alert.resolved_at, alert.resolved_by = timezone.now(), user
            elif alert.status == "open":
                alert.status = "in_progress"
            alert.save(update_fields=["status", "outcome", "resolved_at", "resolved_by"])
        if outcome:  # an answered contact settles the customer's open follow-ups
            FollowUp.objects.filter(customer=customer, done_at__isnull=True).update(
                done_at=timezone.now()
            )
        owner = (
            AccountMember.objects.filter(customer=customer, role="owner")
            .select_related("user")
            .first()
        )
        if kind in FOLLOW_UP_KINDS:
            FollowUp.objects.create(
                customer=customer,
                owner=owner.user if owner else None,
                due=timezone.localdate() + dt.timedelta(days=int(setting("follow_up_days"))),
                reason=f"follow up the {InteractionKind(kind).label}".lower(),
                source=interaction,
            )
        if next_step:
            FollowUp.objects.create(
                customer=customer,
                owner=user,
                due=next_step_due,
                reason=next_step,
                source=interaction,
            )
        record(
            "create",
            object_type="interaction",
            object_key=interaction.pk,
            customer_key=customer.pk,
            after={
                "kind": kind,
                "outcome": outcome,
                "at": when.isoformat(),
                "alerts_resolved": [a.pk for a in open_alerts] if closing else [],
            },
            user=user,
        )
        queue_export_on_commit()  # the engine's copy (docs/CONTRACTS.md), after the commit
    return interaction
