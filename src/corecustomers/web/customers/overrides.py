"""Manual tiers: set on a page or through the API, kept in the workspace that ``analyze`` reads.

The workspace's ``overrides`` table is the one source of truth. A change made in the
service is written to :class:`TierOverride` at once (so the page shows it) and pushed to
the workspace by the ``sync_overrides`` job; the same job pulls overrides set with
``corecustomers override`` into the service and audits them as made on the command line.
The web process never opens the workspace: only the worker does, briefly; the store waits
with backoff while another process (``analyze``) holds it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from corecustomers.errors import InputError
from corecustomers.store import Workspace
from corecustomers.web.audit.log import record
from corecustomers.web.customers.identity import pseudonym
from corecustomers.web.customers.models import Analysis, Customer, TierOverride
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import JobProgress, submit

__all__ = [
    "known_tiers",
    "open_workspace",
    "remove_override",
    "set_override",
    "sync_overrides",
]

log = logging.getLogger(__name__)


def known_tiers() -> list[str]:
    """The tiers of the latest analysis' policy (what an override may name)."""
    latest = Analysis.objects.first()
    if latest is None:
        return []
    table = (latest.summary.get("tiers") or {}).get("table") or []
    return [str(row["tier"]) for row in table if row.get("tier")]


def _snapshot(row: TierOverride | None) -> dict[str, Any] | None:
    if row is None or row.removed:
        return None
    return {
        "tier": row.tier,
        "by": row.by,
        "reason": row.reason,
        "until": row.until.isoformat() if row.until else None,
    }


def set_override(
    customer: Customer, *, tier: str, reason: str, until: dt.date | None, user: Any
) -> TierOverride:
    """Hold ``customer`` in ``tier`` (who: ``user``; why: ``reason``; until: ``until``)."""
    tiers = known_tiers()
    if tiers and tier not in tiers:
        raise InputError(f"{tier!r} is not a tier; choose one of {', '.join(tiers)}", column="tier")
    if not reason.strip():
        raise InputError("say why the tier is held by hand", column="reason")
    if until is not None and until < dt.date.today():
        raise InputError(f"the end date {until} is in the past", column="until")
    with transaction.atomic():
        before = _snapshot(TierOverride.objects.filter(customer=customer).first())
        row, _ = TierOverride.objects.update_or_create(
            customer=customer,
            defaults={
                "tier": tier,
                "by": user.get_username(),
                "reason": reason.strip(),
                "until": until,
                "origin": "web",
                "synced": False,
                "removed": False,
            },
        )
        record(
            "override",
            object_type="customer",
            object_key=customer.pk,
            customer_key=customer.pk,
            before=before,
            after=_snapshot(row),
        )
        _queue_sync(user)
    return row


def remove_override(customer: Customer, *, user: Any) -> bool:
    """Remove the manual tier of ``customer``; whether it had one."""
    with transaction.atomic():
        row = TierOverride.objects.select_for_update().filter(customer=customer).first()
        if row is None or row.removed:
            return False
        before = _snapshot(row)
        row.removed, row.synced = True, False
        row.save(update_fields=["removed", "synced"])
        record(
            "override_removed",
            object_type="customer",
            object_key=customer.pk,
            customer_key=customer.pk,
            before=before,
        )
        _queue_sync(user)
    return True


def _queue_sync(user: Any) -> None:
    submit("sync_overrides", {}, user=user)


def open_workspace(location: str | None = None) -> Workspace:
    """Open the service's workspace (the store waits with backoff while it is busy)."""
    return Workspace.open(location or settings.WORKSPACE)


def sync_overrides(job: Job | None = None, progress: JobProgress | None = None) -> dict[str, int]:
    """Push the service's unsynced overrides to the workspace, then pull the workspace's."""
    pushed = pulled = dropped = 0
    with open_workspace() as workspace:
        for row in TierOverride.objects.filter(synced=False).select_related("customer"):
            external_id = row.customer.external_id
            if row.removed:
                workspace.remove_override(external_id)
                TierOverride.objects.filter(pk=row.pk, removed=True, synced=False).delete()
            else:
                workspace.add_override(
                    external_id, row.tier, by=row.by, reason=row.reason, until=row.until
                )
                TierOverride.objects.filter(pk=row.pk, tier=row.tier, reason=row.reason).update(
                    synced=True
                )
            pushed += 1
        remote = {str(o["customer_id"]): o for o in workspace.overrides()}
    local = {
        row.customer.external_id: row for row in TierOverride.objects.select_related("customer")
    }
    for external_id, theirs in remote.items():
        mine = local.get(external_id)
        if mine is not None and not mine.synced:
            continue  # changed in the service since: the next sync pushes it
        if mine is not None and (mine.tier, mine.by, mine.reason, mine.until) == (
            theirs["tier"],
            theirs["by"],
            theirs["reason"],
            theirs["until"],
        ):
            continue
        customer, _ = Customer.objects.get_or_create(
            external_id=external_id, defaults={"pseudonym": pseudonym(external_id)}
        )
        with transaction.atomic():
            before = _snapshot(mine)
            row, _ = TierOverride.objects.update_or_create(
                customer=customer,
                defaults={
                    "tier": theirs["tier"],
                    "by": theirs["by"],
                    "reason": theirs["reason"],
                    "until": theirs["until"],
                    "origin": "cli",
                    "synced": True,
                    "removed": False,
                },
            )
            record(
                "override",
                object_type="customer",
                object_key=customer.pk,
                customer_key=customer.pk,
                before=before,
                after=_snapshot(row),
                message=f"set with `corecustomers override` by {theirs['by']}",
                channel="cli",
                user=None,
            )
        pulled += 1
    for external_id, mine in local.items():
        if mine.synced and external_id not in remote:
            with transaction.atomic():
                TierOverride.objects.filter(pk=mine.pk, synced=True).delete()
                record(
                    "override_removed",
                    object_type="customer",
                    object_key=mine.customer.pk,
                    customer_key=mine.customer.pk,
                    before=_snapshot(mine),
                    message="removed with `corecustomers override --remove`",
                    channel="cli",
                    user=None,
                )
            dropped += 1
    return {"pushed": pushed, "pulled": pulled, "removed": dropped}
