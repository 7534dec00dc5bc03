"""``customer_features`` and ``materialize``: the API, the schema and worked examples.

Cross-backend agreement and property tests are in ``test_cross_backend.py``; the published
CDNOW summary in ``test_features_cdnow.py``.
"""

from __future__ import annotations

import datetime
import doctest
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
import pytest

import corecustomers.data.features as features_module
import corecustomers.units as time_module
from corecustomers.data.features import (
    CALIBRATION_COLUMNS,
    FEATURE_COLUMNS,
    customer_features,
    materialize,
    orders_are_rows,
    shared_distinct_count,
    sharing_purchase_days,
)
from corecustomers.errors import ColumnMappingError, ConfigError

D = datetime.date
TS = datetime.datetime
CANONICAL = ibis.schema(
    {
        "customer_id": "string",
        "timestamp": "timestamp",
        "amount": "float64",
        "order_id": "string",
        "quantity": "float64",
    }
)

EXPECTED_TYPES = {
    "customer_id": dt.string,
    "frequency": dt.int64,
    "recency": dt.float64,
    "T": dt.float64,
    "monetary_value": dt.float64,
    "first_purchase": dt.date,
    "last_purchase": dt.date,
    "total_spend": dt.float64,
    "returns_amount": dt.float64,
    "n_orders": dt.int64,
    "n_periods": dt.int64,
    "tenure_days": dt.int64,
    "days_since_last_purchase": dt.int64,
    "frequency_holdout": dt.int64,
    "monetary_value_holdout": dt.float64,
    "duration_holdout": dt.float64,
}

# customer "a": 2024-01-01 (two orders, one return), 2024-01-15, a return-only day, then
# 2024-02-05 (in the holdout of a 2024-01-31 split); "b" buys once on 2024-01-08.
ROWS = [
    ("a", TS(2024, 1, 1, 9, 0), 10.0, "o1"),
    ("a", TS(2024, 1, 1, 17, 0), 5.0, "o2"),
    ("a", TS(2024, 1, 1, 18, 0), -3.0, "o2"),
    ("a", TS(2024, 1, 15, 12, 0), 20.0, "o3"),
    ("a", TS(2024, 1, 20, 12, 0), -4.0, "o3"),
    ("a", TS(2024, 2, 5, 12, 0), 30.0, "o4"),
    ("b", TS(2024, 1, 8, 23, 59, 59), 7.5, None),
    ("late", TS(2024, 3, 1, 0, 0, 0), 99.0, "z"),
]
AS_OF = D(2024, 2, 29)


