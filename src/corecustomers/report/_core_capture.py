"""The capture section: the holdout revenue the top customers of each ranking brought.

Split from ``_core`` (one module per section); see its docstring for the columns read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from corecustomers.report import _core_charts as charts
from corecustomers.report import _inputs as inputs
from corecustomers.report import _svg as s
from corecustomers.report._core import METHODS, choice_sentence
from corecustomers.report._labels import Words
from corecustomers.report._numbers import MISSING, NumberFormat, as_float
from corecustomers.report._view import Block, Cell, Column, Note, Section, Table

# --- capture comparison -------------------------------------------------------------------


def capture_section(summary: Mapping[str, Any], words: Words, fmt: NumberFormat) -> Section | None:
    """Holdout revenue captured by the top share of each ranking, and the choice made."""
    if "capture" not in summary:
        return None
    capture = inputs.mapping(summary.get("capture"))
    shares = inputs.mapping(capture.get("capture"))
    top = as_float(capture.get("top_share"))
    top_text = fmt.percent(top if top is not None else 0.2, 0)
    used = str(capture.get("core_score") or "")
    intro = words(
        "cap.intro",
        date=capture.get("calibration_end") or summary.get("calibration_end") or MISSING,
        share=top_text,
        revenue=fmt.money(capture.get("holdout_revenue")),
    )
    best = as_float(shares.get("best_possible"))
    spend = as_float(shares.get("historic_spend"))
    bars = []
    table_rows = []
    for method in (*METHODS, "best_possible"):
        value = as_float(shares.get(method))
        if value is None:
            continue
        label = words(f"cap.{method}")
        if method == used:
            label += f" ({words('cap.used')})" if words.lang == "en" else f"（{words('cap.used')}）"
        colour = (
            charts.BASELINE
            if method == "best_possible"
            else s.PRIMARY
            if method == used
            else s.SECONDARY
        )
        tip = words("chart.capture.bar", method=label, share=fmt.percent(value))
        bars.append(
            charts.HBar(label, value, fmt.percent(value), colour, tip, method == "best_possible")
        )
        versus = (
            words(
                "rec.points",
                sign="+" if value > spend else "−" if value < spend else "±",
                value=fmt.decimal(abs(value - spend) * 100, 1),
            )
            if spend is not None and method != "historic_spend"
            else MISSING
        )
        table_rows.append(
            (
                Cell(label, strong=method == used),
                Cell(fmt.percent(value), strong=method == used),
                Cell(versus),
                Cell(fmt.percent(inputs.share(value, best))),
            )
        )
    blocks: list[Block] = []
    if bars:
        blocks.append(charts.capture(bars, words("chart.capture.title", share=top_text), fmt))
        blocks.append(
            Table(
                (
                    Column(words("col.method")),
                    Column(words("col.captured"), "num"),
                    Column(words("col.vs_spend"), "num"),
                    Column(words("col.of_best"), "num"),
                ),
                tuple(table_rows),
                wide=False,
                key="capture",
            )
        )
    else:
        blocks.append(Note(words("not_available")))
    if used or capture.get("reason"):
        score = {**inputs.mapping(summary.get("core_score")), **capture}
        blocks.append(Note(choice_sentence(score, words, fmt)))
    return Section("capture", words("sec.capture"), intro, tuple(blocks))
