"""Reading customers for a user: list, search, export, profile, dashboard.

Every function starts from ``Customer.objects.restrict(user, action)``, so pages, the API
and exports cannot show a customer the user may not reach; a customer outside the scope is
:class:`CustomerNotFoundError` (answered as 404, so existence does not leak). Searches, profile
views and exports are written to the audit trail here, once for every caller.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from django.db import connection
from django.db.models import (
    Exists,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)

from corecustomers.web.access import reaches_everything
from corecustomers.web.audit.log import record
from corecustomers.web.customers.dashboard import dashboard, tier_labels
from corecustomers.web.customers.models import (
    AccountMember,
    Customer,
    CustomerHistory,
    CustomerState,
    Relationship,
    TierOverride,
)
from corecustomers.web.customers.records import (
    AccountMemberRecord,
    CustomerRow,
    HistoryPoint,
    OverrideRecord,
    Page,
    Profile,
)
from corecustomers.web.customers.scope import state_scope

__all__ = [
    "MAX_LIMIT",
    "MOVEMENTS",
    "SORTS",
    "CustomerFilter",
    "CustomerNotFoundError",
    "FilterError",
    "customer_page",
    "customer_queryset",
    "dashboard",
    "export_csv",
    "find_customer",
    "profile",
    "regions",
    "sees_personal_data",
    "tier_labels",
]

MAX_LIMIT = 500

#: Sort keys (a leading ``-`` for descending) and the column each sorts by.
SORTS: dict[str, str] = {
    "core_score": "state__core_score",
    "clv": "state__clv",
    "value_at_stake": "state__value_at_stake",
    "total_spend": "state__total_spend",
    "p_alive": "state__p_alive",
    "id": "external_id",
}


#: Movements of core customers since the previous snapshot (``CustomerFilter.movement``).
MOVEMENTS = ("won", "kept", "downgraded", "lost")


class CustomerNotFoundError(LookupError):
    """No customer with that key that the user may reach (answer 404)."""


class FilterError(ValueError):
    """A filter value is invalid; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def sees_personal_data(user: Any) -> bool:
    return bool(user.is_superuser or getattr(user, "role", "") != "analyst")


@dataclass(frozen=True)
class CustomerFilter:
    """The filters of the Customers page, ``GET /customers`` and the CSV export.

    ``owner`` is a user name, or ``none`` for customers without an owner; ``alert`` is
    ``yes`` or ``no``; ``core`` is ``yes`` (a core tier now) or ``no``; ``movement`` one of
    :data:`MOVEMENTS` since the previous snapshot (the dashboard's definitions, see
    :func:`_flows`); ``sort`` one of :data:`SORTS` with an optional leading ``-``.
    """

    q: str = ""
    tier: str = ""
    segment: str = ""
    abc: str = ""
    alert: str = ""
    owner: str = ""
    team: str = ""
    region: str = ""
    relationship: str = ""
    core: str = ""
    movement: str = ""
    sort: str = "-core_score"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CustomerFilter:
        """Parse query parameters; unknown keys are ignored, bad values raise FilterError."""
        values = {
            f.name: str(data.get(f.name) or "").strip()[:200]
            for f in fields(cls)
            if data.get(f.name) not in (None, "")
        }
        flt = cls(**values)
        if flt.sort.lstrip("-") not in SORTS:
            raise FilterError(
                "sort", f"sort by one of {', '.join(SORTS)} (a leading - for descending)"
            )
        if flt.alert not in {"", "yes", "no"}:
            raise FilterError("alert", "alert is yes or no")
        if flt.core not in {"", "yes", "no"}:
            raise FilterError("core", "core is yes or no")
        if flt.movement and flt.movement not in MOVEMENTS:
            raise FilterError("movement", f"movement is one of {', '.join(MOVEMENTS)}")
        if flt.abc and flt.abc not in {"A", "B", "C"}:
            raise FilterError("abc", "abc is A, B or C")
        if flt.relationship and flt.relationship not in Relationship.values:
            raise FilterError(
                "relationship", f"relationship is one of {', '.join(Relationship.values)}"
            )
        return flt

    def active(self) -> dict[str, str]:
        """The filters that are set (the sort left out), for the audit and the page."""
        return {k: v for k, v in asdict(self).items() if v and k != "sort"}


def _owner_name() -> Subquery:
    return Subquery(
        AccountMember.objects.filter(customer=OuterRef("pk"), role="owner").values(
            "user__username"
        )[:1]
    )


