"""The management dashboard of the customers a user may see.

For a user who sees every customer, or a manager (whose scope is whole regions and
teams), the sums come from the per-analysis cells kept by the database (``cells.py``: a
few hundred rows instead of 1M states); the whole base's trend comes from each analysis'
``summary.json``. Otherwise (an account manager's own customers, or cells a writer is
rebuilding) the aggregates read the states. For a part of the base the scope is
:func:`~corecustomers.web.customers.scope.state_scope`: disjoint conditions on the
states, each answered from one index, whose results add up -- instead of joining the
customers table in every query (four joins of a 100k-customer scope with 1M customers
took 1.7-2.3 s on PostgreSQL).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum

from corecustomers.web.access import reaches_everything
from corecustomers.web.customers.cells import cell_scope
from corecustomers.web.customers.cells import ensure_fresh as cells_fresh
from corecustomers.web.customers.models import (
    AccountMember,
    Analysis,
    Customer,
    CustomerHistory,
    CustomerState,
    DashboardCell,
    TrendCell,
)
from corecustomers.web.customers.records import Dashboard, TierCount
from corecustomers.web.customers.scope import state_scope

__all__ = ["dashboard", "tier_labels"]


def tier_labels() -> tuple[list[str], list[str], dict[str, tuple[str, str]]]:
    """``(tiers in rank order, core tiers, {tier: (English, Chinese)})`` of the latest policy."""
    return _labels_of(Analysis.objects.first())


def _labels_of(
    latest: Analysis | None,
) -> tuple[list[str], list[str], dict[str, tuple[str, str]]]:
    if latest is None:
        return [], [], {}
    tiers = latest.summary.get("tiers") or {}
    table = tiers.get("table") or []
    order = [str(row["tier"]) for row in table]
    labels = {
        str(row["tier"]): (str(row.get("label") or row["tier"]), str(row.get("label_zh") or ""))
        for row in table
    }
    return order, [str(t) for t in tiers.get("core_tiers") or []], labels


def _flows(pairs: list[dict[str, Any]], order: list[str], core: list[str]) -> dict[str, int]:
    """Core customers won, kept, downgraded and lost since the previous snapshot.

    ``pairs`` are the state counts per ``(previous_tier, tier)`` (key ``n``; a pair may
    come once per scope part: the counts add up). The definitions of
    :mod:`corecustomers.segments.migration`: kept = core before and the same or a better
    tier now; downgraded = core before, a worse tier now that is not the lowest; lost =
    core before and the lowest tier now; won = core now, not core before. (Customers
    absent from the latest analysis are counted as lost only by ``compare``.)
    """
    rank = {tier: i for i, tier in enumerate(order)}
    lowest = len(order) - 1
    flows = {"won": 0, "kept": 0, "downgraded": 0, "lost": 0}
    for pair in pairs:
        before, now, n = pair["previous_tier"] or "", pair["tier"], pair["n"]
        was_core, is_core = before in core, now in core
        if was_core:
            if rank.get(now, lowest) <= rank[before]:
                flows["kept"] += n
            elif rank.get(now, lowest) >= lowest:
                flows["lost"] += n
            else:
                flows["downgraded"] += n
        elif is_core:
            flows["won"] += n
    return flows


def _per_tier(pairs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The per-``(previous_tier, tier)`` aggregates summed per tier."""
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        row = out.setdefault(
            pair["tier"], {"n": 0, "revenue": 0.0, "clv": 0.0, "alerts": 0, "stake": 0.0}
        )
        row["n"] += pair["n"] or 0
        row["alerts"] += pair["alerts"] or 0
        for key in ("revenue", "clv", "stake"):
            row[key] += float(pair[key] or 0.0)
    return out


AGGREGATES: dict[str, Any] = {
    "n": Count("pk"),
    "revenue": Sum("total_spend"),
    "clv": Sum("clv"),
    "alerts": Count("pk", filter=Q(alert=True)),
    "stake": Sum("value_at_stake", filter=Q(alert=True)),
}


