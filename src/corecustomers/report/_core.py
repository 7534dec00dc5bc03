"""The core-customer sections: the tiers here, and what they share with the others -- tier
names, customer lists, sentences in the report's language. Early warnings, next-best
actions, recommendations and the capture comparison are one module each
(``_core_alerts``, ``_core_actions``, ``_core_recommendations``, ``_core_capture``);
migration is in ``_migration``.

Each section appears only when its key is in the summary (``tiers``, ``alerts``,
``actions``, ``recommendations``, ``capture``). The customer lists in them read the scored
customers table and use the columns it has: ``tier``, ``core``, ``core_score``,
``tier_reason_en`` / ``tier_reason_zh``, ``previous_tier``, ``alert``,
``alert_reason_en`` / ``alert_reason_zh``, ``value_at_stake``, ``action_en`` /
``action_zh`` (or ``next_best_action``), ``action_code``, ``channel``, ``due``,
``deadline_days`` and ``recommended_products``. Sentences are taken in the report's
language only, so the Chinese report never shows an English reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa
import pyarrow.compute as pc

from corecustomers.report import _core_charts as charts
from corecustomers.report import _inputs as inputs
from corecustomers.report._labels import TEXT, Words
from corecustomers.report._numbers import MISSING, NumberFormat, as_float
from corecustomers.report._view import Block, Cell, Column, Kpi, Kpis, Note, Section, Table, Tone

#: Rows of the top-core-customers and alert lists.
TOP_CORE: Final = 20
TOP_ALERTS: Final = 20
#: Recommended products shown per customer.
PRODUCTS_SHOWN: Final = 3
#: Actions due within this many days count as urgent.
URGENT_DAYS: Final = 7
#: The separator of ``recommended_products`` (``corecustomers.insights.recommend``).
PRODUCT_SEPARATOR: Final = "|"
#: Ranking methods of ``core_score``, in the order the capture comparison shows them.
METHODS: Final = ("historic_spend", "btyd", "combined")
CHANNELS: Final = ("visit", "call", "sms", "email", "app", "none")


# --- tier names ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TierNames:
    """The tiers of one report: codes best first, labels in its language, the core tiers."""

    codes: tuple[str, ...]
    labels: Mapping[str, str]
    core: frozenset[str]

    def label(self, code: object) -> str:
        """The tier's label; an unknown code is shown as it is, a missing one as a dash."""
        if code is None or code == "":
            return MISSING
        return self.labels.get(str(code), str(code))

    def colour(self, code: str) -> str:
        palette = charts.tier_colours(len(self.codes))
        return palette[self.codes.index(code)] if code in self.codes else charts.OTHER_CHANNEL

    def tone(self, code: object) -> Tone:
        """Badge colour: the best tier dark, the lowest grey, those between light."""
        if code not in self.codes:
            return "neutral"
        position = self.codes.index(str(code))
        return "a" if position == 0 else "c" if position == len(self.codes) - 1 else "b"

    def badge(self, code: object) -> Cell:
        return Cell(self.label(code), self.tone(code)) if code is not None else Cell(MISSING)

    def joined(self, codes: Sequence[str], words: Words) -> str:
        """``"Strategic and Key"`` / ``"战略客户、重点客户"``."""
        labels = [self.label(code) for code in codes]
        if len(labels) <= 1 or words.lang == "zh":
            return words("tiers.and").join(labels)
        return ", ".join(labels[:-1]) + words("tiers.and") + labels[-1]


def tier_names(summary: Mapping[str, Any], customers: pa.Table, words: Words) -> TierNames:
    """Tier codes and labels from ``summary["tiers"]``, the migration and the customers."""
    tiers = inputs.mapping(summary.get("tiers"))
    migration = inputs.mapping(summary.get("migration"))
    codes: list[str] = []
    labels: dict[str, str] = {}
    label_key = "label_zh" if words.lang == "zh" else "label"
    for row in inputs.rows(tiers.get("table")):
        code = row.get("tier")
        if code is None:
            continue
        codes.append(str(code))
        if row.get(label_key):
            labels[str(code)] = str(row[label_key])
    for code in _strings(migration.get("tiers")):
        if code not in codes:
            codes.append(code)
    column = f"tier_label_{words.lang}"
    if "tier" in customers.column_names and column in customers.column_names:
        pairs = customers.select(["tier", column]).group_by(["tier", column]).aggregate([])
        for code, label in zip(
            pairs.column("tier").to_pylist(), pairs.column(column).to_pylist(), strict=True
        ):
            if code is not None and label and str(code) not in labels:
                labels[str(code)] = str(label)
    for code in codes:
        if code not in labels and f"tier.{code}" in TEXT:
            labels[code] = words(f"tier.{code}")
    core = _strings(tiers.get("core_tiers")) or _strings(migration.get("core_tiers"))
    if not core and codes:
        core = codes[:1]
    return TierNames(tuple(codes), labels, frozenset(core))


