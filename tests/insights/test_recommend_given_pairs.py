"""Recommendations from pairs read once (``purchase_pairs``, ``pairs=``): the same results
as reading the transactions, and a refusal of pairs read at other days."""

from __future__ import annotations

import datetime
from typing import Any

import ibis
import pytest

from corecustomers.data.demo import generate_demo
from corecustomers.errors import ConfigError
from corecustomers.insights.recommend import (
    purchase_pairs,
    recommend,
    recommend_and_evaluate,
)

AS_OF = datetime.date(2024, 12, 31)
SPLIT = datetime.date(2024, 9, 30)


@pytest.fixture(scope="module")
def tx(duckdb_con: Any) -> Any:
    demo = generate_demo(n_customers=1500, seed=11, bad_rows=False)
    return duckdb_con.create_table(
        "rec_given_pairs",
        demo.select(["customer_id", "timestamp", "amount", "product"]),
        temp=True,
        overwrite=True,
    )


@pytest.mark.parametrize("detail", [None, AS_OF, SPLIT])
def test_given_pairs_give_the_same_recommendations_and_evaluation(
    tx: Any, detail: datetime.date | None
) -> None:
    pairs = purchase_pairs(tx, days=(AS_OF, SPLIT), detail=detail)
    recs, evaluation = recommend_and_evaluate(
        tx, as_of=AS_OF, split_date=SPLIT, end=AS_OF, k=5, pairs=pairs
    )
    expected_recs, expected_evaluation = recommend_and_evaluate(
        tx, as_of=AS_OF, split_date=SPLIT, end=AS_OF, k=5
    )
    assert recs.num_rows > 1000
    assert recs.equals(expected_recs)
    assert evaluation == expected_evaluation
    assert recommend(tx, as_of=SPLIT, k=3, pairs=pairs).equals(recommend(tx, as_of=SPLIT, k=3))


def test_bought_on_is_the_detail_days_purchases(tx: Any) -> None:
    later = purchase_pairs(tx, days=(SPLIT, AS_OF), detail=AS_OF).bought_on()
    earlier = purchase_pairs(tx, days=(SPLIT, AS_OF), detail=SPLIT).bought_on()
    assert 0 < len(earlier.owner) < len(later.owner)
    assert int(later.first_day.max()) <= (AS_OF - datetime.date(1970, 1, 1)).days
    assert int(earlier.first_day.max()) <= (SPLIT - datetime.date(1970, 1, 1)).days
    with pytest.raises(ValueError, match="detail"):
        purchase_pairs(tx, days=(AS_OF,)).bought_on()


def test_pairs_read_at_other_days_are_refused(tx: Any) -> None:
    with pytest.raises(ConfigError, match="detail"):
        purchase_pairs(tx, days=(AS_OF,), detail=SPLIT)
    pairs = purchase_pairs(tx, days=(AS_OF,))
    with pytest.raises(ConfigError, match="read at"):
        recommend(tx, as_of=SPLIT, pairs=pairs)
    with pytest.raises(ConfigError, match="read at"):
        recommend_and_evaluate(tx, as_of=AS_OF, split_date=SPLIT, end=AS_OF, pairs=pairs)


def test_bought_on_leaves_out_a_customer_without_an_id(duckdb_con: Any) -> None:
    rows = ibis.memtable(
        {
            "customer_id": ["a", None, "b"],
            "timestamp": [datetime.datetime(2024, 5, 1)] * 3,
            "amount": [1.0, 2.0, 3.0],
            "product": ["tea", "tea", "cake"],
        }
    )
    tx = duckdb_con.create_table("rec_pairs_null_id", rows.to_pyarrow(), temp=True)
    try:
        bought = purchase_pairs(tx, days=(AS_OF,), detail=AS_OF).bought_on()
    finally:
        duckdb_con.drop_table("rec_pairs_null_id")
    assert sorted(bought.customers.take(bought.owner).to_pylist()) == ["a", "b"]
    assert sorted(bought.spend.tolist()) == [1.0, 3.0]
