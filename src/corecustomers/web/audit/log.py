"""Write audit entries from one place."""

from __future__ import annotations

from typing import Any

from corecustomers.web.audit.context import current_actor
from corecustomers.web.audit.models import AuditEntry

__all__ = ["record"]


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
