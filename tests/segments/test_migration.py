"""Migration between snapshots: hand-built moves of every kind, and exact-sum properties."""

from __future__ import annotations

import datetime as dt
import doctest
import json
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import corecustomers.segments.migration as migration_module
from corecustomers.errors import ConfigError, InputError
from corecustomers.segments.migration import compare_snapshots, migration_series

TIERS = ["strategic", "key", "ordinary"]
CORE = ["strategic", "key"]
JAN = dt.date(2024, 1, 31)
FEB = dt.date(2024, 2, 29)


def snap(rows: dict[str, tuple[str, float]], **columns: Any) -> pa.Table:
    """A snapshot from ``{customer: (tier, clv)}`` plus any further columns."""
    return pa.table(
        {
            "customer_id": list(rows),
            "tier": [tier for tier, _ in rows.values()],
            "clv": [value for _, value in rows.values()],
            **columns,
        }
    )


# Every kind of move with strategic / key / ordinary, core = strategic + key.
BEFORE = {
    "s_kept": ("strategic", 1000.0),
    "k_up": ("key", 400.0),
    "s_down": ("strategic", 800.0),
    "k_to_lowest": ("key", 300.0),
    "s_to_lowest": ("strategic", 700.0),
    "s_gone": ("strategic", 600.0),
    "o_gone": ("ordinary", 5.0),
    "o_won": ("ordinary", 50.0),
    "o_stays": ("ordinary", 10.0),
}
AFTER = {
    "s_kept": ("strategic", 1100.0),
    "k_up": ("strategic", 900.0),
    "s_down": ("key", 350.0),
    "k_to_lowest": ("ordinary", 30.0),
    "s_to_lowest": ("ordinary", 20.0),
    "o_won": ("key", 250.0),
    "o_stays": ("ordinary", 12.0),
    "new_s": ("strategic", 2000.0),
    "new_o": ("ordinary", 8.0),
}


def every_move() -> dict[str, Any]:
    return compare_snapshots(
        snap(BEFORE), snap(AFTER), tiers=TIERS, core_tiers=CORE, list_customers=10
    )


def test_counts_of_every_kind_of_move() -> None:
    m = every_move()
    assert m["customers"] == {"before": 9, "after": 9, "both": 7, "gone": 2, "new": 2}
    assert m["matrix"]["customers"] == [
        # after: strategic, key, ordinary
        [1, 1, 1],  # before strategic: s_kept, s_down, s_to_lowest
        [1, 0, 1],  # before key: k_up, k_to_lowest
        [0, 1, 1],  # before ordinary: o_won, o_stays
    ]
    core = m["core"]
    assert core["before"]["customers"] == 6
    assert core["after"]["customers"] == 5
    assert core["won"] | {"value": None} == {
        "customers": 2,
        "from_lower": 1,
        "new": 1,
        "value": None,
    }
    assert core["kept"]["customers"] == 2  # s_kept, k_up (an upgrade within core)
    assert core["downgraded"] | {"value_before": None, "value_after": None} == {
        "customers": 1,
        "within_core": 1,
        "out_of_core": 0,
        "value_before": None,
        "value_after": None,
    }
    assert core["lost"] | {"value_before": None} == {
        "customers": 3,
        "gone": 1,
        "to_lowest": 2,
        "value_before": None,
    }
    assert (m["upgrades"], m["downgrades"], m["unchanged"]) == (2, 3, 2)
    assert m["gone"] == {
        "customers": 2,
        "value": 605.0,
        "by_tier": {"strategic": 1, "key": 0, "ordinary": 1},
    }
    assert m["new"] == {
        "customers": 2,
        "value": 2008.0,
        "by_tier": {"strategic": 1, "key": 0, "ordinary": 1},
    }


