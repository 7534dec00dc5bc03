"""What the dashboard shows, built from the :class:`Dashboard` record (its per-tier
coverage counts included: no query over the customers of its own)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _

from corecustomers.report import charts
from corecustomers.report.charts import NumberFormat
from corecustomers.report.labels import Lang, label
from corecustomers.web.customers.records import Dashboard
from corecustomers.web.pages.present import (
    Tiers,
    latest_summary,
    number_format,
    page_lang,
    tiers,
)

__all__ = ["dashboard_context", "list_url"]

FLOWS = ("won", "kept", "downgraded", "lost")


def list_url(**filters: str) -> str:
    """The customer list filtered by ``filters``."""
    base = reverse("pages:customers")
    query = urlencode({k: v for k, v in filters.items() if v})
    return f"{base}?{query}" if query else base


@dataclass(frozen=True)
class TierLine:
    code: str
    core: bool
    customers: int
    revenue: float
    clv: float
    alerts: int
    value_at_stake: float
    without_owner: int | None
    href: str
    alerts_href: str
    without_owner_href: str


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _counts(values: Any) -> list[int]:
    return [int(v or 0) for v in values] if isinstance(values, list) else []


def _series_chart(table: Tiers, lang: Lang, fmt: NumberFormat) -> charts.Chart | None:
    """The report's migration chart over the workspace's snapshots, for whole-base viewers.

    ``summary["migration_series"]`` counts every customer, so it is shown only to users who
    see the whole base; others get the line of their own core customers per analysis.
    """
    series = latest_summary().get("migration_series")
    if not isinstance(series, dict):
        return None
    dates = [str(d) for d in series.get("dates") or []]
    values = _mapping(series.get("series"))
    flows = {name: _counts(values.get(name)) for name in ("won", "downgraded", "lost")}
    sizes = _mapping(values.get("tier_sizes"))
    colours = charts.tier_colours(len(table.order))
    core = [
        charts.SeriesTier(table.label(code), colour, _counts(sizes.get(code)))
        for code, colour in zip(table.order, colours, strict=True)
        if code in table.core
    ]
    steps = len(dates) - 1
    if steps < 1 or any(len(v) != steps for v in flows.values()):
        return None
    if not core or any(len(t.sizes) != len(dates) for t in core):
        return None
    return charts.migration_series(
        dates,
        core,
        flows["won"],
        flows["downgraded"],
        flows["lost"],
        charts.words(lang),
        fmt,
    )


def dashboard_context(user: Any, data: Dashboard) -> dict[str, Any]:
    lang = page_lang()
    fmt = number_format(data.currency)
    tier_table = tiers(lang)
    lines = [
        TierLine(
            code=t.tier,
            core=t.core,
            customers=t.customers,
            revenue=t.revenue,
            clv=t.clv,
            alerts=t.alerts,
            value_at_stake=t.value_at_stake,
            without_owner=data.without_owner_by_tier.get(t.tier, 0) if t.core else None,
            href=list_url(tier=t.tier),
            alerts_href=list_url(tier=t.tier, alert="yes", sort="-value_at_stake"),
            without_owner_href=list_url(tier=t.tier, owner="none"),
        )
        for t in data.tiers
    ]
    tier_chart = None
    if data.customers:
        colours = charts.tier_colours(len(data.tiers))
        bars = [
            charts.TierBar(
                label=tier_table.label(t.tier),
                colour=colour,
                customers=float(t.customers),
                revenue=t.revenue,
                clv=t.clv,
                customers_text=fmt.integer(t.customers),
                revenue_text=fmt.money(t.revenue),
                clv_text=fmt.money(t.clv),
            )
            for t, colour in zip(data.tiers, colours, strict=True)
        ]
        tier_chart = charts.tiers(bars, charts.words(lang), fmt)
    trend_chart = _series_chart(tier_table, lang, fmt) if data.whole_base else None
    if trend_chart is None and data.trend:
        trend_chart = charts.line(
            [str(point["as_of"]) for point in data.trend],
            [float(point["core_customers"]) for point in data.trend],
            title=_("Core customers at each analysis"),
            value_text=fmt.integer,
            key="core-trend",
        )
    # On the first snapshot every core customer counts as "won": show movement only once
    # there is an earlier analysis or some customer had a tier before.
    moved = any(data.flows.get(name) for name in ("kept", "downgraded", "lost"))
    flows = [
        (name, label(lang, f"mig.{name}") or name, data.flows.get(name, 0), list_url(movement=name))
        for name in FLOWS
        if data.flows and (moved or len(data.trend) > 1)
    ]
    return {
        "data": data,
        "fmt": fmt,
        "tiers": tier_table,
        "tier_lines": lines,
        "core_lines": [line for line in lines if line.core],
        "tier_chart": tier_chart,
        "trend_chart": trend_chart,
        "flows": flows,
        "urls": {
            "all": list_url(),
            "alerts": list_url(alert="yes", sort="-value_at_stake"),
            "by_clv": list_url(sort="-clv"),
            "core": list_url(core="yes"),
            "core_without_owner": list_url(core="yes", owner="none"),
        },
    }
