"""The tier-migration section: how customers moved between tiers since the last snapshot.

It reads ``summary["migration"]`` (the result of
:func:`corecustomers.segments.migration.compare_snapshots`) and, when present,
``summary["migration_series"]`` (:func:`~corecustomers.segments.migration.migration_series`),
and appears when either exists. The flow chart and the matrix cover the customers present
at both dates; the customers who left or arrived are drawn as their own nodes, row and
column, so that every row sums to a tier's customers before and every column to its
customers after.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from corecustomers.report import _core_charts as charts
from corecustomers.report import _inputs as inputs
from corecustomers.report._charts import Chart
from corecustomers.report._core import TierNames
from corecustomers.report._labels import Words
from corecustomers.report._numbers import MISSING, NumberFormat, as_float
from corecustomers.report._view import Block, Cell, Column, Kpi, Kpis, Note, Section, Table

#: Customers listed per flow (won, downgraded, lost).
LISTED_PER_FLOW: Final = 10
FLOWS: Final = ("won", "downgraded", "lost")
_NEW_COLOUR: Final = "#34d399"
_GONE_COLOUR: Final = "#f87171"


def migration_section(
    summary: Mapping[str, Any], names: TierNames, words: Words, fmt: NumberFormat
) -> Section | None:
    """Flows won / kept / downgraded / lost, the transition matrix and chart, the series."""
    if "migration" not in summary and "migration_series" not in summary:
        return None
    migration = inputs.mapping(summary.get("migration"))
    series = inputs.mapping(summary.get("migration_series"))
    codes = [str(code) for code in migration.get("tiers") or ()] or list(names.codes)
    before = str(migration.get("before_date") or MISSING)
    after = str(migration.get("after_date") or MISSING)
    customers = inputs.mapping(migration.get("customers"))
    value_name = str(migration.get("value_column") or "")
    value = words(f"mig.value.{value_name}") if value_name in ("clv", "total_spend") else value_name
    blocks: list[Block] = []
    intro = ""
    if migration:
        intro = words(
            "mig.intro",
            before=before,
            after=after,
            both=fmt.integer(customers.get("both")),
            value=value or MISSING,
        )
        blocks.append(_flows(migration, names, words, fmt))
        matrix = _matrix(migration, len(codes))
        if matrix is not None:
            counts, value_before, value_after = matrix
            gone = _by_tier(migration, "gone", codes)
            new = _by_tier(migration, "new", codes)
            blocks.append(_chart(codes, counts, gone, new, before, after, names, words, fmt))
            blocks.append(_count_table(codes, counts, gone, new, before, after, names, words, fmt))
            if value_before is not None and value_after is not None:
                blocks.append(_value_table(codes, value_before, value_after, names, words, fmt))
        else:
            blocks.append(Note(words("not_available")))
        listing = _listing(migration, names, words, fmt)
        if listing is not None:
            blocks.append(listing)
        time_in_tier = _time_in_tier(migration, codes, after, names, words, fmt)
        if time_in_tier is not None:
            blocks.append(time_in_tier)
    if series:
        blocks.extend(_series(series, codes, names, words, fmt))
    if not blocks:
        blocks.append(Note(words("not_available")))
    return Section("migration", words("sec.migration"), intro, tuple(blocks))


def _count(value: object) -> int:
    number = as_float(value)
    return round(number) if number is not None else 0


def _matrix(
    migration: Mapping[str, Any], size: int
) -> tuple[list[list[int]], list[list[float]] | None, list[list[float]] | None] | None:
    """The customers matrix (and the value matrices when complete), or ``None`` if malformed."""
    matrix = inputs.mapping(migration.get("matrix"))

    def square(name: str) -> list[list[object]] | None:
        rows = matrix.get(name)
        if not isinstance(rows, Sequence) or len(rows) != size or size == 0:
            return None
        if any(not isinstance(row, Sequence) or len(row) != size for row in rows):
            return None
        return [list(row) for row in rows]

    counts = square("customers")
    if counts is None:
        return None
    values = []
    for name in ("value_before", "value_after"):
        rows = square(name)
        values.append(None if rows is None else [[as_float(v) or 0.0 for v in r] for r in rows])
    return [[_count(v) for v in row] for row in counts], values[0], values[1]


def _by_tier(migration: Mapping[str, Any], side: str, codes: Sequence[str]) -> list[int]:
    by_tier = inputs.mapping(inputs.mapping(migration.get(side)).get("by_tier"))
    return [_count(by_tier.get(code)) for code in codes]


def _flows(migration: Mapping[str, Any], names: TierNames, words: Words, fmt: NumberFormat) -> Kpis:
    core = inputs.mapping(migration.get("core"))
    before = inputs.mapping(core.get("before"))
    after = inputs.mapping(core.get("after"))
    won = inputs.mapping(core.get("won"))
    kept = inputs.mapping(core.get("kept"))
    down = inputs.mapping(core.get("downgraded"))
    lost = inputs.mapping(core.get("lost"))
    codes = [str(code) for code in migration.get("tiers") or ()] or list(names.codes)
    lowest = names.label(codes[-1]) if codes else MISSING
    items = [
        Kpi(
            words("mig.core"),
            fmt.integer(after.get("customers")),
            words(
                "mig.core_note",
                before=fmt.integer(before.get("customers")),
                after=fmt.integer(after.get("customers")),
            ),
            emphasis=True,
        ),
        Kpi(
            words("mig.won"),
            fmt.integer(won.get("customers")),
            words(
                "mig.won_note",
                moved=fmt.integer(won.get("from_lower")),
                new=fmt.integer(won.get("new")),
            ),
        ),
        Kpi(
            words("mig.kept"),
            fmt.integer(kept.get("customers")),
            words(
                "mig.kept_note",
                before=fmt.money(kept.get("value_before")),
                after=fmt.money(kept.get("value_after")),
            ),
        ),
        Kpi(
            words("mig.downgraded"),
            fmt.integer(down.get("customers")),
            words(
                "mig.downgraded_note",
                within=fmt.integer(down.get("within_core")),
                out=fmt.integer(down.get("out_of_core")),
            ),
        ),
        Kpi(
            words("mig.lost"),
            fmt.integer(lost.get("customers")),
            words(
                "mig.lost_note",
                gone=fmt.integer(lost.get("gone")),
                lowest=fmt.integer(lost.get("to_lowest")),
                tier=lowest,
            ),
        ),
        Kpi(
            words("mig.at_risk"),
            fmt.money(migration.get("revenue_at_risk")),
            words("mig.at_risk_note"),
            emphasis=True,
        ),
        Kpi(
            words("mig.value_lost"),
            fmt.money(migration.get("value_lost")),
            words("mig.value_lost_note"),
        ),
    ]
    return Kpis(tuple(items))


def _direction(i: int, j: int) -> int:
    """``1`` for a move to a better tier (a lower index), ``-1`` to a worse one, else ``0``."""
    return 0 if i == j else 1 if j < i else -1


def _chart(
    codes: Sequence[str],
    counts: Sequence[Sequence[int]],
    gone: Sequence[int],
    new: Sequence[int],
    before: str,
    after: str,
    names: TierNames,
    words: Words,
    fmt: NumberFormat,
) -> Chart:
    n = len(codes)
    sources = [
        charts.Node(names.label(code), names.colour(code), sum(counts[i]) + gone[i])
        for i, code in enumerate(codes)
    ]
    sources.append(charts.Node(words("mig.new"), _NEW_COLOUR, sum(new)))
    targets = [
        charts.Node(names.label(code), names.colour(code), sum(r[j] for r in counts) + new[j])
        for j, code in enumerate(codes)
    ]
    targets.append(charts.Node(words("mig.gone"), _GONE_COLOUR, sum(gone)))
    flows = [[*counts[i], gone[i]] for i in range(n)] + [[*new, 0]]
    directions = [[*(_direction(i, j) for j in range(n)), -1] for i in range(n)]
    directions.append([1] * n + [0])
    return charts.migration(sources, targets, flows, directions, before, after, words, fmt)


def _count_table(
    codes: Sequence[str],
    counts: Sequence[Sequence[int]],
    gone: Sequence[int],
    new: Sequence[int],
    before: str,
    after: str,
    names: TierNames,
    words: Words,
    fmt: NumberFormat,
) -> Table:
    show_gone, show_new = any(gone), any(new)
    columns = [Column(words("col.before_after"))]
    columns += [Column(names.label(code), "num") for code in codes]
    if show_gone:
        columns.append(Column(words("mig.gone"), "num"))
    columns.append(Column(words("total"), "num"))
    rows = []
    for i, code in enumerate(codes):
        cells = [names.badge(code)]
        cells += [Cell(fmt.integer(v), strong=i == j) for j, v in enumerate(counts[i])]
        if show_gone:
            cells.append(Cell(fmt.integer(gone[i])))
        cells.append(Cell(fmt.integer(sum(counts[i]) + gone[i])))
        rows.append(tuple(cells))
    if show_new:
        cells = [Cell(words("mig.new"), "neutral"), *(Cell(fmt.integer(v)) for v in new)]
        if show_gone:
            cells.append(Cell(""))
        cells.append(Cell(fmt.integer(sum(new))))
        rows.append(tuple(cells))
    footer = [Cell(words("total"))]
    footer += [Cell(fmt.integer(sum(r[j] for r in counts) + new[j])) for j in range(len(codes))]
    if show_gone:
        footer.append(Cell(fmt.integer(sum(gone))))
    footer.append(Cell(fmt.integer(sum(map(sum, counts)) + sum(gone) + sum(new))))
    return Table(
        tuple(columns),
        tuple(rows),
        title=words("mig.matrix_customers"),
        footer=tuple(footer),
        note=words("mig.matrix_note", before=before, after=after),
        key="migration-customers",
    )


def _value_table(
    codes: Sequence[str],
    value_before: Sequence[Sequence[float]],
    value_after: Sequence[Sequence[float]],
    names: TierNames,
    words: Words,
    fmt: NumberFormat,
) -> Table:
    columns = [Column(words("col.before_after"))]
    columns += [Column(names.label(code), "num") for code in codes]
    rows = []
    for i, code in enumerate(codes):
        cells = [names.badge(code)]
        for j in range(len(codes)):
            a, b = value_before[i][j], value_after[i][j]
            text = MISSING if a == 0 and b == 0 else f"{fmt.money(a, 0)} → {fmt.money(b, 0)}"
            cells.append(Cell(text, strong=i == j))
        rows.append(tuple(cells))
    return Table(
        tuple(columns), tuple(rows), title=words("mig.matrix_value"), key="migration-value"
    )


def _listing(
    migration: Mapping[str, Any], names: TierNames, words: Words, fmt: NumberFormat
) -> Table | None:
    listed = inputs.mapping(migration.get("customers_list"))
    rows = []
    for flow in FLOWS:
        for row in inputs.rows(listed.get(flow))[:LISTED_PER_FLOW]:
            rows.append(
                (
                    Cell(words(f"mig.flow.{flow}")),
                    Cell(str(row.get("customer_id"))),
                    names.badge(row.get("tier_before")),
                    names.badge(row.get("tier_after")),
                    Cell(fmt.money(row.get("value_before"), 2)),
                    Cell(fmt.money(row.get("value_after"), 2)),
                )
            )
    if not rows:
        return None
    return Table(
        (
            Column(words("col.change")),
            Column(words("col.customer_id"), "id"),
            Column(words("col.tier_before"), "badge"),
            Column(words("col.tier_after"), "badge"),
            Column(words("col.value_before"), "num"),
            Column(words("col.value_after"), "num"),
        ),
        tuple(rows),
        title=words("mig.list_title"),
        key="migration-customers-list",
    )


def _time_in_tier(
    migration: Mapping[str, Any],
    codes: Sequence[str],
    after: str,
    names: TierNames,
    words: Words,
    fmt: NumberFormat,
) -> Table | None:
    time_in_tier = inputs.mapping(migration.get("time_in_tier"))
    rows = []
    for code in codes:
        stats = inputs.mapping(time_in_tier.get(code))
        if not stats:
            continue
        buckets = inputs.mapping(stats.get("buckets"))
        recent = buckets.get("0-29")
        rows.append(
            (
                names.badge(code),
                Cell(fmt.integer(stats.get("customers"))),
                Cell(fmt.integer(stats.get("median_days"))),
                Cell(fmt.integer(stats.get("mean_days"))),
                Cell(fmt.percent(inputs.share(recent, stats.get("customers")))),
            )
        )
    if not rows:
        return None
    return Table(
        (
            Column(words("col.tier"), "badge"),
            Column(words("col.customers"), "num"),
            Column(words("col.median_days"), "num"),
            Column(words("col.mean_days"), "num"),
            Column(words("col.recent_days"), "num"),
        ),
        tuple(rows),
        title=words("mig.time_title", date=after),
        key="time-in-tier",
    )


def _series(
    series: Mapping[str, Any],
    codes: Sequence[str],
    names: TierNames,
    words: Words,
    fmt: NumberFormat,
) -> list[Block]:
    """The chart over the dates and a table of its numbers (nothing if malformed)."""
    dates = [str(d) for d in series.get("dates") or ()]
    values = inputs.mapping(series.get("series"))
    steps = len(dates) - 1
    flows = {flow: [_count(v) for v in values.get(flow) or ()] for flow in (*FLOWS, "kept")}
    core_after = [_count(v) for v in values.get("core") or ()]
    sizes = inputs.mapping(values.get("tier_sizes"))
    if steps < 1 or any(len(v) != steps for v in flows.values()):
        return []
    core_codes = [code for code in codes if code in names.core] or list(sizes)[:1]
    tiers = [
        charts.SeriesTier(
            names.label(code), names.colour(code), [_count(v) for v in sizes.get(code) or ()]
        )
        for code in core_codes
    ]
    if any(len(t.sizes) != len(dates) for t in tiers):
        return []
    chart = charts.migration_series(
        dates, tiers, flows["won"], flows["downgraded"], flows["lost"], words, fmt
    )
    risk = list(values.get("revenue_at_risk") or ())
    rows = []
    for k in range(steps):
        core = core_after[k] if k < len(core_after) else sum(t.sizes[k + 1] for t in tiers)
        rows.append(
            (
                Cell(dates[k + 1]),
                Cell(fmt.integer(core)),
                Cell(fmt.integer(flows["won"][k])),
                Cell(fmt.integer(flows["kept"][k])),
                Cell(fmt.integer(flows["downgraded"][k])),
                Cell(fmt.integer(flows["lost"][k])),
                Cell(fmt.money(risk[k] if k < len(risk) else None)),
            )
        )
    table = Table(
        (
            Column(words("col.date")),
            Column(words("col.core_customers"), "num"),
            Column(words("mig.flow.won"), "num"),
            Column(words("mig.kept"), "num"),
            Column(words("mig.flow.downgraded"), "num"),
            Column(words("mig.flow.lost"), "num"),
            Column(words("mig.at_risk"), "num"),
        ),
        tuple(rows),
        title=words("mig.series_title"),
        key="migration-series",
    )
    return [chart, table]