def test_values_of_every_kind_of_move() -> None:
    m = every_move()
    assert m["value_column"] == "clv"
    assert m["matrix"]["value_before"] == [
        [1000.0, 800.0, 700.0],
        [400.0, 0.0, 300.0],
        [0.0, 50.0, 10.0],
    ]
    assert m["matrix"]["value_after"] == [
        [1100.0, 350.0, 20.0],
        [900.0, 0.0, 30.0],
        [0.0, 250.0, 12.0],
    ]
    core = m["core"]
    assert core["won"]["value"] == 250.0 + 2000.0  # after-values
    assert (core["kept"]["value_before"], core["kept"]["value_after"]) == (1400.0, 2000.0)
    assert m["revenue_at_risk"] == 800.0 == core["downgraded"]["value_before"]
    assert m["value_lost"] == 300.0 + 700.0 + 600.0 == core["lost"]["value_before"]
    assert core["before"]["value"] == 1000 + 400 + 800 + 300 + 700 + 600
    assert m["values_missing"] == {"before": 0, "after": 0}


def test_moves_list_every_ordered_pair() -> None:
    moves = {(mv["from"], mv["to"]): mv for mv in every_move()["moves"]}
    assert len(moves) == 6
    assert moves["key", "strategic"] == {
        "from": "key",
        "to": "strategic",
        "direction": "up",
        "customers": 1,
        "value_before": 400.0,
        "value_after": 900.0,
    }
    assert moves["strategic", "ordinary"]["direction"] == "down"
    assert moves["key", "ordinary"]["customers"] == 1
    assert moves["ordinary", "strategic"]["customers"] == 0


def test_the_customers_behind_the_flows() -> None:
    listed = every_move()["customers_list"]
    assert [c["customer_id"] for c in listed["won"]] == ["new_s", "o_won"]  # by after-value
    assert listed["won"][0] == {
        "customer_id": "new_s",
        "tier_before": None,
        "tier_after": "strategic",
        "value_before": None,
        "value_after": 2000.0,
    }
    assert [c["customer_id"] for c in listed["downgraded"]] == ["s_down"]
    assert [c["customer_id"] for c in listed["lost"]] == ["s_to_lowest", "s_gone", "k_to_lowest"]
    assert listed["lost"][1]["tier_after"] is None
    assert "customers_list" not in compare_snapshots(
        snap(BEFORE), snap(AFTER), tiers=TIERS, core_tiers=CORE
    )
    short = compare_snapshots(
        snap(BEFORE), snap(AFTER), tiers=TIERS, core_tiers=CORE, list_customers=1
    )
    assert [c["customer_id"] for c in short["customers_list"]["lost"]] == ["s_to_lowest"]


def test_four_tiers_a_downgrade_out_of_core_is_not_a_loss() -> None:
    tiers, core = ["A", "B", "C", "D"], ["A", "B"]
    before = snap({"x": ("A", 9.0), "y": ("B", 5.0), "z": ("C", 2.0), "w": ("A", 7.0)})
    after = snap({"x": ("C", 3.0), "y": ("D", 1.0), "z": ("B", 4.0), "w": ("B", 6.0)})
    m = compare_snapshots(before, after, tiers=tiers, core_tiers=core)
    assert m["core"]["downgraded"]["customers"] == 2  # x: A -> C, w: A -> B
    assert m["core"]["downgraded"]["out_of_core"] == 1
    assert m["core"]["downgraded"]["within_core"] == 1
    assert m["core"]["lost"]["customers"] == 1  # y: B -> D, the lowest
    assert m["core"]["won"]["from_lower"] == 1  # z: C -> B
    assert m["revenue_at_risk"] == 9.0 + 7.0


def test_only_one_core_tier() -> None:
    before = snap({"a": ("strategic", 1.0), "b": ("key", 1.0)})
    after = snap({"a": ("key", 1.0), "b": ("strategic", 1.0)})
    m = compare_snapshots(before, after, tiers=TIERS, core_tiers=["strategic"])
    assert m["core"]["downgraded"]["customers"] == 1
    assert m["core"]["downgraded"]["out_of_core"] == 1
    assert m["core"]["won"]["from_lower"] == 1
    assert m["core_tiers"] == ["strategic"]


