"""How customers moved between tiers from one snapshot to the next (客户迁移).

Pure pyarrow and NumPy on two snapshots (one row per customer, the snapshot row of
``docs/CONTRACTS.md``: ``customer_id``, ``tier`` and, when present, a value column,
``tier_since`` and ``as_of``). The result is a JSON-ready ``dict``.

Definitions
-----------
``tiers`` are ordered best first; a customer's *rank* is the position of their tier
(0 = best). ``core_tiers`` must be the first *k* tiers, and at least one tier must be
left out of them, so that the lowest tier is never core.

* **Transition matrix** -- over the customers present in *both* snapshots only: rows are
  the tier before, columns the tier after; each cell holds the customers and their value
  (before and after). It sums exactly to the number of customers present at both dates.
  Customers only in ``before`` are **gone**, only in ``after`` are **new**; they are
  reported beside the matrix, never in it.
* **Upgrade / downgrade** -- a move to a better / worse rank; ``moves`` lists every ordered
  pair of distinct tiers.

Every customer who was core before falls in exactly one of:

* **kept** -- core after, in the same or a better tier;
* **downgraded** -- present after in a worse tier that is not the lowest (with the default
  strategic / key / ordinary tiers: strategic → key; with four tiers A, B | C, D and core
  A, B: also A → C). ``within_core`` / ``out_of_core`` split them;
* **lost** -- gone (absent after) or in the lowest tier after.

So ``core before = kept + downgraded + lost``. **Won** are the customers core after who
were not core before: moved up from a non-core tier (``from_lower``) or new. So
``core after = won + kept + downgraded.within_core``.

**Revenue at risk** is the before-value of the downgraded core customers; the
before-value of the lost ones is reported as ``value_lost``.

**Value** is ``value_column`` (default ``clv``) when both snapshots have it with at least
one value (an empty snapshot needs only the column); otherwise ``total_spend`` under the
same rule; otherwise no values are reported (``None``). A customer with a missing (or
NaN) value counts as 0; how many did is in ``values_missing``.

**Time in tier** (when ``after`` has ``tier_since`` and its date is known): days from
``tier_since`` to the after date, per tier -- mean, quartiles, range and buckets
(``0-29``, ``30-89``, ``90-179``, ``180-364``, ``365-729``, ``730+`` days).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.errors import ConfigError, InputError
from corecustomers.ids import all_distinct

__all__ = ["TIME_IN_TIER_BUCKETS", "compare_snapshots", "migration_series"]

#: Lower edges (days) and labels of the time-in-tier buckets.
TIME_IN_TIER_BUCKETS: Final = (
    (0, "0-29"),
    (30, "30-89"),
    (90, "90-179"),
    (180, "180-364"),
    (365, "365-729"),
    (730, "730+"),
)
_FALLBACK_VALUE: Final = "total_spend"

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class _Snapshot:
    """One side of the comparison, validated: ids, tier ranks, as-of date."""

    ids: pa.Array
    rank: IntArray
    as_of: dt.date | None


def compare_snapshots(
    before: pa.Table,
    after: pa.Table,
    *,
    tiers: Sequence[str],
    core_tiers: Sequence[str],
    value_column: str = "clv",
    before_date: dt.date | None = None,
    after_date: dt.date | None = None,
    list_customers: int = 0,
) -> dict[str, Any]:
    """Compare two snapshots: transition matrix, core customers won/kept/downgraded/lost.

    See the module docstring for the exact definitions.

    Parameters
    ----------
    before, after
        Snapshots, one row per customer, with ``customer_id`` and ``tier``; optionally the
        value column (``clv`` / ``total_spend``), ``tier_since`` and ``as_of``.
    tiers
        Every tier name, best first (e.g. ``["strategic", "key", "ordinary"]``).
    core_tiers
        The core tiers: the first *k* of ``tiers``, ``1 <= k < len(tiers)``.
    value_column
        The value to sum (default ``clv``; ``total_spend`` when either snapshot lacks it).
    before_date, after_date
        The snapshot dates; default to the ``as_of`` column of each table. The after date
        is the reference for time in tier.
    list_customers
        When positive, ``customers_list`` names up to this many won, downgraded and lost
        customers each, highest value first (ties by id).

    Returns
    -------
    dict
        JSON-ready (``str``, ``int``, ``float``, ``None``, lists, dicts): ``before_date``,
        ``after_date``, ``tiers``, ``core_tiers``, ``value_column``, ``customers``
        (``before, after, both, gone, new``), ``values_missing``, ``matrix``
        (``customers``, ``value_before``, ``value_after``: lists of rows), ``gone``,
        ``new``, ``core`` (``before, after, won, kept, downgraded, lost``),
        ``revenue_at_risk``, ``value_lost``, ``upgrades``, ``downgrades``, ``unchanged``,
        ``moves`` and ``time_in_tier``; ``customers_list`` with ``list_customers``.

    Raises
    ------
    ConfigError
        ``tiers`` / ``core_tiers`` are malformed, or the after date is not later than the
        before date.
    InputError
        A snapshot lacks ``customer_id`` or ``tier``, repeats a customer, has a tier not
        in ``tiers``, or has more than one ``as_of``.

    Examples
    --------
    >>> import pyarrow as pa
    >>> tiers, core = ["strategic", "key", "ordinary"], ["strategic", "key"]
    >>> jan = pa.table({"customer_id": ["a", "b", "c", "d"],
    ...                 "tier": ["strategic", "strategic", "key", "ordinary"],
    ...                 "clv": [900.0, 500.0, 300.0, 20.0]})
    >>> feb = pa.table({"customer_id": ["a", "b", "d", "e"],
    ...                 "tier": ["strategic", "key", "key", "strategic"],
    ...                 "clv": [950.0, 350.0, 120.0, 700.0]})
    >>> m = compare_snapshots(jan, feb, tiers=tiers, core_tiers=core)
    >>> m["customers"]
    {'before': 4, 'after': 4, 'both': 3, 'gone': 1, 'new': 1}
    >>> m["matrix"]["customers"]  # rows: tier in jan; columns: tier in feb
    [[1, 1, 0], [0, 0, 0], [0, 1, 0]]
    >>> {flow: m["core"][flow]["customers"] for flow in ("won", "kept", "downgraded", "lost")}
    {'won': 2, 'kept': 1, 'downgraded': 1, 'lost': 1}
    >>> m["revenue_at_risk"], m["value_lost"]
    (500.0, 300.0)
    """
    tier_names, k = _check_tiers(tiers, core_tiers)
    if not isinstance(list_customers, int) or list_customers < 0:
        raise ConfigError(f"list_customers must be a whole number >= 0, got {list_customers!r}")
    old = _snapshot(before, tier_names, "before", before_date)
    new = _snapshot(after, tier_names, "after", after_date)
    if old.as_of is not None and new.as_of is not None and new.as_of <= old.as_of:
        raise ConfigError(
            f"the 'after' snapshot ({new.as_of}) must be later than the 'before' snapshot "
            f"({old.as_of}); swap them"
        )
    n_tiers = len(tier_names)
    lowest = n_tiers - 1
    value_name = _value_name(before, after, value_column)
    v_old, missing_old = _values(before, value_name)
    v_new, missing_new = _values(after, value_name)

    # Align: for each customer of `after`, their row in `before` (-1 when new).
    in_old = pc.fill_null(pc.index_in(new.ids, value_set=old.ids), -1).to_numpy()
    in_old = np.asarray(in_old, dtype=np.int64)
    both_new = np.flatnonzero(in_old >= 0)  # rows of `after` present at both dates
    both_old = in_old[both_new]  # the same customers' rows of `before`
    gone = np.ones(len(old.ids), dtype=bool)
    gone[both_old] = False
    is_new = in_old < 0

    b = old.rank[both_old]
    a = new.rank[both_new]
    cells = b * n_tiers + a
    size = n_tiers * n_tiers
    counts = np.bincount(cells, minlength=size).reshape(n_tiers, n_tiers)
    if int(counts.sum()) != len(both_new):  # the contract of the matrix, checked every time
        raise AssertionError(
            f"the transition matrix holds {int(counts.sum())} customers "
            f"but {len(both_new)} are present at both dates"
        )
    vb = v_old[both_old]
    va = v_new[both_new]
    value_before = np.bincount(cells, weights=vb, minlength=size).reshape(n_tiers, n_tiers)
    value_after = np.bincount(cells, weights=va, minlength=size).reshape(n_tiers, n_tiers)

    # Core flows.
    core_b = b < k
    kept = core_b & (a <= b)
    down = core_b & (a > b) & (a != lowest)
    to_lowest = core_b & (a == lowest)
    won_up = ~core_b & (a < k)
    lost_gone = gone & (old.rank < k)
    won_new = is_new & (new.rank < k)

    has_value = value_name is not None

    def total(values: FloatArray, mask: BoolArray) -> float | None:
        return float(values[mask].sum()) if has_value else None

    revenue_at_risk = total(vb, down)
    value_lost = _add(total(vb, to_lowest), total(v_old, lost_gone))
    core = {
        "before": {"customers": int((old.rank < k).sum()), "value": total(v_old, old.rank < k)},
        "after": {"customers": int((new.rank < k).sum()), "value": total(v_new, new.rank < k)},
        "won": {
            "customers": int(won_up.sum() + won_new.sum()),
            "from_lower": int(won_up.sum()),
            "new": int(won_new.sum()),
            "value": _add(total(va, won_up), total(v_new, won_new)),
        },
        "kept": {
            "customers": int(kept.sum()),
            "value_before": total(vb, kept),
            "value_after": total(va, kept),
        },
        "downgraded": {
            "customers": int(down.sum()),
            "within_core": int((down & (a < k)).sum()),
            "out_of_core": int((down & (a >= k)).sum()),
            "value_before": revenue_at_risk,
            "value_after": total(va, down),
        },
        "lost": {
            "customers": int(to_lowest.sum() + lost_gone.sum()),
            "gone": int(lost_gone.sum()),
            "to_lowest": int(to_lowest.sum()),
            "value_before": value_lost,
        },
    }

    moves = [
        {
            "from": tier_names[i],
            "to": tier_names[j],
            "direction": "up" if j < i else "down",
            "customers": int(counts[i, j]),
            "value_before": float(value_before[i, j]) if has_value else None,
            "value_after": float(value_after[i, j]) if has_value else None,
        }
        for i in range(n_tiers)
        for j in range(n_tiers)
        if i != j
    ]
    result: dict[str, Any] = {
        "before_date": _iso(old.as_of),
        "after_date": _iso(new.as_of),
        "tiers": list(tier_names),
        "core_tiers": list(tier_names[:k]),
        "value_column": value_name,
        "customers": {
            "before": len(old.ids),
            "after": len(new.ids),
            "both": len(both_new),
            "gone": int(gone.sum()),
            "new": int(is_new.sum()),
        },
        "values_missing": {"before": missing_old, "after": missing_new},
        "matrix": {
            "rows": "tier before",
            "columns": "tier after",
            "customers": counts.astype(int).tolist(),
            "value_before": value_before.tolist() if has_value else None,
            "value_after": value_after.tolist() if has_value else None,
        },
        "gone": _group(old.rank[gone], v_old[gone], tier_names, has_value),
        "new": _group(new.rank[is_new], v_new[is_new], tier_names, has_value),
        "core": core,
        "revenue_at_risk": revenue_at_risk,
        "value_lost": value_lost,
        "upgrades": int(np.tril(counts, -1).sum()),  # better rank after: below the diagonal
        "downgrades": int(np.triu(counts, 1).sum()),
        "unchanged": int(np.trace(counts)),
        "moves": moves,
        "time_in_tier": _time_in_tier(after, new, tier_names),
    }
    if list_customers:
        pick = _Picker(old, new, in_old, v_old, v_new, tier_names, list_customers)
        result["customers_list"] = {
            "won": pick(np.concatenate([both_new[won_up], np.flatnonzero(won_new)]), by_after=True),
            "downgraded": pick(both_new[down]),
            "lost": pick(both_new[to_lowest], only_before=np.flatnonzero(lost_gone)),
        }
    return result


def migration_series(
    snapshots: Sequence[tuple[dt.date, pa.Table]],
    *,
    tiers: Sequence[str],
    core_tiers: Sequence[str],
    value_column: str = "clv",
) -> dict[str, Any]:
    """:func:`compare_snapshots` over every pair of consecutive snapshots, for a chart.

    Parameters
    ----------
    snapshots
        ``(as_of, table)`` pairs in any order; dates must be distinct. The given date is
        each table's date (an ``as_of`` column, if any, must agree).
    tiers, core_tiers, value_column
        As in :func:`compare_snapshots`.

    Returns
    -------
    dict
        ``dates`` (ISO, ascending), ``steps`` (one :func:`compare_snapshots` result per
        consecutive pair) and ``series``: lists aligned with ``steps`` -- ``to`` (the
        later date), ``core`` (core customers at that date), ``won``, ``kept``,
        ``downgraded``, ``lost``, ``revenue_at_risk``, ``value_lost``, and ``tier_sizes``
        (customers per tier at every date, aligned with ``dates``).

    Examples
    --------
    >>> import datetime as dt
    >>> import pyarrow as pa
    >>> snap = lambda tiers: pa.table({"customer_id": ["a", "b", "c"][: len(tiers)],
    ...                                "tier": tiers})
    >>> s = migration_series(
    ...     [(dt.date(2024, 3, 31), snap(["key", "key"])),
    ...      (dt.date(2024, 1, 31), snap(["key", "ordinary", "key"])),
    ...      (dt.date(2024, 2, 29), snap(["key", "key", "ordinary"]))],
    ...     tiers=["key", "ordinary"], core_tiers=["key"])
    >>> s["dates"]
    ['2024-01-31', '2024-02-29', '2024-03-31']
    >>> s["series"]["won"], s["series"]["lost"], s["series"]["core"]
    ([1, 0], [1, 0], [2, 2])
    """
    tier_names, _ = _check_tiers(tiers, core_tiers)
    ordered = sorted(snapshots, key=lambda pair: pair[0])
    dates = [day for day, _ in ordered]
    if len(set(dates)) != len(dates):
        twice = sorted({str(d) for d in dates if dates.count(d) > 1})
        raise InputError(f"each date may appear once; {', '.join(twice)} appear(s) twice")
    steps = [
        compare_snapshots(
            before,
            after,
            tiers=tier_names,
            core_tiers=core_tiers,
            value_column=value_column,
            before_date=day_before,
            after_date=day_after,
        )
        for (day_before, before), (day_after, after) in itertools.pairwise(ordered)
    ]
    sizes = {
        tier: [
            int(pc.sum(pc.equal(pc.cast(table.column("tier"), pa.string()), tier)).as_py() or 0)
            for _, table in ordered
        ]
        for tier in tier_names
    }
    series: dict[str, Any] = {
        "to": [step["after_date"] for step in steps],
        "core": [step["core"]["after"]["customers"] for step in steps],
        "revenue_at_risk": [step["revenue_at_risk"] for step in steps],
        "value_lost": [step["value_lost"] for step in steps],
        "tier_sizes": sizes,
    }
    for flow in ("won", "kept", "downgraded", "lost"):
        series[flow] = [step["core"][flow]["customers"] for step in steps]
    return {"dates": [day.isoformat() for day in dates], "steps": steps, "series": series}


# ---------------------------------------------------------------------------------------
# Validation


def _check_tiers(tiers: Sequence[str], core_tiers: Sequence[str]) -> tuple[tuple[str, ...], int]:
    if isinstance(tiers, str) or isinstance(core_tiers, str):
        raise ConfigError("tiers and core_tiers are lists of tier names, not one string")
    names = tuple(tiers)
    core = tuple(core_tiers)
    if len(names) < 2 or not all(isinstance(t, str) and t for t in names):
        raise ConfigError(f"tiers must name at least two tiers, best first; got {names!r}")
    if len(set(names)) != len(names):
        raise ConfigError(f"each tier may be named once; got {names!r}")
    unknown = [t for t in core if t not in names]
    if unknown:
        raise ConfigError(f"core tier(s) {unknown!r} are not among the tiers {names!r}")
    k = len(core)
    if not 1 <= k < len(names) or set(core) != set(names[:k]) or len(set(core)) != k:
        raise ConfigError(
            f"core_tiers must be the best tiers, at least one and not all of them "
            f"(e.g. {list(names[:1])!r} or {list(names[:2])!r} for {list(names)!r}); "
            f"got {list(core)!r}"
        )
    return names, k


def _snapshot(table: pa.Table, tiers: tuple[str, ...], side: str, day: dt.date | None) -> _Snapshot:
    for name in ("customer_id", "tier"):
        if name not in table.column_names:
            raise InputError(f"the {side!r} snapshot has no {name!r} column", column=name)
    ids = pc.cast(table.column("customer_id"), pa.string()).combine_chunks()
    if ids.null_count:
        raise InputError(
            f"{ids.null_count} row(s) of the {side!r} snapshot have no customer id",
            column="customer_id",
        )
    if not all_distinct(ids):
        repeated = [row["values"] for row in pc.value_counts(ids).to_pylist() if row["counts"] > 1]
        raise InputError(
            f"the {side!r} snapshot repeats customers (e.g. "
            f"{', '.join(map(repr, sorted(repeated)[:3]))}); it needs one row per customer",
            column="customer_id",
        )
    tier = pc.cast(table.column("tier"), pa.string()).combine_chunks()
    if tier.null_count:
        raise InputError(
            f"{tier.null_count} customer(s) of the {side!r} snapshot have no tier",
            column="tier",
        )
    rank = pc.index_in(tier, value_set=pa.array(tiers, pa.string()))
    if rank.null_count:
        bad = pc.filter(tier, pc.is_null(rank))
        shown = sorted({str(v) for v in bad.to_pylist()})[:5]
        raise InputError(
            f"{rank.null_count} customer(s) of the {side!r} snapshot have a tier not among "
            f"{list(tiers)!r}: {', '.join(shown)}; pass every tier name in 'tiers'",
            column="tier",
        )
    return _Snapshot(
        ids=ids,
        rank=np.asarray(rank.to_numpy(), dtype=np.int64),
        as_of=day if day is not None else _table_date(table, side),
    )


def _table_date(table: pa.Table, side: str) -> dt.date | None:
    if "as_of" not in table.column_names:
        return None
    days = [d for d in pc.unique(table.column("as_of")).to_pylist() if d is not None]
    if len(days) > 1:
        raise InputError(
            f"the {side!r} snapshot holds several dates ({', '.join(map(str, sorted(days)))}); "
            "pass one snapshot per side",
            column="as_of",
        )
    if not days:
        return None
    day = days[0]
    return day.date() if isinstance(day, dt.datetime) else day


def _value_name(before: pa.Table, after: pa.Table, preferred: str) -> str | None:
    for name in (preferred, _FALLBACK_VALUE):
        if all(
            name in t.column_names and (t.num_rows == 0 or t.column(name).null_count < t.num_rows)
            for t in (before, after)
        ):
            return name
    return None


def _values(table: pa.Table, name: str | None) -> tuple[FloatArray, int]:
    """The value column as float64 (missing and NaN as 0) and how many were missing."""
    if name is None:
        return np.zeros(table.num_rows), 0
    try:
        column = pc.cast(table.column(name), pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"the value column must hold numbers ({exc})", column=name) from exc
    values = np.array(pc.fill_null(column, np.nan).to_numpy(), dtype=np.float64)
    missing = ~np.isfinite(values)
    if np.isinf(values).any():
        raise InputError("infinite values; fix them before comparing", column=name)
    values[missing] = 0.0
    return values, int(missing.sum())


# ---------------------------------------------------------------------------------------
# Pieces of the result


def _add(x: float | None, y: float | None) -> float | None:
    return None if x is None or y is None else x + y


def _iso(day: dt.date | None) -> str | None:
    return None if day is None else day.isoformat()


def _group(
    rank: IntArray, values: FloatArray, tiers: tuple[str, ...], has_value: bool
) -> dict[str, Any]:
    by_tier = np.bincount(rank, minlength=len(tiers))
    return {
        "customers": len(rank),
        "value": float(values.sum()) if has_value else None,
        "by_tier": {tier: int(n) for tier, n in zip(tiers, by_tier, strict=True)},
    }


def _time_in_tier(
    table: pa.Table, snap: _Snapshot, tiers: tuple[str, ...]
) -> dict[str, Any] | None:
    if "tier_since" not in table.column_names or snap.as_of is None:
        return None
    since = pc.cast(table.column("tier_since"), pa.date32()).combine_chunks()
    known = ~np.asarray(since.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    days = np.full(len(since), -1, dtype=np.int64)
    if known.any():
        as_days = pc.cast(pc.drop_null(since), pa.int32()).to_numpy()
        days[known] = (snap.as_of - dt.date(1970, 1, 1)).days - as_days.astype(np.int64)
    if (days[known] < 0).any():
        first = int(np.flatnonzero(known & (days < 0))[0])
        raise InputError(
            f"customer {snap.ids[first].as_py()!r} has tier_since after the snapshot date "
            f"{snap.as_of}",
            column="tier_since",
        )
    edges = np.array([edge for edge, _ in TIME_IN_TIER_BUCKETS], dtype=np.int64)
    out: dict[str, Any] = {}
    for code, tier in enumerate(tiers):
        in_tier = snap.rank == code
        d = days[in_tier & known].astype(np.float64)
        bucket = np.bincount(np.searchsorted(edges, d, side="right") - 1, minlength=len(edges))
        out[tier] = {
            "customers": len(d),
            "unknown": int((in_tier & ~known).sum()),
            "mean_days": float(d.mean()) if len(d) else None,
            "median_days": float(np.median(d)) if len(d) else None,
            "p25_days": float(np.percentile(d, 25)) if len(d) else None,
            "p75_days": float(np.percentile(d, 75)) if len(d) else None,
            "min_days": int(d.min()) if len(d) else None,
            "max_days": int(d.max()) if len(d) else None,
            "buckets": {
                label: int(n) for (_, label), n in zip(TIME_IN_TIER_BUCKETS, bucket, strict=True)
            },
        }
    return out


@dataclass(frozen=True)
class _Picker:
    """Names the customers behind a flow, highest value first (ties by id)."""

    old: _Snapshot
    new: _Snapshot
    in_old: IntArray
    v_old: FloatArray
    v_new: FloatArray
    tiers: tuple[str, ...]
    limit: int

    def __call__(
        self,
        rows_after: IntArray,
        *,
        only_before: IntArray | None = None,
        by_after: bool = False,
    ) -> list[dict[str, Any]]:
        """Rows of ``after`` (with their ``before`` row, if any) and rows only in ``before``."""
        entries: list[dict[str, Any]] = []
        for row in rows_after.tolist():
            old_row = int(self.in_old[row])
            entries.append(
                {
                    "customer_id": self.new.ids[row].as_py(),
                    "tier_before": None if old_row < 0 else self.tiers[self.old.rank[old_row]],
                    "tier_after": self.tiers[self.new.rank[row]],
                    "value_before": None if old_row < 0 else float(self.v_old[old_row]),
                    "value_after": float(self.v_new[row]),
                }
            )
        for row in [] if only_before is None else only_before.tolist():
            entries.append(
                {
                    "customer_id": self.old.ids[row].as_py(),
                    "tier_before": self.tiers[self.old.rank[row]],
                    "tier_after": None,
                    "value_before": float(self.v_old[row]),
                    "value_after": None,
                }
            )
        key = "value_after" if by_after else "value_before"
        entries.sort(key=lambda e: (-(e[key] or 0.0), e["customer_id"]))
        return entries[: self.limit]
