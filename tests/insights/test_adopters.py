"""Early adopters on DuckDB, Spark and PostgreSQL against a plain-Python reference."""

from __future__ import annotations

import datetime
import doctest
import itertools
import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corecustomers.errors import ColumnMappingError, ConfigError
from corecustomers.insights.adopters import (
    ADOPTER_COLUMNS,
    LAUNCH_COLUMNS,
    early_adopters,
    product_launches,
)

D = datetime.date
AS_OF = D(2024, 12, 31)
START = D(2024, 1, 1)


def at(day: datetime.date, hour: int = 12) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour))


def after(days: int, hour: int = 12) -> datetime.datetime:
    """A timestamp ``days`` after the data start."""
    return at(START + datetime.timedelta(days=days), hour)


SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("amount", pa.float64()),
        ("product", pa.string()),
    ]
)

Row = tuple[str, datetime.datetime, float, str | None]

EDGE_CASES: list[Row] = [
    # the data start is the first row of any kind: a return without a product
    ("zed", after(0, 0), -5.0, None),
    # first sold within 30 days of the start: on sale before the data, never "new";
    # exactly 30 days after is still not new, 31 days after is
    ("ivy", after(9), 3.0, "staple"),
    ("bob", after(30), 3.0, "edge30"),
    ("bob", after(31), 3.0, "edge31"),
    ("cal", after(40), 3.0, "edge31"),
    # "hit": 30 buyers, one every 5 days from day 60 -- the first 3 (10 %) are early by
    # share, the first 7 (within 30 days of the launch) by time
    *((f"h{k:02d}", after(60 + 5 * k), 10.0, "hit") for k in range(30)),
    # h00 buys "hit" again and h05 returns it first: only the first purchase day counts
    ("h00", after(200), 10.0, "hit"),
    ("h05", after(61), -10.0, "hit"),
    # "tie": everyone on the launch day is early, whatever the share
    *((f"t{k}", after(100, 8 + k), 4.0, "tie") for k in range(5)),
    ("t5", after(200), 4.0, "tie"),
    # ivy is early twice (an early adopter), bob once
    ("ivy", after(150), 9.0, "pen"),
    ("bob", after(190), 9.0, "pen"),
    ("ivy", after(160), 9.0, "ink"),
    ("bob", after(250), 9.0, "ink"),
    ("cal", after(255), 9.0, "ink"),
    # a zero-value purchase counts, rows without a product and after as_of do not
    ("ann", after(300), 0.0, "sample"),
    ("ann", after(301), 20.0, None),
    ("late", at(D(2025, 1, 1), 0), 9.0, "future"),
    ("ivy", at(D(2025, 1, 1), 0), 9.0, "future"),
    # the last microsecond of the as-of day is in; non-ASCII ids and products
    ("客户", datetime.datetime(2024, 12, 31, 23, 59, 59, 999999), 5.0, "新品"),
]

BACKENDS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("pyspark", id="pyspark", marks=pytest.mark.spark),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

_names = itertools.count()


# --- the reference ----------------------------------------------------------------------


