"""The uplift report: per action × tier, held-out against treated customers over the N days
after they were assigned, from the later analysis runs' per-customer state.

Each assignment stored the customer's state at that moment (the baseline: the analysis'
date, total spend and number of orders). The measurement is the latest analysis snapshot
after the baseline and within ``days`` of it -- a ``CustomerHistory`` point (total spend) or
the current ``CustomerState`` (total spend and orders) -- so both groups are measured at the
same runs. Per customer:

* revenue: total spend at the measurement minus at the baseline;
* purchases: orders then minus orders at the baseline (from the current state only; the
  history keeps no order counts -- ``None`` when the measurement is a history point);
* retained: bought again within the window (revenue > 0).

Per group the means, and for treated minus held out a 95 % confidence interval (Welch's t
for the means, with Welch-Satterthwaite degrees of freedom; Wald for the retention rates).
The relative revenue uplift (treated / held out - 1) has its interval from the log of the
ratio of means (delta method), so a planted +15 % is read as +15 %. Cost: the action's cost
per customer × treated customers, and that cost per unit of incremental revenue. Customers
not yet measured (no later run within the window) are counted as ``pending``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from scipy.special import ndtri, stdtrit

from corecustomers.web.customers.models import CustomerHistory, CustomerState
from corecustomers.web.experiments.models import Assignment, Experiment

__all__ = ["Estimate", "UpliftRow", "report", "welch"]

LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """Treated minus held out, with its confidence interval (``None`` where undefined)."""

    treated: float | None
    held_out: float | None
    difference: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class UpliftRow:
    action: str
    tier: str
    treated: int
    held_out: int
    pending: int
    revenue: Estimate
    revenue_uplift: Estimate  # relative: treated / held out - 1 (the ratio of the means)
    purchases: Estimate
    retention: Estimate
    cost: float
    incremental_revenue: float | None
    cost_per_incremental_revenue: float | None
    window_days: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _mean_var(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, var


def welch(treated: Sequence[float], held: Sequence[float], level: float = LEVEL) -> Estimate:
    """Difference of means with Welch's confidence interval."""
    if not treated or not held:
        mt = _mean_var(treated)[0] if treated else None
        mh = _mean_var(held)[0] if held else None
        return Estimate(mt, mh, None, None, None)
    mt, vt = _mean_var(treated)
    mh, vh = _mean_var(held)
    diff = mt - mh
    if len(treated) < 2 or len(held) < 2:
        return Estimate(mt, mh, diff, None, None)
    a, b = vt / len(treated), vh / len(held)
    se = math.sqrt(a + b)
    if se == 0:
        return Estimate(mt, mh, diff, diff, diff)
    df = (a + b) ** 2 / (a**2 / (len(treated) - 1) + b**2 / (len(held) - 1))
    half = float(stdtrit(df, 0.5 + level / 2)) * se
    return Estimate(mt, mh, diff, diff - half, diff + half)


def ratio(treated: Sequence[float], held: Sequence[float], level: float = LEVEL) -> Estimate:
    """Relative difference ``mean(treated) / mean(held) - 1`` with a log-ratio interval."""
    if len(treated) < 2 or len(held) < 2:
        return Estimate(None, None, None, None, None)
    mt, vt = _mean_var(treated)
    mh, vh = _mean_var(held)
    if mt <= 0 or mh <= 0:
        return Estimate(mt, mh, None, None, None)
    a, b = vt / (len(treated) * mt**2), vh / (len(held) * mh**2)
    se = math.sqrt(a + b)
    df = (a + b) ** 2 / (a**2 / (len(treated) - 1) + b**2 / (len(held) - 1)) if se else 1e9
    half = float(stdtrit(df, 0.5 + level / 2)) * se
    log_ratio = math.log(mt / mh)
    return Estimate(
        mt, mh, mt / mh - 1, math.exp(log_ratio - half) - 1, math.exp(log_ratio + half) - 1
    )