def _top_spend(parts: list[QuerySet[CustomerState]], head: int) -> float:
    """The summed spend of the ``head`` biggest spenders over disjoint ``parts``."""
    biggest = F("total_spend").desc()
    if len(parts) == 1:  # summed in the database
        top = parts[0].order_by(biggest)[:head].aggregate(top=Sum("total_spend"))["top"]
        return float(top or 0.0)
    # The top ``head`` of the union is among the top ``head`` of each part.
    spends: list[float] = []
    for states in parts:
        spends += states.order_by(biggest).values_list("total_spend", flat=True)[:head]
    return float(sum(sorted(spends, reverse=True)[:head]))


def _core_trend(parts: list[Any] | None, analyses: list[Analysis]) -> list[dict[str, Any]]:
    """Core customers at each analysis: from the summaries for the whole base, else the
    scope's history points per date and tier (one query per part, added up)."""
    history: dict[tuple[Any, str], int] = {}
    if parts is not None:
        core_ever = sorted(
            {
                str(t)
                for a in analyses
                for t in (a.summary.get("tiers") or {}).get("core_tiers") or []
            }
        )
        dates = [a.as_of for a in analyses]
        for part in parts:
            for row in (
                CustomerHistory.objects.filter(customer_id__in=part.customer_ids())
                .filter(as_of__in=dates, tier__in=core_ever)  # index ``history_trend``
                .values("as_of", "tier")
                .annotate(n=Count("*"))
                .order_by()
            ):
                key = (row["as_of"], row["tier"])
                history[key] = history.get(key, 0) + row["n"]
    trend = []
    for analysis in analyses:
        tiers = analysis.summary.get("tiers") or {}
        table = tiers.get("table") or []
        analysis_core = tiers.get("core_tiers") or []
        if parts is None:
            count = sum(
                int(r.get("customers") or 0) for r in table if r.get("tier") in analysis_core
            )
        else:
            count = sum(history.get((analysis.as_of, tier), 0) for tier in set(analysis_core))
        trend.append({"as_of": analysis.as_of, "core_customers": count})
    return trend


def _cell_pairs(scope: Q, run_id: str) -> list[dict[str, Any]]:
    """The sums per ``(previous_tier, tier)`` from the cells of ``scope`` (``cells.py``)."""
    return list(
        DashboardCell.objects.filter(scope, run_id=run_id)
        .values("tier", "previous_tier")
        .annotate(
            n=Sum("n"),
            revenue=Sum("revenue"),
            clv=Sum("clv"),
            alerts=Sum("alerts"),
            stake=Sum("stake"),
            owned=Sum("owned"),
        )
        .order_by()
    )


def _cell_trend(scope: Q, analyses: list[Analysis]) -> list[dict[str, Any]]:
    """Core customers at each analysis from the trend cells of ``scope``."""
    core_ever = sorted(
        {str(t) for a in analyses for t in (a.summary.get("tiers") or {}).get("core_tiers") or []}
    )
    history: dict[tuple[Any, str], int] = {}
    for row in (
        TrendCell.objects.filter(scope, as_of__in=[a.as_of for a in analyses], tier__in=core_ever)
        .values("as_of", "tier")
        .annotate(total=Sum("n"))
        .order_by()
    ):
        history[(row["as_of"], row["tier"])] = int(row["total"] or 0)
    trend = []
    for analysis in analyses:
        analysis_core = set((analysis.summary.get("tiers") or {}).get("core_tiers") or [])
        count = sum(history.get((analysis.as_of, tier), 0) for tier in analysis_core)
        trend.append({"as_of": analysis.as_of, "core_customers": count})
    return trend


