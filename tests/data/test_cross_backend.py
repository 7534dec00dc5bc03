"""The same feature expressions on DuckDB, PySpark and PostgreSQL, against the reference.

Every edge case is one customer of a single hand-made table, so each backend answers all
of them in one query per (calibration end, time unit). The hypothesis tests run on DuckDB
only: random small tables agree with the reference, and row order never matters.
"""

from __future__ import annotations

import datetime
import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import by_customer, mismatches, reference_features

from corecustomers.data.features import CALIBRATION_COLUMNS, FEATURE_COLUMNS, customer_features
from corecustomers.data.features import materialize as materialize_features

D = datetime.date
TS = datetime.datetime
AS_OF = D(2024, 3, 31)
CAL_END = D(2024, 2, 29)  # a leap day, with purchases at both ends of it
TIME_UNITS = ("day", "week", "month")

ARROW_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("amount", pa.float64()),
        ("order_id", pa.string()),
    ]
)

Row = tuple[str, datetime.datetime, float, str | None]

# One customer per edge case: (customer_id, timestamp, amount, order_id).
EDGE_CASES: list[Row] = [
    # one purchase, never again
    ("one_time", TS(2024, 1, 10, 10, 0), 25.0, "a1"),
    # several purchases on one day count once; an order with two lines counts once
    ("same_day", TS(2024, 1, 5, 8, 0), 10.0, "s1"),
    ("same_day", TS(2024, 1, 5, 12, 30), 5.5, "s2"),
    ("same_day", TS(2024, 1, 5, 12, 30), 4.5, "s2"),
    ("same_day", TS(2024, 2, 10, 9, 0), 3.25, "s3"),
    ("same_day", TS(2024, 2, 10, 21, 0), 1.75, "s4"),
    # returns: netted into the day, a return-only day, a net-negative day (in calibration
    # and in the holdout), a net-zero day that is still a purchase day
    ("returns", TS(2024, 1, 3, 10, 0), 100.0, "r1"),
    ("returns", TS(2024, 1, 3, 18, 0), -30.0, "r1"),
    ("returns", TS(2024, 1, 20, 11, 0), -15.0, "r1"),
    ("returns", TS(2024, 2, 1, 9, 0), 50.0, "r2"),
    ("returns", TS(2024, 2, 1, 16, 0), -80.0, "r0"),
    ("returns", TS(2024, 2, 15, 10, 0), 12.0, "r3"),
    ("returns", TS(2024, 2, 15, 11, 0), -12.0, "r3"),
    ("returns", TS(2024, 3, 5, 10, 0), 40.0, "r4"),
    ("returns", TS(2024, 3, 5, 17, 0), -50.0, "r4"),
    ("returns", TS(2024, 3, 20, 17, 0), -5.0, "r4"),
    # only returns: never a customer
    ("return_only", TS(2024, 1, 15, 12, 0), -20.0, "x1"),
    ("return_only", TS(2024, 3, 15, 12, 0), -20.0, "x2"),
    # a return before the first purchase: in total_spend, not a purchase day
    ("return_first", TS(2024, 1, 2, 12, 0), -10.0, None),
    ("return_first", TS(2024, 1, 5, 12, 0), 30.0, None),
    # one second apart across midnight: two purchase days
    ("midnight", TS(2024, 1, 1, 23, 59, 59), 9.99, "m1"),
    ("midnight", TS(2024, 1, 2, 0, 0, 0), 19.99, "m2"),
    ("midnight", TS(2024, 1, 9, 23, 59, 59, 999999), 0.01, "m3"),
    ("midnight", TS(2024, 1, 10, 0, 0, 0), 0.02, "m4"),
    # zero-value orders are purchases
    ("zero_value", TS(2024, 1, 7, 7, 7), 0.0, "z1"),
    ("zero_value", TS(2024, 2, 7, 7, 7), 0.0, "z2"),
    ("zero_value", TS(2024, 3, 7, 7, 7), 0.0, "z3"),
    # no order ids: each purchase row is an order; mixed with ids on one day
    ("null_orders", TS(2024, 1, 11, 9, 0), 5.0, None),
    ("null_orders", TS(2024, 1, 11, 9, 0), 6.0, None),
    ("null_orders", TS(2024, 1, 11, 10, 0), 7.0, "n1"),
    ("null_orders", TS(2024, 1, 11, 11, 0), 8.0, "n1"),
    ("null_orders", TS(2024, 1, 11, 12, 0), -1.0, None),
    ("null_orders", TS(2024, 1, 12, 9, 0), 2.0, None),
    # one order id on two days counts once per day
    ("cross_day_order", TS(2024, 1, 14, 23, 0), 11.0, "c1"),
    ("cross_day_order", TS(2024, 1, 15, 1, 0), 12.0, "c1"),
    # first seen on the as-of date, at its first and last second
    ("first_on_as_of", TS(2024, 3, 31, 0, 0, 0), 15.0, "f1"),
    ("first_on_as_of", TS(2024, 3, 31, 23, 59, 59), 16.0, "f2"),
    # purchases after as_of are ignored, even one microsecond after its last second
    ("after_as_of", TS(2024, 2, 1, 12, 0), 20.0, "p1"),
    ("after_as_of", TS(2024, 4, 1, 0, 0, 0), 21.0, "p2"),
    ("after_as_of", TS(2024, 5, 1, 12, 0), 22.0, "p3"),
    ("only_after_as_of", TS(2024, 4, 1, 0, 0, 0), 30.0, "q1"),
    # calibration boundary: the last second of calibration_end, the first of the holdout
    ("cal_boundary", TS(2024, 1, 31, 12, 0), 10.0, "b1"),
    ("cal_boundary", TS(2024, 2, 29, 23, 59, 59), 11.0, "b2"),
    ("cal_boundary", TS(2024, 3, 1, 0, 0, 0), 12.0, "b3"),
    ("cal_boundary", TS(2024, 3, 31, 23, 59, 59), 13.0, "b4"),
    # first purchase exactly on calibration_end; and first purchase in the holdout
    ("first_on_cal_end", TS(2024, 2, 29, 0, 0, 0), 8.0, "e1"),
    ("first_on_cal_end", TS(2024, 3, 2, 12, 0), 9.0, "e2"),
    ("holdout_only", TS(2024, 3, 1, 0, 0, 1), 14.0, "h1"),
    ("holdout_only", TS(2024, 3, 8, 0, 0, 1), 15.0, "h2"),
    # ids that differ only in case, and a non-ASCII id
    ("Case", TS(2024, 1, 4, 12, 0), 1.0, None),
    ("case", TS(2024, 1, 6, 12, 0), 2.0, None),
    ("客户-1", TS(2024, 1, 8, 12, 0), 88.8, "u1"),
    ("客户-1", TS(2024, 3, 18, 12, 0), 66.6, "u2"),
    # a regular weekly buyer with cents, across the whole window and beyond
    *(
        ("weekly", TS(2024, 1, 1, 10, 0) + datetime.timedelta(weeks=k), 19.99 + k, f"w{k}")
        for k in range(16)
    ),
]

