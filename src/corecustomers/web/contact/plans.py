"""The message part of the contact plans: each tier's e-mails, SMS or app messages on cadence.

A plan entry (setting ``contact_plans``) with a message channel -- e.g. ordinary customers:
an e-mail newsletter every 30 days -- is planned into the outbox by :func:`plan_due_messages`
(the daily job ``plan_contact_messages``) for every customer of the tier who has had no
message of that purpose within the cadence (a held one counts too: it is tried again after
the cadence, not every day). Each goes through :func:`~.outbox.plan_messages`: checked for
consent and budget, held with the reason when not allowed. Personal contacts of the plans
(visits, calls, letters) are My-work items instead (:mod:`.care`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from corecustomers.web.contact.models import MESSAGE_CHANNELS, OutboxMessage
from corecustomers.web.contact.outbox import plan_messages
from corecustomers.web.contact.policy import setting
from corecustomers.web.customers.models import Customer
from corecustomers.web.experiments.holdout import treated_only

__all__ = ["DEFAULT_TEMPLATE", "plan_due_messages"]

#: The template of a plan entry that names none, by purpose.
DEFAULT_TEMPLATE = {
    "marketing": "newsletter",
    "service": "service_notice",
    "surveys": "survey_invitation",
    "care": "birthday",
}


def plan_due_messages(today: dt.date | None = None) -> dict[str, Any]:
    """Plan the plans' messages due ``today`` (see the module docstring); counts per tier."""
    today = today or timezone.localdate()
    at = dt.datetime.combine(today, dt.time(10)).replace(tzinfo=timezone.get_current_timezone())
    counts: dict[str, Any] = {}
    for tier, entries in dict(setting("contact_plans")).items():
        for entry in entries:
            channel = str(entry.get("channel"))
            if channel not in MESSAGE_CHANNELS:
                continue
            purpose = str(entry.get("purpose", "marketing"))
            every = int(entry.get("every_days", 30))
            since = at - dt.timedelta(days=every)
            recent = OutboxMessage.objects.filter(
                purpose=purpose,
                planned_for__gt=since,
                status__in=("held", "queued", "sending", "sent"),
            ).values("customer_id")
            due = Customer.objects.filter(state__tier=tier).exclude(pk__in=recent)
            # an enabled hold-out of this plan keeps its control group out (stored, stable)
            treated = treated_only(f"plan:{tier}:{channel}", due) if due.exists() else []
            result = (
                plan_messages(
                    treated,
                    purpose=purpose,
                    channels=[channel],
                    template=str(entry.get("template") or DEFAULT_TEMPLATE.get(purpose, "")),
                    planned_for=at,
                )
                if treated
                else None
            )
            key = f"{tier}:{channel}:{purpose}"
            counts[key] = result.to_json() if result else {"queued": 0, "held": 0}
    return counts
