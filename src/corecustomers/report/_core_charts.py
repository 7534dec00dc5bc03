"""The charts of the core-customer sections: tiers, migration, warnings, capture, actions.

Like :mod:`~corecustomers.report._charts`, each function takes numbers and labels the
section builders have prepared (in the report language) and returns a
:class:`~corecustomers.report._charts.Chart` whose ``<svg>`` is built by the escaping
builder of :mod:`~corecustomers.report._svg`. Keys (``data-chart``): ``tiers``,
``migration``, ``migration-series``, ``alerts-holdout``, ``actions``,
``recommendations``, ``capture``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from markupsafe import Markup

from corecustomers.report import _svg as s
from corecustomers.report._charts import Chart, SharePart, chart_legend, share_bars, y_gridlines
from corecustomers.report._labels import Words
from corecustomers.report._numbers import NumberFormat

#: Ribbon and bar colours for movements between tiers.
UP: Final = "#059669"
DOWN: Final = "#dc2626"
DOWNGRADED: Final = "#d97706"
STAYED: Final = "#94a3b8"
BASELINE: Final = "#cbd5e1"
#: Best tier, and the lightest of the tiers above the lowest (which is grey).
_TIER_DARK: Final = "#1e3a8a"
_TIER_LIGHT: Final = "#60a5fa"
_TIER_LOWEST: Final = "#cbd5e1"
CHANNEL_COLOURS: Final[Mapping[str, str]] = {
    "visit": "#1e3a8a",
    "call": "#2563eb",
    "email": "#60a5fa",
    "app": "#0d9488",
    "sms": "#7c3aed",
    "none": "#cbd5e1",
}
OTHER_CHANNEL: Final = "#94a3b8"


def tier_colours(count: int) -> list[str]:
    """One colour per tier, best first: dark to light blue, and grey for the lowest tier."""
    if count <= 1:
        return [s.PRIMARY] * count
    upper = count - 1
    blues = [
        s.mix(_TIER_DARK, _TIER_LIGHT, i / (upper - 1)) if upper > 1 else _TIER_DARK
        for i in range(upper)
    ]
    return [*blues, _TIER_LOWEST]


@dataclass(frozen=True)
class TierBar:
    """One tier in the tier chart: label, colour, and its customers, revenue and CLV."""

    label: str
    colour: str
    customers: float
    revenue: float
    clv: float | None
    customers_text: str
    revenue_text: str
    clv_text: str


def tiers(bars: Sequence[TierBar], words: Words, fmt: NumberFormat) -> Chart:
    """100 % bars of customers, revenue and (when known) CLV, split by tier."""
    names = [words("chart.tiers.customers"), words("chart.tiers.revenue")]
    if any(bar.clv is not None for bar in bars):
        names.append(words("chart.tiers.clv"))
    parts = [
        SharePart(
            bar.label,
            bar.colour,
            (bar.customers, bar.revenue, bar.clv or 0.0)[: len(names)],
            (bar.customers_text, bar.revenue_text, bar.clv_text)[: len(names)],
        )
        for bar in bars
    ]
    legend = [(bar.label, bar.colour, "box") for bar in bars]
    return share_bars("tiers", words("chart.tiers.title"), names, parts, legend, fmt)


# --- migration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """A column entry of the flow chart: a tier (or "new" / "left") and its customers."""

    label: str
    colour: str
    count: int


def _ribbon(
    x0: float, y0: float, x1: float, y1: float, thickness: float, colour: str, tip: str
) -> Markup:
    """A band of constant ``thickness`` from ``(x0, y0)`` to ``(x1, y1)`` (top edges)."""
    mid = (x0 + x1) / 2
    n = s.num
    d = (
        f"M{n(x0)},{n(y0)} C{n(mid)},{n(y0)} {n(mid)},{n(y1)} {n(x1)},{n(y1)} "
        f"L{n(x1)},{n(y1 + thickness)} C{n(mid)},{n(y1 + thickness)} {n(mid)},"
        f"{n(y0 + thickness)} {n(x0)},{n(y0 + thickness)} Z"
    )
    attrs = {
        "d": d,
        "fill": colour,
        "fill-opacity": 0.42,
        "stroke": colour,
        "stroke-opacity": 0.55,
        "stroke-width": 0.6,
    }
    return s.el("path", attrs, s.el("title", None, tip))


def migration(
    sources: Sequence[Node],
    targets: Sequence[Node],
    flows: Sequence[Sequence[int]],
    directions: Sequence[Sequence[int]],
    before: str,
    after: str,
    words: Words,
    fmt: NumberFormat,
) -> Chart:
    """A two-column flow (Sankey) diagram: customers from their tier before to their tier after.

    ``flows[i][j]`` customers went from ``sources[i]`` to ``targets[j]``; ``directions[i][j]``
    is ``1`` (up, or arriving), ``0`` (stayed) or ``-1`` (down, or leaving) and sets the
    ribbon's colour. Nodes and ribbons with no customers are not drawn.
    """
    width, height = 1000.0, 400.0
    top, bottom, gap, node_w = 40.0, 56.0, 16.0, 14.0
    label_w = max(
        [
            s.text_width(f"{node.label} · {fmt.integer(node.count)}", 13)
            for node in [*sources, *targets]
        ]
        + [60.0]
    )
    x_left, x_right = label_w + 20, width - label_w - 20 - node_w
    shown_sources = [i for i, node in enumerate(sources) if node.count > 0]
    shown_targets = [j for j, node in enumerate(targets) if node.count > 0]
    total = max(
        sum(sources[i].count for i in shown_sources),
        sum(targets[j].count for j in shown_targets),
        1,
    )
    gaps = gap * max(len(shown_sources), len(shown_targets), 1)
    scale = (height - top - bottom - gaps) / total

    def place(indices: Sequence[int], nodes: Sequence[Node]) -> dict[int, tuple[float, float]]:
        spots, y = {}, top
        for k in indices:
            h = max(nodes[k].count * scale, 2.0)
            spots[k] = (y, h)
            y += h + gap
        return spots

    left_spots, right_spots = place(shown_sources, sources), place(shown_targets, targets)
    colours = {1: UP, 0: STAYED, -1: DOWN}
    parts: list[str] = []
    out_offset = dict.fromkeys(shown_sources, 0.0)
    in_offset = dict.fromkeys(shown_targets, 0.0)
    ribbons: list[tuple[int, Markup]] = []
    for i in shown_sources:
        for j in shown_targets:
            count = flows[i][j]
            if count <= 0:
                continue
            thickness = count * scale
            y0 = left_spots[i][0] + out_offset[i]
            y1 = right_spots[j][0] + in_offset[j]
            out_offset[i] += thickness
            in_offset[j] += thickness
            shown = max(thickness, 1.2)
            tip = words(
                "chart.migration.flow",
                source=sources[i].label,
                target=targets[j].label,
                count=fmt.integer(count),
            )
            direction = directions[i][j]
            ribbon = _ribbon(
                x_left + node_w, y0, x_right, y1, shown, colours.get(direction, STAYED), tip
            )
            ribbons.append((abs(direction), ribbon))
    # Moves over the stays, so that a thin upgrade is never hidden under a thick band.
    parts.extend(ribbon for _, ribbon in sorted(ribbons, key=lambda item: item[0]))
    for spots, nodes, x, anchor, label_x in (
        (left_spots, sources, x_left, "end", x_left - 8),
        (right_spots, targets, x_right, "start", x_right + node_w + 8),
    ):
        for k, (y, h) in spots.items():
            node = nodes[k]
            tip = words("chart.migration.node", tier=node.label, count=fmt.integer(node.count))
            parts.append(s.rect(x, y, node_w, h, fill=node.colour, tooltip=tip, radius=2))
            if h >= 30:
                parts.append(
                    s.text(
                        label_x,
                        y + h / 2 - 8,
                        node.label,
                        anchor=anchor,
                        baseline="middle",
                        size=13,
                        fill=s.INK,
                        weight="600",
                    )
                )
                parts.append(
                    s.text(
                        label_x,
                        y + h / 2 + 9,
                        fmt.integer(node.count),
                        anchor=anchor,
                        baseline="middle",
                        fill=s.MUTED,
                    )
                )
            else:
                parts.append(
                    s.text(
                        label_x,
                        y + h / 2,
                        f"{node.label} · {fmt.integer(node.count)}",
                        anchor=anchor,
                        baseline="middle",
                        size=12,
                        fill=s.INK,
                    )
                )
    parts.append(
        s.text(x_left + node_w / 2, 18, before, anchor="middle", fill=s.MUTED, weight="600")
    )
    parts.append(
        s.text(x_right + node_w / 2, 18, after, anchor="middle", fill=s.MUTED, weight="600")
    )
    legend = [
        (words("chart.migration.stayed"), STAYED, "box"),
        (words("chart.migration.up"), UP, "box"),
        (words("chart.migration.down"), DOWN, "box"),
    ]
    parts.append(chart_legend(legend, x_left, height - 18))
    title = words("chart.migration.title", before=before, after=after)
    return Chart("migration", title, s.svg(width, height, title, *parts), wide=True)


@dataclass(frozen=True)
class SeriesTier:
    """One core tier's size at every date of the series, with its label and colour."""

    label: str
    colour: str
    sizes: Sequence[int]


