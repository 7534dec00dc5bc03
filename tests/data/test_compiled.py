"""Compiling each shape of query once (``corecustomers.data.compiled``): the SQL made from
a template is the SQL Ibis compiles directly, for every date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import ibis
import pyarrow as pa
import pytest

from corecustomers.data import compiled
from corecustomers.data.features import customer_features, materialize
from corecustomers.insights.behaviour import customer_behaviour

CUTS = [dt.date(2024, 1, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 1), dt.date(2024, 12, 31)]


@pytest.fixture
def tx() -> Iterator[ibis.Table]:
    con = ibis.duckdb.connect()
    days = [dt.datetime(2024, 1, 1, 9) + dt.timedelta(days=3 * i, hours=i % 7) for i in range(120)]
    table = con.create_table(
        "tx",
        pa.table(
            {
                "customer_id": [f"c{i % 9}" for i in range(120)],
                "timestamp": days,
                "amount": [float(5 + i % 11) if i % 13 else -3.0 for i in range(120)],
                "order_id": [f"o{i}" for i in range(120)],
            }
        ),
    )
    yield table
    con.disconnect()


def test_template_sql_is_the_direct_sql_at_every_date(tx: ibis.Table) -> None:
    shapes = (
        lambda cut: customer_features(tx, as_of=cut, time_unit="day"),
        lambda cut: customer_behaviour(tx, as_of=cut),
        lambda cut: customer_features(
            tx, as_of=cut, calibration_end=cut - dt.timedelta(days=20), time_unit="week"
        ),
    )
    backend = tx._find_backend()
    for shape in shapes:
        for cut in CUTS:
            expr = shape(cut)
            assert compiled.compiled_sql(expr) == backend.compile(expr), cut
    templates = compiled._templates(backend)
    assert templates.misses == len(shapes)
    assert templates.hits == len(shapes) * (len(CUTS) - 1)


def test_materialize_gives_the_same_rows_when_reusing(tx: ibis.Table) -> None:
    for cut in CUTS:
        expr = customer_features(tx, as_of=cut, time_unit="day").order_by("customer_id")
        direct = materialize(expr)
        with compiled.reusing_sql():
            assert compiled.reusing()
            reused = materialize(expr)
        assert not compiled.reusing()
        assert reused.schema == direct.schema
        assert reused.to_pylist() == direct.to_pylist()


def test_not_served_in_memory_tables_and_no_dates() -> None:
    memtable = ibis.memtable({"x": [1, 2], "d": [dt.date(2024, 1, 1)] * 2})
    assert compiled.compiled_sql(memtable.filter(memtable.d <= dt.date(2024, 1, 5))) is None
    con = ibis.duckdb.connect()
    table = con.create_table("t", pa.table({"x": [1, 2]}))
    assert compiled.compiled_sql(table.filter(table.x > 1)) is None
    with compiled.reusing_sql():
        assert materialize(table.filter(table.x > 1)).to_pylist() == [{"x": 2}]
    con.disconnect()
