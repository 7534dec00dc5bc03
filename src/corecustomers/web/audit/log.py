"""Write audit entries from one place."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from corecustomers.web.audit.context import current_actor
from corecustomers.web.audit.models import AuditEntry
from corecustomers.web.bulk import insert_rows

__all__ = ["record", "record_many"]


def record(
    action: str,
    *,
    object_type: str = "",
    object_key: str | int = "",
    customer_key: int | None = None,
    message: str = "",
    before: Any = None,
    after: Any = None,
    query: Any = None,
    row_count: int | None = None,
    user: Any = None,
    channel: str | None = None,
) -> AuditEntry:
    """Append one entry; who and where come from the current actor unless given.

    Parameters
    ----------
    action
        What happened: ``create``, ``update``, ``delete``, ``view``, ``search``,
        ``export``, ``login``, ``override``, ``import`` …
    customer_key
        ``Customer.pk`` when the entry is about one customer (never the external id).
    before, after
        JSON-serialisable snapshots of the changed fields.
    query, row_count
        The filter of a search or export and how many rows it gave.
    """
    actor = current_actor()
    who = user if user is not None else actor.resolved_user()
    if who is not None and not getattr(who, "is_authenticated", False):
        who = None
    return AuditEntry.objects.create(
        user=who,
        username=getattr(who, "username", "") if who is not None else "",
        channel=channel or actor.channel,
        action=action,
        object_type=object_type,
        object_key=str(object_key),
        customer_key=customer_key,
        message=message,
        before=before,
        after=after,
        query=query,
        row_count=row_count,
        request_id=actor.request_id,
    )


def record_many(entries: Iterable[dict[str, Any]]) -> int:
    """Append many entries at once, all by the current actor; how many were written.

    Each entry is a dict of :func:`record`'s keyword arguments other than ``user`` and
    ``channel``. Written with one ``executemany`` (an import audits every customer it
    changes, inside its one transaction).
    """
    actor = current_actor()
    who = actor.resolved_user()
    if who is not None and not getattr(who, "is_authenticated", False):
        who = None
    user_id = who.pk if who is not None else None
    username = getattr(who, "username", "") if who is not None else ""
    at = timezone.now()
    rows = (
        (
            at,
            user_id,
            username,
            actor.channel,
            entry["action"],
            entry.get("object_type", ""),
            str(entry.get("object_key", "")),
            entry.get("customer_key"),
            entry.get("message", ""),
            entry.get("before"),
            entry.get("after"),
            entry.get("query"),
            entry.get("row_count"),
            actor.request_id,
        )
        for entry in entries
    )
    return insert_rows(AuditEntry, _COLUMNS, rows)


_COLUMNS = (
    "at",
    "user",
    "username",
    "channel",
    "action",
    "object_type",
    "object_key",
    "customer_key",
    "message",
    "before",
    "after",
    "query",
    "row_count",
    "request_id",
)
