"""Plan messages into the outbox: checked, rendered, queued -- or held with the reason.

:func:`plan_messages` is the one way a message enters the outbox (a campaign, a care
message, later a survey invitation: ``purpose="surveys"``). For each customer it tries the
channels in order of preference and takes the first that :class:`~.rules.Checker` allows
at the planned time; with none, the message is kept as ``held`` with the first channel's
reason, so every contact not made says why. A contact that falls in the quiet hours is
planned for their end. Queued messages count in the customers' budget at once, so a plan
never exceeds it. Rows are written with multi-row inserts (``COPY`` on PostgreSQL; a
campaign over 10,000 customers takes seconds) and one audit entry for the plan.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from corecustomers.web.audit.log import record
from corecustomers.web.bulk import insert_rows
from corecustomers.web.contact.festivals import OCCASIONS
from corecustomers.web.contact.models import (
    MESSAGE_CHANNELS,
    Campaign,
    ContactProfile,
    OutboxMessage,
)
from corecustomers.web.contact.policy import setting
from corecustomers.web.contact.rules import Checker, Decision
from corecustomers.web.contact.unsubscribe import url_for
from corecustomers.web.contact.wording import Wording, render, template_for
from corecustomers.web.customers.models import Customer
from corecustomers.web.experiments.holdout import treated_only

__all__ = ["PlanError", "PlanResult", "plan_campaign", "plan_messages"]


class PlanError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass
class PlanResult:
    queued: int = 0
    held: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    #: The messages written, for plans of at most :data:`SHOWN` customers.
    messages: list[OutboxMessage] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"queued": self.queued, "held": self.held, "reasons": dict(self.reasons)}


#: The columns :func:`plan_messages` writes, in the order of its rows.
_FIELDS = (
    "customer",
    "campaign",
    "purpose",
    "channel",
    "occasion",
    "template",
    "uses_sensitive_data",
    "language",
    "recipient",
    "subject",
    "body",
    "planned_for",
    "status",
    "reason_code",
    "reason_en",
    "reason_zh",
    "dedup_key",
    "created_by",
    "created",
    "attempts",
    "possible_duplicate",
    "adapter",
    "provider_ref",
    "error",
)
#: Plans up to this size return their messages (``PlanResult.messages``).
SHOWN = 100


def _recipient(customer: Customer, channel: str) -> str:
    return customer.email if channel == "email" else customer.phone


def plan_messages(
    customers: Iterable[Customer],
    *,
    purpose: str,
    channels: Sequence[str],
    template: str,
    planned_for: dt.datetime | None = None,
    occasion: str = "",
    occasion_date: dt.date | None = None,
    campaign: Campaign | None = None,
    user: Any = None,
    extra: Callable[[Customer, str], dict[str, str]] | None = None,
) -> PlanResult:
    """Check, render and write one message per customer (see the module docstring).

    ``extra(customer, dedup_key)`` adds placeholders of the caller's own, e.g. a survey
    invitation's ``$survey_url`` (a signed link that the surveys app makes per message).
    """
    if not channels or any(c not in MESSAGE_CHANNELS for c in channels):
        raise PlanError("channels", f"channels are some of {', '.join(MESSAGE_CHANNELS)}")
    try:
        wording = template_for(template)
    except KeyError:
        raise PlanError("template", f"no message template {template!r}") from None
    if wording.purpose != purpose:
        raise PlanError("template", f"template {template!r} is for {wording.purpose}")
    at = planned_for or timezone.now()
    people = list(customers)
    checker = Checker(people, at)
    languages = dict(
        ContactProfile.objects.filter(customer__in=[c.pk for c in people])
        .exclude(language="")
        .values_list("customer_id", "language")
    )
    default_language = str(setting("contact_default_language"))
    base = str(setting("contact_public_url"))
    who = user if user is not None and getattr(user, "is_authenticated", False) else None
    result = PlanResult()
    rows: list[tuple[Any, ...]] = []
    now = timezone.now()
    for customer in people:
        channel, decision, when = _choose(checker, customer, purpose, channels, wording, at)
        language = languages.get(customer.pk, default_language)
        key = uuid.uuid4().hex
        subject, body = _render(
            wording,
            language,
            customer,
            key,
            purpose,
            channel,
            occasion,
            occasion_date,
            base,
            extra(customer, key) if extra is not None else {},
        )
        status = "queued" if decision.allowed else "held"
        rows.append(
            (
                customer.pk,
                campaign.pk if campaign else None,
                purpose,
                channel,
                occasion,
                wording.code,
                wording.uses_sensitive_data,
                language,
                _recipient(customer, channel),
                subject,
                body,
                when,
                status,
                "" if decision.allowed else decision.reason_code,
                "" if decision.allowed else decision.reason_en,
                "" if decision.allowed else decision.reason_zh,
                key,
                who.pk if who else None,
                now,
                0,
                False,
                "",
                "",
                "",
            )
        )
        if decision.allowed:
            result.queued += 1
        else:
            result.held += 1
            result.reasons[decision.reason_code] += 1
    with transaction.atomic():
        insert_rows(OutboxMessage, _FIELDS, rows)
        if len(rows) <= SHOWN:
            keys = [row[16] for row in rows]
            result.messages = list(OutboxMessage.objects.filter(dedup_key__in=keys).order_by("pk"))
        record(
            "plan_messages",
            object_type="campaign" if campaign else "outbox",
            object_key=campaign.pk if campaign else "",
            customer_key=people[0].pk if len(people) == 1 else None,
            after={"purpose": purpose, "template": template, **result.to_json()},
            row_count=len(rows),
            user=who,
        )
        if result.queued:
            from corecustomers.web.contact.delivery import queue_delivery

            transaction.on_commit(queue_delivery)
    return result


def _choose(
    checker: Checker,
    customer: Customer,
    purpose: str,
    channels: Sequence[str],
    wording: Wording,
    at: dt.datetime,
) -> tuple[str, Decision, dt.datetime]:
    """The first allowed channel (else the first channel and its reason) and the time."""
    first: tuple[str, Decision] | None = None
    for channel in channels:
        decision = checker.check(
            customer.pk,
            purpose,
            channel,
            uses_sensitive_data=wording.uses_sensitive_data,
            count=True,  # counted only when allowed
        )
        if decision.reason_code == "quiet_hours" and decision.retry_at is not None:
            later = checker.check(
                customer.pk,
                purpose,
                channel,
                uses_sensitive_data=wording.uses_sensitive_data,
                at=decision.retry_at,
                count=True,
            )
            if later.allowed:
                return channel, later, decision.retry_at
            decision = later
        elif decision.allowed:
            return channel, decision, at
        if first is None:
            first = (channel, decision)
    if first is None:  # plan_messages refuses an empty list before it gets here
        raise PlanError("channels", "give at least one channel to send by")
    return first[0], first[1], at


def _render(
    wording: Wording,
    language: str,
    customer: Customer,
    key: str,
    purpose: str,
    channel: str,
    occasion: str,
    occasion_date: dt.date | None,
    base: str,
    more: dict[str, str],
) -> tuple[str, str]:
    zh = language.startswith("zh")
    named = OCCASIONS.get(occasion)
    values = {
        "name": customer.name or customer.company or ("客户" if zh else "customer"),
        "company": customer.company,
        "occasion": (named.name_zh if zh else named.name_en) if named else "",
        "date": occasion_date.isoformat() if occasion_date else "",
        "unsubscribe_url": url_for(customer.pk, purpose, channel, key, base=base)
        if purpose != "service"
        else "",
    }
    return render(wording, language, {**more, **values})


def plan_campaign(
    customers: Iterable[Customer],
    *,
    name: str,
    purpose: str,
    channels: Sequence[str],
    template: str,
    planned_for: dt.datetime,
    user: Any = None,
) -> tuple[Campaign, PlanResult]:
    """A named campaign: one message per customer, checked and budgeted (see above)."""
    if not name.strip():
        raise PlanError("name", "give the campaign a name")
    who = user if user is not None and getattr(user, "is_authenticated", False) else None
    campaign = Campaign.objects.create(
        name=name.strip()[:200],
        purpose=purpose,
        channels=list(channels),
        template=template,
        planned_for=planned_for,
        created_by=who,
    )
    # an enabled hold-out of this campaign (code "campaign:NAME") keeps its control group out
    treated = treated_only(f"campaign:{campaign.name}", customers)
    result = plan_messages(
        treated,
        purpose=purpose,
        channels=channels,
        template=template,
        planned_for=planned_for,
        campaign=campaign,
        user=user,
    )
    campaign.counts = result.to_json()
    campaign.save(update_fields=["counts"])
    return campaign, result
