"""``customer_behaviour`` against a plain-Python reference on DuckDB, Spark and PostgreSQL.

Every edge case is one customer of one hand-made table, so each backend answers all of
them in a single query. Random small tables (hypothesis, DuckDB only) agree with the
reference too, whatever the row order.
"""

from __future__ import annotations

import datetime
import doctest
import itertools
import math
import random
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corecustomers.errors import ColumnMappingError, ConfigError
from corecustomers.insights.behaviour import (
    BEHAVIOUR_COLUMNS,
    customer_behaviour,
    trend_weights,
)

D = datetime.date
TS = datetime.datetime
AS_OF = D(2024, 12, 31)


def ago(days: int, hour: int = 12) -> datetime.datetime:
    """A timestamp ``days`` before the as-of day, at ``hour``."""
    return TS.combine(AS_OF - datetime.timedelta(days=days), datetime.time(hour))


SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("amount", pa.float64()),
        ("order_id", pa.string()),
        ("product", pa.string()),
        ("category", pa.string()),
    ]
)

Row = tuple[str, datetime.datetime, float, str | None, str | None, str | None]

EDGE_CASES: list[Row] = [
    # one purchase: no rhythm, rising trend
    ("one_time", ago(10), 25.0, "a1", "p1", "c1"),
    # two purchase days: a mean gap but no spread
    ("two_days", ago(100), 10.0, None, "p1", "c1"),
    ("two_days", ago(40), 12.0, None, "p2", "c1"),
    # several purchases on one day are one purchase day; a return-only day is not one
    ("same_day", ago(30, 8), 10.0, "s1", "p1", "c1"),
    ("same_day", ago(30, 20), 5.0, "s2", "p2", "c2"),
    ("same_day", ago(20), -3.0, "s2", "p2", "c2"),
    ("same_day", ago(5), 7.0, "s3", "p1", None),
    # mean gap 2.5 days: the next purchase rounds half up to 3 days after the last
    ("half_gap", ago(205), 1.0, None, None, None),
    ("half_gap", ago(204), 1.0, None, None, None),
    ("half_gap", ago(200), 1.0, None, None, None),
    # window edges: 90 days ago is window 2, 89 is window 1; 360 is out of window 4 (and
    # of the trend), 359 in; 365 is out of the trailing year, 364 in
    ("edges", ago(0, 0), 1.0, None, "p1", "c1"),
    ("edges", ago(89), 2.0, None, "p2", "c1"),
    ("edges", ago(90), 4.0, None, "p3", "c2"),
    ("edges", ago(179), 8.0, None, "p4", "c2"),
    ("edges", ago(180), 16.0, None, "p5", "c3"),
    ("edges", ago(359), 32.0, None, "p6", "c3"),
    ("edges", ago(360), 64.0, None, "p7", "c4"),
    ("edges", ago(364), 128.0, None, "p8", "c4"),
    ("edges", ago(365), 256.0, None, None, "c5"),
    # a steady monthly buyer whose spend fades, and who has gone quiet
    *(("fading", ago(30 * k + 150), 100.0 - 8 * k, f"f{k}", "p1", "c1") for k in range(12)),
    # a regular weekly buyer, on time
    *(("weekly", ago(7 * k), 20.0, f"w{k}", f"p{k % 3}", "c1") for k in range(20)),
    # returns: a net-negative window, a return larger than its day's purchase
    ("returns", ago(200), 100.0, "r1", "p1", "c1"),
    ("returns", ago(50), 30.0, "r2", "p2", "c1"),
    ("returns", ago(49), -80.0, "r1", "p1", "c1"),
    ("returns", ago(10), -5.0, "r2", "p2", "c1"),
    # only zero-value orders: purchase days, no gross spend, no return share
    ("zero_value", ago(60), 0.0, "z1", "p1", "c1"),
    ("zero_value", ago(30), 0.0, "z2", "p1", "c1"),
    # only returns: no row
    ("return_only", ago(15), -20.0, "x1", "p1", "c1"),
    # after as_of: ignored, even one microsecond after the as-of day
    ("after_as_of", ago(40), 10.0, "q1", "p1", "c1"),
    ("after_as_of", TS(2025, 1, 1, 0, 0, 0), 99.0, "q2", "p9", "c9"),
    ("only_after", TS(2025, 1, 1, 0, 0, 0), 99.0, "q3", "p9", "c9"),
    # the last microsecond of the as-of day is in
    ("last_second", TS(2024, 12, 31, 23, 59, 59, 999999), 3.0, None, "p1", "c1"),
    # ids that differ only in case, and a non-ASCII id
    ("Case", ago(3), 1.0, None, None, None),
    ("case", ago(4), 2.0, None, None, None),
    ("客户-1", ago(33), 88.8, "u1", "产品", "类别"),
    ("客户-1", ago(3), 66.6, "u2", "产品", "类别"),
]

