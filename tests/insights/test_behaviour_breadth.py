"""The breadth columns on DuckDB from codes and bit words, against the distinct counts.

:func:`customer_behaviour` counts ``n_products`` and ``n_categories`` on DuckDB from small
integer codes of the values (a bit per code, in machine words per customer) when a column
has at most :data:`BREADTH_CODES_MAX` distinct values, by ``COUNT(DISTINCT ...)`` otherwise and on
the other engines. Every column of every customer must be the same either way: the
reference here is the portable expression, forced by a bound of 0.
"""

from __future__ import annotations

import datetime
import random
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest

from corecustomers.data.compiled import reusing_sql
from corecustomers.data.features import materialize
from corecustomers.insights import behaviour
from corecustomers.insights.behaviour import customer_behaviour

AS_OF = datetime.date(2024, 12, 31)
START = datetime.datetime(2023, 1, 1)


def _transactions(seed: int, n_customers: int = 300, n_products: int = 180) -> pa.Table:
    """Random rows with what the codes must get right.

    Null products and categories; returns (``amount < 0``) of products nobody bought;
    quotes, non-ASCII text, the empty string and near-duplicates (case, a trailing space);
    customers whose purchases have no product or category at all; customers with only
    returns (no behaviour row); rows after the as-of day with values never seen before;
    and more distinct products than fit in a machine word.
    """
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    specials = ("O'Brien's 热拿铁", "", " ", "p0001 ", "P0001", "a,b]")

    def add(customer: str, amount: float, product: str | None, category: str | None) -> None:
        when = START + datetime.timedelta(days=rng.randrange(730), seconds=rng.randrange(86400))
        rows.append(
            {
                "customer_id": customer,
                "timestamp": when,
                "amount": amount,
                "product": product,
                "category": category,
            }
        )

    for c in range(n_customers):
        customer = f"c{c:04d}"
        kind = c % 10
        for _ in range(rng.randrange(1, 15)):
            amount = round(rng.uniform(-20.0, 80.0), 2)
            product: str | None = f"p{rng.randrange(n_products):04d}"
            category: str | None = f"k{rng.randrange(9)}"
            if kind == 0:  # no product or category on any row
                product = category = None
            elif rng.random() < 0.15:
                product = None
            elif rng.random() < 0.15:
                category = None
            if kind == 1:  # only returns: no row in the behaviour
                amount = -abs(amount) - 0.01
            add(customer, amount, product, category)
        if kind == 2:  # a returned product and category of its own, never bought
            add(customer, -5.0, f"returned-{c}", f"returned-{c}")
        if kind == 3:  # texts a literal list must quote and compare as they are
            for text in specials:
                add(customer, 2.5, text, text)
    # one customer buys every value bought at all: two values sharing a code would
    # change this customer's counts, whichever two they are
    for i in range(n_products):
        add("c_all", 1.0, f"p{i:04d}", f"k{i % 9}")
    for text in specials:
        add("c_all", 1.0, text, text)
    # values only after the as-of day (in the dictionary, bought by nobody before it)
    rows.append(
        {
            "customer_id": "c0003",
            "timestamp": datetime.datetime(2025, 3, 1, 12),
            "amount": 10.0,
            "product": "future",
            "category": "future",
        }
    )
    rng.shuffle(rows)
    schema = pa.schema(
        [
            ("customer_id", pa.string()),
            ("timestamp", pa.timestamp("us")),
            ("amount", pa.float64()),
            ("product", pa.string()),
            ("category", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _sorted(expr: ir.Table) -> pa.Table:
    return expr.to_pyarrow().sort_by("customer_id")


def _portable(tx: ir.Table, monkeypatch: pytest.MonkeyPatch) -> tuple[pa.Table, str]:
    """The distinct-count expression on the same rows (bound 0: no column is coded)."""
    with monkeypatch.context() as patch:
        patch.setattr(behaviour, "BREADTH_CODES_MAX", 0)
        expr = customer_behaviour(tx, as_of=AS_OF)
        return _sorted(expr), ibis.to_sql(expr, dialect="duckdb")


def _assert_identical(got: pa.Table, want: pa.Table) -> None:
    assert got.column_names == want.column_names
    assert got.schema == want.schema
    for name in want.column_names:
        assert got.column(name).equals(want.column(name)), name


@pytest.fixture
def tx(duckdb_con: Any) -> ir.Table:
    data = _transactions(seed=3)
    return duckdb_con.create_table("cc_breadth_tx", data, temp=True, overwrite=True)


def test_codes_give_the_distinct_counts(tx: ir.Table, monkeypatch: pytest.MonkeyPatch) -> None:
    expr = customer_behaviour(tx, as_of=AS_OF)
    sql = ibis.to_sql(expr, dialect="duckdb").upper()
    assert sql.count("BIT_OR(") >= 2 and "COUNT(DISTINCT" not in sql

    got = _sorted(expr)
    want, want_sql = _portable(tx, monkeypatch)
    assert want_sql.upper().count("COUNT(DISTINCT") == 2 and "BIT_OR(" not in want_sql.upper()
    _assert_identical(got, want)

    # the data has what the docstring of _transactions claims
    by_id = {row["customer_id"]: row for row in got.to_pylist()}
    assert by_id["c0000"]["n_products"] == 0 and by_id["c0000"]["n_categories"] == 0
    assert not any(customer.endswith("1") for customer in by_id)  # only returns
    assert max(row["n_products"] for row in got.to_pylist()) >= 10
    assert tx.product.nunique().to_pyarrow().as_py() > 64


def test_random_tables_and_as_of_days(duckdb_con: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for seed in range(4):
        data = _transactions(seed=seed, n_customers=80, n_products=[3, 40, 120, 200][seed])
        tx = duckdb_con.create_table(f"cc_breadth_{seed}", data, temp=True, overwrite=True)
        for as_of in (datetime.date(2023, 6, 30), AS_OF):
            got = _sorted(customer_behaviour(tx, as_of=as_of))
            with monkeypatch.context() as patch:
                patch.setattr(behaviour, "BREADTH_CODES_MAX", 0)
                want = _sorted(customer_behaviour(tx, as_of=as_of))
            _assert_identical(got, want)


def test_too_many_values_fall_back_to_distinct_counts(
    tx: ir.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # at most 64 values are coded: the 200-odd products are counted, the categories coded
    monkeypatch.setattr(behaviour, "BREADTH_CODES_MAX", 64)
    expr = customer_behaviour(tx, as_of=AS_OF)
    sql = ibis.to_sql(expr, dialect="duckdb").upper()
    assert sql.count("COUNT(DISTINCT") == 1 and sql.count("BIT_OR(") == 1
    assert "_CATEGORY_CODE" in sql and "_PRODUCT_CODE" not in sql
    got = _sorted(expr)
    monkeypatch.undo()
    want, _ = _portable(tx, monkeypatch)
    _assert_identical(got, want)


def test_a_column_without_values_is_counted_as_before(
    duckdb_con: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _transactions(seed=5, n_customers=40)
    data = data.set_column(
        data.column_names.index("category"), "category", pa.nulls(data.num_rows, pa.string())
    )
    tx = duckdb_con.create_table("cc_breadth_nulls", data, temp=True, overwrite=True)
    expr = customer_behaviour(tx, as_of=AS_OF)
    assert "_CATEGORY_CODE" not in ibis.to_sql(expr, dialect="duckdb").upper()
    got = _sorted(expr)
    want, _ = _portable(tx, monkeypatch)
    _assert_identical(got, want)
    assert set(got.column("n_categories").to_pylist()) == {0}


def test_non_string_values_are_coded_as_their_text(
    duckdb_con: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = _transactions(seed=6, n_customers=60, n_products=30)
    texts = data.column("product").to_pylist()
    numbers = {text: 1000 - i for i, text in enumerate(sorted({t for t in texts if t is not None}))}
    as_int = pa.array([None if t is None else numbers[t] for t in texts], pa.int64())
    data = data.set_column(data.column_names.index("product"), "product", as_int)
    tx = duckdb_con.create_table("cc_breadth_ints", data, temp=True, overwrite=True)
    got = _sorted(customer_behaviour(tx, as_of=AS_OF))
    want, _ = _portable(tx, monkeypatch)
    _assert_identical(got, want)


def test_stays_an_expression_callers_select_from(
    tx: ir.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    expr = customer_behaviour(tx, as_of=AS_OF)
    assert isinstance(expr, ir.Table)
    narrow = expr.select("customer_id", "n_products").to_pyarrow().sort_by("customer_id")
    want, _ = _portable(tx, monkeypatch)
    assert narrow.column("n_products").equals(want.column("n_products"))


def test_history_reuse_gives_each_dates_own_counts(
    tx: ir.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a history materialises the same shape at many dates through compiled SQL
    dates = (datetime.date(2023, 9, 30), datetime.date(2024, 6, 30), AS_OF)
    with reusing_sql():
        reused = [
            materialize(customer_behaviour(tx, as_of=d)).sort_by("customer_id") for d in dates
        ]
    monkeypatch.setattr(behaviour, "BREADTH_CODES_MAX", 0)
    for day, got in zip(dates, reused, strict=True):
        _assert_identical(got, _sorted(customer_behaviour(tx, as_of=day)))


def test_the_bound_is_inclusive(tx: ir.Table, monkeypatch: pytest.MonkeyPatch) -> None:
    n = tx.product.nunique().to_pyarrow().as_py()
    want, _ = _portable(tx, monkeypatch)
    for bound, coded in ((n, True), (n - 1, False)):
        monkeypatch.setattr(behaviour, "BREADTH_CODES_MAX", bound)
        expr = customer_behaviour(tx, as_of=AS_OF)
        assert ("_PRODUCT_CODE" in ibis.to_sql(expr, dialect="duckdb").upper()) is coded
        _assert_identical(_sorted(expr), want)


def _gaps_over_distinct_days(rows: ir.Table) -> ir.Table:
    """The gaps as they were counted before: a lag over the distinct purchase days."""
    days = rows.filter(rows.amount >= 0).select("customer_id", "day").distinct()
    order = ibis.window(group_by=days.customer_id, order_by=days.day)
    gaps = days.mutate(gap=days.day.delta(days.day.lag().over(order), unit="day"))
    gap = gaps.gap.cast("float64")
    return gaps.group_by(gap_customer_id=gaps.customer_id).aggregate(
        n_gaps=gap.count(), gap_std=gap.std(how="sample")
    )


def test_gaps_over_all_rows_are_those_of_the_distinct_days(duckdb_con: Any) -> None:
    # many rows a day (and returns on purchase days): the rows after a day's first
    # have a gap of 0, which the gaps between days must leave out, bit for bit
    rng = random.Random(11)
    data = _transactions(seed=11, n_customers=200)
    extra = []
    for row in data.to_pylist():
        for _ in range(rng.randrange(3)):
            later = row["timestamp"].replace(hour=rng.randrange(24))
            extra.append({**row, "timestamp": later, "amount": rng.choice([0.0, 3.0, -1.0])})
    both = pa.concat_tables([data, pa.Table.from_pylist(extra, schema=data.schema)])
    tx = duckdb_con.create_table("cc_breadth_days", both, temp=True, overwrite=True)
    for as_of in (datetime.date(2023, 6, 30), AS_OF):
        rows = behaviour.purchase_rows(tx, as_of=as_of)
        got = behaviour._gap_spread(rows, as_of=as_of).to_pyarrow().sort_by("gap_customer_id")
        want = _gaps_over_distinct_days(rows).to_pyarrow().sort_by("gap_customer_id")
        _assert_identical(got, want)
        assert pa.compute.max(got.column("n_gaps")).as_py() >= 5
        # the purchase days of the last windows (the frames' ``periods_recent``), from
        # the rows that open a day, are the distinct purchase days there
        windows = (30, 90, 400)
        spread = behaviour._gap_spread(rows, as_of=as_of, periods=windows).to_pyarrow()
        spread = spread.sort_by("gap_customer_id")
        _assert_identical(spread.select(got.column_names), got)
        bought = rows.filter(rows.amount >= 0)
        counts = {
            f"periods_recent_{w}": bought.day.nunique(
                where=bought.day > datetime.date.fromordinal(as_of.toordinal() - w)
            )
            for w in windows
        }
        distinct = bought.group_by(gap_customer_id=bought.customer_id).aggregate(**counts)
        expected = distinct.to_pyarrow().sort_by("gap_customer_id")
        for name in counts:
            assert spread.column(name).to_pylist() == expected.column(name).to_pylist(), name
        assert pa.compute.min(spread.column("periods_recent_30")).as_py() == 0
        assert pa.compute.max(spread.column("periods_recent_400")).as_py() >= 5