def _strings(value: object) -> list[str]:
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return []
    return [str(item) for item in value if item is not None]


# --- reading customers --------------------------------------------------------------------


def core_mask(customers: pa.Table, names: TierNames) -> pa.ChunkedArray | None:
    """Which customers are core: the ``core`` column, or a core ``tier``; ``None`` if unknown."""
    if "core" in customers.column_names:
        return pc.fill_null(pc.cast(customers.column("core"), pa.bool_()), False)
    if "tier" in customers.column_names and names.core:
        tier = pc.cast(customers.column("tier"), pa.string())
        return pc.fill_null(pc.is_in(tier, pa.array(sorted(names.core))), False)
    return None


def top_rows(
    customers: pa.Table, mask: pa.ChunkedArray, keys: Sequence[str], limit: int
) -> list[dict[str, Any]]:
    """The first ``limit`` rows under ``mask``, sorted descending by the first key present.

    Only the sort keys of the rows under ``mask`` are gathered and only the ``limit``
    first are ordered (ties broken by the unique ``customer_id``, so the order is the
    full sort's): a million customers' wide table is neither filtered nor sorted whole.
    """
    sort = [(name, "descending") for name in keys if name in customers.column_names][:1]
    at = pc.indices_nonzero(pc.fill_null(mask, False))
    names = [name for name, _ in sort] + ["customer_id"]
    keyed = pa.table({name: customers.column(name).take(at) for name in names})
    if limit <= 0 or not len(at):
        return []
    first = pc.select_k_unstable(
        keyed, k=min(limit, len(at)), sort_keys=[*sort, ("customer_id", "ascending")]
    )
    rows: list[dict[str, Any]] = customers.take(at.take(first)).to_pylist()
    return rows


def sentence(row: Mapping[str, Any], stem: str, lang: str) -> str:
    """``row[f"{stem}_{lang}"]`` (only in the report language), or a dash."""
    value = row.get(f"{stem}_{lang}")
    return str(value) if value else MISSING


def _action(row: Mapping[str, Any], lang: str) -> str:
    value = row.get(f"action_{lang}") or row.get("next_best_action")
    return str(value) if value else MISSING


def channel_word(value: object, words: Words) -> str:
    if value is None or value == "":
        return MISSING
    return words(f"channel.{value}") if value in CHANNELS else str(value)


def _day(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value) if value else ""


def action_cell(row: Mapping[str, Any], words: Words) -> Cell:
    """The action, with its channel and due date on a second line."""
    channel = channel_word(row.get("channel"), words) if "channel" in row else ""
    due = _day(row.get("due"))
    when = words("col.due_on", day=due) if due else ""
    sub = " · ".join(part for part in (channel, when) if part and part != MISSING)
    return Cell(_action(row, words.lang), sub=sub)


def _products(value: object, words: Words) -> str:
    if not value:
        return MISSING
    items = [item.strip() for item in str(value).split(PRODUCT_SEPARATOR) if item.strip()]
    return ("、" if words.lang == "zh" else ", ").join(items[:PRODUCTS_SHOWN]) or MISSING


def _has_values(customers: pa.Table, name: str) -> bool:
    return name in customers.column_names and customers.column(name).null_count < len(customers)


# --- the tiers section --------------------------------------------------------------------