def test_value_falls_back_to_total_spend_when_clv_is_absent_or_empty() -> None:
    before = pa.table(
        {"customer_id": ["a", "b"], "tier": ["key", "ordinary"], "total_spend": [10.0, 1.0]}
    )
    after = before.append_column("clv", pa.nulls(2, pa.float64()))  # models not fitted
    m = compare_snapshots(before, after, tiers=TIERS, core_tiers=CORE)
    assert m["value_column"] == "total_spend"
    assert m["matrix"]["value_before"][1][1] == 10.0
    explicit = compare_snapshots(
        before, after, tiers=TIERS, core_tiers=CORE, value_column="total_spend"
    )
    assert explicit["matrix"] == m["matrix"]


def test_without_any_value_column_values_are_none() -> None:
    before = pa.table({"customer_id": ["a", "b"], "tier": ["strategic", "key"]})
    after = pa.table({"customer_id": ["a"], "tier": ["key"]})
    m = compare_snapshots(before, after, tiers=TIERS, core_tiers=CORE, list_customers=5)
    assert m["value_column"] is None
    assert m["matrix"]["value_before"] is None
    assert m["revenue_at_risk"] is None
    assert m["value_lost"] is None
    assert m["core"]["lost"]["customers"] == 1
    assert all(mv["value_before"] is None for mv in m["moves"])
    assert m["time_in_tier"] is None


def test_missing_values_count_as_zero_and_are_counted() -> None:
    before = snap({"a": ("strategic", 0.0), "b": ("key", 5.0)})
    before = before.set_column(2, "clv", pa.array([None, 5.0], pa.float64()))
    after = snap({"a": ("key", float("nan")), "b": ("key", 2.0)})
    m = compare_snapshots(before, after, tiers=TIERS, core_tiers=CORE)
    assert m["values_missing"] == {"before": 1, "after": 1}
    assert m["revenue_at_risk"] == 0.0
    assert m["matrix"]["value_after"][1][1] == 2.0


def test_time_in_tier_from_tier_since() -> None:
    after = snap(
        {
            "a": ("strategic", 1.0),
            "b": ("strategic", 1.0),
            "c": ("key", 1.0),
            "d": ("key", 1.0),
            "e": ("ordinary", 1.0),
        },
        tier_since=pa.array(
            [
                FEB,  # 0 days
                FEB - dt.timedelta(days=400),
                FEB - dt.timedelta(days=29),
                FEB - dt.timedelta(days=30),
                None,
            ]
        ),
        as_of=pa.array([FEB] * 5),
    )
    before = snap({"a": ("key", 1.0)}, as_of=pa.array([JAN]))
    m = compare_snapshots(before, after, tiers=TIERS, core_tiers=CORE)
    assert (m["before_date"], m["after_date"]) == ("2024-01-31", "2024-02-29")
    strategic = m["time_in_tier"]["strategic"]
    assert strategic["customers"] == 2
    assert strategic["mean_days"] == 200.0
    assert (strategic["min_days"], strategic["max_days"]) == (0, 400)
    assert strategic["buckets"] == {
        "0-29": 1,
        "30-89": 0,
        "90-179": 0,
        "180-364": 0,
        "365-729": 1,
        "730+": 0,
    }
    key = m["time_in_tier"]["key"]
    assert key["buckets"]["0-29"] == 1 and key["buckets"]["30-89"] == 1
    assert key["median_days"] == 29.5
    assert m["time_in_tier"]["ordinary"] == {
        "customers": 0,
        "unknown": 1,
        "mean_days": None,
        "median_days": None,
        "p25_days": None,
        "p75_days": None,
        "min_days": None,
        "max_days": None,
        "buckets": {label: 0 for _, label in migration_module.TIME_IN_TIER_BUCKETS},
    }


def test_time_in_tier_needs_the_after_date_and_a_past_tier_since() -> None:
    after = snap({"a": ("key", 1.0)}, tier_since=pa.array([JAN]))
    before = snap({"a": ("key", 1.0)})
    assert compare_snapshots(before, after, tiers=TIERS, core_tiers=CORE)["time_in_tier"] is None
    given_date = compare_snapshots(before, after, tiers=TIERS, core_tiers=CORE, after_date=FEB)
    assert given_date["time_in_tier"]["key"]["mean_days"] == 29.0
    with pytest.raises(InputError, match="tier_since after"):
        compare_snapshots(
            before, after, tiers=TIERS, core_tiers=CORE, after_date=dt.date(2024, 1, 1)
        )