def customer_queryset(user: Any, flt: CustomerFilter, action: str = "view") -> QuerySet[Customer]:
    """The customers ``user`` may reach for ``action``, filtered and sorted by ``flt``."""
    qs = Customer.objects.restrict(user, action)  # type: ignore[arg-type]
    if flt.q:
        if sees_personal_data(user):
            q = flt.q
            qs = qs.filter(
                Q(external_id__icontains=q)
                | Q(name__icontains=q)
                | Q(phone__icontains=q)
                | Q(company__icontains=q)
            )
        else:  # an analyst finds a customer by pseudonym only
            qs = qs.filter(pseudonym=flt.q.lower())
    if flt.tier:
        qs = qs.filter(state__tier=flt.tier)
    if flt.segment:
        qs = qs.filter(state__rfm_segment=flt.segment)
    if flt.abc:
        qs = qs.filter(state__abc_class=flt.abc)
    if flt.alert:
        # ``IN (value)``, not ``= value``: Django writes ``alert = true`` as the bare column,
        # which SQLite cannot match to an index column, so it read every customer of the
        # tier and sorted them (0.8 s for 50k customers); as an equality it walks the
        # alert index in the list's order (13 ms). PostgreSQL reads both as ``= true``.
        qs = qs.filter(state__alert__in=[flt.alert == "yes"])
    if flt.owner:
        if flt.owner == "none":
            qs = qs.filter(
                ~Exists(AccountMember.objects.filter(customer=OuterRef("pk"), role="owner"))
            )
        else:
            qs = qs.filter(
                Exists(
                    AccountMember.objects.filter(
                        customer=OuterRef("pk"), role="owner", user__username=flt.owner
                    )
                )
            )
    if flt.team:
        qs = qs.filter(team__name=flt.team)
    if flt.region:
        qs = qs.filter(region=flt.region)
    if flt.relationship:
        qs = qs.filter(relationship=flt.relationship)
    if flt.core or flt.movement:
        order, core, _ = tier_labels()
        if flt.core:
            is_core = Q(state__tier__in=core)
            qs = qs.filter(is_core if flt.core == "yes" else ~is_core)
        if flt.movement:
            qs = qs.filter(_movement(flt.movement, order, core))
    column = SORTS[flt.sort.lstrip("-")]
    key: Any = F(column)
    if column != "external_id" and getattr(user, "role", "") == "account_manager":
        # An account manager's book is small: sort its matches rather than let PostgreSQL
        # walk an index of every customer in this order hoping to meet them early (unowned
        # strategic customers with 1M customers: 10 s walking, 80 ms sorting). Same order.
        key = ExpressionWrapper(F(column) * 1.0, output_field=FloatField())
    order = key.desc(nulls_last=True) if flt.sort.startswith("-") else key.asc(nulls_last=True)
    return qs.order_by(order, "pk")


def _movement(movement: str, order: list[str], core: list[str]) -> Q:
    """The customers that made ``movement``, by the same rules as :func:`_flows`."""
    rank = {tier: i for i, tier in enumerate(order)}
    lowest = len(order) - 1
    was_core = Q(state__previous_tier__in=core)
    if movement == "won":
        return ~was_core & Q(state__tier__in=core)
    if movement == "lost":
        return was_core & Q(state__tier=order[lowest]) if order else Q(pk__in=[])
    condition = Q(pk__in=[])
    for before in core:
        if movement == "kept":
            now = [t for t in order if rank[t] <= rank[before]]
        else:  # downgraded: worse, but not the lowest tier
            now = [t for t in order if rank[before] < rank[t] < lowest]
        condition |= Q(state__previous_tier=before, state__tier__in=now)
    return condition


def _row(customer: Customer, personal: bool) -> CustomerRow:
    state: CustomerState | None = getattr(customer, "state", None)
    return CustomerRow(
        key=customer.external_id if personal else customer.pseudonym,
        name=customer.name if personal else None,
        company=customer.company if personal else None,
        phone=customer.phone if personal else None,
        region=customer.region,
        tier=state.tier if state else "",
        segment=state.rfm_segment if state else "",
        abc_class=state.abc_class if state else "",
        core_score=state.core_score if state else None,
        clv=state.clv if state else None,
        value_at_stake=state.value_at_stake if state else None,
        p_alive=state.p_alive if state else None,
        total_spend=state.total_spend if state else None,
        alert=bool(state and state.alert),
        owner=customer.owner_name,  # type: ignore[attr-defined]
        team=customer.team.name if customer.team else None,
        relationship=customer.relationship,
        overridden=customer.has_override,  # type: ignore[attr-defined]
    )


def _annotated(qs: QuerySet[Customer]) -> QuerySet[Customer]:
    return qs.select_related("state", "team").annotate(
        owner_name=_owner_name(),
        has_override=Exists(TierOverride.objects.filter(customer=OuterRef("pk"), removed=False)),
    )


