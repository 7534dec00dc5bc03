"""Wire schemas of the customer API, built from the read path's frozen records.

Never from ORM rows: :mod:`corecustomers.web.customers.records` has already applied the
personal-data rule (``None`` for an analyst, the pseudonym as ``key``), so these schemas
only describe and serialise. Floats that are not finite become ``null`` (JSON has no NaN).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import BeforeValidator

__all__ = [
    "AccountMemberOut",
    "AccountTeamIn",
    "AccountTeamOut",
    "AlertListOut",
    "AlertOut",
    "CustomerListOut",
    "CustomerOut",
    "DashboardOut",
    "HistoryListOut",
    "HistoryPointOut",
    "MeOut",
    "NotesIn",
    "NotesOut",
    "OverrideIn",
    "OverrideOut",
    "ProfileOut",
    "TierCountOut",
]


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


Number = Annotated[float | None, BeforeValidator(_finite)]
RelationshipName = Literal["vendor", "partner", "alliance"]


class CustomerOut(Schema):
    """One customer in a list: ``key`` is the external id, or the pseudonym for analysts."""

    key: str
    name: str | None
    company: str | None
    phone: str | None
    region: str
    tier: str
    segment: str
    abc_class: str
    core_score: Number
    clv: Number
    value_at_stake: Number
    p_alive: Number
    total_spend: Number
    alert: bool
    owner: str | None
    team: str | None
    relationship: str
    overridden: bool


class CustomerListOut(Schema):
    items: list[CustomerOut]
    count: int
    limit: int
    offset: int


class HistoryPointOut(Schema):
    as_of: dt.date
    tier: str
    core_score: Number
    clv: Number
    p_alive: Number
    total_spend: Number


class HistoryListOut(Schema):
    items: list[HistoryPointOut]
    count: int
    limit: int
    offset: int


class AccountMemberOut(Schema):
    username: str
    full_name: str
    role: str


class OverrideOut(Schema):
    tier: str
    by: str
    reason: str
    until: dt.date | None
    created: dt.datetime
    origin: str
    pending: bool = Field(
        description="true until the worker has written the override to the workspace"
    )


class ProfileOut(Schema):
    """The customer profile (客户档案); personal fields are ``null`` for analysts."""

    key: str
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
    core_score: Number
    clv: Number
    p_alive: Number
    expected_purchases: Number
    value_at_stake: Number
    alert: bool
    alert_reason_en: str
    alert_reason_zh: str
    action_code: str
    action_en: str
    action_zh: str
    action_channel: str
    action_due: dt.date | None
    recommendations: list[Any]
    pattern: dict[str, Any]
    total_spend: Number
    frequency: int | None
    n_orders: int | None
    monetary_value: Number
    first_purchase: dt.date | None
    last_purchase: dt.date | None
    days_since_last_purchase: int | None
    mean_gap_days: Number
    spend_trend: Number
    expected_next_purchase: dt.date | None
    history: list[HistoryPointOut]
    account_team: list[AccountMemberOut]
    override: OverrideOut | None
    can_change: bool


class AlertOut(Schema):
    customer: CustomerOut
    reason_en: str
    reason_zh: str
    action_code: str
    action_en: str
    action_zh: str
    action_channel: str
    action_due: dt.date | None


class AlertListOut(Schema):
    items: list[AlertOut]
    count: int
    limit: int
    offset: int


class TierCountOut(Schema):
    tier: str
    label_en: str
    label_zh: str
    core: bool
    customers: int
    revenue: Number
    clv: Number
    alerts: int
    value_at_stake: Number


class TrendPointOut(Schema):
    as_of: dt.date
    core_customers: int


class DashboardOut(Schema):
    """Counts over the customers the caller may see (the whole base for admins, analysts)."""

    as_of: dt.date | None
    customers: int
    revenue: Number
    top_20pct_share: Number
    gini: Number
    clv: Number
    tiers: list[TierCountOut]
    core_customers: int
    flows: dict[str, int]
    trend: list[TrendPointOut]
    open_alerts: int
    value_at_stake: Number
    core_without_owner: int
    currency: str
    whole_base: bool
    analyses: int
    notes: list[str]


class OverrideIn(Schema):
    tier: str = Field(min_length=1, max_length=40, description="a tier of the latest analysis")
    reason: str = Field(min_length=1, max_length=2000, description="why the tier is held")
    until: dt.date | None = Field(None, description="the last day it holds; none = until removed")


class AccountTeamIn(Schema):
    """The account team in full (a PUT replaces it): user names, a team name."""

    owner: str | None = Field(None, max_length=150)
    support: list[Annotated[str, Field(min_length=1, max_length=150)]] = Field(
        default_factory=list, max_length=20
    )
    sponsor: str | None = Field(None, max_length=150)
    team: str | None = Field(None, max_length=100)
    relationship: RelationshipName | None = None


class AccountTeamOut(Schema):
    owner: str | None
    support: list[str]
    sponsor: str | None
    team: str | None
    relationship: str | None


class NotesIn(Schema):
    notes: str = Field(max_length=20_000)


class NotesOut(Schema):
    notes: str


class MeOut(Schema):
    username: str
    full_name: str
    role: str
    teams: list[str]
    language: str
    sees_personal_data: bool
    scope: Literal["read", "write"] = Field(description="what the credentials allow")