def tiers_section(
    summary: Mapping[str, Any],
    customers: pa.Table,
    names: TierNames,
    words: Words,
    fmt: NumberFormat,
) -> Section | None:
    """Tier sizes, revenue and CLV, the policy, and the top core customers with reasons."""
    if "tiers" not in summary:
        return None
    tiers = inputs.mapping(summary.get("tiers"))
    policy = str(tiers.get("policy_version") or MISSING)
    core_codes = [code for code in names.codes if code in names.core]
    intro = words("tiers.intro", policy=policy, core=names.joined(core_codes, words))
    rows = [row for row in inputs.rows(tiers.get("table")) if row.get("tier") is not None]
    blocks: list[Block] = []
    if rows:
        blocks.extend(_tier_overview(rows, policy, names, words, fmt))
    else:
        blocks.append(Note(words("not_available")))
    top = _top_core(summary, customers, names, words, fmt)
    if top is not None:
        blocks.append(top)
    return Section("tiers", words("sec.tiers"), intro, tuple(blocks))


def _tier_overview(
    rows: Sequence[Mapping[str, Any]],
    policy: str,
    names: TierNames,
    words: Words,
    fmt: NumberFormat,
) -> list[Block]:
    customers = [as_float(row.get("customers")) or 0.0 for row in rows]
    revenue = [as_float(row.get("revenue")) or 0.0 for row in rows]
    clv = [as_float(row.get("clv")) for row in rows]
    has_clv = any(value is not None for value in clv)
    total_c, total_r = sum(customers), sum(revenue)
    total_v = sum(value or 0.0 for value in clv)
    core = [str(row["tier"]) in names.core for row in rows]

    def core_sum(values: Sequence[float | None]) -> float:
        return sum(v or 0.0 for v, is_core in zip(values, core, strict=True) if is_core)

    items = [
        Kpi(
            words("tiers.core_customers"),
            fmt.integer(core_sum(customers)),
            words(
                "tiers.core_share", share=fmt.percent(inputs.share(core_sum(customers), total_c))
            ),
            emphasis=True,
        ),
        Kpi(
            words("tiers.core_revenue"),
            fmt.percent(inputs.share(core_sum(revenue), total_r)),
            fmt.money(core_sum(revenue)),
        ),
    ]
    if has_clv:
        items.append(
            Kpi(
                words("tiers.core_clv"),
                fmt.percent(inputs.share(core_sum(clv), total_v)),
                fmt.money(core_sum(clv)),
            )
        )
    items.append(Kpi(words("tiers.policy"), policy, words("tiers.policy_note")))
    bars = [
        charts.TierBar(
            names.label(row["tier"]),
            names.colour(str(row["tier"])),
            c,
            r,
            v,
            fmt.integer(c),
            fmt.money(r),
            fmt.money(v),
        )
        for row, c, r, v in zip(rows, customers, revenue, clv, strict=True)
    ]
    columns = [
        Column(words("col.tier"), "badge"),
        Column(words("col.core"), "score"),
        Column(words("col.customers"), "num"),
        Column(words("col.share_customers"), "num"),
        Column(words("col.revenue"), "num"),
        Column(words("col.share_revenue"), "num"),
        Column(words("col.revenue_per_customer"), "num"),
    ]
    if has_clv:
        columns += [
            Column(words("col.clv_total"), "num"),
            Column(words("col.share_clv"), "num"),
            Column(words("col.clv_per_customer"), "num"),
        ]
    table_rows = []
    for row, c, r, v, is_core in zip(rows, customers, revenue, clv, core, strict=True):
        cells = [
            names.badge(row["tier"]),
            Cell("✓" if is_core else ""),
            Cell(fmt.integer(c)),
            Cell(fmt.percent(inputs.share(c, total_c))),
            Cell(fmt.money(r, 2)),
            Cell(fmt.percent(inputs.share(r, total_r))),
            Cell(fmt.money(inputs.share(r, c), 2)),
        ]
        if has_clv:
            cells += [
                Cell(fmt.money(v, 2)),
                Cell(fmt.percent(inputs.share(v, total_v))),
                Cell(fmt.money(inputs.share(v, c), 2)),
            ]
        table_rows.append(tuple(cells))
    footer = [
        Cell(words("total")),
        Cell(""),
        Cell(fmt.integer(total_c)),
        Cell(fmt.percent(1.0 if total_c else None)),
        Cell(fmt.money(total_r, 2)),
        Cell(fmt.percent(1.0 if total_r else None)),
        Cell(fmt.money(inputs.share(total_r, total_c), 2)),
    ]
    if has_clv:
        footer += [
            Cell(fmt.money(total_v, 2)),
            Cell(fmt.percent(1.0 if total_v else None)),
            Cell(fmt.money(inputs.share(total_v, total_c), 2)),
        ]
    table = Table(tuple(columns), tuple(table_rows), footer=tuple(footer), key="tiers")
    return [Kpis(tuple(items)), charts.tiers(bars, words, fmt), table]