#: Filters that select on the customer's analysis state alone, each a column equal to a
#: value (so a customer matches exactly when its one state row does).
_STATE_FILTERS = {"tier": "tier", "segment": "rfm_segment", "abc": "abc_class", "alert": "alert"}


def _count(user: Any, flt: CustomerFilter, qs: QuerySet[Customer]) -> int:
    """How many customers ``qs`` holds.

    When every filter is a state column, that is the number of matching states (one per
    customer) in the user's scope: counted from the state's indexes, per part of the
    scope (:func:`state_scope`), not through a join with every customer (on PostgreSQL
    with 1M customers, 14 ms instead of 330 ms for ``tier`` and ``alert`` over the whole
    base; for a manager's 100k customers two index-only scans instead of a scan of both
    tables).
    """
    active = flt.active()
    if active and set(active) <= set(_STATE_FILTERS):
        conditions = {
            column: (flt.alert == "yes") if name == "alert" else active[name]
            for name, column in _STATE_FILTERS.items()
            if name in active
        }
        parts = state_scope(user, "view")
        if parts is None:
            return CustomerState.objects.filter(**conditions).count()
        return sum(part.states().filter(**conditions).count() for part in parts)
    return qs.count()


def regions(user: Any) -> list[str]:
    """The regions (not empty) of the customers ``user`` may see, sorted.

    For a user who sees every customer, read from the region index one value at a time
    (a recursive query: each step asks for the next region after the last; 11 index
    probes for 10 regions instead of reading 1M customers, 2 s on PostgreSQL).
    """
    if not reaches_everything(Customer, user, "view"):
        visible = Customer.objects.restrict(user, "view")  # type: ignore[arg-type]
        return sorted(set(visible.exclude(region="").values_list("region", flat=True).distinct()))
    quote = connection.ops.quote_name
    table, column = quote(Customer._meta.db_table), quote("region")
    sql = (
        f"WITH RECURSIVE r(region) AS ("
        f"SELECT (SELECT {column} FROM {table} WHERE {column} > '' ORDER BY {column} LIMIT 1) "
        f"UNION ALL SELECT (SELECT {column} FROM {table} WHERE {column} > r.region "
        f"ORDER BY {column} LIMIT 1) "
        f"FROM r WHERE r.region IS NOT NULL) "
        f"SELECT region FROM r WHERE region IS NOT NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [row[0] for row in cursor.fetchall()]


def _rows(qs: QuerySet[Customer], flt: CustomerFilter, offset: int, limit: int) -> list[Customer]:
    """The customers at ``[offset, offset + limit)`` of ``qs`` in its order.

    Sorted by a state column, the customers that have a value in it come first (nulls
    last, either direction), so while a page lies among them it is the same page of
    those customers alone: an inner join that PostgreSQL reads in the order of the
    state's index, stopping after the page. The plain query (a left join, since customers
    without an analysis state are listed too) sorts every customer: 8-17 s for the
    unfiltered list of 1M customers, against 0.1 s. A short first answer means the page
    reaches the customers without a value, and the plain query answers.
    """
    column = SORTS[flt.sort.lstrip("-")]
    if column.startswith("state__"):
        # Ties broken by the state's customer key, the same value as the customer's in an
        # inner join, so that SQLite too sees the order of the state's indexes.
        among = qs.filter(**{f"{column}__isnull": False}).order_by(
            qs.query.order_by[0], "state__customer_id"
        )
        head = list(_annotated(among)[offset : offset + limit])
        if len(head) == limit:
            return head
    return list(_annotated(qs)[offset : offset + limit])


def customer_page(
    user: Any, flt: CustomerFilter, *, limit: int = 50, offset: int = 0, audit: bool = True
) -> Page:
    """One page of the customer list; a search or filter is audited with its row count."""
    if not 1 <= limit <= MAX_LIMIT:
        raise FilterError("limit", f"limit is between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise FilterError("offset", "offset is 0 or more")
    qs = customer_queryset(user, flt)
    count = _count(user, flt, qs)
    personal = sees_personal_data(user)
    items = [_row(c, personal) for c in _rows(qs, flt, offset, limit)]
    if audit and flt.active():
        record("search", object_type="customer", query=flt.active(), row_count=count, user=user)
    return Page(items=items, count=count, limit=limit, offset=offset)


EXPORT_COLUMNS = [f.name for f in fields(CustomerRow)]


def export_csv(user: Any, flt: CustomerFilter) -> Iterator[str]:
    """The CSV lines of the customers ``user`` may export under ``flt`` (audited).

    Text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``,
    ``-``, ``@``, a tab or a carriage return) get a leading apostrophe; numbers stay numbers.
    """
    qs = customer_queryset(user, flt, "export")
    count = qs.count()
    record("export", object_type="customer", query=flt.active() or {}, row_count=count, user=user)
    personal = sees_personal_data(user)
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow(EXPORT_COLUMNS)
    yield "\ufeff" + flush()
    for customer in _annotated(qs).iterator(chunk_size=2000):
        row = asdict(_row(customer, personal))
        writer.writerow([_cell(row[name]) for name in EXPORT_COLUMNS])
        yield flush()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        return "'" + value
    return value


def find_customer(user: Any, key: str, action: str = "view") -> Customer:
    """The customer with external id (or pseudonym) ``key`` that ``user`` may reach.

    Analysts reach customers by pseudonym only; everyone else by external id or pseudonym.
    """
    qs = Customer.objects.restrict(user, action)  # type: ignore[arg-type]
    if sees_personal_data(user):
        found = qs.filter(Q(external_id=key) | Q(pseudonym=key)).first()
    else:
        found = qs.filter(pseudonym=key).first()
    if found is None:
        raise CustomerNotFoundError(key)
    return found


def profile(user: Any, customer: Customer, *, audit: bool = True) -> Profile:
    """The profile of ``customer`` (found with :func:`find_customer`) for ``user``."""
    personal = sees_personal_data(user)
    state = CustomerState.objects.filter(customer=customer).first()
    history = [
        HistoryPoint(h.as_of, h.tier, h.core_score, h.clv, h.p_alive, h.total_spend)
        for h in CustomerHistory.objects.filter(customer=customer).order_by("as_of")
    ]
    team = [
        AccountMemberRecord(m.user.username, m.user.get_full_name() if personal else "", m.role)
        for m in AccountMember.objects.filter(customer=customer)
        .select_related("user")
        .order_by("role", "user__username")
    ]
    override_row = TierOverride.objects.filter(customer=customer, removed=False).first()
    override = (
        OverrideRecord(
            override_row.tier,
            override_row.by if personal else "",
            override_row.reason,
            override_row.until,
            override_row.created,
            override_row.origin,
            not override_row.synced,
        )
        if override_row
        else None
    )
    can_change = Customer.objects.restrict(user, "change").filter(pk=customer.pk).exists()  # type: ignore[arg-type]
    if audit:
        record(
            "view",
            object_type="customer",
            object_key=customer.pk,
            customer_key=customer.pk,
            user=user,
        )
    s = state
    return Profile(
        key=customer.external_id if personal else customer.pseudonym,
        internal_key=customer.pk,
        name=customer.name if personal else None,
        company=customer.company if personal else None,
        phone=customer.phone if personal else None,
        email=customer.email if personal else None,
        birthday=customer.birthday if personal else None,
        notes=customer.notes if personal else None,
        region=customer.region,
        industry=customer.industry,
        relationship=customer.relationship,
        team=customer.team.name if customer.team else None,
        personal_data_hidden=not personal,
        as_of=s.as_of if s else None,
        tier=s.tier if s else None,
        previous_tier=(s.previous_tier or None) if s else None,
        tier_since=s.tier_since if s else None,
        tier_reason_en=s.tier_reason_en if s else "",
        tier_reason_zh=s.tier_reason_zh if s else "",
        segment=s.rfm_segment if s else "",
        segment_label=s.rfm_segment_label if s else "",
        abc_class=s.abc_class if s else "",
        core=bool(s and s.core),
        core_score=s.core_score if s else None,
        clv=s.clv if s else None,
        p_alive=s.p_alive if s else None,
        expected_purchases=s.expected_purchases if s else None,
        value_at_stake=s.value_at_stake if s else None,
        alert=bool(s and s.alert),
        alert_reason_en=s.alert_reason_en if s else "",
        alert_reason_zh=s.alert_reason_zh if s else "",
        action_code=s.action_code if s else "",
        action_en=s.action_en if s else "",
        action_zh=s.action_zh if s else "",
        action_channel=s.action_channel if s else "",
        action_due=s.action_due if s else None,
        recommendations=list(s.recommendations) if s else [],
        pattern=dict(s.pattern) if s else {},
        total_spend=s.total_spend if s else None,
        frequency=s.frequency if s else None,
        n_orders=s.n_orders if s else None,
        monetary_value=s.monetary_value if s else None,
        first_purchase=s.first_purchase if s else None,
        last_purchase=s.last_purchase if s else None,
        days_since_last_purchase=s.days_since_last_purchase if s else None,
        mean_gap_days=s.mean_gap_days if s else None,
        spend_trend=s.spend_trend if s else None,
        expected_next_purchase=s.expected_next_purchase if s else None,
        history=history,
        account_team=team,
        override=override,
        can_change=can_change,
    )