def test_after_must_be_later_than_before() -> None:
    a = snap({"a": ("key", 1.0)})
    with pytest.raises(ConfigError, match="must be later"):
        compare_snapshots(a, a, tiers=TIERS, core_tiers=CORE, before_date=FEB, after_date=JAN)
    with pytest.raises(ConfigError, match="must be later"):
        compare_snapshots(a, a, tiers=TIERS, core_tiers=CORE, before_date=FEB, after_date=FEB)


@pytest.mark.parametrize(
    ("tiers", "core", "message"),
    [
        (["strategic"], ["strategic"], "at least two"),
        (["a", "a", "b"], ["a"], "once"),
        (TIERS, ["gold"], "not among"),
        (TIERS, ["key"], "best tiers"),
        (TIERS, [], "best tiers"),
        (TIERS, TIERS, "best tiers"),
        (TIERS, ["strategic", "strategic"], "best tiers"),
        ("strategic", ["strategic"], "not one string"),
    ],
)
def test_bad_tier_settings(tiers: Any, core: Any, message: str) -> None:
    a = snap({"a": ("strategic", 1.0)})
    with pytest.raises(ConfigError, match=message):
        compare_snapshots(a, a, tiers=tiers, core_tiers=core)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (pa.table({"customer_id": ["a"]}), "no 'tier'"),
        (pa.table({"tier": ["key"]}), "no 'customer_id'"),
        (pa.table({"customer_id": ["a", None], "tier": ["key", "key"]}), "no customer id"),
        (pa.table({"customer_id": ["a", "a"], "tier": ["key", "key"]}), "repeats customers.*'a'"),
        (pa.table({"customer_id": ["a", "b"], "tier": ["key", "gold"]}), "not among.*gold"),
        (pa.table({"customer_id": ["a"], "tier": pa.array([None], pa.string())}), "no tier"),
        (
            pa.table({"customer_id": ["a", "b"], "tier": ["key"] * 2, "as_of": [JAN, FEB]}),
            "several dates",
        ),
        (
            pa.table({"customer_id": ["a"], "tier": ["key"], "clv": [float("inf")]}),
            "infinite",
        ),
    ],
)
def test_bad_snapshots(table: pa.Table, message: str) -> None:
    good = snap({"a": ("key", 1.0)})
    with pytest.raises(InputError, match=message):
        compare_snapshots(table, good, tiers=TIERS, core_tiers=CORE)


def test_ids_of_any_type_and_dictionary_tiers() -> None:
    before = pa.table(
        {"customer_id": [1, 2], "tier": pa.array(["key", "ordinary"]).dictionary_encode()}
    )
    after = pa.table({"customer_id": [2, 3], "tier": ["key", "key"]})
    m = compare_snapshots(before, after, tiers=TIERS, core_tiers=CORE)
    assert m["customers"]["both"] == 1
    assert m["core"]["won"]["customers"] == 2


def test_empty_snapshots() -> None:
    empty = pa.table({"customer_id": pa.array([], pa.string()), "tier": pa.array([], pa.string())})
    full = snap({"a": ("strategic", 3.0)})
    m = compare_snapshots(empty, full, tiers=TIERS, core_tiers=CORE)
    assert m["customers"] == {"before": 0, "after": 1, "both": 0, "gone": 0, "new": 1}
    assert m["core"]["won"]["new"] == 1
    assert compare_snapshots(full, empty, tiers=TIERS, core_tiers=CORE)["core"]["lost"]["gone"] == 1


def test_result_is_strict_json() -> None:
    m = every_move()
    assert json.loads(json.dumps(m, allow_nan=False)) == m


# --- properties -----------------------------------------------------------------------------


