"""The system of record for customers.

* :class:`Customer` -- master data (identity, contacts, company, region), the team that
  looks after it and its relationship level. Keyed by the source's external id.
* :class:`AccountMember` -- who is on a customer's account team: one owner, any number of
  support members, an executive sponsor.
* :class:`CustomerState` -- the latest analysis state, copied from an ``analyze`` output
  folder after each run for fast pages (the workspace stays the source of truth).
* :class:`CustomerHistory` -- one row per customer and snapshot date: tier and key scores.
* :class:`Analysis` -- each analysis the service imported, with its ``summary.json``.
* :class:`ServiceSetting` -- the settings an administrator changes on the Settings page.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from corecustomers.web.access import Action, RestrictedManager

if TYPE_CHECKING:
    from corecustomers.web.accounts.models import User

__all__ = [
    "SCOPE_INDEX_COLUMNS",
    "AccountMember",
    "AccountRole",
    "Analysis",
    "Customer",
    "CustomerHistory",
    "CustomerState",
    "DashboardCell",
    "DashboardCellStatus",
    "Relationship",
    "ServiceSetting",
    "TierOverride",
    "TrendCell",
    "customer_scope",
    "manager_reach",
    "settings_read_once",
]


class Relationship(models.TextChoices):
    VENDOR = "vendor", _("Vendor")
    PARTNER = "partner", _("Partner")
    ALLIANCE = "alliance", _("Strategic alliance")


class AccountRole(models.TextChoices):
    OWNER = "owner", _("Owner")
    SUPPORT = "support", _("Support")
    SPONSOR = "sponsor", _("Executive sponsor")


#: The settings stored when this request first asked for one (key → value; an empty
#: mapping until then), while :func:`settings_read_once` is active; ``None`` outside it.
_READ: ContextVar[dict[str, Any] | None] = ContextVar("service_settings_read", default=None)
_UNSET = object()
_LOADED = "\x00loaded"  # the key that marks ``_READ`` as filled (no setting has a NUL)


@contextlib.contextmanager
def settings_read_once() -> Iterator[None]:
    """Within the block (one request: see :class:`SettingsReadOnceMiddleware`), the
    :class:`ServiceSetting` rows are read from the database once, in one query (the table
    holds a few dozen keys), however many scope checks and panels ask for them; saving or
    deleting a setting forgets what was read."""
    token = _READ.set({})
    try:
        yield
    finally:
        _READ.reset(token)


class ServiceSetting(models.Model):
    """One setting of the service (key → JSON value); defaults live in ``DEFAULTS`` (and in
    the defaults of the apps that own further keys: work, contact)."""

    DEFAULTS: ClassVar[dict[str, Any]] = {"account_managers_see_unassigned": False}

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField()

    @classmethod
    def get(cls, key: str) -> Any:
        return cls.stored(key, cls.DEFAULTS[key])

    @classmethod
    def stored(cls, key: str, default: Any) -> Any:
        """The stored value of ``key``, else ``default``; a copy, safe to change.

        Read once per request (:func:`settings_read_once`), else at every call.
        """
        read = _READ.get()
        if read is None:
            row = cls.objects.filter(key=key).first()
            value = row.value if row is not None else _UNSET
        else:
            if _LOADED not in read:
                read.update(cls.objects.values_list("key", "value"))
                read[_LOADED] = True
            value = read.get(key, _UNSET)
        return copy.deepcopy(default if value is _UNSET else value)

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        _forget_settings()

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        deleted = super().delete(*args, **kwargs)
        _forget_settings()
        return deleted


def _forget_settings() -> None:
    read = _READ.get()
    if read is not None:
        read.clear()


def manager_reach(user: User) -> tuple[list[int], list[str]]:
    """A manager's teams (led or joined) and the regions they cover: the manager's scope
    is the customers of those teams or in those regions."""
    from corecustomers.web.accounts.models import Team

    rows = list(
        Team.objects.filter(Q(members=user) | Q(lead=user)).distinct().values_list("pk", "region")
    )
    return sorted({pk for pk, _ in rows}), sorted({region for _, region in rows if region})


def customer_scope(user: User, action: Action) -> Q | Literal[False] | None:
    """Which customers ``user`` (not an administrator) may reach for ``action``."""
    role = user.role
    if role == "analyst":
        # Aggregates and pseudonymised rows of every customer; never a change.
        return None if action in {"view", "export"} else False
    if role == "manager":
        if action == "admin":
            return False
        team_ids, regions = manager_reach(user)
        # The team ids as values, not a sub-query: PostgreSQL can then combine the two
        # indexes (team, region) instead of scanning every customer for the OR.
        condition = Q(team__in=team_ids)
        if regions:
            condition |= Q(region__in=regions)
        return condition
    if role == "account_manager":
        if action in {"assign", "admin"}:
            return False
        mine = Q(pk__in=AccountMember.objects.filter(user=user).values("customer_id"))
        if ServiceSetting.get("account_managers_see_unassigned"):
            mine |= ~Exists(AccountMember.objects.filter(customer=OuterRef("pk")))
        return mine
    return False


class Customer(models.Model):
    """A customer: master data and who looks after them."""

    external_id = models.CharField(max_length=200, unique=True)
    pseudonym = models.CharField(max_length=24, unique=True)
    name = models.CharField(max_length=200, blank=True, default="")
    company = models.CharField(max_length=200, blank=True, default="")
    phone = models.CharField(max_length=50, blank=True, default="")
    email = models.CharField(max_length=254, blank=True, default="")
    birthday = models.DateField(null=True, blank=True)
    region = models.CharField(max_length=100, blank=True, default="", db_index=True)
    industry = models.CharField(max_length=100, blank=True, default="")
    relationship = models.CharField(
        max_length=20, choices=Relationship.choices, blank=True, default=""
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    notes = models.TextField(blank=True, default="")
    in_master_data = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now)
    updated = models.DateTimeField(auto_now=True)

    objects = RestrictedManager["Customer"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["external_id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["name"]),
            models.Index(fields=["phone"]),
            models.Index(fields=["company"]),
        ]

    def __str__(self) -> str:
        return self.external_id

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return customer_scope(user, action)


def _through_customer(user: User, action: Action) -> Q | Literal[False] | None:
    condition = customer_scope(user, action)
    if condition is None or condition is False:
        return condition
    return Q(customer__in=Customer.objects.filter(condition).values("pk"))


class AccountMember(models.Model):
    """A person on a customer's account team."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="account_team")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="accounts")
    role = models.CharField(max_length=10, choices=AccountRole.choices)
    since = models.DateTimeField(default=timezone.now)

    objects = RestrictedManager["AccountMember"]()

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["customer", "user", "role"], name="one_role_each"),
            models.UniqueConstraint(
                fields=["customer"], condition=Q(role="owner"), name="one_owner"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["user", "customer"])]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class Analysis(models.Model):
    """An analysis the service imported from an ``analyze`` output folder."""

    run_id = models.CharField(max_length=64, unique=True)
    as_of = models.DateField(db_index=True)
    source = models.CharField(max_length=500, blank=True, default="")
    folder = models.CharField(max_length=1000, blank=True, default="")
    n_customers = models.IntegerField(default=0)
    summary = models.JSONField()
    imported_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["-as_of", "-imported_at"]
        verbose_name_plural = "analyses"