BACKENDS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("pyspark", id="pyspark", marks=pytest.mark.spark),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

FLOAT_COLUMNS = (
    "mean_gap_days",
    "gap_std_days",
    "overdue_ratio",
    "spend_last_90d",
    "spend_prev_90d",
    "spend_trend",
    "spend_last_365d",
    "gross_spend",
    "return_share",
)

_names = itertools.count()


# --- the reference ----------------------------------------------------------------------


def reference_behaviour(
    rows: Sequence[Mapping[str, Any]], *, as_of: datetime.date, n_windows: int = 4
) -> dict[str, dict[str, Any]]:
    """Behaviour per customer from plain dicts: loops, ``statistics`` and ``np.polyfit``."""
    per: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["timestamp"].date() <= as_of:
            per[row["customer_id"]].append(row)
    has_breadth = {name: any(name in row for row in rows) for name in ("product", "category")}
    out: dict[str, dict[str, Any]] = {}
    for customer, items in per.items():
        days = sorted({r["timestamp"].date() for r in items if r["amount"] >= 0})
        if not days:
            continue
        gaps = [(b - a).days for a, b in itertools.pairwise(days)]
        mean_gap = statistics.mean(gaps) if gaps else None
        idle = (as_of - days[-1]).days

        def spend(newer: int, older: int, items: list[Mapping[str, Any]] = items) -> float:
            """Net spend of the days in (as_of - older, as_of - newer]."""
            return sum(
                float(r["amount"])
                for r in items
                if newer <= (as_of - r["timestamp"].date()).days < older
            )

        windows = [spend(90 * (k - 1), 90 * k) for k in range(1, n_windows + 1)]
        times = [n_windows - k for k in range(1, n_windows + 1)]
        gross = sum(r["amount"] for r in items if r["amount"] >= 0)
        returns = sum(-r["amount"] for r in items if r["amount"] < 0)
        result: dict[str, Any] = {
            "n_purchase_days": len(days),
            "days_since_last_purchase": idle,
            "mean_gap_days": mean_gap,
            "gap_std_days": statistics.stdev(gaps) if len(gaps) >= 2 else None,
            "expected_next_purchase": (
                None
                if mean_gap is None
                else days[-1] + datetime.timedelta(days=math.floor(mean_gap + 0.5))
            ),
            "overdue_ratio": None if mean_gap is None else idle / mean_gap,
            "spend_last_90d": windows[0],
            "spend_prev_90d": windows[1],
            "spend_trend": float(np.polyfit(times, windows, 1)[0]),
            "spend_last_365d": spend(0, 365),
            "gross_spend": gross,
            "return_share": returns / gross if gross > 0 else None,
        }
        for source, name in (("product", "n_products"), ("category", "n_categories")):
            if has_breadth[source]:
                result[name] = len(
                    {r[source] for r in items if r["amount"] >= 0 and r[source] is not None}
                )
        out[customer] = result
    return out


