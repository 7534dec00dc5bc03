"""The shifted cuts of the core ranking and the churn risk read a sample of a large base
(:mod:`corecustomers.insights.shifted`); the customers at the cut stay all of them."""

from __future__ import annotations

import datetime
import doctest
import uuid
import warnings
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from tests.insights.model_helpers import btyd_fit

from corecustomers.data.features import customer_features, materialize
from corecustomers.data.simulator import generate_transactions
from corecustomers.insights import shifted as shifted_module
from corecustomers.insights.behaviour import customer_behaviour
from corecustomers.insights.fitted import FittedValue
from corecustomers.insights.ranking import rank_customers
from corecustomers.insights.risk import churn_risk
from corecustomers.insights.shifted import ShiftedRows, shifted_rows

CUT = datetime.date(2024, 12, 31)
LIMIT = 600


@pytest.fixture(scope="module")
def book() -> tuple[ibis.Table, pa.Table, FittedValue, pa.Table]:
    """2,000 simulated customers over three years, their features, fit and behaviour."""
    tx = ibis.memtable(generate_transactions(2000, seed=5))
    features = materialize(customer_features(tx, as_of=CUT, time_unit="week"))
    fitted = btyd_fit(features)
    behaviour = materialize(customer_behaviour(tx, as_of=CUT))
    return tx, features, fitted, behaviour


def _customers(rows: ibis.Table) -> set[str]:
    return set(pc.unique(rows.to_pyarrow().column("customer_id")).to_pylist())


def test_a_large_base_is_sampled_the_same_in_any_order(
    book: tuple[ibis.Table, pa.Table, FittedValue, pa.Table], tmp_path: Path
) -> None:
    tx, features, _, _ = book
    ids = features.column("customer_id")
    assert shifted_rows(tx, ids, folder=tmp_path).customers is None  # 2,000 <= 300,000
    sample = shifted_rows(tx, ids, folder=tmp_path, limit=LIMIT)
    assert sample.customers == LIMIT
    chosen = _customers(sample.transactions)
    assert len(chosen) == LIMIT and chosen <= set(ids.to_pylist())
    assert list(tmp_path.glob("*.parquet"))  # kept once, for every shifted query
    # every row of a chosen customer, none of the others
    every = tx.to_pyarrow()
    mask = pc.is_in(every.column("customer_id"), value_set=pa.array(sorted(chosen)))
    assert sample.transactions.count().to_pyarrow().as_py() == pc.sum(mask).as_py()
    reversed_ids = ids.take(pa.array(np.arange(len(ids))[::-1]))
    again = shifted_rows(tx, reversed_ids, folder=None, limit=LIMIT)
    assert _customers(again.transactions) == chosen


def test_the_ranking_learns_from_the_sample_and_scores_everyone(
    book: tuple[ibis.Table, pa.Table, FittedValue, pa.Table], tmp_path: Path
) -> None:
    tx, features, fitted, behaviour = book
    sample = shifted_rows(tx, features.column("customer_id"), folder=tmp_path, limit=LIMIT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = rank_customers(tx, features=features, fitted=fitted, cut=CUT, behaviour=behaviour)
        sampled = rank_customers(
            tx, features=features, fitted=fitted, cut=CUT, behaviour=behaviour, shifted=sample
        )
    assert full.details["shifted_sample"] is None
    assert sampled.details["shifted_sample"] == LIMIT
    validation = sampled.details["validation"]
    assert validation is not None
    # the validation split is the sample's customers who had bought one window earlier
    assert validation["customers"] <= LIMIT < full.details["validation"]["customers"]
    # every customer at the cut is scored, as without the sample
    assert sampled.table.num_rows == full.table.num_rows == features.num_rows
    assert np.isfinite(sampled.table.column("core_score").to_numpy()).all()
    # the rows of all customers give the unsampled ranking bit for bit
    every = ShiftedRows(tx)
    again = rank_customers(
        tx, features=features, fitted=fitted, cut=CUT, behaviour=behaviour, shifted=every
    )
    assert again.table.equals(full.table)


def test_the_risk_learns_from_the_sample_and_every_customer_keeps_their_change(
    book: tuple[ibis.Table, pa.Table, FittedValue, pa.Table], tmp_path: Path
) -> None:
    tx, features, fitted, behaviour = book
    sample = shifted_rows(tx, features.column("customer_id"), folder=tmp_path, limit=LIMIT)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = churn_risk(tx, features=features, fitted=fitted, behaviour=behaviour, cut=CUT)
        sampled = churn_risk(
            tx, features=features, fitted=fitted, behaviour=behaviour, cut=CUT, shifted=sample
        )
    assert full.method == sampled.method == "model"
    details = sampled.to_dict()["validation"]
    assert details["shifted_sample"] == LIMIT
    assert details["customers"] <= LIMIT < full.to_dict()["validation"]["customers"]
    assert len(sampled.risk) == features.num_rows and np.isfinite(sampled.risk).all()
    # the P(alive) change of every customer is read from all the rows: the same values
    np.testing.assert_array_equal(sampled.p_alive_change, full.p_alive_change)
    assert np.isfinite(sampled.p_alive_change).sum() > LIMIT


def test_module_examples_run() -> None:
    assert doctest.testmod(shifted_module).failed == 0


@pytest.mark.spark
def test_a_sample_is_kept_on_spark_as_on_duckdb(
    book: tuple[ibis.Table, pa.Table, FittedValue, pa.Table], spark_con: Any, tmp_path: Path
) -> None:
    """Spark keeps the sample's rows in its cache: the same customers and rows as DuckDB
    (the sample's ids are an in-memory table, which Ibis's PySpark backend did not
    register before caching: analyze on Spark failed above 300,000 customers)."""
    tx, features, _, _ = book
    ids = features.column("customer_id")
    on_spark = spark_con.create_table(f"shifted_{uuid.uuid4().hex[:8]}", tx.to_pyarrow())
    kept = shifted_rows(on_spark, ids, folder=tmp_path, limit=LIMIT)
    duck = shifted_rows(tx, ids, folder=tmp_path, limit=LIMIT)
    assert kept.customers == duck.customers == LIMIT
    assert _customers(kept.transactions) == _customers(duck.transactions)
    rows = kept.transactions.count().to_pyarrow().as_py()
    assert rows == duck.transactions.count().to_pyarrow().as_py() > LIMIT
