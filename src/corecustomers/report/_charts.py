"""The report's charts, each a function from plain numbers to an inline ``<svg>``.

Every function takes data that the section builders have already prepared (sorted, shares
in ``[0, 1]``, labels as strings), the labels of the report language and its number format,
and returns a :class:`Chart`. The template wraps each chart in an element carrying
``data-chart="<key>"``, which the browser tests look for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from markupsafe import Markup

from corecustomers.report import _svg as s
from corecustomers.report._labels import Words
from corecustomers.report._numbers import NumberFormat, tick_decimals


@dataclass(frozen=True)
class Chart:
    """One chart: its stable key (``data-chart``), title, the ``<svg>`` and a caption."""

    kind: ClassVar[str] = "chart"
    key: str
    title: str
    svg: Markup
    caption: str = ""
    wide: bool = False


@dataclass(frozen=True)
class Bar:
    """A labelled category with two shares, used by the segment and ABC charts."""

    label: str
    share_customers: float
    share_revenue: float
    customers: str
    revenue: str


@dataclass(frozen=True)
class HeatCell:
    """One R × F cell: how many customers and their mean monetary value."""

    r: int
    f: int
    count: int
    mean: float | None


@dataclass(frozen=True)
class FrequencyBin:
    """Calibration-frequency bin with the mean holdout purchases, actual and predicted."""

    label: str
    customers: int
    actual: float
    predicted: float


ACTUAL = s.TEXT
PREDICTED = s.PRIMARY


def chart_legend(items: Sequence[tuple[str, str, str]], x: float, y: float) -> Markup:
    """A horizontal legend at ``(x, y)``; items are ``(label, colour, "box"|"line"|"dash")``."""
    parts: list[str] = []
    for label, colour, kind in items:
        if kind == "box":
            parts.append(s.rect(x, y - 6, 12, 12, fill=colour, radius=2))
        else:
            dash = "5 3" if kind == "dash" else None
            parts.append(s.line(x, y, x + 18, y, stroke=colour, width=2.5, dash=dash))
        offset = 12 if kind == "box" else 18
        parts.append(s.text(x + offset + 6, y, label, baseline="middle", fill=s.TEXT))
        x += offset + 6 + s.text_width(label) + 22
    return s.group(parts, class_="legend")


def y_gridlines(
    scale: s.Scale, ticks: Sequence[float], labels: Sequence[str], x0: float, x1: float
) -> Markup:
    parts: list[str] = []
    for value, label in zip(ticks, labels, strict=True):
        y = scale(value)
        parts.append(s.line(x0, y, x1, y, stroke=s.GRID))
        parts.append(s.text(x0 - 8, y, label, anchor="end", baseline="middle", fill=s.MUTED))
    return s.group(parts, class_="y-axis")


@dataclass(frozen=True)
class SharePart:
    """One part of :func:`share_bars`: its label and colour, and per bar its value and
    the amount shown in its tooltip."""

    label: str
    colour: str
    values: tuple[float, ...]
    details: tuple[str, ...]


def share_bars(
    key: str,
    title: str,
    names: Sequence[str],
    parts: Sequence[SharePart],
    legend: Sequence[tuple[str, str, str]],
    fmt: NumberFormat,
    *,
    labelled: bool = False,
) -> Chart:
    """Stacked 100 % bars, one per name in ``names`` (customers, revenue …), each split
    into ``parts`` (tiers, ABC classes) by their share of the bar's total (negative values
    count as 0); a part's share is written on it where it fits, after its label with
    ``labelled``. The one stacked-bar chart of the report (the tier and ABC charts)."""
    width, bar_h, gap = 1000.0, 34.0, 14.0
    left, right = max([s.text_width(name, 13) for name in names] + [0.0]) + 24, 16.0
    height = 40 + len(names) * (bar_h + gap) + 4
    x = s.Scale(0, 1, left, width - right)
    drawn: list[str] = [chart_legend(legend, left, 16)]
    for row, name in enumerate(names):
        y0 = 36 + row * (bar_h + gap)
        drawn.append(
            s.text(
                left - 12,
                y0 + bar_h / 2,
                name,
                anchor="end",
                baseline="middle",
                size=13,
                fill=s.INK,
            )
        )
        values = [max(part.values[row], 0.0) for part in parts]
        total = sum(values) or 1.0
        start = 0.0
        for part, value in zip(parts, values, strict=True):
            share = value / total
            x0, x1 = x(start), x(start + share)
            tip = f"{part.label} · {name}: {part.details[row]} ({fmt.percent(share)})"
            drawn.append(
                s.rect(x0, y0, x1 - x0, bar_h, fill=part.colour, tooltip=tip, stroke=s.PAPER)
            )
            caption = f"{part.label} {fmt.percent(share)}" if labelled else fmt.percent(share)
            if x1 - x0 > s.text_width(caption, 12) + 10:
                ink = s.PAPER if s.is_dark(part.colour) else s.INK
                drawn.append(
                    s.text(
                        (x0 + x1) / 2,
                        y0 + bar_h / 2,
                        caption,
                        anchor="middle",
                        baseline="middle",
                        fill=ink,
                        weight="600",
                    )
                )
            start += share
    return Chart(key, title, s.svg(width, height, title, *drawn), wide=True)


def _x_labels(
    scale: s.Scale, ticks: Sequence[float], labels: Sequence[str], y: float, *, grid: float = 0.0
) -> Markup:
    """Tick labels under the plot at ``y``; ``grid`` > 0 also draws gridlines up to it."""
    parts: list[str] = []
    for value, label in zip(ticks, labels, strict=True):
        x = scale(value)
        if grid:
            parts.append(s.line(x, grid, x, y - 18, stroke=s.GRID))
        parts.append(s.text(x, y, label, anchor="middle", fill=s.MUTED))
    return s.group(parts, class_="x-axis")


def lorenz(
    curve: Sequence[tuple[float, float]], top20: float | None, words: Words, fmt: NumberFormat
) -> Chart:
    """Pareto curve: cumulative revenue share against customer share, largest first.

    ``curve`` runs from ``(0, 0)`` to ``(1, 1)`` and is concave. The 80/20 rule is drawn as a
    dashed reference at ``(0.2, 0.8)``, the business's own top-20 % share as a dot.
    """
    width, height = 520.0, 410.0
    left, right, top, bottom = 64.0, 24.0, 20.0, 92.0
    x = s.Scale(0, 1, left, width - right)
    y = s.Scale(0, 1, height - bottom, top)
    ticks = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    labels = [fmt.percent(t, 0) for t in ticks]
    parts: list[str] = [
        y_gridlines(y, ticks, labels, left, width - right),
        _x_labels(x, ticks, labels, height - bottom + 20, grid=top),
        s.line(left, y(0), width - right, y(0), stroke=s.AXIS),
    ]
    points = [(x(px), y(py)) for px, py in curve]
    if points:
        area = [(x(0), y(0)), *points, (x(1), y(0))]
        parts.append(s.polyline(area, stroke="none", width=0, fill=s.PRIMARY_LIGHT))
    parts.append(s.line(x(0), y(0), x(1), y(1), stroke=s.AXIS, width=1.5, dash="4 4"))
    if points:
        parts.append(s.polyline(points, stroke=s.PRIMARY, width=2.5))
    rx, ry = x(0.2), y(0.8)
    parts.append(
        s.polyline([(rx, y(0)), (rx, ry), (x(0), ry)], stroke=s.ACCENT, width=1.5, dash="5 4")
    )
    parts.append(s.circle(rx, ry, 4.5, fill=s.ACCENT, tooltip=words("chart.lorenz.rule")))
    rule_label_y = ry
    if top20 is not None:
        py = y(top20)
        if abs(py - ry) < 18:
            rule_label_y = py + 18 if py <= ry else py - 18
        point_label = words("chart.lorenz.point", share=fmt.percent(top20))
        parts.append(s.circle(rx, py, 5.5, fill=s.PRIMARY, tooltip=point_label))
        parts.append(
            s.text(rx + 12, py, point_label, baseline="middle", fill=s.INK, weight="600", halo=True)
        )
    parts.append(
        s.text(
            rx + 12,
            rule_label_y,
            words("chart.lorenz.rule"),
            baseline="middle",
            fill=s.ACCENT,
            halo=True,
        )
    )
    parts.append(
        s.text(
            (left + width - right) / 2,
            height - bottom + 44,
            words("chart.lorenz.x"),
            anchor="middle",
        )
    )
    parts.append(
        s.text(
            16, (top + height - bottom) / 2, words("chart.lorenz.y"), anchor="middle", rotate=-90
        )
    )
    parts.append(
        chart_legend(
            [
                (words("chart.lorenz.curve"), s.PRIMARY, "line"),
                (words("chart.lorenz.equal"), s.AXIS, "dash"),
                (words("chart.lorenz.rule"), s.ACCENT, "dash"),
            ],
            left,
            height - 16,
        )
    )
    title = words("chart.lorenz.title")
    return Chart("lorenz", title, s.svg(width, height, title, *parts))


def segments(bars: Sequence[Bar], words: Words, fmt: NumberFormat) -> Chart:
    """Horizontal paired bars: each segment's share of customers and share of revenue."""
    width = 1000.0
    row, bar_h = 44.0, 15.0
    label_w = min(max([s.text_width(b.label, 13) for b in bars] + [60.0]) + 20, 280.0)
    left, right, top, bottom = label_w, 64.0, 40.0, 34.0
    height = top + row * max(len(bars), 1) + bottom
    peak = max([b.share_customers for b in bars] + [b.share_revenue for b in bars] + [0.05])
    ticks = s.nice_ticks(0, peak, 5)
    x = s.Scale(0, ticks[-1], left, width - right)
    parts: list[str] = [
        _x_labels(x, ticks, [fmt.percent(t, 0) for t in ticks], height - 12, grid=top - 6),
        chart_legend(
            [
                (words("chart.segments.customers"), s.SECONDARY, "box"),
                (words("chart.segments.revenue"), s.PRIMARY, "box"),
            ],
            left,
            16,
        ),
    ]
    for i, bar in enumerate(bars):
        y0 = top + i * row + (row - 2 * bar_h - 3) / 2
        name = s.truncate(bar.label, label_w - 20, 13)
        parts.append(
            s.text(
                left - 12,
                y0 + bar_h + 1.5,
                name,
                anchor="end",
                baseline="middle",
                size=13,
                fill=s.INK,
            )
        )
        for j, (share, colour, detail) in enumerate(
            (
                (bar.share_customers, s.SECONDARY, bar.customers),
                (bar.share_revenue, s.PRIMARY, bar.revenue),
            )
        ):
            by = y0 + j * (bar_h + 3)
            tip = f"{bar.label} · {detail} · {fmt.percent(share)}"
            parts.append(
                s.rect(left, by, x(share) - left, bar_h, fill=colour, tooltip=tip, radius=2)
            )
            parts.append(
                s.text(
                    x(share) + 6,
                    by + bar_h / 2,
                    fmt.percent(share),
                    baseline="middle",
                    size=11,
                    fill=s.TEXT,
                )
            )
    parts.append(s.line(left, top - 6, left, height - 30, stroke=s.AXIS))
    title = words("chart.segments.title")
    return Chart("segments", title, s.svg(width, height, title, *parts), wide=True)


