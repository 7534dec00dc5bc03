"""CDNOW: the features reproduce the published calibration summary for every customer.

``tests/fixtures/cdnow_customers_summary.csv`` is the 39-week calibration summary
(1997-01-01 to 1997-09-30, weeks) of the 2,357-customer CDNOW sample of Fader, Hardie & Lee
(2005), with ``recency`` and ``T`` rounded to two decimals; its ``ID`` is the sample customer
number (second column of ``CDNOW_sample.txt``). The transactions are read here with plain
Python into the canonical shape, independently of the production readers.
"""

from __future__ import annotations

import csv
import datetime
import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from reference import by_customer, mismatches, reference_features

from corecustomers.data.features import customer_features, materialize

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CALIBRATION_END = datetime.date(1997, 9, 30)
AS_OF = datetime.date(1998, 6, 30)
N_CUSTOMERS = 2357
N_REPEAT_CUSTOMERS = 946


def _read_cdnow() -> tuple[pa.Table, dict[str, int]]:
    """Canonical transactions (customer = master id) and master id -> sample number."""
    customers, stamps, amounts = [], [], []
    sample_number: dict[str, int] = {}
    with (FIXTURES / "CDNOW_sample.txt").open(encoding="ascii") as lines:
        for line in lines:
            master, sample, day, _n_cds, dollars = line.split()
            customers.append(master)
            stamps.append(datetime.datetime.strptime(day, "%Y%m%d"))
            amounts.append(float(dollars))
            assert sample_number.setdefault(master, int(sample)) == int(sample)
    table = pa.table(
        {
            "customer_id": pa.array(customers, pa.string()),
            "timestamp": pa.array(stamps, pa.timestamp("us")),
            "amount": pa.array(amounts, pa.float64()),
            "order_id": pa.nulls(len(customers), pa.string()),
        }
    )
    return table, sample_number


@pytest.fixture(scope="module")
def cdnow(duckdb_con: Any) -> tuple[Any, dict[str, int], pa.Table]:
    table, sample_number = _read_cdnow()
    return (
        duckdb_con.create_table("cdnow_tx", table, temp=True, overwrite=True),
        sample_number,
        table,
    )


@pytest.fixture(scope="module")
def summary() -> dict[int, tuple[int, float, float]]:
    with (FIXTURES / "cdnow_customers_summary.csv").open(encoding="ascii", newline="") as f:
        return {
            int(row["ID"]): (int(row["frequency"]), float(row["recency"]), float(row["T"]))
            for row in csv.DictReader(f)
        }


def test_sample_numbers_follow_order_of_appearance() -> None:
    _, sample_number = _read_cdnow()
    assert len(sample_number) == N_CUSTOMERS
    assert list(sample_number.values()) == list(range(1, N_CUSTOMERS + 1))


def test_calibration_summary_matches_published_for_every_customer(
    cdnow: tuple[Any, dict[str, int], pa.Table],
    summary: dict[int, tuple[int, float, float]],
) -> None:
    tx, sample_number, _ = cdnow
    features = materialize(
        customer_features(
            tx, as_of=AS_OF, calibration_end=CALIBRATION_END, time_unit="week", period="day"
        )
    )
    got = {
        sample_number[row["customer_id"]]: (
            row["frequency"],
            round(row["recency"], 2),
            round(row["T"], 2),
        )
        for row in features.to_pylist()
    }
    assert len(got) == features.num_rows == N_CUSTOMERS
    assert set(got) == set(summary)
    different = {cid: (got[cid], summary[cid]) for cid in summary if got[cid] != summary[cid]}
    assert different == {}
    assert sum(f > 0 for f, _, _ in got.values()) == N_REPEAT_CUSTOMERS


def test_calibration_and_holdout_add_up_to_the_whole_window(
    cdnow: tuple[Any, dict[str, int], pa.Table],
) -> None:
    tx, _, raw = cdnow
    split = {
        row["customer_id"]: row
        for row in materialize(
            customer_features(tx, as_of=AS_OF, calibration_end=CALIBRATION_END)
        ).to_pylist()
    }
    whole = {
        row["customer_id"]: row
        for row in materialize(customer_features(tx, as_of=AS_OF)).to_pylist()
    }
    assert set(split) == set(whole)  # every CDNOW customer first bought in early 1997
    for customer, w in whole.items():
        s = split[customer]
        assert w["n_periods"] == s["n_periods"] + s["frequency_holdout"]
        assert w["first_purchase"] == s["first_purchase"]
        assert s["duration_holdout"] == pytest.approx(273 / 7)
    assert math.isclose(
        sum(row["total_spend"] for row in whole.values()),
        math.fsum(raw.column("amount").to_pylist()),
        rel_tol=1e-12,
    )
    # no order ids in CDNOW: every row is an order
    assert sum(row["n_orders"] for row in whole.values()) == raw.num_rows


def test_all_features_match_the_reference(cdnow: tuple[Any, dict[str, int], pa.Table]) -> None:
    tx, _, raw = cdnow
    expr = customer_features(tx, as_of=AS_OF, calibration_end=CALIBRATION_END, time_unit="week")
    expected = reference_features(
        raw.to_pylist(), as_of=AS_OF, calibration_end=CALIBRATION_END, time_unit="week"
    )
    assert mismatches(by_customer(materialize(expr).to_pylist()), expected) == []