def dashboard(user: Any) -> Dashboard:
    """The dashboard of the customers ``user`` may see (all of them for admins and analysts).

    Read from the per-analysis cells (``cells.py``) when the scope is the whole base or a
    manager's regions and teams and the cells are true; else from the states.
    """
    # Every analysis in one query; the latest is the last (``Analysis``' own order is the
    # reverse: the newest snapshot date, then the newest import).
    analyses = list(Analysis.objects.order_by("as_of", "imported_at"))
    latest = analyses[-1] if analyses else None
    order, core, labels = _labels_of(latest)
    whole_base = reaches_everything(Customer, user, "view")
    cell_condition = cell_scope(user)
    from_cells = cell_condition is not None and latest is not None and cells_fresh()
    parts = None if whole_base else state_scope(user, "view")
    # Every state without joining the customers when the user sees them all; else the
    # states of each part of the scope (disjoint: their counts and sums add up).
    scoped = [CustomerState.objects.all()] if parts is None else [p.states() for p in parts]
    if latest is not None:
        scoped = [states.filter(run_id=latest.run_id) for states in scoped]
    if from_cells and cell_condition is not None and latest is not None:
        pairs = _cell_pairs(cell_condition, latest.run_id)
    else:
        # One pass per part for the tiers and the movements (index-only on PostgreSQL).
        pairs = [
            pair
            for states in scoped
            for pair in states.values("tier", "previous_tier").annotate(**AGGREGATES).order_by()
        ]
    per_tier = _per_tier(pairs)
    tiers = [
        TierCount(
            tier=tier,
            label_en=labels.get(tier, (tier, ""))[0],
            label_zh=labels.get(tier, (tier, ""))[1],
            core=tier in core,
            customers=int(per_tier.get(tier, {}).get("n") or 0),
            revenue=float(per_tier.get(tier, {}).get("revenue") or 0.0),
            clv=float(per_tier.get(tier, {}).get("clv") or 0.0),
            alerts=int(per_tier.get(tier, {}).get("alerts") or 0),
            value_at_stake=float(per_tier.get(tier, {}).get("stake") or 0.0),
        )
        for tier in order + [t for t in per_tier if t not in order]
    ]
    n = sum(t.customers for t in tiers)
    revenue = sum(t.revenue for t in tiers)
    summary = latest.summary if latest is not None else {}
    concentration = summary.get("concentration") or {}
    top, gini = None, None
    if whole_base and concentration:
        top, gini = concentration.get("top_20pct_share"), concentration.get("gini")
    elif n:
        top_spend = _top_spend(scoped, max(1, round(0.2 * n)))
        top = top_spend / revenue if revenue > 0 else None
    without_owner_by_tier: dict[str, int] = {}
    if from_cells:
        for pair in pairs:
            if pair["tier"] in core:
                missing = int(pair["n"] or 0) - int(pair["owned"] or 0)
                tier = pair["tier"]
                without_owner_by_tier[tier] = without_owner_by_tier.get(tier, 0) + missing
    else:
        has_owner = Exists(
            AccountMember.objects.filter(customer=OuterRef("customer"), role="owner")
        )
        for states in scoped:
            for row in (
                states.filter(tier__in=core)
                .exclude(has_owner)
                .values("tier")
                .annotate(n=Count("pk"))
                .order_by()
            ):
                tier = row["tier"]
                without_owner_by_tier[tier] = without_owner_by_tier.get(tier, 0) + row["n"]
    if whole_base:
        trend = _core_trend(None, analyses)
    elif from_cells and cell_condition is not None:
        trend = _cell_trend(cell_condition, analyses)
    else:
        trend = _core_trend(parts, analyses)
    return Dashboard(
        as_of=latest.as_of if latest else None,
        customers=n,
        revenue=revenue,
        top_20pct_share=top,
        gini=gini,
        clv=sum(t.clv for t in tiers),
        tiers=tiers,
        core_customers=sum(t.customers for t in tiers if t.core),
        flows=_flows(pairs, order, core) if order else {},
        trend=trend,
        open_alerts=sum(t.alerts for t in tiers),
        value_at_stake=sum(t.value_at_stake for t in tiers),
        core_without_owner=sum(without_owner_by_tier.values()),
        without_owner_by_tier={t: without_owner_by_tier.get(t, 0) for t in core},
        currency=str(summary.get("currency") or ""),
        whole_base=whole_base,
        analyses=len(analyses),
    )
