"""The recommendations section: hit rates measured on the holdout.

Split from ``_core`` (one module per section); see its docstring for the columns read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from corecustomers.report import _core_charts as charts
from corecustomers.report import _inputs as inputs
from corecustomers.report._labels import Words
from corecustomers.report._numbers import MISSING, NumberFormat, as_float
from corecustomers.report._view import Block, Kpi, Kpis, Section

_HIT_RATE: Final = re.compile(r"hit_rate_at_(\d+)$")


# --- recommendations ----------------------------------------------------------------------


def recommendations_section(
    summary: Mapping[str, Any], words: Words, fmt: NumberFormat
) -> Section | None:
    """Hit rates at each list length against the popularity baseline."""
    if "recommendations" not in summary:
        return None
    rec = inputs.mapping(summary.get("recommendations"))
    baseline = inputs.mapping(rec.get("baseline"))
    ks = sorted(
        int(match.group(1)) for key in rec if (match := _HIT_RATE.match(str(key))) is not None
    )
    intro = words("rec.intro")
    if rec.get("split_date") and rec.get("end"):
        intro += ("" if words.lang == "zh" else " ") + words(
            "rec.basis", split=rec["split_date"], end=rec["end"]
        )
    items = []
    model = [as_float(rec.get(f"hit_rate_at_{k}")) for k in ks]
    base = [as_float(baseline.get(f"hit_rate_at_{k}")) for k in ks]
    for k, ours, theirs in zip(ks, model, base, strict=True):
        note = ""
        if theirs is not None:
            diff = (ours - theirs) * 100 if ours is not None else None
            shown = (
                words(
                    "rec.points",
                    sign="+" if diff > 0 else "−" if diff < 0 else "±",
                    value=fmt.decimal(abs(diff), 1),
                )
                if diff is not None
                else MISSING
            )
            note = words("rec.hit_note", base=fmt.percent(theirs), diff=shown)
        items.append(Kpi(words("rec.hit", k=k), fmt.percent(ours), note, emphasis=True))
    products = rec.get("products")
    items.append(
        Kpi(
            words("rec.customers"),
            fmt.integer(rec.get("customers_evaluated")),
            words("rec.products", count=fmt.integer(products)) if products is not None else "",
        )
    )
    blocks: list[Block] = [Kpis(tuple(items), layout="list", wide=False)]
    if ks and any(v is not None for v in model):
        blocks.insert(0, charts.recommendations(ks, model, base, words, fmt))
    return Section("recommendations", words("sec.recommendations"), intro, tuple(blocks))