def reference(
    rows: Sequence[Mapping[str, Any]],
    *,
    as_of: datetime.date,
    first_share: float = 0.10,
    within_days: int = 30,
    launch_buffer_days: int = 30,
    min_products: int = 2,
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(launches per product, adopters per customer), from plain dicts and loops."""
    seen = [r for r in rows if r["timestamp"].date() <= as_of]
    start = min(r["timestamp"].date() for r in seen)
    first: dict[tuple[str, str], datetime.date] = {}
    for r in seen:
        if r["amount"] >= 0 and r["product"] is not None:
            key, day = (r["customer_id"], r["product"]), r["timestamp"].date()
            first[key] = min(day, first.get(key, day))
    buyers: dict[str, list[datetime.date]] = defaultdict(list)
    for (_, product), day in first.items():
        buyers[product].append(day)
    launches = {
        p: {
            "first_sale": min(days),
            "n_buyers": len(days),
            "new_product": (min(days) - start).days > launch_buffer_days,
        }
        for p, days in buyers.items()
    }
    share = Fraction(str(first_share))  # 0.1 is exactly one tenth
    adopters: dict[str, dict[str, Any]] = {}
    for (customer, product), day in first.items():
        launch = launches[product]
        earlier = sum(1 for d in buyers[product] if d < day)
        early = launch["new_product"] and (
            earlier < share * launch["n_buyers"] or (day - launch["first_sale"]).days <= within_days
        )
        entry = adopters.setdefault(customer, {"new_products": 0, "early_adopter_count": 0})
        entry["new_products"] += int(launch["new_product"])
        entry["early_adopter_count"] += int(early)
    for entry in adopters.values():
        entry["early_adopter_score"] = entry["early_adopter_count"] / (entry["new_products"] + 1)
        entry["early_adopter"] = entry["early_adopter_count"] >= min_products
    return launches, adopters


# --- loading ----------------------------------------------------------------------------


def _arrow(rows: Sequence[Row]) -> pa.Table:
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [[]] * 4
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, SCHEMA, strict=True)],
        schema=SCHEMA,
    )


Loader = Callable[[pa.Table], ir.Table]


@pytest.fixture(scope="module", params=BACKENDS)
def load(request: pytest.FixtureRequest) -> Iterator[Loader]:
    backend: str = request.param
    con = request.getfixturevalue(f"{'spark' if backend == 'pyspark' else backend}_con")
    created: list[str] = []

    def _load(data: pa.Table) -> ir.Table:
        name = f"cc_adopters_tx_{next(_names)}"
        created.append(name)
        if backend == "pyspark":
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


def _keyed(table: pa.Table, key: str) -> dict[str, dict[str, Any]]:
    return {row.pop(key): row for row in table.to_pylist()}


# --- tests ------------------------------------------------------------------------------


def test_edge_cases_match_reference(load: Loader) -> None:
    result = early_adopters(load(_arrow(EDGE_CASES)), as_of=AS_OF).to_pyarrow()

    assert tuple(result.column_names) == ADOPTER_COLUMNS
    assert result.schema.field("early_adopter_count").type == pa.int64()
    assert result.schema.field("early_adopter_score").type == pa.float64()
    assert result.schema.field("early_adopter").type == pa.bool_()
    _, expected = reference(_arrow(EDGE_CASES).to_pylist(), as_of=AS_OF)
    assert _keyed(result, "customer_id") == expected


def test_launches_and_settings_match_reference(duckdb_con: Any) -> None:
    data = _arrow(EDGE_CASES)
    tx = duckdb_con.create_table("cc_adopters_settings", data, temp=True, overwrite=True)
    rows = data.to_pylist()

    launches = product_launches(tx, as_of=AS_OF).to_pyarrow()
    assert tuple(launches.column_names) == LAUNCH_COLUMNS
    assert _keyed(launches, "product") == reference(rows, as_of=AS_OF)[0]

    for settings_ in (
        {"within_days": 0},
        {"first_share": 0.5, "within_days": 0},
        {"first_share": 1.0, "within_days": 0, "min_products": 1},
        {"launch_buffer_days": 0},
        {"launch_buffer_days": 400},
        {"within_days": 200, "min_products": 3},
    ):
        got = _keyed(early_adopters(tx, as_of=AS_OF, **settings_).to_pyarrow(), "customer_id")
        assert got == reference(rows, as_of=AS_OF, **settings_)[1], settings_


def test_edge_cases_show_what_they_claim() -> None:
    launches, adopters = reference(_arrow(EDGE_CASES).to_pylist(), as_of=AS_OF)
    assert not launches["staple"]["new_product"] and not launches["edge30"]["new_product"]
    assert launches["edge31"]["new_product"] and "future" not in launches
    early_hit = sorted(
        c for c, a in adopters.items() if c.startswith("h") and a["early_adopter_count"]
    )
    assert early_hit == [f"h{k:02d}" for k in range(7)]
    strict = reference(_arrow(EDGE_CASES).to_pylist(), as_of=AS_OF, within_days=0)[1]
    assert [
        c for c in sorted(strict) if c.startswith("h") and strict[c]["early_adopter_count"]
    ] == [
        "h00",
        "h01",
        "h02",
    ]
    assert adopters["ivy"] == {
        "new_products": 2,  # pen and ink; "staple" was on sale from the start
        "early_adopter_count": 2,
        "early_adopter_score": 2 / 3,
        "early_adopter": True,
    }
    assert adopters["bob"]["new_products"] == 3  # edge31, pen, ink
    assert adopters["bob"]["early_adopter_count"] == 1  # edge31 on its launch day
    assert not adopters["bob"]["early_adopter"]
    assert adopters["t5"]["early_adopter_count"] == 0
    assert all(adopters[f"t{k}"]["early_adopter_count"] == 1 for k in range(5))
    assert adopters["ann"]["early_adopter_count"] == 1 and "late" not in adopters


def test_bad_settings_and_tables() -> None:
    tx = ibis.table(
        {"customer_id": "string", "timestamp": "timestamp", "amount": "float64"}, name="tx"
    )
    with pytest.raises(ColumnMappingError, match="product"):
        early_adopters(tx, as_of=AS_OF)
    with pytest.raises(ColumnMappingError, match="product"):
        product_launches(tx, as_of=AS_OF)
    full = tx.mutate(product=ibis.literal("p"))
    for bad, match in (
        ({"first_share": 0.0}, "first_share"),
        ({"first_share": 1.5}, "first_share"),
        ({"within_days": -1}, "within_days"),
        ({"within_days": 1.5}, "within_days"),
        ({"launch_buffer_days": -1}, "launch_buffer_days"),
        ({"min_products": 0}, "min_products"),
    ):
        with pytest.raises(ConfigError, match=match):
            early_adopters(full, as_of=AS_OF, **bad)


# --- hypothesis, on DuckDB ---------------------------------------------------------------

rows_strategy = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c", "d", "e"]),
        st.builds(lambda d, h: after(d, h), st.integers(0, 120), st.integers(0, 23)),
        st.sampled_from([-1.0, 0.0, 5.0]),
        st.none() | st.sampled_from(["p", "q", "r"]),
    ),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    rows=rows_strategy,
    first_share=st.sampled_from([0.1, 0.3, 1.0]),
    within_days=st.sampled_from([0, 7]),
    shuffler=st.randoms(use_true_random=False),
)
def test_random_tables_match_reference_in_any_order(
    duckdb_con: Any, rows: list[Row], first_share: float, within_days: int, shuffler: random.Random
) -> None:
    shuffled = list(rows)
    shuffler.shuffle(shuffled)
    kwargs: dict[str, Any] = {
        "first_share": first_share,
        "within_days": within_days,
        "launch_buffer_days": 10,
    }
    name = f"cc_adopters_hyp_{next(_names)}"
    tx = duckdb_con.create_table(name, _arrow(shuffled), temp=True)
    try:
        got = _keyed(early_adopters(tx, as_of=AS_OF, **kwargs).to_pyarrow(), "customer_id")
    finally:
        duckdb_con.drop_table(name)
    assert got == reference(_arrow(rows).to_pylist(), as_of=AS_OF, **kwargs)[1]


def test_docstring_examples_run() -> None:
    import corecustomers.insights.adopters as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
