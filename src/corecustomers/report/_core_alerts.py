"""The early-warnings section: alerted core customers, the holdout check of the alert list.

Split from ``_core`` (one module per section); see its docstring for the columns read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from corecustomers.report import _core_charts as charts
from corecustomers.report import _inputs as inputs
from corecustomers.report._calibration import alert_blocks
from corecustomers.report._core import (
    TOP_ALERTS,
    TierNames,
    action_cell,
    core_mask,
    sentence,
    top_rows,
)
from corecustomers.report._labels import Words
from corecustomers.report._numbers import NumberFormat, as_float
from corecustomers.report._view import Block, Cell, Column, Kpi, Kpis, Note, Section, Table

# --- early warnings -----------------------------------------------------------------------


def alerts_section(
    summary: Mapping[str, Any],
    customers: pa.Table,
    names: TierNames,
    words: Words,
    fmt: NumberFormat,
) -> Section | None:
    """Alert counts, value at stake, the holdout check and the list of alerted customers."""
    if "alerts" not in summary:
        return None
    alerts = inputs.mapping(summary.get("alerts"))
    core_n, alerted_n = alerts.get("core_customers"), alerts.get("alerted")
    blocks: list[Block] = [
        Kpis(
            (
                Kpi(words("alerts.core"), fmt.integer(core_n)),
                Kpi(
                    words("alerts.alerted"),
                    fmt.integer(alerted_n),
                    words(
                        "alerts.alerted_note", share=fmt.percent(inputs.share(alerted_n, core_n))
                    ),
                    emphasis=True,
                ),
                Kpi(
                    words("alerts.value"),
                    fmt.money(alerts.get("value_at_stake")),
                    words("alerts.value_note"),
                    emphasis=True,
                ),
            )
        )
    ]
    blocks.extend(alert_blocks(alerts, words, fmt))
    holdout = inputs.mapping(alerts.get("holdout"))
    if holdout:
        blocks.extend(_alert_holdout(holdout, words, fmt))
    listing = _alert_list(customers, names, words, fmt)
    if listing is not None:
        blocks.append(listing)
    return Section("alerts", words("sec.alerts"), words("alerts.intro"), tuple(blocks))


def _alert_holdout(holdout: Mapping[str, Any], words: Words, fmt: NumberFormat) -> list[Block]:
    alerted = as_float(holdout.get("alerted_active_rate"))
    quiet = as_float(holdout.get("not_alerted_active_rate"))
    items = [
        Kpi(
            words("alerts.active_alerted"),
            fmt.percent(alerted),
            words(
                "alerts.group_note",
                count=fmt.integer(holdout.get("n_alerted")),
                mean=fmt.decimal(holdout.get("alerted_mean_purchases"), 2),
            ),
        ),
        Kpi(
            words("alerts.active_not_alerted"),
            fmt.percent(quiet),
            words(
                "alerts.group_note",
                count=fmt.integer(holdout.get("n_not_alerted")),
                mean=fmt.decimal(holdout.get("not_alerted_mean_purchases"), 2),
            ),
        ),
    ]
    if as_float(holdout.get("precision")) is not None:
        items.append(
            Kpi(
                words("alerts.precision"),
                fmt.percent(holdout.get("precision")),
                words("alerts.precision_note"),
            )
        )
    lift = as_float(holdout.get("lift"))
    if lift is not None:
        items.append(
            Kpi(
                words("alerts.lift"),
                f"{fmt.decimal(lift, 2)}×",
                words("alerts.lift_note", rate=fmt.percent(holdout.get("base_inactive_rate"))),
            )
        )
    blocks: list[Block] = [
        Kpis(tuple(items), layout="list", title=words("alerts.holdout_title"), wide=False)
    ]
    if alerted is not None and quiet is not None:
        blocks.append(
            charts.alerts_holdout(
                (alerted, fmt.integer(holdout.get("n_alerted"))),
                (quiet, fmt.integer(holdout.get("n_not_alerted"))),
                words,
                fmt,
            )
        )
        blocks.append(
            Note(
                words(
                    "alerts.verdict", alerted=fmt.percent(alerted), not_alerted=fmt.percent(quiet)
                ),
                tone="ok" if alerted < quiet else "info",
            )
        )
    return blocks


def _alert_list(
    customers: pa.Table, names: TierNames, words: Words, fmt: NumberFormat
) -> Table | Note | None:
    if "alert" not in customers.column_names:
        return None
    mask = pc.fill_null(pc.cast(customers.column("alert"), pa.bool_()), False)
    core = core_mask(customers, names)
    if core is not None:
        mask = pc.and_(mask, core)
    rows = top_rows(customers, mask, ("value_at_stake", "clv"), TOP_ALERTS)
    if not rows:
        return Note(words("alerts.none"), tone="ok")
    show_p = "p_alive" in customers.column_names
    columns = [
        Column(words("col.rank"), "num"),
        Column(words("col.customer_id"), "id"),
        Column(words("col.tier"), "badge"),
        Column(words("col.value_at_stake"), "num"),
    ]
    if show_p:
        columns.append(Column(words("col.p_alive"), "num"))
    columns += [Column(words("col.alert_reason"), "prose"), Column(words("col.action"), "prose")]
    table_rows = []
    for rank, row in enumerate(rows, start=1):
        cells = [
            Cell(str(rank)),
            Cell(str(row.get("customer_id"))),
            names.badge(row.get("tier")),
            Cell(fmt.money(row.get("value_at_stake", row.get("clv")), 2)),
        ]
        if show_p:
            cells.append(Cell(fmt.percent(row.get("p_alive"))))
        cells += [Cell(sentence(row, "alert_reason", words.lang)), action_cell(row, words)]
        table_rows.append(tuple(cells))
    return Table(
        tuple(columns),
        tuple(table_rows),
        title=words("alerts.list_title", n=len(rows)),
        key="alerts",
    )