def _date_labels(dates: Sequence[str], slot: float) -> list[str]:
    """Date labels thinned so that they do not overlap (``""`` where one is skipped)."""
    widest = max([s.text_width(d, 11) for d in dates] + [1.0])
    every = max(1, int(-(-(widest + 8) // max(slot, 1.0))))
    return [d if k % every == 0 else "" for k, d in enumerate(dates)]


def migration_series(
    dates: Sequence[str],
    core_tiers: Sequence[SeriesTier],
    won: Sequence[int],
    downgraded: Sequence[int],
    lost: Sequence[int],
    words: Words,
    fmt: NumberFormat,
) -> Chart:
    """Core customers per core tier at each date (stacked), and below them the customers
    won (up) and downgraded or lost (down) in each step; ``won[k]`` belongs to
    ``dates[k + 1]``.
    """
    width, height = 1000.0, 470.0
    left, right = 70.0, 20.0
    top_panel = (34.0, 226.0)  # y range of the stacked bars
    flow_panel = (290.0, 420.0)  # y range of the won / lost bars
    n = len(dates)
    slot = (width - left - right) / max(n, 1)
    bar_w = min(slot * 0.62, 56.0)
    labelled = slot >= 30  # room for a number above each bar
    parts: list[str] = [
        s.text(left, 14, words("chart.series.sizes"), fill=s.INK, weight="600", size=12),
        s.text(
            left, flow_panel[0] - 22, words("chart.series.flows"), fill=s.INK, weight="600", size=12
        ),
    ]
    totals = [sum(t.sizes[k] for t in core_tiers) for k in range(n)]
    ticks = s.nice_ticks(0, max([*totals, 1]), 4)
    y = s.Scale(0, ticks[-1], top_panel[1], top_panel[0])
    parts.append(y_gridlines(y, ticks, [fmt.integer(t) for t in ticks], left, width - right))
    for k, date in enumerate(dates):
        cx = left + (k + 0.5) * slot
        base = 0.0
        for tier in core_tiers:
            size = tier.sizes[k]
            if size > 0:
                tip = words(
                    "chart.series.point", date=date, name=tier.label, count=fmt.integer(size)
                )
                parts.append(
                    s.rect(
                        cx - bar_w / 2,
                        y(base + size),
                        bar_w,
                        y(base) - y(base + size),
                        fill=tier.colour,
                        tooltip=tip,
                    )
                )
            base += size
        if labelled:
            parts.append(
                s.text(cx, y(base) - 6, fmt.integer(base), anchor="middle", size=11, fill=s.TEXT)
            )
    parts.append(s.line(left, y(0), width - right, y(0), stroke=s.AXIS))
    # The flows: won above the zero line, downgraded and lost stacked below it.
    reach = max([*won, *(d + lo for d, lo in zip(downgraded, lost, strict=True)), 1])
    flow_ticks = s.nice_ticks(0, reach, 2)
    span = flow_ticks[-1]
    zero = (flow_panel[0] + flow_panel[1]) / 2
    half = (flow_panel[1] - flow_panel[0]) / 2

    def fy(value: float) -> float:
        return zero - value / span * half

    grid = [*(-t for t in reversed(flow_ticks[1:])), *flow_ticks]
    for value in grid:
        parts.append(s.line(left, fy(value), width - right, fy(value), stroke=s.GRID))
        parts.append(
            s.text(
                left - 8,
                fy(value),
                fmt.integer(abs(value)),
                anchor="end",
                baseline="middle",
                fill=s.MUTED,
            )
        )
    for step in range(len(won)):
        k = step + 1
        cx = left + (k + 0.5) * slot
        date = dates[k]
        stacks = [
            (won[step], 1, UP, "chart.migration.up", words("mig.flow.won")),
            (downgraded[step], -1, DOWNGRADED, "", words("mig.flow.downgraded")),
            (lost[step], -1, DOWN, "", words("mig.flow.lost")),
        ]
        below = 0.0
        for count, sign, colour, _, name in stacks:
            if count <= 0:
                continue
            tip = words("chart.series.point", date=date, name=name, count=fmt.integer(count))
            if sign > 0:
                y0, y1 = fy(count), fy(0)
            else:
                y0, y1 = fy(-below), fy(-(below + count))
                below += count
            parts.append(s.rect(cx - bar_w / 2, y0, bar_w, y1 - y0, fill=colour, tooltip=tip))
        if won[step] > 0 and labelled:
            parts.append(
                s.text(
                    cx,
                    fy(won[step]) - 6,
                    fmt.integer(won[step]),
                    anchor="middle",
                    size=11,
                    fill=UP,
                    weight="600",
                )
            )
        if below > 0 and labelled:
            parts.append(
                s.text(
                    cx,
                    fy(-below) + 13,
                    fmt.integer(below),
                    anchor="middle",
                    size=11,
                    fill=DOWN,
                    weight="600",
                )
            )
    parts.append(s.line(left, zero, width - right, zero, stroke=s.AXIS))
    for k, label in enumerate(_date_labels(dates, slot)):
        if label:
            parts.append(
                s.text(
                    left + (k + 0.5) * slot,
                    flow_panel[1] + 18,
                    label,
                    anchor="middle",
                    size=11,
                    fill=s.MUTED,
                )
            )
    legend = [(t.label, t.colour, "box") for t in core_tiers] + [
        (words("mig.flow.won"), UP, "box"),
        (words("mig.flow.downgraded"), DOWNGRADED, "box"),
        (words("mig.flow.lost"), DOWN, "box"),
    ]
    parts.append(chart_legend(legend, left, height - 12))
    title = words("chart.series.title")
    return Chart("migration-series", title, s.svg(width, height, title, *parts), wide=True)


# --- horizontal bars: warnings, capture, actions ------------------------------------------


@dataclass(frozen=True)
class HBar:
    """One horizontal bar: label, value, the text at its end, colour and tooltip."""

    label: str
    value: float
    text: str
    colour: str
    tooltip: str
    dashed: bool = False


def _hbars(
    key: str,
    title: str,
    bars: Sequence[HBar],
    fmt: NumberFormat,
    *,
    share_axis: bool,
    legend: Sequence[tuple[str, str, str]] = (),
) -> Chart:
    """Labelled horizontal bars on a common axis (0 to 100 % when ``share_axis``)."""
    width = 520.0
    row_h = max(38.0, 150.0 / max(len(bars), 1))
    bar_h = min(row_h * 0.58, 30.0)
    label_w = min(max([s.text_width(b.label, 12.5) for b in bars] + [40.0]), 220.0)
    left, right = label_w + 20, 64.0
    top = 12.0
    plot_bottom = top + row_h * len(bars)
    height = plot_bottom + 30 + (28 if legend else 0)
    peak = 1.0 if share_axis else max([b.value for b in bars] + [1.0])
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0] if share_axis else s.nice_ticks(0, peak, 4)
    x = s.Scale(0, ticks[-1], left, width - right)
    parts: list[str] = []
    for tick in ticks:
        parts.append(s.line(x(tick), top - 4, x(tick), plot_bottom, stroke=s.GRID))
        shown = fmt.percent(tick, 0) if share_axis else fmt.integer(tick)
        parts.append(
            s.text(x(tick), plot_bottom + 16, shown, anchor="middle", size=11, fill=s.MUTED)
        )
    for row, bar in enumerate(bars):
        cy = top + (row + 0.5) * row_h
        label = s.truncate(bar.label, label_w, 12.5)
        parts.append(
            s.text(left - 10, cy, label, anchor="end", baseline="middle", size=12.5, fill=s.INK)
        )
        length = x(min(max(bar.value, 0.0), ticks[-1])) - x(0)
        parts.append(
            s.el(
                "rect",
                {
                    "x": x(0),
                    "y": cy - bar_h / 2,
                    "width": max(length, 0.0),
                    "height": bar_h,
                    "fill": bar.colour,
                    "rx": 2.0,
                    "stroke": s.MUTED if bar.dashed else None,
                    "stroke-dasharray": "4 3" if bar.dashed else None,
                },
                s.el("title", None, bar.tooltip),
            )
        )
        parts.append(
            s.text(
                x(0) + length + 6,
                cy,
                bar.text,
                baseline="middle",
                size=12,
                fill=s.INK,
                weight="600",
            )
        )
    parts.append(s.line(x(0), top - 4, x(0), plot_bottom, stroke=s.AXIS))
    if legend:
        parts.append(chart_legend(legend, left, height - 12))
    return Chart(key, title, s.svg(width, height, title, *parts))


def alerts_holdout(
    alerted: tuple[float, str], not_alerted: tuple[float, str], words: Words, fmt: NumberFormat
) -> Chart:
    """Active rate in the holdout of alerted and not-alerted core customers; each group is
    ``(rate, count text)``."""
    bars = []
    for (rate, count), key, colour in (
        (alerted, "chart.alerts.alerted", DOWN),
        (not_alerted, "chart.alerts.not_alerted", s.PRIMARY),
    ):
        group = words(key)
        tip = words("chart.alerts.bar", group=group, rate=fmt.percent(rate), count=count)
        bars.append(HBar(group, rate, fmt.percent(rate), colour, tip))
    return _hbars("alerts-holdout", words("chart.alerts.title"), bars, fmt, share_axis=True)


def capture(bars: Sequence[HBar], title: str, fmt: NumberFormat) -> Chart:
    """Holdout revenue captured by each ranking's top share (bars already labelled)."""
    return _hbars("capture", title, bars, fmt, share_axis=True)


def actions(
    bars: Sequence[HBar], legend: Sequence[tuple[str, str, str]], words: Words, fmt: NumberFormat
) -> Chart:
    """Customers per next-best action, coloured by channel."""
    return _hbars(
        "actions", words("chart.actions.title"), bars, fmt, share_axis=False, legend=legend
    )


def recommendations(
    ks: Sequence[int],
    model: Sequence[float | None],
    baseline: Sequence[float | None],
    words: Words,
    fmt: NumberFormat,
) -> Chart:
    """Grouped bars per list length ``k``: hit rate of the recommender and of popularity."""
    width, height = 520.0, 300.0
    left, right, top, bottom = 56.0, 16.0, 16.0, 70.0
    known = [v for v in [*model, *baseline] if v is not None]
    ticks = s.nice_ticks(0, max([*known, 0.1]), 4)
    y = s.Scale(0, ticks[-1], height - bottom, top)
    parts: list[str] = [
        y_gridlines(y, ticks, [fmt.percent(t, 0) for t in ticks], left, width - right)
    ]
    slot = (width - right - left) / max(len(ks), 1)
    bar_w = min(slot * 0.3, 64.0)
    series = (
        (words("chart.rec.model"), model, s.PRIMARY, -1),
        (words("chart.rec.baseline"), baseline, BASELINE, 1),
    )
    for i, k in enumerate(ks):
        cx = left + (i + 0.5) * slot
        for name, values, colour, side in series:
            value = values[i]
            if value is None:
                continue
            x0 = cx - bar_w - 2 if side < 0 else cx + 2
            tip = words("chart.rec.bar", name=name, k=k, rate=fmt.percent(value))
            parts.append(
                s.rect(x0, y(value), bar_w, y(0) - y(value), fill=colour, tooltip=tip, radius=1.5)
            )
            parts.append(
                s.text(
                    x0 + bar_w / 2,
                    y(value) - 6,
                    fmt.percent(value),
                    anchor="middle",
                    size=11.5,
                    fill=s.INK,
                    weight="600",
                )
            )
        parts.append(
            s.text(
                cx, height - bottom + 20, words("chart.rec.x", k=k), anchor="middle", fill=s.MUTED
            )
        )
    parts.append(s.line(left, y(0), width - right, y(0), stroke=s.AXIS))
    parts.append(
        chart_legend([(name, colour, "box") for name, _, colour, _ in series], left, height - 14)
    )
    title = words("chart.rec.title")
    return Chart("recommendations", title, s.svg(width, height, title, *parts))
