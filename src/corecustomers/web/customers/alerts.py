"""Open alerts a user may see, ranked by the value at stake (``GET /api/v1/flagged-customers``).

Built on :func:`corecustomers.web.customers.queries.customer_page`, so the scope, the
pseudonyms and the hidden personal data are exactly those of the customer list; each row
adds why the alert was raised and what to do next.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from corecustomers.web.customers.models import CustomerState
from corecustomers.web.customers.queries import (
    CustomerFilter,
    customer_page,
    sees_personal_data,
)
from corecustomers.web.customers.records import CustomerRow

__all__ = ["AlertPage", "AlertRow", "alert_page"]


@dataclass(frozen=True)
class AlertRow:
    customer: CustomerRow
    reason_en: str
    reason_zh: str
    action_code: str
    action_en: str
    action_zh: str
    action_channel: str
    action_due: dt.date | None


@dataclass(frozen=True)
class AlertPage:
    items: list[AlertRow]
    count: int
    limit: int
    offset: int


def alert_page(user: Any, *, limit: int = 50, offset: int = 0) -> AlertPage:
    """One page of the customers with an open alert that ``user`` sees, value at stake first."""
    page = customer_page(
        user,
        CustomerFilter(alert="yes", sort="-value_at_stake"),
        limit=limit,
        offset=offset,
        audit=False,
    )
    keys = [row.key for row in page.items]
    key_field = "customer__external_id" if sees_personal_data(user) else "customer__pseudonym"
    states = {
        state[key_field]: state
        for state in CustomerState.objects.restrict(user, "view")
        .filter(**{f"{key_field}__in": keys})
        .values(
            key_field,
            "alert_reason_en",
            "alert_reason_zh",
            "action_code",
            "action_en",
            "action_zh",
            "action_channel",
            "action_due",
        )
    }
    items = []
    for row in page.items:
        state = states.get(row.key, {})
        items.append(
            AlertRow(
                customer=row,
                reason_en=state.get("alert_reason_en", ""),
                reason_zh=state.get("alert_reason_zh", ""),
                action_code=state.get("action_code", ""),
                action_en=state.get("action_en", ""),
                action_zh=state.get("action_zh", ""),
                action_channel=state.get("action_channel", ""),
                action_due=state.get("action_due"),
            )
        )
    return AlertPage(items=items, count=page.count, limit=page.limit, offset=page.offset)
