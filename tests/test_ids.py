"""The id checks that are cheap on sorted ids (:mod:`corecustomers.ids`) answer as a
distinct count does, sorted or not, chunked or not; the steps that check their customers
for repeats still refuse a repeated id."""

from __future__ import annotations

import datetime
import doctest

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from corecustomers import ids as ids_module
from corecustomers.errors import InputError
from corecustomers.ids import all_distinct, increasing
from corecustomers.insights.alert_reasons import customer_ids
from corecustomers.segments.tiers import _customer_ids
from corecustomers.store._schema import snapshot_rows


def test_the_examples() -> None:
    assert doctest.testmod(ids_module).failed == 0


@pytest.mark.parametrize("seed", range(20))
def test_as_a_distinct_count(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = [f"c{int(v):04d}" for v in rng.integers(0, 60 if seed % 2 else 10_000, 50)]
    for case in (values, sorted(values), sorted(set(values)), sorted(set(values), reverse=True)):
        array = pa.array(case)
        want = pc.count_distinct(array).as_py() == len(array)
        assert all_distinct(array) is want
        chunked = pa.chunked_array([array.slice(0, 20), array.slice(20)])
        assert all_distinct(chunked) is want
        assert increasing(chunked) is (case == sorted(set(case)))


def test_empty_and_single() -> None:
    assert increasing(pa.array([], pa.string())) and all_distinct(pa.array([], pa.string()))
    assert increasing(pa.array(["a"]))


def test_a_repeated_customer_is_still_refused() -> None:
    table = pa.table({"customer_id": ["a", "b", "b"], "tier": ["x", "y", "y"]})
    with pytest.raises(InputError, match="one row per customer"):
        _customer_ids(table, "customers")
    with pytest.raises(InputError, match="repeats customer ids"):
        customer_ids(table, "customers")
    with pytest.raises(InputError, match="more than once"):
        snapshot_rows(table, as_of=datetime.date(2024, 1, 1), run_id="r", policy_version="v")
    sorted_ids = pa.table({"customer_id": ["a", "b", "c"], "tier": ["x", "y", "y"]})
    assert _customer_ids(sorted_ids, "customers").to_pylist() == ["a", "b", "c"]
