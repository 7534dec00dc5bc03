"""What loyalty's panels on the profile and the dashboard show, as plain objects.

Access is decided in each query (``restrict``): a member the user may not see shows
nothing, and the dashboard's cross-tabulation counts only the customers in scope.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.db.models.functions import Coalesce
from django.utils.translation import get_language

from corecustomers.web.customers.models import Customer, CustomerState
from corecustomers.web.loyalty.events import invitations_of
from corecustomers.web.loyalty.ledger import Balance
from corecustomers.web.loyalty.models import Account, Gift, Level, LevelChange

__all__ = ["CrossTab", "MemberPanel", "crosstab", "level_name", "member_panel"]


def level_name(level: Level | None) -> str:
    if level is None:
        return ""
    zh = (get_language() or "").startswith("zh")
    return (level.name_zh or level.name_en) if zh else level.name_en


@dataclass(frozen=True)
class MemberPanel:
    balance: Balance
    level: str
    level_code: str | None
    manual_until: dt.date | None
    multiplier: str | None
    discount: str | None
    gifts: str
    event_access: bool
    history: list[dict[str, Any]]
    invitations: list[dict[str, Any]]
    member: bool
    can_change: bool = False
    can_adjust: bool = False
    #: (code, name) of every level, for the manual level form (managers)
    levels: list[tuple[str, str]] = field(default_factory=list)
    manual_code: str | None = None
    #: gifts in stock, for the gift form
    gifts_in_stock: list[dict[str, Any]] = field(default_factory=list)


def member_panel(
    user: Any, customer_pk: int, *, can_change: bool | None = None
) -> MemberPanel | None:
    """The profile panel's data, or ``None`` when the user may not see the customer.

    ``can_change`` is what the caller already knows -- the profile page's record, built for
    the same user, who may therefore see the customer; ``None``: both are checked here.
    """
    if can_change is None:
        if not Customer.objects.restrict(user, "view").filter(pk=customer_pk).exists():
            return None
        can_change = Customer.objects.restrict(user, "change").filter(pk=customer_pk).exists()
    account = (
        Account.objects.select_related("level", "manual_level")
        .filter(customer_id=customer_pk)
        .first()
    )
    balance = Balance.of(account)
    level = None
    if account is not None:
        level = account.manual_level if account.manual_level_id else account.level
    history = [
        {
            "on": row.on,
            "before": level_name(row.before),
            "after": level_name(row.after),
            "reason": row.reason,
        }
        for row in LevelChange.objects.filter(customer_id=customer_pk).select_related(
            "before", "after"
        )[:5]
    ]
    customer = Customer.objects.get(pk=customer_pk)
    invitations = [
        {
            "event": inv.event.name,
            "starts": inv.event.starts,
            "rsvp": inv.rsvp,
            "attended": inv.attended,
            "event_id": inv.event_id,
        }
        for inv in invitations_of(user, customer)
    ]
    can_adjust = can_change and bool(
        user.is_superuser or getattr(user, "role", "") in {"admin", "manager"}
    )
    return MemberPanel(
        balance=balance,
        level=level_name(level),
        level_code=level.code if level else None,
        manual_until=account.manual_until if account and account.manual_level_id else None,
        multiplier=str(level.multiplier) if level else None,
        discount=str(level.discount_percent.normalize()) if level else None,
        gifts=level.gifts if level else "",
        event_access=bool(level and level.event_access),
        history=history,
        invitations=invitations,
        member=account is not None,
        can_change=can_change,
        can_adjust=can_adjust,
        levels=[(lv.code, level_name(lv)) for lv in Level.objects.all()] if can_adjust else [],
        manual_code=account.manual_level.code if account and account.manual_level else None,
        gifts_in_stock=[
            {"id": g.pk, "name": g.name, "stock": g.stock}
            for g in Gift.objects.filter(stock__gt=0).order_by("name")[:50]
        ]
        if can_change
        else [],
    )


@dataclass(frozen=True)
class CrossTab:
    """Customers per engine tier (rows) and member level (columns)."""

    tiers: list[str]
    levels: list[tuple[str, str]]  # (code, name); "" is "no level"
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def cell(self, tier: str, level: str) -> int:
        return self.counts.get(tier, {}).get(level, 0)

    @property
    def rows(self) -> list[tuple[str, list[int]]]:
        return [(t, [self.cell(t, code) for code, _ in self.levels]) for t in self.tiers]


def crosstab(user: Any, tier_order: list[str]) -> CrossTab | None:
    """Engine tier × member level over the customers ``user`` may see (None: no members)."""
    if not Account.objects.exists():
        return None
    states = CustomerState.objects.restrict(user, "view")
    rows = (
        states.annotate(
            member_level=Coalesce(
                "customer__loyalty__manual_level__code", "customer__loyalty__level__code"
            )
        )
        .values("tier", "member_level")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["tier"], {})[row["member_level"] or ""] = int(row["n"])
    levels = [(lv.code, level_name(lv)) for lv in Level.objects.order_by("rank")]
    tiers = [t for t in tier_order if t in counts] + [t for t in counts if t not in tier_order]
    return CrossTab(tiers=tiers, levels=[*levels, ("", "")], counts=counts)