@st.composite
def snapshot_pairs(draw: st.DrawFn) -> tuple[pa.Table, pa.Table, list[str], list[str], int]:
    n_tiers = draw(st.integers(2, 5))
    tiers = [f"t{i}" for i in range(n_tiers)]
    k = draw(st.integers(1, n_tiers - 1))
    n = draw(st.integers(0, 40))
    # presence: 0 before only, 1 after only, 2 both
    presence = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    tier_before = draw(st.lists(st.integers(0, n_tiers - 1), min_size=n, max_size=n))
    tier_after = draw(st.lists(st.integers(0, n_tiers - 1), min_size=n, max_size=n))
    # whole numbers, so that every sum is exact whatever the order
    value_before = draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n))
    value_after = draw(st.lists(st.integers(0, 10_000), min_size=n, max_size=n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    ids = [f"c{i}" for i in range(n)]
    in_before = [i for i in range(n) if presence[i] != 1]
    in_after = [i for i in range(n) if presence[i] != 0]
    rng.shuffle(in_before)
    rng.shuffle(in_after)
    before = pa.table(
        {
            "customer_id": [ids[i] for i in in_before],
            "tier": [tiers[tier_before[i]] for i in in_before],
            "clv": [float(value_before[i]) for i in in_before],
        },
        schema=pa.schema(
            [("customer_id", pa.string()), ("tier", pa.string()), ("clv", pa.float64())]
        ),
    )
    after = pa.table(
        {
            "customer_id": [ids[i] for i in in_after],
            "tier": [tiers[tier_after[i]] for i in in_after],
            "clv": [float(value_after[i]) for i in in_after],
        },
        schema=before.schema,
    )
    return before, after, tiers, tiers[:k], seed


def reference(before: pa.Table, after: pa.Table, tiers: list[str], k: int) -> dict[str, Any]:
    """Plain-Python counts by customer, from the definitions in the module docstring."""
    rank = {t: i for i, t in enumerate(tiers)}
    old = {r["customer_id"]: (rank[r["tier"]], r["clv"]) for r in before.to_pylist()}
    new = {r["customer_id"]: (rank[r["tier"]], r["clv"]) for r in after.to_pylist()}
    lowest = len(tiers) - 1
    cells: Counter[tuple[int, int]] = Counter()
    flows: Counter[str] = Counter()
    at_risk = 0.0
    for cid, (b, vb) in old.items():
        a = new[cid][0] if cid in new else None
        if a is not None:
            cells[b, a] += 1
        if b < k:
            if a is None or a == lowest:
                flows["lost"] += 1
            elif a <= b:
                flows["kept"] += 1
            else:
                flows["downgraded"] += 1
                at_risk += vb
    for cid, (a, _) in new.items():
        if a < k and (cid not in old or old[cid][0] >= k):
            flows["won"] += 1
    matrix = [[cells[i, j] for j in range(len(tiers))] for i in range(len(tiers))]
    return {"matrix": matrix, "flows": flows, "at_risk": at_risk}


@settings(max_examples=150, deadline=None, derandomize=True)
@given(snapshot_pairs())
def test_matrix_sums_exactly_to_the_customers_at_both_dates(
    pair: tuple[pa.Table, pa.Table, list[str], list[str], int],
) -> None:
    before, after, tiers, core_tiers, _ = pair
    m = compare_snapshots(before, after, tiers=tiers, core_tiers=core_tiers)
    ids_before = set(before.column("customer_id").to_pylist())
    ids_after = set(after.column("customer_id").to_pylist())
    both = len(ids_before & ids_after)
    matrix = np.array(m["matrix"]["customers"]).reshape(len(tiers), len(tiers))

    assert matrix.sum() == both == m["customers"]["both"]
    assert m["customers"]["gone"] == len(ids_before - ids_after) == m["gone"]["customers"]
    assert m["customers"]["new"] == len(ids_after - ids_before) == m["new"]["customers"]
    assert m["customers"]["both"] + m["customers"]["gone"] == before.num_rows
    assert m["customers"]["both"] + m["customers"]["new"] == after.num_rows
    assert m["upgrades"] + m["downgrades"] + m["unchanged"] == both
    assert sum(mv["customers"] for mv in m["moves"]) + m["unchanged"] == both

    # values: the matrix and the gone/new groups add up to each snapshot's total
    total_before = sum(before.column("clv").to_pylist())
    total_after = sum(after.column("clv").to_pylist())
    assert np.sum(m["matrix"]["value_before"]) + m["gone"]["value"] == total_before
    assert np.sum(m["matrix"]["value_after"]) + m["new"]["value"] == total_after
    core_rows = [r for r in before.to_pylist() if r["tier"] in core_tiers]
    assert m["core"]["before"]["value"] == sum(r["clv"] for r in core_rows)

    # the core flows partition the core customers before, and build those after
    core = m["core"]
    assert (
        core["kept"]["customers"] + core["downgraded"]["customers"] + core["lost"]["customers"]
        == core["before"]["customers"]
    )
    assert (
        core["won"]["customers"] + core["kept"]["customers"] + core["downgraded"]["within_core"]
        == core["after"]["customers"]
    )

    # and everything agrees with a plain-Python count, customer by customer
    expected = reference(before, after, tiers, len(core_tiers))
    assert m["matrix"]["customers"] == expected["matrix"]
    for flow in ("won", "kept", "downgraded", "lost"):
        assert core[flow]["customers"] == expected["flows"][flow]
    assert m["revenue_at_risk"] == expected["at_risk"]


@settings(max_examples=50, deadline=None, derandomize=True)
@given(snapshot_pairs())
def test_row_order_does_not_matter(
    pair: tuple[pa.Table, pa.Table, list[str], list[str], int],
) -> None:
    before, after, tiers, core, seed = pair
    rng = np.random.default_rng(seed)
    shuffled_before = before.take(rng.permutation(before.num_rows))
    shuffled_after = after.take(rng.permutation(after.num_rows))
    m = compare_snapshots(before, after, tiers=tiers, core_tiers=core, list_customers=3)
    again = compare_snapshots(
        shuffled_before, shuffled_after, tiers=tiers, core_tiers=core, list_customers=3
    )
    assert m == again


# --- series ---------------------------------------------------------------------------------


def test_series_over_consecutive_pairs_in_date_order() -> None:
    mar = dt.date(2024, 3, 31)
    jan, feb = snap(BEFORE), snap(AFTER)
    march = snap({"s_kept": ("key", 900.0), "new_s": ("strategic", 1900.0)})
    s = migration_series([(mar, march), (JAN, jan), (FEB, feb)], tiers=TIERS, core_tiers=CORE)
    assert s["dates"] == ["2024-01-31", "2024-02-29", "2024-03-31"]
    assert len(s["steps"]) == 2
    first = compare_snapshots(
        jan, feb, tiers=TIERS, core_tiers=CORE, before_date=JAN, after_date=FEB
    )
    assert s["steps"][0] == first
    assert s["series"]["to"] == ["2024-02-29", "2024-03-31"]
    assert s["series"]["won"] == [2, 0]
    assert s["series"]["lost"][0] == 3
    assert s["series"]["core"] == [5, 2]
    assert s["series"]["revenue_at_risk"][0] == 800.0
    assert s["series"]["tier_sizes"] == {
        "strategic": [4, 3, 1],
        "key": [2, 2, 1],
        "ordinary": [3, 4, 0],
    }
    json.dumps(s, allow_nan=False)


def test_series_of_one_snapshot_has_no_steps_and_dates_are_unique() -> None:
    one = migration_series([(JAN, snap(BEFORE))], tiers=TIERS, core_tiers=CORE)
    assert one["steps"] == [] and one["dates"] == ["2024-01-31"]
    assert one["series"]["tier_sizes"]["strategic"] == [4]
    with pytest.raises(InputError, match="appear"):
        migration_series([(JAN, snap(BEFORE)), (JAN, snap(AFTER))], tiers=TIERS, core_tiers=CORE)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(migration_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