def mismatches(
    actual: Mapping[str, Mapping[str, Any]], expected: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """Human-readable differences; floats compared to 1e-9 (relative and absolute)."""
    problems = (
        [f"customers: {sorted(actual)} != {sorted(expected)}"]
        if set(actual) != set(expected)
        else []
    )
    for customer in sorted(set(actual) & set(expected)):
        for column, want in expected[customer].items():
            got = actual[customer][column]
            if column in FLOAT_COLUMNS and got is not None and want is not None:
                same = math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9)
            else:
                same = got == want
            if not same:
                problems.append(f"{customer}.{column}: {got!r} != {want!r}")
    return problems


# --- loading the rows into each backend ---------------------------------------------------


def _arrow(rows: Sequence[Row], schema: pa.Schema = SCHEMA) -> pa.Table:
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[] for _ in schema]
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)],
        schema=schema,
    )


def _dicts(rows: Sequence[Row]) -> list[dict[str, Any]]:
    return [dict(zip(SCHEMA.names, row, strict=True)) for row in rows]


Loader = Callable[[pa.Table], ir.Table]


@pytest.fixture(scope="module", params=BACKENDS)
def load(request: pytest.FixtureRequest) -> Iterator[Loader]:
    """A function that puts an Arrow table into one backend and returns it."""
    backend: str = request.param
    con = request.getfixturevalue(f"{'spark' if backend == 'pyspark' else backend}_con")
    created: list[str] = []

    def _load(data: pa.Table) -> ir.Table:
        name = f"cc_behaviour_tx_{next(_names)}"
        created.append(name)
        if backend == "pyspark":
            # Ibis' PySpark memtables go through pandas (null strings become "NaN"):
            # hand Spark the Arrow table instead.
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