def _top_core(
    summary: Mapping[str, Any],
    customers: pa.Table,
    names: TierNames,
    words: Words,
    fmt: NumberFormat,
) -> Table | None:
    mask = core_mask(customers, names)
    if mask is None:
        return None
    rows = top_rows(customers, mask, ("core_score", "clv", "total_spend"), TOP_CORE)
    if not rows:
        return None
    lang = words.lang
    show_previous = _has_values(customers, "previous_tier")
    show_clv = "clv" in customers.column_names
    show_products = _has_values(customers, "recommended_products")
    columns = [
        Column(words("col.rank"), "num"),
        Column(words("col.customer_id"), "id"),
        Column(words("col.tier"), "badge"),
    ]
    if show_previous:
        columns.append(Column(words("col.previous_tier")))
    columns.append(Column(words("col.clv") if show_clv else words("col.total_spend"), "num"))
    columns += [Column(words("col.why"), "prose"), Column(words("col.action"), "prose")]
    if show_products:
        columns.append(Column(words("col.recommended"), "prose"))
    table_rows = []
    for rank, row in enumerate(rows, start=1):
        cells = [Cell(str(rank)), Cell(str(row.get("customer_id"))), names.badge(row.get("tier"))]
        if show_previous:
            cells.append(Cell(names.label(row.get("previous_tier"))))
        cells.append(Cell(fmt.money(row.get("clv" if show_clv else "total_spend"), 2)))
        cells += [Cell(sentence(row, "tier_reason", lang)), action_cell(row, words)]
        if show_products:
            cells.append(Cell(_products(row.get("recommended_products"), words)))
        table_rows.append(tuple(cells))
    note = ""
    if "core_score" in customers.column_names:
        note = words("tiers.top_note")
        score = inputs.mapping(summary.get("core_score"))
        if score.get("core_score") and "capture" not in summary:
            note += ("" if words.lang == "zh" else " ") + choice_sentence(score, words, fmt)
    return Table(
        tuple(columns),
        tuple(table_rows),
        title=words("tiers.top_title", n=len(rows)),
        note=note.strip(),
        key="core-customers",
    )


def _method(method: str, words: Words) -> str:
    return words(f"method.{method}") if method in METHODS else method


def choice_sentence(score: Mapping[str, Any], words: Words, fmt: NumberFormat) -> str:
    """Which ranking the core score uses, and why, in the report language.

    The English report quotes the analysis' own ``reason``; the Chinese one is written
    from the validation figures (the ``reason`` is English only).
    """
    method = _method(str(score.get("core_score") or MISSING), words)
    # The English reason is a clause ("in the time-shifted validation ..."), without a stop.
    reason = str(score.get("reason") or "").strip().rstrip(".")
    validation = inputs.mapping(score.get("validation"))
    if words.lang != "en" or not reason:
        window = _strings(validation.get("revenue_window"))
        if as_float(validation.get("combined")) is not None:
            reason = words(
                "cap.reason_validated",
                features_end=validation.get("features_end") or MISSING,
                scored_at=validation.get("scored_at") or MISSING,
                revenue_end=window[-1] if window else MISSING,
                top=fmt.percent(score.get("top_share", 0.2), 0),
                combined=fmt.percent(validation.get("combined"), 2),
                btyd=fmt.percent(validation.get("btyd"), 2),
                better=fmt.percent(validation.get("bootstrap_share_better"), 0),
            )
            decision = "combined" if score.get("core_score") == "combined" else "other"
            reason += ("；" if words.lang == "zh" else "; ") + words(f"cap.decision.{decision}")
        else:
            reason = words("cap.no_validation")
    return words("cap.choice", method=method, reason=reason)
