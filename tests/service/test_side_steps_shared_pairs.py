"""The side steps share the recommendations' (customer, product) pairs with the earliest
adopters and the purchase mix: the same tables as each step computing its own."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa
import pytest

from corecustomers.data.demo import generate_demo
from corecustomers.data.features import materialize
from corecustomers.insights.adopters import early_adopters
from corecustomers.insights.mix import mix_table
from corecustomers.insights.recommend import recommend, recommend_and_evaluate
from corecustomers.service.concurrency import Timings
from corecustomers.service.side_steps import (
    ADOPTERS_STEP,
    MIX_STEP,
    RECOMMENDATIONS_STEP,
    SideSteps,
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
