"""Snapshots belong to a named source: separate histories, defaults, and the upgrade of a
workspace written before source names existed (DuckDB file and PostgreSQL schema)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import ibis
import pyarrow as pa
import pytest
from ibis.backends import BaseBackend

from corecustomers.store import Workspace, WorkspaceError, default_source_name

JAN = dt.date(2024, 1, 31)
FEB = dt.date(2024, 2, 29)


def _one(tier: str = "key") -> pa.Table:
    return pa.table({"customer_id": ["a"], "tier": [tier]})


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("sales-2024-06-01.csv", "sales"),
        ("exports/sales-2024-06-02.csv", "sales"),
        ("sales_20240603.CSV", "sales"),
        ("sales-2024-06.xlsx", "sales"),
        ("2024-06-01 orders.parquet", "orders"),
        ("订单2024年6月1日.xlsx", "订单"),
        ("sales-20240601T0300.csv.gz", "sales"),
        ("store42.csv", "store42"),
        ("nightly/2024-06-01.csv", "nightly"),
        ("2024-06-01.csv", "default"),
        ("shop.orders", "shop.orders"),
    ],
)
def test_default_source_name_drops_the_date_stamp(source: str, name: str) -> None:
    assert default_source_name(source) == name


def test_queries_are_named_by_their_text() -> None:
    a = default_source_name("SELECT * FROM orders")
    assert a == default_source_name("select *\n  from orders")
    assert a != default_source_name("select * from refunds")


def test_two_sources_keep_separate_histories(tmp_path: Path) -> None:
    with Workspace.open(tmp_path) as ws:
        ws.write_snapshot(JAN, _one("key"), run_id="r1", policy_version="p", source_name="a")
        ws.write_snapshot(JAN, _one("ordinary"), run_id="r2", policy_version="p", source_name="b")
        ws.write_snapshot(FEB, _one("key"), run_id="r3", policy_version="p", source_name="b")
        assert ws.source_names() == ["a", "b"]
        # the same date of another source is not replaced
        assert ws.read_snapshot(JAN, source_name="a").column("tier").to_pylist() == ["key"]
        assert ws.read_snapshot(JAN, source_name="b").column("tier").to_pylist() == ["ordinary"]
        assert ws.snapshot_dates("a") == [JAN]
        assert ws.latest_before(FEB, "a") == JAN
        assert ws.latest_before(FEB, "c") is None
        with pytest.raises(WorkspaceError, match=r"2 sources \(a, b\).*--source-name"):
            ws.snapshot_dates()
        assert [r["source_name"] for r in ws.runs()] == ["a", "b", "b"]


def test_overrides_of_one_source_and_of_every_source(tmp_path: Path) -> None:
    with Workspace.open(tmp_path) as ws:
        ws.add_override("a", "strategic", by="li", reason="everywhere")
        ws.add_override("a", "key", by="li", reason="only in b", source_name="b")
        ws.add_override("z", "key", by="li", reason="only in c", source_name="c")
        assert [(o["customer_id"], o["tier"]) for o in ws.overrides(source_name="a")] == [
            ("a", "strategic")
        ]
        assert [(o["customer_id"], o["tier"]) for o in ws.overrides(source_name="b")] == [
            ("a", "key")
        ]
        assert ws.remove_override("a", source_name="b") is True
        assert ws.remove_override("a", source_name="b") is False
        assert [o["tier"] for o in ws.overrides(source_name="b")] == ["strategic"]
        assert len(ws.overrides()) == 2


def _legacy_tables(con: BaseBackend, database: str | None) -> None:
    """The three tables as a workspace before source names wrote them, with two runs."""
    from corecustomers.store import OVERRIDES_SCHEMA, RUNS_SCHEMA, SNAPSHOT_SCHEMA

    def schema(s: pa.Schema) -> ibis.Schema:
        return ibis.Schema.from_pyarrow(pa.schema([f for f in s if f.name != "source_name"]))

    snaps = pa.table(
        {
            "as_of": [JAN, FEB],
            "customer_id": ["a", "a"],
            "tier": ["key", "ordinary"],
            "policy_version": ["p", "p"],
            "run_id": ["r1", "r2"],
        }
    )
    runs = pa.table(
        {
            "run_id": ["r1", "r2"],
            "as_of": [JAN, FEB],
            "source": ["data/sales-2024-01-31.csv", None],
            "created_at": [dt.datetime(2024, 2, 1), dt.datetime(2024, 3, 1)],
            "policy_version": ["p", "p"],
            "settings": ["{}", "{}"],
            "n_customers": [1, 1],
            "counts": ["{}", "{}"],
        }
    )
    over = pa.table(
        {
            "customer_id": ["a"],
            "tier": ["strategic"],
            "by": ["li"],
            "reason": ["contract"],
            "created_at": [dt.datetime(2024, 2, 2)],
        }
    )
    for name, s, rows in (
        ("snapshots", SNAPSHOT_SCHEMA, snaps),
        ("runs", RUNS_SCHEMA, runs),
        ("overrides", OVERRIDES_SCHEMA, over),
    ):
        con.create_table(name, schema=schema(s), database=database)
        full = pa.table(
            {
                f.name: rows.column(f.name)
                if f.name in rows.column_names
                else pa.nulls(rows.num_rows, f.type)
                for f in s
                if f.name != "source_name"
            }
        )
        con.insert(name, ibis.memtable(full.cast(schema(s).to_pyarrow())), database=database)


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def legacy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    if request.param == "duckdb":
        con = ibis.duckdb.connect(str(tmp_path / "w.duckdb"))
        _legacy_tables(con, None)
        try:
            yield Workspace(con)
        finally:
            con.disconnect()
        return
    con = request.getfixturevalue("postgres_con")
    schema = f"cc_legacy_{uuid.uuid4().hex[:12]}"
    con.create_database(schema)
    try:
        _legacy_tables(con, schema)
        yield Workspace(con, database=schema)
    finally:
        con.drop_database(schema, cascade=True)


def test_an_old_workspace_is_upgraded_and_keeps_working(legacy: Workspace) -> None:
    # the run that read sales-2024-01-31.csv names its snapshot "sales"; a run without a
    # recorded source gives the default name
    assert legacy.source_names() == ["default", "sales"]
    assert legacy.read_snapshot(JAN, source_name="sales").column("tier").to_pylist() == ["key"]
    assert legacy.snapshot_dates("default") == [FEB]
    # the next nightly export continues the history, and a second source may now use the
    # same date (the old unique key on (as_of, customer_id) is gone)
    legacy.write_snapshot(FEB, _one(), run_id="r3", policy_version="p", source_name="sales")
    assert legacy.latest_before(FEB, "sales") == JAN
    assert legacy.snapshot_dates("sales") == [JAN, FEB]
    # the old override holds in every source
    assert [o["tier"] for o in legacy.overrides(source_name="sales")] == ["strategic"]
