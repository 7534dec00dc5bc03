"""A few SVG building blocks: an escaping element builder, linear scales, nice ticks.

The charts are hand-written SVG rather than matplotlib output. That keeps their text in the
page's own fonts (Chinese included, with no font to bundle or measure), their colours in
one palette with the page, their output identical from run to run, and it needs no
process-wide state (no ``rcParams``, no backend), so reports can be rendered from several
threads at once.

Every string that reaches the markup goes through :func:`markupsafe.escape`; only
:class:`~markupsafe.Markup` made by this module passes through unchanged.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from markupsafe import Markup, escape

# The palette, shared with report.css.
INK: Final = "#0f172a"
TEXT: Final = "#334155"
MUTED: Final = "#64748b"
AXIS: Final = "#94a3b8"
GRID: Final = "#e2e8f0"
PAPER: Final = "#ffffff"
PRIMARY: Final = "#2563eb"
PRIMARY_LIGHT: Final = "#dbeafe"
SECONDARY: Final = "#94a3b8"
ACCENT: Final = "#d97706"
ABC_COLOURS: Final[Mapping[str, str]] = {"A": "#1e40af", "B": "#60a5fa", "C": "#cbd5e1"}
OTHER_CLASS: Final = "#e2e8f0"
#: Sequential scale for the heat map, light to dark (ColorBrewer "Blues", 5 stops).
SEQUENTIAL: Final[tuple[str, ...]] = ("#eff6ff", "#bfdbfe", "#60a5fa", "#2563eb", "#1e3a8a")
EMPTY_CELL: Final = "#f1f5f9"

FONT_SIZE: Final = 12.0


def num(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def el(tag: str, attrs: Mapping[str, object] | None = None, *children: str) -> Markup:
    """``<tag attrs>children</tag>``; attribute values and plain-``str`` children escaped.

    ``tag`` and attribute names come from this package's code, never from data.
    """
    parts = [f"<{tag}"]
    for name, value in (attrs or {}).items():
        if value is None:
            continue
        shown = num(float(value)) if isinstance(value, float) else str(value)
        parts.append(f' {name}="{escape(shown)}"')
    if not children:
        return Markup("".join(parts) + "/>")
    body = "".join(str(escape(child)) for child in children)
    return Markup("".join(parts) + ">" + body + f"</{tag}>")


def group(children: Iterable[str], **attrs: object) -> Markup:
    """``<g>`` around ``children``; ``class_`` becomes ``class``."""
    fixed = {("class" if key == "class_" else key.replace("_", "-")): v for key, v in attrs.items()}
    items = list(children)
    return el("g", fixed, *items) if items else Markup("")


def text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    size: float = FONT_SIZE,
    fill: str = TEXT,
    weight: str | None = None,
    baseline: str | None = None,
    rotate: float | None = None,
    halo: bool = False,
) -> Markup:
    """A ``<text>`` element; ``baseline="middle"`` centres it vertically on ``y``.

    ``halo`` draws a white outline behind the glyphs so the text stays readable over lines.
    """
    return el(
        "text",
        {
            "x": float(x),
            "y": float(y),
            "text-anchor": anchor,
            "font-size": float(size),
            "fill": fill,
            "font-weight": weight,
            "dominant-baseline": "central" if baseline == "middle" else None,
            "transform": f"rotate({num(rotate)} {num(x)} {num(y)})" if rotate else None,
            "stroke": PAPER if halo else None,
            "stroke-width": 4.0 if halo else None,
            "stroke-linejoin": "round" if halo else None,
            "paint-order": "stroke" if halo else None,
        },
        content,
    )


def line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    *,
    stroke: str = AXIS,
    width: float = 1.0,
    dash: str | None = None,
) -> Markup:
    """A straight line."""
    return el(
        "line",
        {
            "x1": float(x1),
            "y1": float(y1),
            "x2": float(x2),
            "y2": float(y2),
            "stroke": stroke,
            "stroke-width": float(width),
            "stroke-dasharray": dash,
        },
    )


def rect(
    x: float,
    y: float,
    width: float,
    height: float,
    *,
    fill: str,
    tooltip: str | None = None,
    radius: float = 0.0,
    stroke: str | None = None,
) -> Markup:
    """A rectangle; ``tooltip`` becomes its ``<title>`` (shown on hover, read by screen readers)."""
    attrs = {
        "x": float(x),
        "y": float(y),
        "width": float(max(width, 0.0)),
        "height": float(max(height, 0.0)),
        "fill": fill,
        "rx": float(radius) if radius else None,
        "stroke": stroke,
    }
    return el("rect", attrs, el("title", None, tooltip)) if tooltip else el("rect", attrs)


def polyline(
    points: Sequence[tuple[float, float]],
    *,
    stroke: str,
    width: float = 2.0,
    dash: str | None = None,
    fill: str = "none",
) -> Markup:
    """A polyline (``fill`` other than ``"none"`` makes it a closed area)."""
    coords = " ".join(f"{num(x)},{num(y)}" for x, y in points)
    return el(
        "polyline" if fill == "none" else "polygon",
        {
            "points": coords,
            "fill": fill,
            "stroke": stroke,
            "stroke-width": float(width),
            "stroke-dasharray": dash,
            "stroke-linejoin": "round",
            "stroke-linecap": "round",
        },
    )


def circle(
    x: float, y: float, r: float, *, fill: str, stroke: str = PAPER, tooltip: str | None = None
) -> Markup:
    """A dot with a white ring, optionally with a tooltip."""
    attrs = {"cx": float(x), "cy": float(y), "r": float(r), "fill": fill, "stroke": stroke}
    attrs["stroke-width"] = 1.5
    return el("circle", attrs, el("title", None, tooltip)) if tooltip else el("circle", attrs)


def svg(width: float, height: float, title: str, *children: str) -> Markup:
    """The root element: shrinks to its container, keeps its aspect ratio, labelled for a11y."""
    return el(
        "svg",
        {
            "viewBox": f"0 0 {num(width)} {num(height)}",
            # its natural width, shrunk to the container by the stylesheets' `.chart svg`
            # (max-width: 100%): no style attribute, which a strict Content-Security-Policy
            # would refuse on the service's pages
            "width": num(width),
            "role": "img",
            "aria-label": title,
            "preserveAspectRatio": "xMidYMid meet",
        },
        el("title", None, title),
        *children,
    )


def text_width(content: str, size: float = FONT_SIZE) -> float:
    """Estimated rendered width: CJK (wide) characters take one em, others about 0.58 em."""
    wide = sum(1 for ch in content if unicodedata.east_asian_width(ch) in ("W", "F"))
    return size * (wide + 0.58 * (len(content) - wide))


def truncate(content: str, max_width: float, size: float = FONT_SIZE) -> str:
    """``content`` cut with an ellipsis so that it fits in ``max_width``."""
    if text_width(content, size) <= max_width:
        return content
    cut = content
    while cut and text_width(cut + "…", size) > max_width:
        cut = cut[:-1]
    return cut + "…"


@dataclass(frozen=True)
class Scale:
    """Linear map from the data interval ``[d0, d1]`` to the pixel interval ``[r0, r1]``."""

    d0: float
    d1: float
    r0: float
    r1: float

    def __call__(self, value: float) -> float:
        span = self.d1 - self.d0
        if span == 0:
            return (self.r0 + self.r1) / 2
        return self.r0 + (value - self.d0) / span * (self.r1 - self.r0)


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 × 10^k) covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    if hi <= lo:
        hi = lo + (abs(lo) if lo else 1.0)
    raw = (hi - lo) / max(target, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if raw <= m * magnitude * 1.0001)
    start = math.floor(lo / step + 1e-9) * step
    stop = math.ceil(hi / step - 1e-9) * step
    count = round((stop - start) / step)
    return [round(start + i * step, 12) for i in range(count + 1)]


def mix(colour_a: str, colour_b: str, t: float) -> str:
    """The colour a fraction ``t`` of the way from ``colour_a`` to ``colour_b`` (``#rrggbb``)."""
    a = [int(colour_a[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(colour_b[i : i + 2], 16) for i in (1, 3, 5)]
    t = min(max(t, 0.0), 1.0)
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b, strict=True))


def sequential(t: float) -> str:
    """Colour of ``t`` in ``[0, 1]`` on :data:`SEQUENTIAL`."""
    t = min(max(t, 0.0), 1.0) * (len(SEQUENTIAL) - 1)
    i = min(int(t), len(SEQUENTIAL) - 2)
    return mix(SEQUENTIAL[i], SEQUENTIAL[i + 1], t - i)


def is_dark(colour: str) -> bool:
    """Whether white text reads better than dark text on ``colour`` (relative luminance)."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return luminance < 0.3
