"""The side steps share the recommendations' (customer, product) pairs with the earliest
adopters and the purchase mix, and the behaviour's aggregation with the purchase mix's
categories and channels: the same tables as each step computing its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from corecustomers.data.demo import generate_demo
from corecustomers.data.features import materialize
from corecustomers.insights.adopters import early_adopters
from corecustomers.insights.behaviour import customer_behaviour, value_spend_columns
from corecustomers.insights.mix import mix_table, ranked_spends, wide_mix_values
from corecustomers.insights.recommend import recommend, recommend_and_evaluate
from corecustomers.service.concurrency import Timings
from corecustomers.service.side_steps import (
    ADOPTERS_STEP,
    MIX_STEP,
    RECOMMENDATIONS_STEP,
    ActivityWindows,
    SideSteps,
    _behaviour,
)

AS_OF = dt.date(2024, 12, 31)


def _plain(table: pa.Table) -> pa.Table:
    return pa.table({name: table.column(name).cast(pa.string()) for name in table.column_names})


@pytest.fixture(scope="module")
def tx(duckdb_con: Any) -> Any:
    demo = generate_demo(n_customers=1200, seed=5, bad_rows=False)
    return duckdb_con.create_table(
        "side_shared_pairs",
        demo.select(["customer_id", "timestamp", "amount", "product", "channel"]),
        temp=True,
        overwrite=True,
    )


@pytest.mark.parametrize("calibration_end", [None, dt.date(2024, 8, 31)])
@pytest.mark.parametrize("evaluate", [True, False])
def test_adopters_from_the_shared_pairs_are_the_query(
    tx: Any, calibration_end: dt.date | None, evaluate: bool
) -> None:
    end = calibration_end or AS_OF
    side = SideSteps(
        tx,
        end=end,
        as_of=AS_OF,
        calibration_end=calibration_end,
        mix=True,
        referrals=False,
        adopters=True,
        recommendations=True,
        evaluate=evaluate,
    )
    timings = Timings()
    out = side.run(timings)
    assert set(timings.seconds) == {ADOPTERS_STEP, MIX_STEP, RECOMMENDATIONS_STEP}
    assert out.mix is not None
    assert _plain(out.mix).equals(_plain(mix_table(tx, as_of=end)))
    assert out.adopters is not None and out.recommendations is not None
    queried = materialize(early_adopters(tx, as_of=end)).sort_by("customer_id")
    assert out.adopters.num_rows > 1000
    assert int(out.adopters.column("early_adopter_count").to_numpy().sum()) > 0
    assert out.adopters.equals(queried)
    if evaluate:
        split = calibration_end or AS_OF - dt.timedelta(days=90)
        recs, evaluation = recommend_and_evaluate(tx, as_of=end, k=5, split_date=split, end=AS_OF)
        assert out.evaluation == evaluation
    else:
        recs = recommend(tx, as_of=end, k=5)
    assert out.recommendations.equals(recs)


def test_adopters_without_recommendations_query_the_transactions(tx: Any) -> None:
    side = SideSteps(
        tx,
        end=AS_OF,
        as_of=AS_OF,
        calibration_end=None,
        mix=False,
        referrals=False,
        adopters=True,
        recommendations=False,
        evaluate=True,
    )
    out = side.run(Timings())
    assert out.recommendations is None and out.adopters is not None
    expected = materialize(early_adopters(tx, as_of=AS_OF))
    assert out.adopters.sort_by("customer_id").equals(expected.sort_by("customer_id"))


@pytest.fixture(scope="module")
def tx_mix(duckdb_con: Any) -> Any:
    demo = generate_demo(n_customers=1500, seed=11, bad_rows=False)
    return duckdb_con.create_table(
        "side_shared_mix",
        demo.select(["customer_id", "timestamp", "amount", "product", "category", "channel"]),
        temp=True,
        overwrite=True,
    )


@pytest.mark.parametrize("end", [AS_OF, dt.date(2024, 6, 30)])
def test_mix_ranked_from_the_behaviours_spends_is_the_mix_query(tx_mix: Any, end: dt.date) -> None:
    """The categories' and channels' spends read with the behaviour rank as the purchase
    mix's own aggregation, the behaviour comes sorted by id and is otherwise the query's."""
    values = wide_mix_values(tx_mix)
    assert set(values) == {"category", "channel"}
    windows = ActivityWindows(activity=(90,), idle_before=(90,))
    behaviour, spends = _behaviour(tx_mix, end, windows, values)
    assert spends is not None
    assert spends.column("customer_id").equals(behaviour.column("customer_id"))
    ranked = ranked_spends(spends, values)
    assert set(ranked) == {"category", "channel"}
    assert all(len(ids) > 1000 for ids, _ in ranked.values())
    got = mix_table(tx_mix, as_of=end, ranked=ranked)
    assert _plain(got).equals(_plain(mix_table(tx_mix, as_of=end)))
    ids = behaviour.column("customer_id")
    assert ids.to_pylist() == sorted(ids.to_pylist())
    plain = materialize(
        customer_behaviour(tx_mix, as_of=end, activity=(90,), idle_before=(90,))
    ).sort_by("customer_id")
    assert behaviour.equals(plain)


def test_behaviour_spends_per_value_are_the_sums_of_the_purchases(duckdb_con: Any) -> None:
    """``value_spends``: each customer's purchase spend per value (returns, later rows and
    other values left out), null where it bought none; a value no row has sums nothing."""
    day = dt.datetime(2024, 3, 1)
    rows = {
        "customer_id": ["a", "a", "a", "a", "b", "b", "c"],
        "timestamp": [day, day, day, dt.datetime(2025, 1, 5), day, day, day],
        "amount": [10.0, 2.5, -4.0, 100.0, 0.0, 7.0, 3.0],
        "category": ["x", "y", "x", "x", "y", None, "x"],
        "channel": ["app", "app", "app", "web", "web", "web", None],
    }
    tx = duckdb_con.create_table("spends_per_value", pa.table(rows), temp=True, overwrite=True)
    values = {"category": ["x", "y", "zz"], "channel": ["app", "web"]}
    got = materialize(
        customer_behaviour(tx, as_of=AS_OF, value_spends=values).order_by("customer_id")
    )
    columns = [*value_spend_columns("category", 3), *value_spend_columns("channel", 2)]
    assert columns[0] == "spend_on_category_0" and set(columns) <= set(got.column_names)
    assert got.select(columns).to_pylist() == [
        dict(zip(columns, [10.0, 2.5, None, 12.5, None], strict=True)),
        dict(zip(columns, [None, 0.0, None, None, 7.0], strict=True)),
        dict(zip(columns, [3.0, None, None, None, None], strict=True)),
    ]
