"""The next-best-actions section: actions by tier and channel, the urgent contacts.

Split from ``_core`` (one module per section); see its docstring for the columns read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from corecustomers.report import _core_charts as charts
from corecustomers.report import _inputs as inputs
from corecustomers.report._core import (
    CHANNELS,
    URGENT_DAYS,
    TierNames,
    channel_word,
)
from corecustomers.report._labels import Words
from corecustomers.report._numbers import MISSING, NumberFormat, as_float
from corecustomers.report._view import Cell, Column, Kpi, Kpis, Note, Section, Table

# --- next-best actions --------------------------------------------------------------------


def actions_section(
    summary: Mapping[str, Any],
    customers: pa.Table,
    names: TierNames,
    words: Words,
    fmt: NumberFormat,
) -> Section | None:
    """Customers per next-best action (by tier when known), with channel and deadline."""
    if "actions" not in summary:
        return None
    counts = {
        str(code): as_float(n) or 0.0 for code, n in inputs.mapping(summary.get("actions")).items()
    }
    intro = words("actions.intro")
    if not counts:
        return Section("actions", words("sec.actions"), intro, (Note(words("not_available")),))
    plays = _plays(customers, words.lang)
    by_tier = _actions_by_tier(customers)
    present = {tier for counts_by_tier in by_tier.values() for tier in counts_by_tier}
    tier_codes = [code for code in names.codes if code in present]
    tier_codes += sorted(present - set(tier_codes))  # tiers the policy does not name
    total = sum(counts.values())
    order = sorted(counts, key=lambda code: (-counts[code], code))
    bars = []
    table_rows = []
    channels_seen: list[str] = []
    for code in order:
        label, channel, days = plays.get(code, (code, None, None))
        colour = charts.CHANNEL_COLOURS.get(str(channel), charts.OTHER_CHANNEL)
        if channel is not None and str(channel) not in channels_seen:
            channels_seen.append(str(channel))
        share = inputs.share(counts[code], total)
        tip = words(
            "chart.actions.bar",
            action=label,
            count=fmt.integer(counts[code]),
            share=fmt.percent(share),
        )
        bars.append(charts.HBar(label, counts[code], fmt.integer(counts[code]), colour, tip))
        cells = [
            Cell(label),
            Cell(code),
            Cell(channel_word(channel, words)),
            Cell(words("actions.days", days=fmt.integer(days)) if days is not None else MISSING),
            Cell(fmt.integer(counts[code])),
            Cell(fmt.percent(share)),
        ]
        cells += [Cell(fmt.integer(by_tier.get(code, {}).get(t, 0))) for t in tier_codes]
        table_rows.append(tuple(cells))
    columns = [
        Column(words("col.action"), "prose"),
        Column(words("col.code"), "code"),
        Column(words("col.channel")),
        Column(words("col.within"), "num"),
        Column(words("col.customers"), "num"),
        Column(words("col.share_customers"), "num"),
        *(Column(names.label(t), "num") for t in tier_codes),
    ]
    legend = [
        (
            channel_word(channel, words),
            charts.CHANNEL_COLOURS.get(channel, charts.OTHER_CHANNEL),
            "box",
        )
        for channel in sorted(channels_seen, key=_channel_order)
    ]
    chart = charts.actions(bars, legend, words, fmt)
    table = Table(
        tuple(columns),
        tuple(table_rows),
        footer=(
            Cell(words("total")),
            Cell(""),
            Cell(""),
            Cell(""),
            Cell(fmt.integer(total)),
            Cell(fmt.percent(1.0 if total else None)),
            *(Cell(fmt.integer(sum(v.get(t, 0) for v in by_tier.values()))) for t in tier_codes),
        ),
        key="actions",
    )
    return Section(
        "actions", words("sec.actions"), intro, (chart, _contacts(customers, words, fmt), table)
    )


def _contacts(customers: pa.Table, words: Words, fmt: NumberFormat) -> Kpis:
    """How many customers are to be contacted, how many soon, and how many not at all."""
    total = customers.num_rows
    items = []
    if "channel" in customers.column_names:
        channel = pc.cast(customers.column("channel"), pa.string())
        silent = int(pc.sum(pc.fill_null(pc.equal(channel, "none"), False)).as_py() or 0)
        items.append(
            Kpi(
                words("actions.contact"),
                fmt.integer(total - silent),
                words("tiers.core_share", share=fmt.percent(inputs.share(total - silent, total))),
            )
        )
        items.append(
            Kpi(words("actions.silent"), fmt.integer(silent), words("actions.silent_note"))
        )
    if "deadline_days" in customers.column_names:
        days = pc.cast(customers.column("deadline_days"), pa.float64())
        soon = pc.fill_null(pc.less_equal(days, URGENT_DAYS), False)
        items.append(
            Kpi(
                words("actions.urgent", days=URGENT_DAYS),
                fmt.integer(pc.sum(soon).as_py() or 0),
                words("actions.urgent_note"),
            )
        )
    return Kpis(tuple(items), layout="list", wide=False)


def _channel_order(channel: str) -> int:
    return CHANNELS.index(channel) if channel in CHANNELS else len(CHANNELS)


def _plays(customers: pa.Table, lang: str) -> dict[str, tuple[str, object, object]]:
    """``action_code -> (label in lang, channel, deadline days)``, from the customers."""
    if "action_code" not in customers.column_names:
        return {}
    names = ["action_code"] + [
        name
        for name in (f"action_{lang}", "channel", "deadline_days")
        if name in customers.column_names
    ]
    plays = customers.select(names).group_by(names, use_threads=False).aggregate([])
    found: dict[str, tuple[str, object, object]] = {}
    for row in plays.to_pylist():
        code = row.get("action_code")
        if code is None or str(code) in found:
            continue
        label = row.get(f"action_{lang}") or str(code)
        found[str(code)] = (str(label), row.get("channel"), row.get("deadline_days"))
    return found


def _actions_by_tier(customers: pa.Table) -> dict[str, dict[str, int]]:
    if "action_code" not in customers.column_names or "tier" not in customers.column_names:
        return {}
    grouped = (
        customers.select(["action_code", "tier"])
        .group_by(["action_code", "tier"], use_threads=False)
        .aggregate([([], "count_all")])
    )
    table: dict[str, dict[str, int]] = {}
    for row in grouped.to_pylist():
        code, tier = row["action_code"], row["tier"]
        if code is not None and tier is not None:
            table.setdefault(str(code), {})[str(tier)] = int(row["count_all"])
    return table