#: Cells with fewer than this share of the customers do not stretch the heat map's colours.
MIN_CELL_SHARE = 0.01


def _colour_domain(cells: Sequence[HeatCell]) -> tuple[float, float, bool, bool]:
    """``(lo, hi, clipped_lo, clipped_hi)`` of the cell means the colours span.

    A cell of three customers with an extreme mean would otherwise wash out all the others,
    so the span comes from cells holding at least :data:`MIN_CELL_SHARE` of the customers;
    smaller cells beyond it take the end colour and the legend says so.
    """
    filled = [c for c in cells if c.mean is not None and c.count > 0]
    if not filled:
        return 0.0, 1.0, False, False
    total = sum(c.count for c in filled)
    large = [c for c in filled if c.count >= MIN_CELL_SHARE * total] or filled
    lo = min(c.mean for c in large if c.mean is not None)
    hi = max(c.mean for c in large if c.mean is not None)
    means = [c.mean for c in filled if c.mean is not None]
    return lo, hi, min(means) < lo, max(means) > hi


def rf_heatmap(
    cells: Sequence[HeatCell],
    r_values: Sequence[int],
    f_values: Sequence[int],
    words: Words,
    fmt: NumberFormat,
) -> Chart:
    """Grid of R score (columns) × F score (rows, best at the top), coloured by mean value."""
    width = 520.0
    left, right, top = 56.0, 8.0, 8.0
    cell_w = (width - left - right) / max(len(r_values), 1)
    cell_h = min(cell_w * 0.7, 60.0)
    grid_bottom = top + cell_h * max(len(f_values), 1)
    height = grid_bottom + 104
    lo, hi, clipped_lo, clipped_hi = _colour_domain(cells)
    by_key = {(c.r, c.f): c for c in cells}
    parts: list[str] = []
    for col, r in enumerate(r_values):
        cx = left + col * cell_w
        for line_no, f in enumerate(reversed(f_values)):
            cy = top + line_no * cell_h
            mid_x, mid_y = cx + cell_w / 2, cy + cell_h / 2
            cell = by_key.get((r, f))
            if cell is None or cell.count == 0 or cell.mean is None:
                count = fmt.integer(cell.count) if cell is not None and cell.count else ""
                key = "chart.rf.cell_unvalued" if count else "chart.rf.cell_empty"
                tip = words(key, r=r, f=f, count=count)
                parts.append(
                    s.rect(
                        cx + 1,
                        cy + 1,
                        cell_w - 2,
                        cell_h - 2,
                        fill=s.EMPTY_CELL,
                        radius=3,
                        tooltip=tip,
                    )
                )
                parts.append(
                    s.text(
                        mid_x,
                        mid_y - (8 if count else 0),
                        "–",
                        anchor="middle",
                        baseline="middle",
                        fill=s.MUTED,
                    )
                )
                if count:
                    parts.append(
                        s.text(
                            mid_x,
                            mid_y + 11,
                            words("chart.rf.count", count=count),
                            anchor="middle",
                            baseline="middle",
                            size=11,
                            fill=s.MUTED,
                        )
                    )
                continue
            colour = s.sequential((cell.mean - lo) / (hi - lo) if hi > lo else 0.6)
            ink = s.PAPER if s.is_dark(colour) else s.INK
            count = fmt.integer(cell.count)
            tip = words("chart.rf.cell", r=r, f=f, count=count, mean=fmt.money(cell.mean))
            parts.append(
                s.rect(cx + 1, cy + 1, cell_w - 2, cell_h - 2, fill=colour, tooltip=tip, radius=3)
            )
            value = s.truncate(fmt.money_short(cell.mean), cell_w - 8, 13)
            parts.append(
                s.text(
                    mid_x,
                    mid_y - 8,
                    value,
                    anchor="middle",
                    baseline="middle",
                    size=13,
                    fill=ink,
                    weight="600",
                )
            )
            parts.append(
                s.text(
                    mid_x,
                    mid_y + 11,
                    words("chart.rf.count", count=count),
                    anchor="middle",
                    baseline="middle",
                    size=11,
                    fill=ink,
                )
            )
    for col, r in enumerate(r_values):
        parts.append(
            s.text(
                left + (col + 0.5) * cell_w, grid_bottom + 18, str(r), anchor="middle", fill=s.MUTED
            )
        )
    for line_no, f in enumerate(reversed(f_values)):
        parts.append(
            s.text(
                left - 12,
                top + (line_no + 0.5) * cell_h,
                str(f),
                anchor="end",
                baseline="middle",
                fill=s.MUTED,
            )
        )
    parts.append(
        s.text((left + width - right) / 2, grid_bottom + 42, words("chart.rf.x"), anchor="middle")
    )
    parts.append(
        s.text(16, (top + grid_bottom) / 2, words("chart.rf.y"), anchor="middle", rotate=-90)
    )
    # Legend: a horizontal colour ramp from the lowest to the highest cell mean.
    legend_y = grid_bottom + 82
    title = words("chart.rf.legend")
    low = ("≤ " if clipped_lo else "") + fmt.money_short(lo)
    high = ("≥ " if clipped_hi else "") + fmt.money_short(hi)
    x0 = left + s.text_width(title, 11) + 16
    parts.append(s.text(left, legend_y, title, baseline="middle", size=11, fill=s.MUTED))
    parts.append(s.text(x0, legend_y, low, baseline="middle", size=11, fill=s.MUTED))
    ramp_x, ramp_w, steps = x0 + s.text_width(low, 11) + 8, 150.0, 30
    for k in range(steps):
        parts.append(
            s.rect(
                ramp_x + k * ramp_w / steps,
                legend_y - 6,
                ramp_w / steps + 0.5,
                12,
                fill=s.sequential(k / (steps - 1)),
            )
        )
    parts.append(
        s.text(ramp_x + ramp_w + 8, legend_y, high, baseline="middle", size=11, fill=s.MUTED)
    )
    chart_title = words("chart.rf.title")
    return Chart("rf-heatmap", chart_title, s.svg(width, height, chart_title, *parts))


