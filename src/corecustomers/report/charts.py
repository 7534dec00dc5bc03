"""The report's SVG charts, for other parts of the product (the service's pages).

The pages draw with the same code as ``report.html`` so that a report and a page look like
one product: the same palette, fonts, escaping and number formats. Everything here returns
a :class:`Chart` whose ``svg`` is :class:`~markupsafe.Markup` built by an escaping element
builder (every label and tooltip is escaped), ready to put into a page as it is.

* :func:`tiers` -- 100 % bars of customers, revenue and lifetime value by tier
  (:class:`TierBar` each, coloured with :func:`tier_colours`).
* :func:`migration_series` -- core customers per core tier at each snapshot (stacked), with
  the customers won, downgraded and lost in each step (:class:`SeriesTier` each).
* :func:`line` -- a small line chart of one measure over dates (a customer's core score or
  lifetime value per snapshot, the number of core customers per analysis).
* :func:`words` -- the report's labels in one language (``"en"`` or ``"zh"``), which the
  chart functions take.

Examples
--------
>>> chart = line(["2024-01-01", "2024-02-01"], [0.5, 0.75], title="Core score",
...              value_text=lambda v: f"{v:.2f}", key="score-history")
>>> chart.key, "<svg" in chart.svg, "Core score" in chart.svg
('score-history', True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from corecustomers.report import _svg as s
from corecustomers.report._charts import Chart
from corecustomers.report._core_charts import (
    SeriesTier,
    TierBar,
    migration_series,
    tier_colours,
    tiers,
)
from corecustomers.report._labels import Words
from corecustomers.report._numbers import NumberFormat
from corecustomers.units import Lang

__all__ = [
    "Chart",
    "Lang",
    "NumberFormat",
    "SeriesTier",
    "TierBar",
    "Words",
    "line",
    "migration_series",
    "tier_colours",
    "tiers",
    "words",
]


def words(lang: Lang) -> Words:
    """The report's labels in ``lang`` (``"en"`` or ``"zh"``), as the chart functions take them."""
    return Words(lang)


def line(
    dates: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    value_text: Callable[[float], str],
    tick_text: Callable[[float], str] | None = None,
    key: str = "line",
    colour: str = s.PRIMARY,
) -> Chart:
    """One measure over dates: a line with a dot (and a tooltip) at each known value.

    A missing value leaves a gap in the line. With a single date the chart is one dot.
    ``value_text`` writes a value for the tooltips (money, a share, a count) and, unless
    ``tick_text`` is given, for the axis labels.
    """
    width, height = 520.0, 220.0
    left, right, top, bottom = 72.0, 24.0, 16.0, 40.0
    known = [v for v in values if v is not None]
    lo = min([*known, 0.0])
    hi = max([*known, 0.0])
    ticks = s.nice_ticks(lo, hi if hi > lo else lo + 1.0, 4)
    y = s.Scale(ticks[0], ticks[-1], height - bottom, top)
    n = len(dates)
    x = s.Scale(0, max(n - 1, 1), left, width - right) if n > 1 else s.Scale(0, 0, left, width)
    tick_labels = [(tick_text or value_text)(t) for t in ticks]
    parts: list[str] = []
    grid: list[str] = []
    for tick, label in zip(ticks, tick_labels, strict=True):
        grid.append(s.line(left, y(tick), width - right, y(tick), stroke=s.GRID))
        grid.append(s.text(left - 8, y(tick), label, anchor="end", baseline="middle", fill=s.MUTED))
    parts.append(s.group(grid, class_="y-axis"))
    every = max(1, -(-n // 5))
    labels = [
        s.text(x(i), height - bottom + 20, dates[i], anchor="middle", fill=s.MUTED, size=11)
        for i in range(0, n, every)
    ]
    parts.append(s.group(labels, class_="x-axis"))
    runs: list[list[tuple[float, float]]] = [[]]
    for i, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((x(i), y(value)))
    for run in runs:
        if len(run) > 1:
            parts.append(s.polyline(run, stroke=colour, width=2.4))
    for i, value in enumerate(values):
        if value is not None:
            tip = f"{dates[i]}: {value_text(value)}"
            parts.append(s.circle(x(i), y(value), 4.0, fill=colour, tooltip=tip))
    return Chart(key, title, s.svg(width, height, title, *parts))
