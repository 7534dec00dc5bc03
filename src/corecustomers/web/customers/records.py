"""The plain objects pages, the API and exports get (frozen dataclasses, no ORM rows).

Personal fields (``name``, ``company``, ``phone``, ``email``, ``birthday``, ``notes``) are
``None`` for a user who may not see personal data (the analyst); ``key`` is then the stable
pseudonym instead of the external id. Building these objects is the one place where that
rule is applied, so no template or serializer can forget it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AccountMemberRecord",
    "CustomerRow",
    "Dashboard",
    "HistoryPoint",
    "OverrideRecord",
    "Page",
    "Profile",
    "TierCount",
]


@dataclass(frozen=True)
class CustomerRow:
    """One line of the customer list (and of its CSV export)."""

    key: str
    name: str | None
    company: str | None
    phone: str | None
    region: str
    tier: str
    segment: str
    abc_class: str
    core_score: float | None
    clv: float | None
    value_at_stake: float | None
    p_alive: float | None
    total_spend: float | None
    alert: bool
    owner: str | None
    team: str | None
    relationship: str
    overridden: bool


@dataclass(frozen=True)
class Page:
    items: list[CustomerRow]
    count: int
    limit: int
    offset: int


@dataclass(frozen=True)
class HistoryPoint:
    as_of: dt.date
    tier: str
    core_score: float | None
    clv: float | None
    p_alive: float | None
    total_spend: float | None


@dataclass(frozen=True)
class AccountMemberRecord:
    username: str
    full_name: str
    role: str


@dataclass(frozen=True)
class OverrideRecord:
    tier: str
    by: str
    reason: str
    until: dt.date | None
    created: dt.datetime
    origin: str
    pending: bool


@dataclass(frozen=True)
class Profile:
    """Everything the profile page (客户档案) and ``GET /customers/{id}`` show."""

    key: str
    internal_key: int
    name: str | None
    company: str | None
    phone: str | None
    email: str | None
    birthday: dt.date | None
    notes: str | None
    region: str
    industry: str
    relationship: str
    team: str | None
    personal_data_hidden: bool
    as_of: dt.date | None
    tier: str | None
    previous_tier: str | None
    tier_since: dt.date | None
    tier_reason_en: str
    tier_reason_zh: str
    segment: str
    segment_label: str
    abc_class: str
    core: bool
    core_score: float | None
    clv: float | None
    p_alive: float | None
    expected_purchases: float | None
    value_at_stake: float | None
    alert: bool
    alert_reason_en: str
    alert_reason_zh: str
    action_code: str
    action_en: str
    action_zh: str
    action_channel: str
    action_due: dt.date | None
    recommendations: list[str]
    pattern: dict[str, Any]
    total_spend: float | None
    frequency: int | None
    n_orders: int | None
    monetary_value: float | None
    first_purchase: dt.date | None
    last_purchase: dt.date | None
    days_since_last_purchase: int | None
    mean_gap_days: float | None
    spend_trend: float | None
    expected_next_purchase: dt.date | None
    history: list[HistoryPoint]
    account_team: list[AccountMemberRecord]
    override: OverrideRecord | None
    can_change: bool


@dataclass(frozen=True)
class TierCount:
    tier: str
    label_en: str
    label_zh: str
    core: bool
    customers: int
    revenue: float
    clv: float
    alerts: int
    value_at_stake: float


@dataclass(frozen=True)
class Dashboard:
    """The management view of the customers a user may see."""

    as_of: dt.date | None
    customers: int
    revenue: float
    top_20pct_share: float | None
    gini: float | None
    clv: float
    tiers: list[TierCount]
    core_customers: int
    flows: dict[str, int]
    trend: list[dict[str, Any]]
    open_alerts: int
    value_at_stake: float
    core_without_owner: int
    currency: str
    whole_base: bool
    analyses: int = 0
    #: core customers without an owner, by core tier (sums to ``core_without_owner``)
    without_owner_by_tier: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