def abc(bars: Sequence[Bar], value: str, words: Words, fmt: NumberFormat) -> Chart:
    """Two 100 % bars (customers, and ``value``: revenue or margin), split by ABC class."""
    legend = [
        (
            f"{b.label} · {words(f'abc.{b.label}')}" if b.label in s.ABC_COLOURS else b.label,
            s.ABC_COLOURS.get(b.label, s.OTHER_CLASS),
            "box",
        )
        for b in bars
    ]
    parts = [
        SharePart(
            b.label,
            s.ABC_COLOURS.get(b.label, s.OTHER_CLASS),
            (b.share_customers, b.share_revenue),
            (b.customers, b.revenue),
        )
        for b in bars
    ]
    names = [words("chart.abc.customers"), words(f"chart.abc.{value}")]
    title = words("chart.abc.title")
    return share_bars("abc", title, names, parts, legend, fmt, labelled=True)


def _runs(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Split a series at its missing values, so a gap is drawn as a gap, not as zero."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            runs.append([])
        else:
            runs[-1].append((x, y))
    return [run for run in runs if run]


def holdout_tracking(
    periods: Sequence[str],
    actual: Sequence[float | None],
    predicted: Sequence[float | None],
    conditional: Sequence[float | None] | None,
    cumulative: bool,
    unit: str,
    words: Words,
    fmt: NumberFormat,
) -> Chart:
    """Repeat purchases per holdout period (or cumulated): actual against predicted.

    ``conditional``, when given, is a second prediction (the sum of the customers'
    conditional expectations) drawn as a dotted line.
    """
    width, height = 520.0, 340.0
    left, right, top, bottom = 64.0, 20.0, 16.0, 84.0
    n = len(periods)
    series: list[tuple[str, Sequence[float | None], str, str | None, str]] = [
        (words("chart.actual"), actual, ACTUAL, None, "line"),
        (words("chart.predicted"), predicted, PREDICTED, "6 4", "dash"),
    ]
    if conditional is not None:
        series.append((words("chart.conditional"), conditional, s.ACCENT, "2 3", "dash"))
    known = [v for _, values, _, _, _ in series for v in values if v is not None]
    ticks = s.nice_ticks(0, max([*known, 1.0]), 5)
    y = s.Scale(0, ticks[-1], height - bottom, top)
    x = s.Scale(0, max(n - 1, 1), left, width - right)
    decimals = tick_decimals(ticks[1] - ticks[0]) if len(ticks) > 1 else 0
    parts: list[str] = [
        y_gridlines(y, ticks, [fmt.decimal(t, decimals) for t in ticks], left, width - right)
    ]
    every = max(1, -(-n // 6))
    shown = list(range(0, n, every))
    parts.append(
        _x_labels(x, [float(i) for i in shown], [periods[i] for i in shown], height - bottom + 20)
    )
    parts.append(s.line(left, y(0), width - right, y(0), stroke=s.AXIS))
    for _, values, colour, dash, _ in reversed(series):
        points = [(x(i), None if v is None else y(v)) for i, v in enumerate(values)]
        for run in _runs(points):
            parts.append(s.polyline(run, stroke=colour, width=2.2, dash=dash))
    if n <= 80:
        for i, (a, p) in enumerate(zip(actual, predicted, strict=True)):
            if a is None:
                continue
            tip = words(
                "chart.tracking.point",
                period=periods[i],
                actual=fmt.decimal(a),
                predicted=fmt.decimal(p),
            )
            parts.append(s.circle(x(i), y(a), 2.6, fill=ACTUAL, stroke="none", tooltip=tip))
    y_label = words("chart.tracking.cumulative_y" if cumulative else "chart.tracking.y")
    parts.append(
        s.text(
            (left + width - right) / 2,
            height - bottom + 44,
            words("chart.tracking.x", unit=unit),
            anchor="middle",
        )
    )
    parts.append(s.text(16, (top + height - bottom) / 2, y_label, anchor="middle", rotate=-90))
    parts.append(
        chart_legend(
            [(label, colour, kind) for label, _, colour, _, kind in series], left, height - 14
        )
    )
    title = (
        words("chart.tracking.cumulative_title")
        if cumulative
        else words("chart.tracking.title", unit=unit)
    )
    return Chart("holdout-tracking", title, s.svg(width, height, title, *parts))


def holdout_frequency(bins: Sequence[FrequencyBin], words: Words, fmt: NumberFormat) -> Chart:
    """Grouped bars per calibration-frequency bin: mean holdout purchases, actual vs predicted."""
    width, height = 520.0, 340.0
    left, right, top, bottom = 64.0, 20.0, 16.0, 84.0
    peak = max([b.actual for b in bins] + [b.predicted for b in bins] + [0.1])
    ticks = s.nice_ticks(0, peak, 5)
    y = s.Scale(0, ticks[-1], height - bottom, top)
    decimals = tick_decimals(ticks[1] - ticks[0]) if len(ticks) > 1 else 0
    parts: list[str] = [
        y_gridlines(y, ticks, [fmt.decimal(t, decimals) for t in ticks], left, width - right)
    ]
    slot = (width - right - left) / max(len(bins), 1)
    bar_w = min(slot * 0.36, 28.0)
    for i, b in enumerate(bins):
        cx = left + (i + 0.5) * slot
        tip = words(
            "chart.frequency.bin",
            bin=b.label,
            count=fmt.integer(b.customers),
            actual=fmt.decimal(b.actual),
            predicted=fmt.decimal(b.predicted),
        )
        parts.append(
            s.rect(
                cx - bar_w - 1,
                y(b.actual),
                bar_w,
                y(0) - y(b.actual),
                fill=ACTUAL,
                tooltip=tip,
                radius=1.5,
            )
        )
        parts.append(
            s.rect(
                cx + 1,
                y(b.predicted),
                bar_w,
                y(0) - y(b.predicted),
                fill=PREDICTED,
                tooltip=tip,
                radius=1.5,
            )
        )
        parts.append(s.text(cx, height - bottom + 20, b.label, anchor="middle", fill=s.MUTED))
    parts.append(s.line(left, y(0), width - right, y(0), stroke=s.AXIS))
    parts.append(
        s.text(
            (left + width - right) / 2,
            height - bottom + 44,
            words("chart.frequency.x"),
            anchor="middle",
        )
    )
    parts.append(
        s.text(
            16, (top + height - bottom) / 2, words("chart.frequency.y"), anchor="middle", rotate=-90
        )
    )
    parts.append(
        chart_legend(
            [(words("chart.actual"), ACTUAL, "box"), (words("chart.predicted"), PREDICTED, "box")],
            left,
            height - 14,
        )
    )
    title = words("chart.frequency.title")
    return Chart("holdout-frequency", title, s.svg(width, height, title, *parts))


def histogram(
    edges: Sequence[float], counts: Sequence[int], key: str, words: Words, fmt: NumberFormat
) -> Chart:
    """Histogram of customer lifetime value; ``edges`` has one more entry than ``counts``."""
    width, height = 520.0, 340.0
    left, right, top, bottom = 64.0, 24.0, 16.0, 64.0
    x = s.Scale(edges[0], edges[-1], left, width - right)
    y_ticks = s.nice_ticks(0, max([*counts, 1]), 5)
    y_ticks = [t for t in y_ticks if float(t).is_integer()] or [0.0, 1.0]
    y = s.Scale(0, y_ticks[-1], height - bottom, top)
    parts: list[str] = [
        y_gridlines(y, y_ticks, [fmt.integer(t) for t in y_ticks], left, width - right)
    ]
    for lo, hi, count in zip(edges[:-1], edges[1:], counts, strict=True):
        tip = words("chart.clv.bin", lo=fmt.money(lo), hi=fmt.money(hi), count=fmt.integer(count))
        parts.append(
            s.rect(
                x(lo) + 0.5,
                y(count),
                x(hi) - x(lo) - 1,
                y(0) - y(count),
                fill=s.PRIMARY,
                tooltip=tip,
            )
        )
    x_ticks = [
        t for t in s.nice_ticks(edges[0], edges[-1], 5) if edges[0] - 1e-9 <= t <= edges[-1] + 1e-9
    ]
    decimals = tick_decimals(x_ticks[1] - x_ticks[0]) if len(x_ticks) > 1 else 0
    parts.append(
        _x_labels(x, x_ticks, [fmt.money(t, decimals) for t in x_ticks], height - bottom + 20)
    )
    parts.append(s.line(left, y(0), width - right, y(0), stroke=s.AXIS))
    parts.append(
        s.text((left + width - right) / 2, height - 14, words("chart.clv.x"), anchor="middle")
    )
    parts.append(
        s.text(16, (top + height - bottom) / 2, words("chart.clv.y"), anchor="middle", rotate=-90)
    )
    title = words("chart.clv.title")
    return Chart(key, title, s.svg(width, height, title, *parts))