def _by_customer(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {row.pop("customer_id"): row for row in table.to_pylist()}


# --- tests -------------------------------------------------------------------------------


def test_edge_cases_match_reference(load: Loader) -> None:
    result = customer_behaviour(load(_arrow(EDGE_CASES)), as_of=AS_OF).to_pyarrow()

    assert tuple(result.column_names) == (*BEHAVIOUR_COLUMNS, "n_products", "n_categories")
    assert result.schema.field("expected_next_purchase").type == pa.date32()
    assert result.schema.field("n_purchase_days").type == pa.int64()
    assert all(result.schema.field(c).type == pa.float64() for c in FLOAT_COLUMNS)
    expected = reference_behaviour(_dicts(EDGE_CASES), as_of=AS_OF)
    assert mismatches(_by_customer(result), expected) == []


def test_without_breadth_columns(duckdb_con: Any) -> None:
    data = _arrow(EDGE_CASES).drop_columns(["product", "category", "order_id"])
    table = duckdb_con.create_table("cc_behaviour_plain", data, temp=True, overwrite=True)
    result = customer_behaviour(table, as_of=AS_OF, n_windows=2).to_pyarrow()

    assert tuple(result.column_names) == BEHAVIOUR_COLUMNS
    expected = reference_behaviour(data.to_pylist(), as_of=AS_OF, n_windows=2)
    assert mismatches(_by_customer(result), expected) == []


def test_edge_cases_show_what_they_claim() -> None:
    ref = reference_behaviour(_dicts(EDGE_CASES), as_of=AS_OF)
    assert ref["one_time"]["mean_gap_days"] is None and ref["one_time"]["spend_trend"] > 0
    assert ref["two_days"]["mean_gap_days"] == 60.0 and ref["two_days"]["gap_std_days"] is None
    assert ref["same_day"]["n_purchase_days"] == 2
    assert ref["half_gap"]["mean_gap_days"] == 2.5
    assert ref["half_gap"]["expected_next_purchase"] == (AS_OF - datetime.timedelta(days=197))
    edges = ref["edges"]
    assert (edges["spend_last_90d"], edges["spend_prev_90d"]) == (3.0, 12.0)
    assert edges["spend_last_365d"] == 255.0
    assert edges["n_products"] == 8 and edges["n_categories"] == 5
    assert ref["fading"]["overdue_ratio"] == 5.0 and ref["fading"]["spend_trend"] < 0
    assert ref["weekly"]["overdue_ratio"] == 0.0 and ref["weekly"]["gap_std_days"] == 0.0
    assert ref["returns"]["spend_last_90d"] == -55.0
    assert ref["returns"]["return_share"] == pytest.approx(85 / 130)
    assert ref["zero_value"]["return_share"] is None
    assert "return_only" not in ref and "only_after" not in ref
    assert ref["after_as_of"]["n_products"] == 1
    assert ref["last_second"]["n_purchase_days"] == 1


def test_trend_weights_are_the_least_squares_slope() -> None:
    rng = np.random.default_rng(7)
    for n in range(2, 9):
        spends = rng.normal(100.0, 30.0, size=n)
        slope = sum(w * y for w, y in zip(trend_weights(n), spends, strict=True))
        times = np.arange(n)[::-1]  # window 1 (most recent) is the latest time
        assert slope == pytest.approx(np.polyfit(times, spends, 1)[0], rel=1e-9)


def test_the_expression_is_lazy_and_unbound() -> None:
    tx = ibis.table(
        {"customer_id": "string", "timestamp": "timestamp", "amount": "float64"}, name="tx"
    )
    expr = customer_behaviour(tx, as_of=AS_OF)
    assert tuple(expr.columns) == BEHAVIOUR_COLUMNS
    assert "LAG" in ibis.to_sql(expr, dialect="duckdb").upper()


def test_date_typed_timestamp(duckdb_con: Any) -> None:
    data = _arrow(EDGE_CASES).drop_columns(["product", "category"])
    as_days = data.set_column(
        1, "timestamp", pa.array([t.date() for t in data["timestamp"].to_pylist()], pa.date32())
    )
    got = customer_behaviour(ibis.memtable(as_days), as_of=AS_OF).to_pyarrow()
    want = customer_behaviour(ibis.memtable(data), as_of=AS_OF).to_pyarrow()
    assert got.sort_by("customer_id").equals(want.sort_by("customer_id"))


def test_bad_input_says_what_to_do() -> None:
    tx = ibis.table({"customer_id": "string", "timestamp": "timestamp"}, name="tx")
    with pytest.raises(ColumnMappingError, match="amount"):
        customer_behaviour(tx, as_of=AS_OF)
    full = ibis.table(
        {"customer_id": "string", "timestamp": "timestamp", "amount": "float64"}, name="tx"
    )
    with pytest.raises(ConfigError, match="n_windows"):
        customer_behaviour(full, as_of=AS_OF, n_windows=1)
    with pytest.raises(ConfigError, match="as_of"):
        customer_behaviour(full, as_of=TS(2024, 1, 1))


# --- hypothesis, on DuckDB ---------------------------------------------------------------

HYPOTHESIS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,  # the same examples on every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.builds(
            lambda days, second: ago(days, 0) + datetime.timedelta(seconds=second),
            st.integers(-3, 400),
            st.sampled_from([0, 86_399]) | st.integers(0, 86_399),
        ),
        # quarters are exact in binary, so every sum is exact in any order
        st.integers(-40, 80).map(lambda q: q / 4),
        st.none(),
        st.none() | st.sampled_from(["p1", "p2", "p3"]),
        st.none() | st.sampled_from(["c1", "c2"]),
    ),
    max_size=30,
)


@HYPOTHESIS
@given(rows=rows_strategy, shuffler=st.randoms(use_true_random=False))
def test_random_tables_match_reference_in_any_order(
    duckdb_con: Any, rows: list[Row], shuffler: random.Random
) -> None:
    """The reference ignores row order, so matching it on shuffled rows shows both."""
    shuffled = list(rows)
    shuffler.shuffle(shuffled)
    name = f"cc_behaviour_hyp_{next(_names)}"
    table = duckdb_con.create_table(name, _arrow(shuffled), temp=True)
    try:
        result = _by_customer(customer_behaviour(table, as_of=AS_OF).to_pyarrow())
    finally:
        duckdb_con.drop_table(name)
    assert mismatches(result, reference_behaviour(_dicts(rows), as_of=AS_OF)) == []


def test_docstring_examples_run() -> None:
    import corecustomers.insights.behaviour as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
