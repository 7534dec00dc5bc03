"""Template tags of loyalty's panels: the data comes from :mod:`..panels` (no queries in
the templates themselves)."""

from __future__ import annotations

import uuid
from typing import Any

from django import template

from corecustomers.web.loyalty.panels import CrossTab, MemberPanel, crosstab, member_panel

register = template.Library()


@register.simple_tag(takes_context=True)
def loyalty_member(context: template.Context) -> MemberPanel | None:
    p, user = context.get("p"), context.get("user")
    key = getattr(p, "internal_key", None)
    if key is None or user is None:
        return None
    # the profile record was built for the page's user: it says what they may do
    return member_panel(user, int(key), can_change=bool(p.can_change))


@register.simple_tag(takes_context=True)
def loyalty_crosstab(context: template.Context) -> CrossTab | None:
    user = context.get("user")
    data = context.get("data")
    if user is None:
        return None
    order = [t.tier for t in getattr(data, "tiers", [])]
    return crosstab(user, order)


@register.filter
def cell_of(values: list[Any], index: int) -> Any:
    return values[index]


@register.simple_tag
def loyalty_key() -> str:
    """A fresh idempotency key per rendered form: a double submit changes points once."""
    return str(uuid.uuid4())