def proportion(treated: Sequence[bool], held: Sequence[bool], level: float = LEVEL) -> Estimate:
    if not treated or not held:
        return Estimate(None, None, None, None, None)
    pt, ph = sum(treated) / len(treated), sum(held) / len(held)
    se = math.sqrt(pt * (1 - pt) / len(treated) + ph * (1 - ph) / len(held))
    half = float(ndtri(0.5 + level / 2)) * se
    return Estimate(pt, ph, pt - ph, pt - ph - half, pt - ph + half)


def _measurements(rows: list[dict[str, Any]], days: int) -> dict[int, tuple[float, int | None]]:
    """Per customer: (total spend, orders or None) at the latest snapshot in the window."""
    ids = [r["customer_id"] for r in rows]
    window = {r["customer_id"]: r["baseline_as_of"] for r in rows if r["baseline_as_of"]}
    found: dict[int, tuple[dt.date, float, int | None]] = {}

    def consider(cid: int, as_of: dt.date, spend: float | None, orders: int | None) -> None:
        start = window.get(cid)
        if start is None or spend is None:
            return
        if not start < as_of <= start + dt.timedelta(days=days):
            return
        best = found.get(cid)
        if best is None or as_of > best[0] or (as_of == best[0] and orders is not None):
            found[cid] = (as_of, spend, orders)

    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for cid, as_of, spend in CustomerHistory.objects.filter(customer_id__in=chunk).values_list(
            "customer_id", "as_of", "total_spend"
        ):
            consider(cid, as_of, spend, None)
        for cid, as_of, spend, orders in CustomerState.objects.filter(
            customer_id__in=chunk
        ).values_list("customer_id", "as_of", "total_spend", "n_orders"):
            consider(cid, as_of, spend, orders)
    return {cid: (spend, orders) for cid, (_, spend, orders) in found.items()}


def report(
    user: Any,
    *,
    action: str | None = None,
    days: int | None = None,
    tier_order: Sequence[str] = (),
) -> list[UpliftRow]:
    """The uplift rows of every experiment (or ``action``) over ``user``'s customers."""
    experiments = Experiment.objects.restrict(user, "view")
    if action:
        experiments = experiments.filter(code=action)
    out: list[UpliftRow] = []
    for experiment in experiments:
        window = days or experiment.window_days
        rows = list(
            Assignment.objects.restrict(user, "view")
            .filter(experiment=experiment)
            .values(
                "customer_id", "tier", "held_out", "baseline_as_of", "baseline_spend",
                "baseline_orders",
            )
        )  # fmt: skip
        measured = _measurements(rows, window)
        groups: dict[str, dict[bool, list[tuple[float, int | None]]]] = defaultdict(
            lambda: {True: [], False: []}
        )
        pending: dict[str, int] = defaultdict(int)
        for r in rows:
            m = measured.get(r["customer_id"])
            if m is None or r["baseline_spend"] is None:
                pending[r["tier"]] += 1
                continue
            spend, orders = m
            bought = None
            if orders is not None and r["baseline_orders"] is not None:
                bought = orders - r["baseline_orders"]
            groups[r["tier"]][r["held_out"]].append((spend - r["baseline_spend"], bought))
        tiers = list(tier_order) + sorted(t for t in {*groups, *pending} if t not in tier_order)
        for tier in tiers:
            if tier not in groups and tier not in pending:
                continue
            treated, held = groups[tier][False], groups[tier][True]
            revenue = welch([v for v, _ in treated], [v for v, _ in held])
            purchases = welch(
                [float(p) for _, p in treated if p is not None],
                [float(p) for _, p in held if p is not None],
            )
            retention = proportion([v > 0 for v, _ in treated], [v > 0 for v, _ in held])
            cost = experiment.cost_per_action * len(treated)
            incremental = (
                revenue.difference * len(treated) if revenue.difference is not None else None
            )
            out.append(
                UpliftRow(
                    action=experiment.code,
                    tier=tier,
                    treated=len(treated),
                    held_out=len(held),
                    pending=pending[tier],
                    revenue=revenue,
                    revenue_uplift=ratio([v for v, _ in treated], [v for v, _ in held]),
                    purchases=purchases,
                    retention=retention,
                    cost=cost,
                    incremental_revenue=incremental,
                    cost_per_incremental_revenue=(
                        cost / incremental if incremental and incremental > 0 else None
                    ),
                    window_days=window,
                )
            )
    return out
