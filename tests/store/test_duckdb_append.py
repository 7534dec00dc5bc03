"""The workspace's DuckDB appends (``_DuckDBStore.append``): rows inserted without their
order (``preserve_insertion_order`` off for the insert only), the connection's setting
restored whatever happens, and a refused insert raising its own error."""

from __future__ import annotations

import duckdb
import ibis
import pyarrow as pa
import pytest

from corecustomers.store._backend import table_store


def _order(con: ibis.BaseBackend) -> bool:
    return bool(con.con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0])


@pytest.fixture
def con() -> ibis.BaseBackend:
    con = ibis.duckdb.connect()
    con.raw_sql("CREATE TABLE t (a VARCHAR NOT NULL, b BIGINT)")
    return con


def test_rows_are_all_appended_and_the_setting_comes_back(con: ibis.BaseBackend) -> None:
    store = table_store(con, None)
    rows = pa.table({"a": [f"C{i:06d}" for i in range(300_000)], "b": list(range(300_000))})
    with store.transaction():
        store.append("t", rows)
    assert _order(con)
    got = con.table("t").to_pyarrow().sort_by("a")
    assert got.to_pydict() == rows.to_pydict()


@pytest.mark.parametrize("in_transaction", [True, False])
def test_a_refused_insert_raises_its_own_error_and_restores_the_setting(
    con: ibis.BaseBackend, in_transaction: bool
) -> None:
    store = table_store(con, None)
    bad = pa.table({"a": ["x", None], "b": [1, 2]})
    with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):
        if in_transaction:
            with store.transaction():
                store.append("t", bad)
        else:
            store.append("t", bad)
    assert _order(con)
    assert con.table("t").count().to_pyarrow().as_py() == 0
    store.append("t", pa.table({"a": ["y"], "b": [3]}))  # and the next append works
    assert con.table("t").count().to_pyarrow().as_py() == 1
