"""Early adopters from the recommendations' (customer, product) pairs: the same table as
the query (:func:`early_adopters`) and as the plain-Python reference, on every engine."""

from __future__ import annotations

import datetime
import random
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.insights.test_adopters import (
    AS_OF,
    EDGE_CASES,
    Loader,
    _arrow,
    _keyed,
    load,
    reference,
    rows_strategy,
)

import corecustomers.insights.adopters as adopters_module
from corecustomers.data.features import materialize
from corecustomers.errors import ConfigError
from corecustomers.insights.adopters import (
    ADOPTER_COLUMNS,
    adopters_from_first_purchases,
    early_adopters,
    first_day_of_data,
)
from corecustomers.insights.recommend import purchase_pairs

__all__ = ["load"]  # the fixture, shared with test_adopters

SETTINGS: list[dict[str, Any]] = [
    {},
    {"first_share": 0.3, "within_days": 7, "launch_buffer_days": 10, "min_products": 1},
    {"first_share": 1.0, "within_days": 0, "launch_buffer_days": 0},
]


def from_pairs(tx: Any, as_of: datetime.date, **kwargs: Any) -> pa.Table:
    bought = purchase_pairs(tx, days=(as_of,), detail=as_of).bought_on()
    start = first_day_of_data(tx, as_of=as_of).to_pyarrow().as_py()
    return adopters_from_first_purchases(
        bought.customers, bought.owner, bought.item, bought.first_day, data_start=start, **kwargs
    )


@pytest.fixture(params=["histogram", "sorted"])
def path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways of ranking the buyers: the dense histogram and the sort."""
    if request.param == "sorted":
        monkeypatch.setattr(adopters_module, "_HISTOGRAM_CELLS", 0)
    return str(request.param)


@pytest.mark.parametrize("kwargs", SETTINGS)
def test_edge_cases_from_pairs_are_the_query_and_the_reference(
    load: Loader, path: str, kwargs: dict[str, Any]
) -> None:
    tx = load(_arrow(EDGE_CASES))
    got = from_pairs(tx, AS_OF, **kwargs)
    assert tuple(got.column_names) == ADOPTER_COLUMNS
    queried = materialize(early_adopters(tx, as_of=AS_OF, **kwargs)).sort_by("customer_id")
    assert got.equals(queried)
    expected = reference(_arrow(EDGE_CASES).to_pylist(), as_of=AS_OF, **kwargs)[1]
    assert _keyed(got, "customer_id") == expected


def test_an_earlier_as_of_leaves_the_later_rows_out(duckdb_con: Any, path: str) -> None:
    tx = duckdb_con.create_table("cc_pairs_adopters_cut", _arrow(EDGE_CASES), temp=True)
    try:
        cut = datetime.date(2024, 6, 30)
        # the pairs read up to a later day, detailed at the cut
        bought = purchase_pairs(tx, days=(cut, AS_OF), detail=cut).bought_on()
        start = first_day_of_data(tx, as_of=cut).to_pyarrow().as_py()
        got = adopters_from_first_purchases(
            bought.customers, bought.owner, bought.item, bought.first_day, data_start=start
        )
        queried = materialize(early_adopters(tx, as_of=cut)).sort_by("customer_id")
    finally:
        duckdb_con.drop_table("cc_pairs_adopters_cut")
    assert got.equals(queried)
    assert got.num_rows < len({row[0] for row in EDGE_CASES})


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    rows=rows_strategy,
    kwargs=st.sampled_from(SETTINGS),
    shuffler=st.randoms(use_true_random=False),
)
def test_random_tables_from_pairs_are_the_query(
    duckdb_con: Any, path: str, rows: list[Any], kwargs: dict[str, Any], shuffler: random.Random
) -> None:
    shuffled = list(rows)
    shuffler.shuffle(shuffled)
    name = f"cc_pairs_adopters_{shuffler.getrandbits(32)}"
    tx = duckdb_con.create_table(name, _arrow(shuffled), temp=True, overwrite=True)
    try:
        got = from_pairs(tx, AS_OF, **kwargs)
        queried = materialize(early_adopters(tx, as_of=AS_OF, **kwargs)).sort_by("customer_id")
    finally:
        duckdb_con.drop_table(name)
    assert got.equals(queried)


def test_no_pairs_no_adopters_and_a_start_is_needed_with_pairs() -> None:
    empty = np.zeros(0, dtype=np.int32)
    none = adopters_from_first_purchases(
        pa.array([], pa.string()), empty, empty, empty, data_start=None
    )
    assert none.num_rows == 0 and tuple(none.column_names) == ADOPTER_COLUMNS
    one = np.zeros(1, dtype=np.int32)
    with pytest.raises(ConfigError, match="data_start"):
        adopters_from_first_purchases(pa.array(["a"]), one, one, one, data_start=None)
    with pytest.raises(ConfigError, match="first_share"):
        adopters_from_first_purchases(
            pa.array(["a"]), one, one, one, data_start=AS_OF, first_share=0.0
        )
