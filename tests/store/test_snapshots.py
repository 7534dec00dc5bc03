"""The workspace on DuckDB (a file in tmp_path) and PostgreSQL (a schema per test).

Every test that takes ``workspace`` runs on both backends; the PostgreSQL run is marked
``postgres`` and uses its own schema, dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
import doctest
import importlib
import itertools
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pytest

from corecustomers.errors import ConfigError, InputError
from corecustomers.segments.migration import compare_snapshots
from corecustomers.store import (
    OVERRIDES_SCHEMA,
    SNAPSHOT_COLUMNS,
    SNAPSHOT_SCHEMA,
    SnapshotNotFoundError,
    Workspace,
    WorkspaceError,
)

JAN = dt.date(2024, 1, 31)
FEB = dt.date(2024, 2, 29)
MAR = dt.date(2024, 3, 31)
START = dt.datetime(2025, 3, 1, 9, 0, 0)


def ticking_clock() -> Callable[[], dt.datetime]:
    """A clock that advances one second per call, from a fixed start."""
    seconds = itertools.count()
    return lambda: START + dt.timedelta(seconds=next(seconds))


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    if request.param == "duckdb":
        with Workspace.open(tmp_path, clock=ticking_clock()) as ws:
            yield ws
        return
    con = request.getfixturevalue("postgres_con")
    schema = f"cc_store_{uuid.uuid4().hex[:12]}"
    try:
        yield Workspace(con, database=schema, clock=ticking_clock())
    finally:
        con.drop_database(schema, cascade=True)


def full_snapshot() -> pa.Table:
    """Every contract column with non-trivial values (and some nulls)."""
    return pa.table(
        {
            "customer_id": ["c2", "c1", "c3"],
            "tier": ["key", "strategic", "ordinary"],
            "previous_tier": ["ordinary", "strategic", None],
            "tier_since": pa.array([dt.date(2023, 12, 1), dt.date(2022, 5, 4), None]),
            "tier_reasons": ['{"rule": "clv_rank"}', '{"rule": "abc", "class": "A"}', None],
            "core_score": [0.7, 0.95, 0.1],
            "clv": [420.5, 1800.0, None],
            "p_alive": [0.8, 0.99, 0.2],
            "total_spend": [310.0, 2500.25, 12.0],
            "frequency": pa.array([4, 12, 0], pa.int32()),
            "days_since_last_purchase": [20, 3, 400],
            "r_score": [4, 5, 1],
            "f_score": [3, 5, 1],
            "m_score": [4, 5, 1],
            "rfm_segment": ["loyal", "champions", "lost"],
            "abc_class": ["B", "A", "C"],
            "alert": [False, True, None],
            "alert_reason": [None, "overdue: 3x usual gap", None],
        }
    )


def simple(ids: list[str], tiers: list[str], clv: list[float] | None = None) -> pa.Table:
    columns: dict[str, Any] = {"customer_id": ids, "tier": tiers}
    if clv is not None:
        columns["clv"] = clv
    return pa.table(columns)


def write(ws: Workspace, as_of: dt.date, table: pa.Table, run_id: str = "run-1") -> None:
    ws.write_snapshot(as_of, table, run_id=run_id, policy_version="retail-1", source="demo.csv")


# --- opening ------------------------------------------------------------------------------


def test_default_workspace_is_a_duckdb_file_created_on_first_use(tmp_path: Path) -> None:
    with Workspace.open(tmp_path) as ws:
        assert ws.location == tmp_path / ".corecustomers" / "workspace.duckdb"
        write(ws, JAN, simple(["a"], ["key"]))
    assert (tmp_path / ".corecustomers" / "workspace.duckdb").is_file()
    with Workspace.open(tmp_path) as again:  # the file was unlocked by close()
        assert again.snapshot_dates() == [JAN]
        assert sorted(again.connection.list_tables()) == ["overrides", "runs", "snapshots"]


def test_open_by_duckdb_file_path_and_url(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    with Workspace.open(path) as ws:
        write(ws, JAN, simple(["a"], ["key"]))
    with Workspace.open(f"duckdb:///{path}") as ws:
        assert ws.snapshot_dates() == [JAN]
        with pytest.raises(WorkspaceError, match="not a local file"):
            _ = ws.location


def test_constructor_leaves_the_callers_connection_open(tmp_path: Path) -> None:
    con = ibis.duckdb.connect(str(tmp_path / "w.duckdb"))
    with Workspace(con) as ws:
        write(ws, JAN, simple(["a"], ["key"]))
    assert con.table("snapshots").count().to_pyarrow().as_py() == 1
    con.disconnect()


def test_a_table_with_other_columns_is_refused(tmp_path: Path) -> None:
    con = ibis.duckdb.connect(str(tmp_path / "w.duckdb"))
    con.create_table("snapshots", schema=ibis.schema({"as_of": "date", "who": "string"}))
    with pytest.raises(WorkspaceError, match="lacks the column"):
        Workspace(con)
    con.disconnect()


def test_backends_other_than_duckdb_and_postgres_are_refused() -> None:
    class Other:
        name = "sqlite"

    with pytest.raises(ConfigError, match="DuckDB or PostgreSQL"):
        Workspace(Other())


# --- snapshots ----------------------------------------------------------------------------


def test_contract_columns_round_trip(workspace: Workspace) -> None:
    write(workspace, JAN, full_snapshot())
    got = workspace.read_snapshot(JAN)
    assert got.schema == SNAPSHOT_SCHEMA.remove(SNAPSHOT_SCHEMA.get_field_index("extra"))
    assert got.column_names == list(SNAPSHOT_COLUMNS)
    expected = full_snapshot().sort_by("customer_id").to_pylist()
    for row, want in zip(got.to_pylist(), expected, strict=True):
        assert row["as_of"] == JAN
        assert row["run_id"] == "run-1"
        assert row["policy_version"] == "retail-1"
        assert {k: row[k] for k in want} == want


def test_absent_optional_columns_are_null(workspace: Workspace) -> None:
    write(workspace, JAN, simple(["a", "b"], ["key", "ordinary"]))
    got = workspace.read_snapshot(JAN)
    assert got.column("clv").null_count == 2
    assert got.column("alert").null_count == 2
    assert got.column("tier").to_pylist() == ["key", "ordinary"]


def test_extra_columns_come_back_typed(workspace: Workspace) -> None:
    table = simple(["a", "b"], ["key", "ordinary"]).append_column(
        "balance", pa.array([1200.5, None])
    )
    extras = {
        "accounts": pa.array([3, 1], pa.int16()),
        "region": pa.array(["华东", "north"]).dictionary_encode(),
        "vip": pa.array([True, False]),
        "opened": pa.array([dt.date(2019, 4, 1), dt.date(2021, 1, 15)]),
        "last_call": pa.array(
            [dt.datetime(2024, 1, 30, 16, 45, 12, 250000), None], pa.timestamp("us")
        ),
        "contract": pa.array([Decimal("99000.10"), Decimal("0.00")], pa.decimal128(12, 2)),
        "nps": pa.array([float("nan"), 7.0]),
    }
    for name, values in extras.items():
        table = table.append_column(name, values)
    write(workspace, JAN, table)

    got = workspace.read_snapshot(JAN)
    assert got.column_names == [*SNAPSHOT_COLUMNS, "balance", *extras]
    assert got.column("balance").to_pylist() == [1200.5, None]
    assert got.column("accounts").type == pa.int16()
    assert got.column("region").to_pylist() == ["华东", "north"]
    assert got.column("region").type == pa.string()
    assert got.column("vip").to_pylist() == [True, False]
    assert got.column("opened").to_pylist() == extras["opened"].to_pylist()
    assert got.column("last_call").to_pylist() == extras["last_call"].to_pylist()
    assert got.column("contract").to_pylist() == extras["contract"].to_pylist()
    assert got.column("nps").to_pylist() == [None, 7.0]  # JSON has no NaN: missing

    raw = workspace.read_snapshot(JAN, extra="json")
    assert raw.column_names == [*SNAPSHOT_COLUMNS, "extra"]
    assert raw.column("extra")[1].as_py() == (  # nulls are left out
        '{"accounts": 1, "region": "north", "vip": false, "opened": "2021-01-15", '
        '"contract": "0.00", "nps": 7.0}'
    )


def test_extra_json_is_json_dumps_of_each_row(workspace: Workspace) -> None:
    """The extra column, written column-wise, is ``json.dumps`` of each row's object
    (nulls and non-finite numbers left out; a row with none is ``{}``)."""
    import json

    import numpy as np

    rng = np.random.default_rng(4)
    n = 500
    ids = [f"c{i:03d}" for i in range(n)]
    size = rng.lognormal(0, 9, n) * rng.choice([-1.0, 1.0], n)
    extras = {
        "amount": pa.array(np.where(rng.random(n) < 0.1, np.nan, size), mask=rng.random(n) < 0.1),
        "count": pa.array(rng.integers(-(10**12), 10**12, n), mask=rng.random(n) < 0.1),
        "flag": pa.array(rng.random(n) < 0.5, mask=rng.random(n) < 0.1),
        "note": pa.array(rng.choice(['say "hi"', "新", "a\\b"], n).tolist()),
    }
    table = simple(ids, ["key"] * n)
    for name, values in extras.items():
        table = table.append_column(name, values)
    table = table.filter(pa.compute.not_equal(table["customer_id"], "c000"))
    table = pa.concat_tables(
        [
            table,
            pa.table(
                {
                    **{c: table.column(c).slice(0, 1) for c in table.column_names},
                    "customer_id": ["c000"],
                    **{name: pa.nulls(1, table.schema.field(name).type) for name in extras},
                }
            ).select(table.column_names),
        ]
    )
    write(workspace, JAN, table)
    raw = workspace.read_snapshot(JAN, extra="json")
    stored = dict(zip(raw["customer_id"].to_pylist(), raw["extra"].to_pylist(), strict=True))
    rows = table.to_pylist()
    for row in rows:
        obj = {
            k: row[k]
            for k in extras
            if row[k] is not None and not (isinstance(row[k], float) and not np.isfinite(row[k]))
        }
        assert stored[row["customer_id"]] == json.dumps(obj, ensure_ascii=False)
    assert stored["c000"] == "{}"


def test_tier_reasons_given_as_structs_are_stored_as_json(workspace: Workspace) -> None:
    reasons = pa.array([{"rule": "clv_top", "value": 8240.0}, {"rule": "default", "value": None}])
    write(
        workspace,
        JAN,
        simple(["a", "b"], ["strategic", "ordinary"]).append_column("tier_reasons", reasons),
    )
    got = workspace.read_snapshot(JAN).column("tier_reasons").to_pylist()
    assert got == ['{"rule": "clv_top", "value": 8240.0}', '{"rule": "default", "value": null}']


def test_rewriting_a_date_replaces_only_that_date(workspace: Workspace) -> None:
    write(workspace, JAN, simple(["a", "b", "c"], ["key", "key", "ordinary"]))
    write(workspace, FEB, simple(["a", "b"], ["strategic", "key"]))
    write(workspace, JAN, simple(["a", "d"], ["ordinary", "key"]), run_id="run-2")

    jan = workspace.read_snapshot(JAN)
    assert jan.column("customer_id").to_pylist() == ["a", "d"]
    assert set(jan.column("run_id").to_pylist()) == {"run-2"}
    assert workspace.read_snapshot(FEB).column("tier").to_pylist() == ["strategic", "key"]


def test_dates_and_latest_before(workspace: Workspace) -> None:
    assert workspace.snapshot_dates() == []
    assert workspace.latest_before(MAR) is None
    for day in (MAR, JAN, FEB):
        write(workspace, day, simple(["a"], ["key"]))
    assert workspace.snapshot_dates() == [JAN, FEB, MAR]
    assert workspace.latest_before(MAR) == FEB
    assert workspace.latest_before(FEB + dt.timedelta(days=1)) == FEB
    assert workspace.latest_before(JAN) is None  # strictly before
    assert workspace.latest_before(dt.date(2030, 1, 1)) == MAR


def test_reading_a_missing_date_names_the_nearest(workspace: Workspace) -> None:
    with pytest.raises(SnapshotNotFoundError, match="has none yet"):
        workspace.read_snapshot(JAN)
    write(workspace, JAN, simple(["a"], ["key"]))
    write(workspace, MAR, simple(["a"], ["key"]))
    with pytest.raises(
        SnapshotNotFoundError, match=r"nearest stored dates are 2024-01-31, 2024-03-31"
    ):
        workspace.read_snapshot(FEB)
    with pytest.raises(LookupError):
        workspace.read_snapshot(FEB)


def test_delete_snapshot(workspace: Workspace) -> None:
    write(workspace, JAN, simple(["a"], ["key"]))
    assert workspace.delete_snapshot(JAN) is True
    assert workspace.delete_snapshot(JAN) is False
    assert workspace.snapshot_dates() == []


def test_runs_record_every_write(workspace: Workspace) -> None:
    table = simple(["a", "b", "c"], ["key", "key", "ordinary"]).append_column(
        "alert", pa.array([True, False, True])
    )
    write(workspace, JAN, simple(["x"], ["key"]), run_id="run-1")
    write(workspace, JAN, table, run_id="run-1")  # same run, same date: one row
    write(workspace, JAN, table, run_id="run-2")  # a new run keeps the old one's row
    write(workspace, FEB, table, run_id="run-2")

    runs = workspace.runs()
    assert [(r["run_id"], r["as_of"]) for r in runs] == [
        ("run-1", JAN),
        ("run-2", JAN),
        ("run-2", FEB),
    ]
    first = runs[0]
    assert first["source"] == "demo.csv"
    assert first["policy_version"] == "retail-1"
    assert first["settings"] == {}
    assert first["n_customers"] == 3
    assert first["counts"] == {"tiers": {"key": 2, "ordinary": 1}, "alerts": 2}
    assert first["created_at"] == START + dt.timedelta(seconds=1)
    assert [r["as_of"] for r in workspace.runs(FEB)] == [FEB]


def test_runs_keep_the_settings(workspace: Workspace) -> None:
    workspace.write_snapshot(
        JAN,
        simple(["a"], ["key"]),
        run_id="r",
        policy_version="p",
        settings={"currency": "CNY", "from": dt.date(2023, 1, 1), "path": Path("x.csv")},
    )
    (run,) = workspace.runs()
    assert run["settings"] == {"currency": "CNY", "from": "2023-01-01", "path": "x.csv"}
    assert run["source"] is None
    assert run["counts"] == {"tiers": {"key": 1}, "alerts": None}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (simple([], []), "no customers"),
        (pa.table({"customer_id": ["a"]}), "needs the column"),
        (simple(["a", None], ["key", "key"]), "no value"),  # type: ignore[list-item]
        (simple(["a", "b"], ["key", None]), "no value"),  # type: ignore[list-item]
        (simple(["a", "b", "a"], ["key", "key", "key"]), "more than once.*'a'"),
        (simple(["a"], ["key"]).append_column("frequency", pa.array([3.5])), "frequency"),
        (simple(["a"], ["key"]).append_column("as_of", pa.array([FEB])), "as_of"),
        (simple(["a"], ["key"]).append_column("run_id", pa.array(["other"])), "run_id"),
        (simple(["a"], ["key"]).append_column("extra", pa.array(["{}"])), "reserved"),
        (simple(["a"], ["key"]).append_column("tags", pa.array([["x"]])), "convert the column"),
    ],
    ids=[
        "empty",
        "no-tier",
        "null-id",
        "null-tier",
        "duplicate",
        "fractional-frequency",
        "other-as_of",
        "other-run_id",
        "reserved-extra",
        "list-extra",
    ],
)
def test_bad_tables_are_refused_and_nothing_is_written(
    workspace: Workspace, table: pa.Table, message: str
) -> None:
    write(workspace, JAN, simple(["old"], ["key"]))
    with pytest.raises(InputError, match=message):
        write(workspace, JAN, table)
    assert workspace.read_snapshot(JAN).column("customer_id").to_pylist() == ["old"]


def test_columns_that_repeat_the_arguments_are_accepted(workspace: Workspace) -> None:
    table = simple(["a"], ["key"]).append_column("as_of", pa.array([JAN]))
    write(workspace, JAN, table)
    assert workspace.read_snapshot(JAN).num_rows == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"run_id": ""}, ConfigError),
        ({"policy_version": " "}, ConfigError),
        ({"settings": {"x": object()}}, ConfigError),
        ({"as_of": dt.datetime(2024, 1, 31, 12)}, InputError),
        ({"as_of": "31/01/2024"}, InputError),
    ],
    ids=["run_id", "policy_version", "settings", "datetime", "bad-date-text"],
)
def test_bad_arguments_are_refused(
    workspace: Workspace, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    arguments: dict[str, Any] = {"as_of": JAN, "run_id": "r", "policy_version": "p"}
    arguments.update(kwargs)
    as_of = arguments.pop("as_of")
    with pytest.raises(error):
        workspace.write_snapshot(as_of, simple(["a"], ["key"]), **arguments)
    assert workspace.snapshot_dates() == []


def test_dates_may_be_given_as_iso_text(workspace: Workspace) -> None:
    workspace.write_snapshot("2024-01-31", simple(["a"], ["key"]), run_id="r", policy_version="p")
    assert workspace.read_snapshot("2024-01-31").num_rows == 1


# --- atomic replacement -------------------------------------------------------------------


def add_check(workspace: Workspace, table: str, condition: str) -> None:
    """Make the database itself refuse some rows of ``table`` (a failure half-way)."""
    con = workspace.connection
    if con.name == "postgres":
        schema = workspace.database
        with con.con.cursor() as cursor:
            cursor.execute(
                f'ALTER TABLE "{schema}"."{table}" ADD CONSTRAINT sabotage CHECK ({condition})'
            )
        return
    raw = con.con
    (ddl,) = raw.execute("SELECT sql FROM duckdb_tables() WHERE table_name = ?", [table]).fetchone()
    assert ddl.rstrip().endswith(");")
    raw.execute(f"ALTER TABLE {table} RENAME TO {table}_old")
    raw.execute(ddl.rstrip()[:-2] + f", CHECK ({condition}));")
    raw.execute(f"INSERT INTO {table} SELECT * FROM {table}_old")
    raw.execute(f"DROP TABLE {table}_old")


@pytest.mark.parametrize("where", ["snapshot rows", "runs row"])
def test_a_failure_half_way_leaves_the_old_snapshot_intact(
    workspace: Workspace, where: str
) -> None:
    old = simple(["a", "b", "c"], ["strategic", "key", "ordinary"], [900.0, 300.0, 10.0])
    write(workspace, JAN, old, run_id="run-1")
    write(workspace, FEB, simple(["a"], ["key"]), run_id="run-1")
    before = workspace.read_snapshot(JAN)
    runs_before = workspace.runs()

    if where == "snapshot rows":
        # the old rows are deleted, the new ones start going in, then the database refuses
        add_check(workspace, "snapshots", "customer_id <> 'boom'")
        new, run_id = simple(["a", "z", "boom"], ["ordinary", "key", "key"]), "run-2"
    else:
        # the snapshot is replaced completely; the last statement (the runs row) fails
        add_check(workspace, "runs", "run_id <> 'boom'")
        new, run_id = simple(["a", "z"], ["ordinary", "key"]), "boom"

    with pytest.raises(WorkspaceError, match=r"rolled back.*previous snapshot"):
        write(workspace, JAN, new, run_id=run_id)

    assert workspace.read_snapshot(JAN).equals(before)
    assert workspace.snapshot_dates() == [JAN, FEB]
    assert workspace.runs() == runs_before
    # and the workspace is still usable for writing
    write(workspace, MAR, simple(["a"], ["key"]), run_id="run-3")
    assert workspace.snapshot_dates() == [JAN, FEB, MAR]


def test_snapshots_read_back_compare_exactly(workspace: Workspace) -> None:
    tiers, core = ["strategic", "key", "ordinary"], ["strategic", "key"]
    n = 300
    ids = [f"c{i:03d}" for i in range(n)]
    jan = pa.table(
        {
            "customer_id": ids[:250],
            "tier": [tiers[i % 3] for i in range(250)],
            "clv": [float(i) for i in range(250)],
            "tier_since": pa.array([dt.date(2023, 1, 1)] * 250),
        }
    )
    feb = pa.table(
        {
            "customer_id": ids[50:],
            "tier": [tiers[(i * 7) % 3] for i in range(50, n)],
            "clv": [float(i) * 1.5 for i in range(50, n)],
            "tier_since": pa.array([dt.date(2024, 2, 1)] * (n - 50)),
        }
    )
    write(workspace, JAN, jan)
    write(workspace, FEB, feb)
    m = compare_snapshots(
        workspace.read_snapshot(JAN), workspace.read_snapshot(FEB), tiers=tiers, core_tiers=core
    )
    assert (m["before_date"], m["after_date"]) == ("2024-01-31", "2024-02-29")
    assert m["customers"] == {"before": 250, "after": 250, "both": 200, "gone": 50, "new": 50}
    assert sum(map(sum, m["matrix"]["customers"])) == 200
    assert m["time_in_tier"]["key"]["mean_days"] == 28.0
    assert m == compare_snapshots(
        jan, feb, tiers=tiers, core_tiers=core, before_date=JAN, after_date=FEB
    )


# --- overrides ----------------------------------------------------------------------------


def test_overrides_by_date_until_is_inclusive(workspace: Workspace) -> None:
    workspace.add_override("c2", "key", by="wang", reason="pilot account")
    workspace.add_override(
        "c1", "strategic", by="li.wei", reason="3-year contract", until=dt.date(2024, 6, 30)
    )
    everything = workspace.overrides()
    assert [o["customer_id"] for o in everything] == ["c1", "c2"]
    assert everything[0] == {
        "customer_id": "c1",
        "tier": "strategic",
        "by": "li.wei",
        "reason": "3-year contract",
        "until": dt.date(2024, 6, 30),
        "created_at": START + dt.timedelta(seconds=1),
        "source_name": None,  # set without a source: holds in every source
    }
    assert set(everything[0]) == set(OVERRIDES_SCHEMA.names)
    assert [o["customer_id"] for o in workspace.overrides(dt.date(2024, 6, 30))] == ["c1", "c2"]
    assert [o["customer_id"] for o in workspace.overrides(dt.date(2024, 7, 1))] == ["c2"]


def test_a_new_override_replaces_the_old_and_remove_says_whether_one_existed(
    workspace: Workspace,
) -> None:
    workspace.add_override("c1", "strategic", by="li", reason="contract")
    workspace.add_override("c1", "ordinary", by="zhao", reason="contract ended")
    (only,) = workspace.overrides()
    assert (only["tier"], only["by"]) == ("ordinary", "zhao")
    assert workspace.remove_override("c1") is True
    assert workspace.remove_override("c1") is False
    assert workspace.overrides() == []


def test_overrides_survive_rewriting_snapshots(workspace: Workspace) -> None:
    workspace.add_override("b", "strategic", by="li", reason="board member's company")
    write(workspace, JAN, simple(["a", "b"], ["key", "ordinary"]))
    write(workspace, JAN, simple(["a", "b"], ["key", "key"]), run_id="run-2")
    workspace.delete_snapshot(JAN)
    assert [o["customer_id"] for o in workspace.overrides(JAN)] == ["b"]


def test_overrides_survive_reopening(tmp_path: Path) -> None:
    with Workspace.open(tmp_path) as ws:
        ws.add_override("b", "strategic", by="li", reason="x", until=MAR)
        write(ws, JAN, simple(["b"], ["ordinary"]))
    with Workspace.open(tmp_path) as ws:
        write(ws, JAN, simple(["b"], ["ordinary"]), run_id="rerun")
        assert [o["customer_id"] for o in ws.overrides(FEB)] == ["b"]


@pytest.mark.parametrize("missing", ["customer_id", "tier", "by", "reason"])
def test_an_override_needs_who_and_why(workspace: Workspace, missing: str) -> None:
    values = {"customer_id": "c1", "tier": "key", "by": "li", "reason": "x"}
    values[missing] = " "
    with pytest.raises(InputError, match=missing):
        workspace.add_override(
            values["customer_id"], values["tier"], by=values["by"], reason=values["reason"]
        )
    assert workspace.overrides() == []


# --- docs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["corecustomers.store.snapshots", "corecustomers.store._schema"])
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