def _table(con: Any, rows: list[tuple[Any, ...]], name: str, **types: pa.DataType) -> Any:
    schema = pa.schema(
        [
            ("customer_id", types.get("customer_id", pa.string())),
            ("timestamp", types.get("timestamp", pa.timestamp("us"))),
            ("amount", pa.float64()),
            ("order_id", pa.string()),
        ]
    )
    columns = list(zip(*rows, strict=True)) if rows else [[]] * 4
    data = pa.Table.from_arrays(
        [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )
    return con.create_table(name, data, temp=True, overwrite=True)


def _rows(expr: Any) -> dict[str, dict[str, Any]]:
    return {row.pop("customer_id"): row for row in materialize(expr).to_pylist()}


@pytest.fixture
def tx(duckdb_con: Any) -> Any:
    return _table(duckdb_con, ROWS, "features_tx")


# --- laziness and schema ----------------------------------------------------------------


@pytest.mark.parametrize("calibration_end", [None, D(2024, 1, 31)])
def test_builds_a_lazy_expression_with_the_contract_schema(
    calibration_end: datetime.date | None,
) -> None:
    unbound = ibis.table(CANONICAL, name="nowhere")  # executing this would fail
    expr = customer_features(unbound, as_of=AS_OF, calibration_end=calibration_end)
    assert isinstance(expr, ibis.Table)
    columns = FEATURE_COLUMNS if calibration_end is None else CALIBRATION_COLUMNS
    assert tuple(expr.columns) == columns
    assert {name: expr.schema()[name] for name in columns} == {
        name: EXPECTED_TYPES[name].copy(nullable=expr.schema()[name].nullable) for name in columns
    }


def test_materialize_returns_arrow_with_the_expression_types(tx: Any) -> None:
    expr = customer_features(tx, as_of=AS_OF, calibration_end=D(2024, 1, 31))
    table = materialize(expr)
    assert isinstance(table, pa.Table)
    assert table.schema.names == list(CALIBRATION_COLUMNS)
    assert [f.type for f in table.schema] == [f.type for f in expr.schema().to_pyarrow()]


def test_empty_transactions_give_an_empty_table(duckdb_con: Any) -> None:
    table = materialize(customer_features(_table(duckdb_con, [], "empty_tx"), as_of=AS_OF))
    assert table.num_rows == 0
    assert table.schema.names == list(FEATURE_COLUMNS)


# --- worked examples ----------------------------------------------------------------------


def test_worked_example_without_calibration(tx: Any) -> None:
    got = _rows(customer_features(tx, as_of=AS_OF, time_unit="day"))
    assert got == {
        "a": {
            "frequency": 2,
            "recency": 35.0,
            "T": 59.0,
            "monetary_value": 25.0,  # (20 + 30) / 2; the first day (12) is not a repeat
            "first_purchase": D(2024, 1, 1),
            "last_purchase": D(2024, 2, 5),
            "total_spend": 58.0,
            "returns_amount": 7.0,
            "n_orders": 4,
            "n_periods": 3,
            "tenure_days": 59,
            "days_since_last_purchase": 24,
        },
        "b": {
            "frequency": 0,
            "recency": 0.0,
            "T": 52.0,
            "monetary_value": 0.0,
            "first_purchase": D(2024, 1, 8),
            "last_purchase": D(2024, 1, 8),
            "total_spend": 7.5,
            "returns_amount": 0.0,
            "n_orders": 1,
            "n_periods": 1,
            "tenure_days": 52,
            "days_since_last_purchase": 52,
        },
    }


def test_worked_example_with_calibration(tx: Any) -> None:
    got = _rows(customer_features(tx, as_of=AS_OF, calibration_end=D(2024, 1, 31)))
    a = got["a"]
    assert (a["frequency"], a["recency"], a["T"]) == (1, 2.0, 30 / 7)
    assert (a["monetary_value"], a["total_spend"], a["returns_amount"]) == (20.0, 28.0, 7.0)
    assert (a["n_orders"], a["n_periods"], a["tenure_days"]) == (3, 2, 30)
    assert a["days_since_last_purchase"] == 16
    assert (a["frequency_holdout"], a["monetary_value_holdout"]) == (1, 30.0)
    assert a["duration_holdout"] == 29 / 7
    assert (got["b"]["frequency_holdout"], got["b"]["monetary_value_holdout"]) == (0, 0.0)
    assert set(got) == {"a", "b"}


@pytest.mark.parametrize(("time_unit", "days"), [("day", 1.0), ("week", 7.0), ("month", 30.4375)])
def test_time_units_divide_day_counts_without_rounding(
    tx: Any, time_unit: str, days: float
) -> None:
    a = _rows(customer_features(tx, as_of=AS_OF, time_unit=time_unit))["a"]  # type: ignore[arg-type]
    assert (a["recency"], a["T"]) == (35 / days, 59 / days)


def test_calibration_end_on_as_of_leaves_an_empty_holdout(tx: Any) -> None:
    got = _rows(customer_features(tx, as_of=AS_OF, calibration_end=AS_OF))
    assert {c: (r["frequency_holdout"], r["duration_holdout"]) for c, r in got.items()} == {
        "a": (0, 0.0),
        "b": (0, 0.0),
    }


def test_works_without_an_order_id_column(duckdb_con: Any) -> None:
    tx = _table(duckdb_con, ROWS, "no_orders_tx").drop("order_id")
    got = _rows(customer_features(tx, as_of=AS_OF))
    assert got["a"]["n_orders"] == 4  # one per purchase row


def test_rows_with_their_own_order_ids_give_the_features_without_the_column(
    duckdb_con: Any,
) -> None:
    """What ``prepare`` relies on to drop the order column of kept rows: with no order id
    on two rows, every feature is the same without it; one shared id and it is kept."""
    with_ids = _table(duckdb_con, ROWS, "own_orders_tx")
    numbered = with_ids.mutate(
        order_id=ibis.ifelse(
            with_ids.order_id.isnull(),
            ibis.null("string"),
            "o" + ibis.row_number().cast("string"),
        )
    )
    assert orders_are_rows(numbered)
    assert _rows(customer_features(numbered, as_of=AS_OF)) == _rows(
        customer_features(numbered.drop("order_id"), as_of=AS_OF)
    )
    # ROWS repeat an order id (a purchase and its return): the column is needed then
    assert not orders_are_rows(with_ids)
    # two lines of one order: one order with the column, two rows without it
    lines = _table(
        duckdb_con,
        [("c", TS(2024, 1, 2, 9, 0), 4.0, "o9"), ("c", TS(2024, 1, 2, 9, 0), 6.0, "o9")],
        "order_lines_tx",
    )
    assert not orders_are_rows(lines)
    assert _rows(customer_features(lines, as_of=AS_OF))["c"]["n_orders"] == 1
    assert _rows(customer_features(lines.drop("order_id"), as_of=AS_OF))["c"]["n_orders"] == 2


def test_accepts_date_timestamps_and_integer_customer_ids(duckdb_con: Any) -> None:
    rows = [(7, D(2024, 1, 1), 1.0, None), (7, D(2024, 1, 3), 2.0, None)]
    tx = _table(duckdb_con, rows, "date_tx", customer_id=pa.int64(), timestamp=pa.date32())
    got = _rows(customer_features(tx, as_of=D(2024, 1, 3), time_unit="day"))
    assert list(got) == ["7"]
    assert (got["7"]["frequency"], got["7"]["recency"], got["7"]["T"]) == (1, 2.0, 2.0)


# --- features at many cuts from one (customer, day) aggregation ------------------------

CUTS = [D(2024, 1, 1), D(2024, 1, 8), D(2024, 1, 19), D(2024, 1, 20), D(2024, 2, 5), AS_OF]


@pytest.mark.parametrize("orders", [True, False], ids=["order_id", "no order_id"])
@pytest.mark.parametrize("calibrate", [False, True], ids=["as_of", "calibration_end"])
def test_shared_purchase_days_give_the_features_of_the_rows(
    duckdb_con: Any, orders: bool, calibrate: bool
) -> None:
    tx = _table(duckdb_con, ROWS, "shared_tx")
    if not orders:
        tx = tx.drop("order_id")
    for cut in CUTS:
        kwargs: dict[str, Any] = {"as_of": cut, "time_unit": "day"}
        if calibrate:
            kwargs.update(as_of=cut + datetime.timedelta(days=10), calibration_end=cut)
        want = _rows(customer_features(tx, **kwargs))
        with sharing_purchase_days(tx, up_to=D(2024, 3, 31)):
            expr = customer_features(tx, **kwargs)
            got = _rows(expr)
        assert not _reads_rows(expr), cut
        assert got == want, cut


def test_shared_purchase_days_are_read_only_for_their_rows_and_dates(duckdb_con: Any) -> None:
    tx = _table(duckdb_con, ROWS, "shared_tx")
    with sharing_purchase_days(tx, up_to=D(2024, 1, 31)):
        inside = customer_features(tx, as_of=D(2024, 1, 31))
        narrow = customer_features(tx.select(*tx.columns[:3]), as_of=D(2024, 1, 31))
        kept = tx.select("amount", "customer_id", "order_id", "timestamp")
        later = customer_features(tx, as_of=D(2024, 2, 29))  # after up_to: from the rows
        other = customer_features(tx.filter(tx.amount > 0), as_of=D(2024, 1, 31))
        renamed = tx.mutate(amount=tx.amount * 2)
        assert not _reads_rows(inside)
        assert not _reads_rows(customer_features(kept, as_of=D(2024, 1, 31)))
        assert _reads_rows(later) and _reads_rows(other) and _reads_rows(narrow)
        assert _reads_rows(customer_features(renamed, as_of=D(2024, 1, 31)))
        assert _rows(later)["a"]["frequency"] == 2  # 2024-02-05 counted
    # released at the end of the block: the features read the rows again
    assert _reads_rows(customer_features(tx, as_of=D(2024, 1, 31)))


def test_shared_distinct_count_counts_the_values_bought_up_to_each_cut(duckdb_con: Any) -> None:
    rows = [
        ("a", TS(2024, 1, 1, 9), 10.0, "tea"),
        ("a", TS(2024, 1, 2, 9), -10.0, "cake"),  # a return: not a product bought
        ("a", TS(2024, 1, 3, 9), 4.0, None),  # no product
        ("a", TS(2024, 1, 5, 9), 0.0, "cake"),  # a free item is a purchase row
        ("b", TS(2024, 1, 4, 9), 3.0, "tea"),
        ("b", TS(2024, 2, 4, 9), 3.0, "tea"),
    ]
    tx = _table(duckdb_con, rows, "distinct_tx").rename(product="order_id")
    up_to = D(2024, 1, 31)
    assert shared_distinct_count(tx, "product", as_of=up_to, name="n") is None
    with sharing_purchase_days(tx, up_to=up_to, distinct=("product", "category")):
        for day, want in [(1, {"a": 1}), (4, {"a": 1, "b": 1}), (5, {"a": 2, "b": 1})]:
            got = shared_distinct_count(tx, "product", as_of=D(2024, 1, day), name="n")
            assert got is not None
            assert {r["customer_id"]: r["n"] for r in got.to_pyarrow().to_pylist()} == want
        assert shared_distinct_count(tx, "category", as_of=up_to, name="n") is None
        assert shared_distinct_count(tx, "product", as_of=D(2024, 2, 4), name="n") is None
        assert shared_distinct_count(tx.drop("product"), "product", as_of=up_to, name="n") is None


def _reads_rows(expr: Any) -> bool:
    """Whether ``expr`` reads the transactions' table (not the shared days)."""
    return '"shared_tx"' in expr.compile()


# --- errors --------------------------------------------------------------------------------


def test_missing_columns_name_the_column() -> None:
    bare = ibis.table({"customer_id": "string", "amount": "float64"}, name="bare")
    with pytest.raises(ColumnMappingError, match="timestamp"):
        customer_features(bare, as_of=AS_OF)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_unit": "year"}, "time_unit must be one of"),
        ({"period": "week"}, "period must be 'day'"),
        ({"calibration_end": D(2024, 3, 1)}, "after as_of"),
        ({"as_of": TS(2024, 2, 29, 12)}, "as_of must be a datetime.date"),
        ({"as_of": "2024-02-29"}, "as_of must be a datetime.date"),
        ({"calibration_end": TS(2024, 1, 31)}, "calibration_end must be a datetime.date"),
    ],
)
def test_bad_settings_raise_config_error(kwargs: dict[str, Any], message: str) -> None:
    unbound = ibis.table(CANONICAL, name="nowhere")
    arguments: dict[str, Any] = {"as_of": AS_OF, **kwargs}
    with pytest.raises(ConfigError, match=message):
        customer_features(unbound, **arguments)


# --- documentation -------------------------------------------------------------------------


@pytest.mark.parametrize("module", [features_module, time_module], ids=lambda m: m.__name__)
def test_docstring_examples_run(module: Any) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
