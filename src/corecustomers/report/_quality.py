"""The data-quality section (quarantined rows, warnings) and the settings appendix."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from corecustomers.report import _inputs as inputs
from corecustomers.report._labels import Words
from corecustomers.report._numbers import MISSING, NumberFormat, as_float
from corecustomers.report._view import Cell, Column, Kpi, Kpis, Note, Section, Table

#: Example quarantined rows shown per reason, and in all.
EXAMPLES_PER_REASON: Final = 3
EXAMPLES_TOTAL: Final = 12
RAW_VALUE_CHARS: Final = 160


def _raw(raw: object) -> str:
    if not isinstance(raw, Mapping):
        return "" if raw is None else str(raw)
    text = ", ".join(f"{key}={value}" for key, value in raw.items())
    return text if len(text) <= RAW_VALUE_CHARS else text[: RAW_VALUE_CHARS - 1] + "…"


def quality_section(
    summary: Mapping[str, Any],
    quarantine: Sequence[Mapping[str, Any]],
    words: Words,
    fmt: NumberFormat,
) -> Section:
    read = summary.get("rows_read")
    quarantined = summary.get("rows_quarantined")
    share_q = inputs.share(quarantined, read)
    kpis = Kpis(
        (
            Kpi(words("kpi.rows_read"), fmt.integer(read)),
            Kpi(words("kpi.rows_accepted"), fmt.integer(summary.get("rows_accepted"))),
            Kpi(
                words("kpi.rows_quarantined"),
                fmt.integer(quarantined),
                words("kpi.of_read", share=fmt.percent(share_q, 2)) if share_q else "",
            ),
            Kpi(
                words("kpi.rows_after_as_of"),
                fmt.integer(summary.get("rows_after_as_of")),
                words("kpi.not_counted"),
            ),
        )
    )
    blocks: list[Kpis | Table | Note] = [kpis]
    amounts = inputs.mapping(summary.get("amount_format"))
    if amounts.get("decimal_mark") in (".", ","):
        # 1.234 reads either way: say which convention the amounts were read with
        how = str(amounts.get("decided_by"))
        blocks.append(
            Note(
                words(
                    "quality.amounts",
                    mark=words(
                        "amounts.comma" if amounts["decimal_mark"] == "," else "amounts.point"
                    ),
                    how=words(
                        f"amounts.{how}" if how in ("setting", "detected") else "amounts.default",
                        n=fmt.integer(amounts.get("comma_only")),
                    ),
                )
            )
        )
    examples = [row for row in quarantine if isinstance(row, Mapping)]
    reasons = dict(inputs.mapping(summary.get("quarantine_reasons")))
    for row in examples:
        reasons.setdefault(str(row.get("reason")), None)
    first_message: dict[str, str] = {}
    for row in examples:
        first_message.setdefault(str(row.get("reason")), str(row.get("message") or ""))
    if reasons:
        ordered = sorted(reasons.items(), key=lambda item: (-(as_float(item[1]) or 0), item[0]))
        blocks.append(
            Table(
                (
                    Column(words("col.reason"), "code"),
                    Column(words("col.rows"), "num"),
                    Column(words("col.share_rows"), "num"),
                    Column(words("col.message")),
                ),
                tuple(
                    (
                        Cell(str(code)),
                        Cell(fmt.integer(count)),
                        Cell(fmt.percent(inputs.share(count, read), 2)),
                        Cell(first_message.get(str(code), "")),
                    )
                    for code, count in ordered
                ),
                title=words("quality.reasons"),
                key="quarantine-reasons",
            )
        )
    shown = _pick_examples(examples)
    if shown:
        blocks.append(
            Table(
                (
                    Column(words("col.source_row"), "num"),
                    Column(words("col.reason"), "code"),
                    Column(words("col.message")),
                    Column(words("col.raw"), "id"),
                ),
                tuple(
                    (
                        Cell(str(row.get("source_row", MISSING))),
                        Cell(str(row.get("reason"))),
                        Cell(str(row.get("message") or "")),
                        Cell(_raw(row.get("raw"))),
                    )
                    for row in shown
                ),
                title=words("quality.examples"),
                key="quarantine-examples",
            )
        )
    warnings = inputs.rows(summary.get("warnings"))
    if warnings:
        blocks.append(
            Table(
                (
                    Column(words("col.code"), "code"),
                    Column(words("col.count"), "num"),
                    Column(words("col.message")),
                ),
                tuple(
                    (
                        Cell(str(w.get("code") or MISSING)),
                        Cell(fmt.integer(w.get("count"))),
                        Cell(str(w.get("message") or "")),
                    )
                    for w in warnings
                ),
                title=words("quality.warnings"),
                key="warnings",
            )
        )
    if not reasons and not warnings:
        blocks.append(Note(words("quality.clean"), tone="ok"))
    return Section("data-quality", words("sec.quality"), words("quality.intro"), tuple(blocks))


def _pick_examples(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """At most :data:`EXAMPLES_PER_REASON` rows per reason, :data:`EXAMPLES_TOTAL` in all."""
    taken: dict[str, int] = {}
    picked: list[Mapping[str, Any]] = []
    for row in rows:
        reason = str(row.get("reason"))
        if taken.get(reason, 0) < EXAMPLES_PER_REASON and len(picked) < EXAMPLES_TOTAL:
            taken[reason] = taken.get(reason, 0) + 1
            picked.append(row)
    return picked


def settings_section(summary: Mapping[str, Any], words: Words) -> Section | None:
    settings = inputs.mapping(summary.get("settings"))
    if not settings:
        return None
    rows = tuple(
        (
            Cell(key),
            Cell(
                value
                if isinstance(value, str)
                else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
            ),
        )
        for key, value in _flatten(settings)
    )
    table = Table(
        (Column(words("col.setting"), "id"), Column(words("col.value"), "id")),
        rows,
        title=words("settings.show"),
        collapsible=True,
        key="settings",
    )
    return Section("settings", words("sec.settings"), blocks=(table,))


def _flatten(settings: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            items.extend(_flatten(value, f"{name}."))
        else:
            items.append((name, value))
    return items
