"""The stacked 100 % bars (``report._charts.share_bars``) through the public tier chart."""

from __future__ import annotations

import re

from corecustomers.report import charts

FMT = charts.NumberFormat("¥")


def _bar(label: str, customers: float, revenue: float, clv: float | None) -> charts.TierBar:
    return charts.TierBar(
        label=label,
        colour="#1e3a8a",
        customers=customers,
        revenue=revenue,
        clv=clv,
        customers_text=FMT.integer(customers),
        revenue_text=FMT.money(revenue),
        clv_text=FMT.money(clv),
    )


def _tips(svg: str) -> list[str]:
    return re.findall(r"<title>([^<]*)</title>", svg)


def _height(svg: str) -> float:
    found = re.search(r'viewBox="0 0 [\d.]+ ([\d.]+)"', svg)
    assert found is not None
    return float(found.group(1))


def test_each_bar_is_split_by_share_and_a_negative_value_counts_as_nothing() -> None:
    chart = charts.tiers(
        [_bar("Key", 10, 300.0, None), _bar("Ordinary", 30, -100.0, None)],
        charts.words("en"),
        FMT,
    )
    tips = [t for t in _tips(chart.svg) if " · " in t]
    assert tips == [
        "Key · Customers: 10 (25.0%)",
        "Ordinary · Customers: 30 (75.0%)",
        "Key · Revenue: ¥300.00 (100.0%)",
        "Ordinary · Revenue: -¥100.00 (0.0%)",
    ]
    assert chart.key == "tiers" and chart.wide


def test_the_lifetime_value_bar_is_drawn_only_when_a_tier_has_one() -> None:
    words = charts.words("en")
    without = charts.tiers([_bar("Key", 1, 1.0, None)], words, FMT)
    with_clv = charts.tiers([_bar("Key", 1, 1.0, 5.0), _bar("Ordinary", 3, 1.0, None)], words, FMT)
    assert not any("Lifetime value" in t for t in _tips(without.svg))
    clv = [t for t in _tips(with_clv.svg) if "Lifetime value" in t]
    assert clv == ["Key · Lifetime value: ¥5.00 (100.0%)", "Ordinary · Lifetime value: – (0.0%)"]
    assert _height(with_clv.svg) > _height(without.svg)  # a third bar
