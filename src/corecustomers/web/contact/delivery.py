"""Deliver the outbox: checked again at send time, at least once, each attempt with one key.

A delivery pass (:func:`deliver_due`, the ``deliver_outbox`` job) works in three steps, so
that a worker killed at any point leaves a state the next pass completes:

1. **Claim** (one transaction, rows locked with ``skip_locked``): each queued message due
   now is checked again (:class:`~.rules.Checker`: consent, do-not-contact, complaint,
   budget at send time). A refused one becomes ``rejected`` with the reason; one in the
   quiet hours stays queued for their end; the rest become ``sending`` with a lease and
   one more attempt.
2. **Hand over** each claimed message to its channel's adapter, with its deduplication key.
3. **Record** ``sent`` (and the contact on the customer's timeline) -- or, after an error,
   queued again with a back-off (``failed`` after :data:`MAX_ATTEMPTS`, or at once when
   the provider refused the address).

A worker killed between 2 and 3 leaves the message ``sending`` after the provider accepted
it. When its lease has run out, the next pass asks the adapter whether it has the key:
the file adapter can tell, and the message is recorded sent without a second copy; SMTP
cannot, so the message is **sent again with the same Message-ID and marked as a possible
duplicate** (``possible_duplicate``), which the outbox page and API show.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import Any

from django.db import transaction
from django.utils import timezone

from corecustomers.web.contact.adapters import Adapter, DeliveryRefusedError, adapter_named
from corecustomers.web.contact.models import OutboxMessage
from corecustomers.web.contact.policy import setting
from corecustomers.web.contact.rules import Checker
from corecustomers.web.contact.unsubscribe import make_token
from corecustomers.web.jobs.models import Job
from corecustomers.web.work.models import Interaction

__all__ = ["MAX_ATTEMPTS", "deliver_due", "lease", "queue_delivery"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5


def lease() -> dt.timedelta:
    """How long a message may stay ``sending`` (``CORECUSTOMERS_OUTBOX_LEASE``, seconds)."""
    return dt.timedelta(seconds=float(os.environ.get("CORECUSTOMERS_OUTBOX_LEASE", "300")))


def _adapter_for(channel: str, cache: dict[str, Adapter]) -> Adapter:
    name = str(dict(setting("contact_adapters")).get(channel, "file"))
    if name not in cache:
        cache[name] = adapter_named(name)
    return cache[name]


def _headers(message: OutboxMessage) -> dict[str, str]:
    if message.purpose == "service":
        return {}
    from django.urls import reverse

    base = str(setting("contact_public_url")).rstrip("/")
    token = make_token(message.customer_id, message.purpose, message.channel, message.dedup_key)
    url = base + reverse("contact:unsubscribe", kwargs={"token": token})
    # RFC 8058: one-click unsubscribe by POST, which mail clients offer as a button
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def deliver_due(
    *,
    now: dt.datetime | None = None,
    limit: int = 500,
    only: list[int] | None = None,
    adapters: dict[str, Adapter] | None = None,
) -> dict[str, int]:
    """One delivery pass (see the module docstring); counts by what happened.

    ``only`` restricts the pass to these messages (an account manager's "send now");
    ``adapters`` maps adapter names to instances (tests pass a file adapter's folder).
    """
    now = now or timezone.now()
    cache: dict[str, Adapter] = dict(adapters or {})
    counts = {"sent": 0, "rejected": 0, "deferred": 0, "retried": 0, "failed": 0, "recovered": 0}
    claimed = _claim(now, limit, only, cache, counts)
    for message, known in claimed:
        _hand_over(message, known, cache, counts)
    return counts


def _claim(
    now: dt.datetime,
    limit: int,
    only: list[int] | None,
    cache: dict[str, Adapter],
    counts: dict[str, int],
) -> list[tuple[OutboxMessage, bool]]:
    """Lock and check the due messages; ``(message, already_delivered)`` to hand over."""
    out: list[tuple[OutboxMessage, bool]] = []
    with transaction.atomic():
        due = OutboxMessage.objects.select_for_update(skip_locked=True).select_related("customer")
        if only is not None:
            due = due.filter(pk__in=only)
        stale = list(due.filter(status="sending", lease_until__lt=now).order_by("pk")[:limit])
        fresh = list(
            due.filter(status="queued", planned_for__lte=now).order_by("planned_for", "pk")[
                : max(0, limit - len(stale))
            ]
        )
        for message in stale:  # a crashed attempt: the provider may have the message
            known = _adapter_for(message.channel, cache).delivered(message.dedup_key)
            message.possible_duplicate = known is not True
            message.attempts += 1
            message.lease_until = now + lease()
            message.save(update_fields=["possible_duplicate", "attempts", "lease_until"])
            counts["recovered"] += 1
            out.append((message, known is True))
        checker = Checker([m.customer for m in fresh], now, exclude_messages=[m.pk for m in fresh])
        for message in fresh:
            decision = checker.check(
                message.customer_id,
                message.purpose,
                message.channel,
                uses_sensitive_data=message.uses_sensitive_data,
                count=True,
            )
            message.reason_code = "" if decision.allowed else decision.reason_code
            message.reason_en = "" if decision.allowed else decision.reason_en
            message.reason_zh = "" if decision.allowed else decision.reason_zh
            fields = ["reason_code", "reason_en", "reason_zh", "status"]
            if decision.allowed:
                message.status = "sending"
                message.attempts += 1
                message.lease_until = now + lease()
                message.adapter = _adapter_for(message.channel, cache).name
                message.recipient = (
                    message.customer.email if message.channel == "email" else message.customer.phone
                )
                fields += ["attempts", "lease_until", "adapter", "recipient"]
                out.append((message, False))
            elif decision.reason_code == "quiet_hours" and decision.retry_at is not None:
                message.planned_for = decision.retry_at
                fields.append("planned_for")
                counts["deferred"] += 1
            else:
                message.status = "rejected"
                counts["rejected"] += 1
            message.save(update_fields=fields)
    return out


def _hand_over(
    message: OutboxMessage, known: bool, cache: dict[str, Adapter], counts: dict[str, int]
) -> None:
    adapter = _adapter_for(message.channel, cache)
    # found delivered after a crash: the provider's reference, which the killed attempt
    # did not live to record
    reference = message.provider_ref or adapter.reference(message.dedup_key)
    if not known:
        try:
            reference = adapter.send(message, _headers(message))
        except DeliveryRefusedError as exc:
            _after_error(message, str(exc), final=True)
            counts["failed"] += 1
            return
        except Exception as exc:  # the provider is down: try again later
            log.warning("delivering outbox message %s failed: %s", message.pk, exc)
            final = message.attempts >= MAX_ATTEMPTS
            _after_error(message, f"{type(exc).__name__}: {exc}", final=final)
            counts["failed" if final else "retried"] += 1
            return
    now = timezone.now()
    with transaction.atomic():
        updated = OutboxMessage.objects.filter(pk=message.pk, status="sending").update(
            status="sent", sent_at=now, provider_ref=reference[:300], lease_until=None, error=""
        )
        if updated:
            Interaction.objects.create(
                customer_id=message.customer_id,
                kind="email" if message.channel == "email" else "message",
                channel="outbox",
                at=now,
                user=message.created_by,
                notes=f"{message.subject}"[:5000],
            )
    counts["sent"] += 1


def _after_error(message: OutboxMessage, error: str, *, final: bool) -> None:
    backoff = dt.timedelta(minutes=5 * 2 ** max(0, message.attempts - 1))
    OutboxMessage.objects.filter(pk=message.pk, status="sending").update(
        status="failed" if final else "queued",
        planned_for=message.planned_for if final else timezone.now() + backoff,
        lease_until=None,
        error=error[:500],
    )


def queue_delivery(after: dt.datetime | None = None, *, besides: Any = None) -> Job | None:
    """Queue a ``deliver_outbox`` job (at ``after``, else now) unless one already covers it.

    ``besides`` is the job asking (a running pass that plans the next one).
    """
    from corecustomers.web.jobs.runner import submit
    from corecustomers.web.jobs.tasks import run_job_task

    waiting = Job.objects.filter(kind="deliver_outbox", status__in=("queued", "running"))
    if besides is not None:
        waiting = waiting.exclude(pk=besides)
    for job in waiting:
        when = job.params.get("after")
        if when is None or (after is not None and dt.datetime.fromisoformat(when) <= after):
            return None
    if after is None or after <= timezone.now():
        job, _ = submit("deliver_outbox", {}, channel="system")
        return job
    job = Job.objects.create(
        kind="deliver_outbox", params={"after": after.isoformat()}, channel="system"
    )
    transaction.on_commit(lambda: run_job_task.using(run_after=after).enqueue(str(job.pk)))
    return job


def _deliver_job(job: Job, progress: Any) -> dict[str, int]:
    counts = deliver_due()
    later = (
        OutboxMessage.objects.filter(status__in=("queued", "sending"))
        .order_by("planned_for")
        .values_list("planned_for", "status", "lease_until")
        .first()
    )
    if later is not None:
        planned, status, lease_until = later
        queue_delivery(
            lease_until if status == "sending" and lease_until else planned, besides=job.pk
        )
    return counts


def _plan_care_job(job: Job, progress: Any) -> dict[str, int]:
    from corecustomers.web.contact.care import plan_care_messages

    return plan_care_messages()


def _plan_messages_job(job: Job, progress: Any) -> dict[str, Any]:
    from corecustomers.web.contact.plans import plan_due_messages

    return plan_due_messages()


def connect() -> None:
    from corecustomers.web.jobs.runner import register

    register("deliver_outbox", _deliver_job)
    # once a day, queued by the worker's scheduler (the ``periodic_jobs`` of ContactConfig)
    register("plan_care_messages", _plan_care_job)
    register("plan_contact_messages", _plan_messages_job)