#: The state columns of the scope indexes after the scope column(s): what the dashboard
#: aggregates and the list's state filters read.
SCOPE_INDEX_COLUMNS = [
    "run_id",
    "tier",
    "previous_tier",
    "alert",
    "total_spend",
    "clv",
    "value_at_stake",
    "customer",
]


class CustomerState(models.Model):
    """The latest analysis state of a customer (one row each; replaced by each import)."""

    customer = models.OneToOneField(
        Customer, primary_key=True, on_delete=models.CASCADE, related_name="state"
    )
    as_of = models.DateField()
    run_id = models.CharField(max_length=64)
    # No index of its own: the first column of (tier, core_score) and state_tier_alert_stake
    # (migration 0007).
    tier = models.CharField(max_length=40)
    previous_tier = models.CharField(max_length=40, blank=True, default="")
    tier_since = models.DateField(null=True, blank=True)
    tier_reason_en = models.TextField(blank=True, default="")
    tier_reason_zh = models.TextField(blank=True, default="")
    tier_basis = models.CharField(max_length=40, blank=True, default="")
    core = models.BooleanField(default=False)
    core_score = models.FloatField(null=True, db_index=True)
    clv = models.FloatField(null=True, db_index=True)
    p_alive = models.FloatField(null=True)
    expected_purchases = models.FloatField(null=True)
    value_at_stake = models.FloatField(null=True, db_index=True)
    total_spend = models.FloatField(default=0.0)
    frequency = models.IntegerField(default=0)
    n_orders = models.IntegerField(default=0)
    monetary_value = models.FloatField(null=True)
    days_since_last_purchase = models.IntegerField(null=True)
    first_purchase = models.DateField(null=True)
    last_purchase = models.DateField(null=True)
    mean_gap_days = models.FloatField(null=True)
    spend_trend = models.FloatField(null=True)
    expected_next_purchase = models.DateField(null=True)
    rfm_segment = models.CharField(max_length=60, blank=True, default="", db_index=True)
    rfm_segment_label = models.CharField(max_length=100, blank=True, default="")
    r_score = models.IntegerField(null=True)
    f_score = models.IntegerField(null=True)
    m_score = models.IntegerField(null=True)
    abc_class = models.CharField(max_length=4, blank=True, default="", db_index=True)
    alert = models.BooleanField(default=False)  # indexed first in (alert, value_at_stake)
    alert_code = models.CharField(max_length=100, blank=True, default="")
    alert_reason_en = models.TextField(blank=True, default="")
    alert_reason_zh = models.TextField(blank=True, default="")
    action_code = models.CharField(max_length=40, blank=True, default="")
    action_en = models.TextField(blank=True, default="")
    action_zh = models.TextField(blank=True, default="")
    action_channel = models.CharField(max_length=40, blank=True, default="")
    action_due = models.DateField(null=True)
    recommendations = models.JSONField(default=list)
    pattern = models.JSONField(default=dict)
    # The customer's region and team, copied by database triggers (``scope_copy.py``) so
    # that a manager's dashboard and counts read one index of the states instead of joining
    # every customer. Never set by the application: the triggers overwrite what it writes.
    scope_region = models.CharField(max_length=100, blank=True, default="", db_default="")
    scope_team = models.IntegerField(null=True, blank=True)

    objects = RestrictedManager["CustomerState"]()

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["tier", "core_score"]),
            models.Index(fields=["alert", "value_at_stake"]),
            # Two more, for the list's orders, are made by migration 0003 with SQL per
            # database, because SQLite cannot say NULLS LAST in an index: core score first,
            # and tier + alert with the most value at stake first.
            # The dashboard's aggregates per tier and previous tier, from the index alone
            # on PostgreSQL (the included columns are ignored elsewhere).
            models.Index(
                fields=["run_id", "tier", "previous_tier", "alert"],
                include=["customer", "total_spend", "clv", "value_at_stake"],
                name="state_dashboard",
            ),
            # The same per region and per team, for a part of the base (a manager's scope,
            # see ``state_scope``): every column a key, so that SQLite reads them from the
            # index too; partial, so that customers without a region or team cost nothing.
            models.Index(
                fields=["scope_region", *SCOPE_INDEX_COLUMNS],
                condition=~Q(scope_region=""),
                name="state_scope_region",
            ),
            models.Index(
                fields=["scope_team", "scope_region", *SCOPE_INDEX_COLUMNS],
                condition=Q(scope_team__isnull=False),
                name="state_scope_team",
            ),
            # A region's biggest spenders in order (the top fifth's share on a manager's
            # dashboard) instead of sorting every state of the region.
            models.Index(
                fields=["scope_region", "run_id", "total_spend"],
                condition=~Q(scope_region=""),
                name="state_scope_region_spend",
            ),
        ]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class CustomerHistory(models.Model):
    """A customer's tier and key scores on one snapshot date."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="history")
    as_of = models.DateField()
    tier = models.CharField(max_length=40)
    core_score = models.FloatField(null=True)
    clv = models.FloatField(null=True)
    p_alive = models.FloatField(null=True)
    total_spend = models.FloatField(null=True)
    run_id = models.CharField(max_length=64, blank=True, default="")

    objects = RestrictedManager["CustomerHistory"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["customer", "as_of"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["customer", "as_of"], name="one_point_per_date")
        ]
        # The dashboard's core customers per analysis for a part of the base.
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["as_of", "tier", "customer"], name="history_trend")
        ]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class TierOverride(models.Model):
    """A manual tier, mirrored from (and pushed to) the workspace's ``overrides`` table.

    The workspace is the source of truth that ``analyze`` reads; this row lets pages show
    the override at once and carries a change made on a page until the worker has written
    it to the workspace (``synced`` false; ``removed`` marks a removal not yet written).
    """

    customer = models.OneToOneField(
        Customer, primary_key=True, on_delete=models.CASCADE, related_name="override"
    )
    tier = models.CharField(max_length=40)
    by = models.CharField(max_length=150)
    reason = models.TextField()
    until = models.DateField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    origin = models.CharField(max_length=10, default="web")
    synced = models.BooleanField(default=False)
    removed = models.BooleanField(default=False)

    objects = RestrictedManager["TierOverride"]()

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class DashboardCell(models.Model):
    """The dashboard's sums over the states of one run, region, team, tier and previous tier.

    Kept true by database triggers and rebuilt after each import (see ``cells.py``); never
    written by the application otherwise.
    """

    run_id = models.CharField(max_length=64)
    scope_region = models.CharField(max_length=100, blank=True, default="")
    scope_team = models.IntegerField(null=True, blank=True)
    tier = models.CharField(max_length=40)
    previous_tier = models.CharField(max_length=40, blank=True, default="")
    n = models.IntegerField(default=0)
    revenue = models.FloatField(null=True)
    clv = models.FloatField(null=True)
    alerts = models.IntegerField(default=0)
    stake = models.FloatField(null=True)
    #: customers of the cell with an owner on their account team
    owned = models.IntegerField(default=0)

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["run_id", "tier", "previous_tier"], name="cell_run_tier")
        ]


class TrendCell(models.Model):
    """History points per snapshot date, customer region, team and tier (``cells.py``)."""

    as_of = models.DateField()
    scope_region = models.CharField(max_length=100, blank=True, default="")
    scope_team = models.IntegerField(null=True, blank=True)
    tier = models.CharField(max_length=40)
    n = models.IntegerField(default=0)

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["as_of", "tier"], name="trend_cell_date_tier")
        ]


class DashboardCellStatus(models.Model):
    """One row (``id`` 1): whether the cells may differ from the states (``cells.py``)."""

    id = models.IntegerField(primary_key=True)
    stale = models.BooleanField(default=True)