BACKENDS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("pyspark", id="pyspark", marks=pytest.mark.spark),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

_names = itertools.count()


def _arrow(rows: Sequence[Row]) -> pa.Table:
    columns = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, ARROW_SCHEMA, strict=True)],
        schema=ARROW_SCHEMA,
    )


def _as_dicts(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [{"customer_id": c, "timestamp": t, "amount": a, "order_id": o} for c, t, a, o in rows]


Loader = Callable[[Sequence[Row]], ir.Table]


@pytest.fixture(scope="module", params=BACKENDS)
def load(request: pytest.FixtureRequest) -> Iterator[Loader]:
    """A function that puts rows into a table on one backend and returns it."""
    backend: str = request.param
    con = request.getfixturevalue(f"{'spark' if backend == 'pyspark' else backend}_con")
    created: list[str] = []

    def _load(rows: Sequence[Row]) -> ir.Table:
        name = f"cc_features_tx_{next(_names)}"
        created.append(name)
        data = _arrow(rows)
        if backend == "pyspark":
            # Ibis' PySpark backend has no temporary tables, and its memtables go through
            # pandas, which turns null strings into "NaN": hand Spark the Arrow table.
            session = request.getfixturevalue("spark_session")
            session.createDataFrame(data).createOrReplaceTempView(name)
            return con.table(name)
        return con.create_table(name, data, temp=True, overwrite=True)

    yield _load
    for name in created:
        if backend == "pyspark":
            request.getfixturevalue("spark_session").catalog.dropTempView(name)
        else:
            con.drop_table(name, force=True)


@pytest.fixture(scope="module")
def edge_table(load: Loader) -> ir.Table:
    return load(EDGE_CASES)


@pytest.mark.parametrize("time_unit", TIME_UNITS)
@pytest.mark.parametrize(
    "calibration_end",
    [None, CAL_END, AS_OF],
    ids=["no-calibration", "calibration", "calibration-at-as-of"],
)
def test_edge_cases_match_reference(
    edge_table: ir.Table, calibration_end: datetime.date | None, time_unit: str
) -> None:
    expr = customer_features(
        edge_table, as_of=AS_OF, calibration_end=calibration_end, time_unit=time_unit
    )
    result = materialize_features(expr)

    expected_columns = FEATURE_COLUMNS if calibration_end is None else CALIBRATION_COLUMNS
    assert tuple(result.column_names) == expected_columns
    assert result.schema.field("frequency").type == pa.int64()
    assert result.schema.field("first_purchase").type == pa.date32()
    expected = reference_features(
        _as_dicts(EDGE_CASES), as_of=AS_OF, calibration_end=calibration_end, time_unit=time_unit
    )
    assert mismatches(by_customer(result.to_pylist()), expected) == []


def test_edge_cases_cover_what_they_claim() -> None:
    """The reference says what the edge cases were written to show."""
    plain = reference_features(_as_dicts(EDGE_CASES), as_of=AS_OF, time_unit="day")
    split = reference_features(
        _as_dicts(EDGE_CASES), as_of=AS_OF, calibration_end=CAL_END, time_unit="day"
    )
    assert "return_only" not in plain and "only_after_as_of" not in plain
    assert plain["first_on_as_of"]["T"] == 0.0 and plain["first_on_as_of"]["n_orders"] == 2
    assert plain["midnight"]["frequency"] == 3 and plain["midnight"]["recency"] == 9.0
    assert plain["same_day"]["n_periods"] == 2 and plain["same_day"]["n_orders"] == 4
    assert plain["returns"]["monetary_value"] == pytest.approx((-30 + 0 - 10) / 3)
    assert plain["returns"]["returns_amount"] == 192.0
    assert plain["return_first"]["total_spend"] == 20.0
    assert plain["null_orders"]["n_orders"] == 4
    assert plain["cross_day_order"]["n_orders"] == 2
    assert plain["after_as_of"]["frequency"] == 0
    assert "first_on_as_of" not in split and "holdout_only" not in split
    assert split["first_on_cal_end"]["T"] == 0.0
    assert split["first_on_cal_end"]["frequency_holdout"] == 1
    assert split["cal_boundary"]["frequency"] == 1
    assert split["cal_boundary"]["frequency_holdout"] == 2
    assert split["returns"]["monetary_value_holdout"] == -10.0


# --- hypothesis, on DuckDB ------------------------------------------------------------

BASE = D(2024, 1, 1)
HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,  # a fixed seed: the same examples on every run
    database=None,  # and nothing written to .hypothesis/
    suppress_health_check=[HealthCheck.too_slow],
)

rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d"]),
        st.builds(
            lambda day, second: (
                datetime.datetime.combine(BASE + datetime.timedelta(days=day), datetime.time())
                + datetime.timedelta(seconds=second)
            ),
            st.integers(0, 40),
            st.sampled_from([0, 1, 43_200, 86_399]) | st.integers(0, 86_399),
        ),
        # quarters are exact in binary, so every sum is exact in any order
        st.integers(-40, 80).map(lambda q: q / 4),
        st.none() | st.sampled_from(["o1", "o2", "o3"]),
    ),
    max_size=40,
)


@st.composite
def windows(draw: st.DrawFn) -> tuple[datetime.date, datetime.date | None, str]:
    as_of = BASE + datetime.timedelta(days=draw(st.integers(0, 45)))
    cal_days = draw(st.none() | st.integers(0, (as_of - BASE).days))
    calibration_end = None if cal_days is None else BASE + datetime.timedelta(days=cal_days)
    return as_of, calibration_end, draw(st.sampled_from(TIME_UNITS))


def _duckdb_features(
    con: Any, rows: Sequence[Row], window: tuple[datetime.date, datetime.date | None, str]
) -> dict[str, dict[str, Any]]:
    as_of, calibration_end, time_unit = window
    name = f"cc_features_hyp_{next(_names)}"
    table = con.create_table(name, _arrow(rows), temp=True)
    try:
        expr = customer_features(
            table, as_of=as_of, calibration_end=calibration_end, time_unit=time_unit
        )
        return by_customer(materialize_features(expr).to_pylist())
    finally:
        con.drop_table(name)


@HYPOTHESIS
@given(rows=rows_strategy, window=windows())
def test_random_data_matches_reference(
    duckdb_con: Any, rows: list[Row], window: tuple[datetime.date, datetime.date | None, str]
) -> None:
    as_of, calibration_end, time_unit = window
    expected = reference_features(
        _as_dicts(rows), as_of=as_of, calibration_end=calibration_end, time_unit=time_unit
    )
    assert mismatches(_duckdb_features(duckdb_con, rows, window), expected) == []


@HYPOTHESIS
@given(rows=rows_strategy, window=windows(), shuffler=st.randoms(use_true_random=False))
def test_row_order_does_not_matter(
    duckdb_con: Any,
    rows: list[Row],
    window: tuple[datetime.date, datetime.date | None, str],
    shuffler: random.Random,
) -> None:
    shuffled = list(rows)
    shuffler.shuffle(shuffled)
    assert _duckdb_features(duckdb_con, shuffled, window) == _duckdb_features(
        duckdb_con, rows, window
    )
