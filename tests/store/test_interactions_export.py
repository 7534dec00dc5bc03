"""The interactions export's contract, read back through Ibis by the engine (no Django)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corecustomers.errors import InputError
from corecustomers.store.interactions import (
    CONTRACT,
    INTERACTIONS_SCHEMA,
    contact_recency,
    contacted_since,
    interactions_path,
    read_interactions,
    write_interactions,
)

D = dt.datetime


def _rows() -> pa.Table:
    rows = [
        # c1: visited after its alert, and called (not reachable) before it
        {"interaction_id": 1, "customer_id": "c1", "kind": "call", "at": D(2026, 1, 5, 9),
         "outcome": "not_reachable", "alert_id": 10, "alert_reason_code": "overdue",
         "alert_raised_at": D(2026, 1, 4, 8), "alert_as_of": dt.date(2026, 1, 3)},
        {"interaction_id": 2, "customer_id": "c1", "kind": "visit", "at": D(2026, 2, 20, 15),
         "outcome": "retained", "channel": "in_person", "user": "am1"},
        # c2: contacted only before the moment asked about, and once after as_of
        {"interaction_id": 3, "customer_id": "c2", "kind": "message", "at": D(2025, 10, 1, 12),
         "outcome": "reached"},
        {"interaction_id": 4, "customer_id": "c2", "kind": "email", "at": D(2026, 3, 30, 12),
         "outcome": "reached"},
        # 客户 3: a complaint without an outcome is a contact too
        {"interaction_id": 5, "customer_id": "客户3", "kind": "complaint", "at": D(2026, 3, 1),
         "next_step_due": dt.date(2026, 3, 4)},
    ]  # fmt: skip
    return pa.Table.from_pylist(rows, schema=INTERACTIONS_SCHEMA)


def test_written_with_the_contract_no_temporary_file_left_and_read_back_through_ibis(
    tmp_path: Path,
) -> None:
    path = write_interactions(_rows(), tmp_path, exported_at=D(2026, 4, 1, tzinfo=dt.UTC))
    assert path == interactions_path(tmp_path)
    assert [p.name for p in path.parent.iterdir()] == ["interactions.parquet"]  # no temp left
    metadata = pq.read_schema(path).metadata
    assert metadata[b"corecustomers.contract"] == CONTRACT.encode()
    table = read_interactions(tmp_path)
    expected = ibis.Schema.from_pyarrow(INTERACTIONS_SCHEMA)
    # DuckDB reads every column as nullable; names, order and types are the contract's
    assert [(n, t.copy(nullable=True)) for n, t in table.schema().items()] == [
        (n, t.copy(nullable=True)) for n, t in expected.items()
    ]
    back = table.order_by("interaction_id").to_pyarrow()
    assert back.column("customer_id").to_pylist() == ["c1", "c1", "c2", "c2", "客户3"]
    assert back.column("at").to_pylist()[1] == D(2026, 2, 20, 15)


def test_other_columns_are_refused_and_the_old_export_stays(tmp_path: Path) -> None:
    write_interactions(_rows(), tmp_path)
    wrong = _rows().drop_columns(["alert_as_of"])
    with pytest.raises(InputError, match="contract"):
        write_interactions(wrong, tmp_path)
    assert read_interactions(tmp_path).count().to_pyarrow().as_py() == 5
    assert len(list(interactions_path(tmp_path).parent.iterdir())) == 1


def test_no_export_yet_is_an_empty_table_with_the_columns(tmp_path: Path) -> None:
    table = read_interactions(tmp_path)
    assert table.columns == tuple(INTERACTIONS_SCHEMA.names)
    assert contact_recency(table, as_of=dt.date(2026, 1, 1)).to_pyarrow().num_rows == 0


def test_another_contract_version_is_refused(tmp_path: Path) -> None:
    path = interactions_path(tmp_path)
    path.parent.mkdir(parents=True)
    pq.write_table(_rows().replace_schema_metadata({"corecustomers.contract": "x/2"}), path)
    with pytest.raises(InputError, match="x/2"):
        read_interactions(tmp_path)


def test_contact_recency_as_a_behaviour_feature(tmp_path: Path) -> None:
    write_interactions(_rows(), tmp_path)
    got = {
        row["customer_id"]: row
        for row in contact_recency(read_interactions(tmp_path), as_of=dt.date(2026, 3, 10))
        .to_pyarrow()
        .to_pylist()
    }
    # c1: the visit of 20 February (the unanswered call is no contact); c2: October only
    assert got["c1"]["last_contact"] == D(2026, 2, 20, 15)
    assert got["c1"]["days_since_last_contact"] == 18 and got["c1"]["contacts_90d"] == 1
    assert (
        got["c2"]["days_since_last_contact"] == (dt.date(2026, 3, 10) - dt.date(2025, 10, 1)).days
    )
    assert got["c2"]["contacts_90d"] == 0  # the e-mail of 30 March is after as_of
    assert got["客户3"]["days_since_last_contact"] == 9


def test_contacted_since_the_alert_joined_with_the_engines_customers(tmp_path: Path) -> None:
    """The engine's own table (here a scored-customers table with ``alert``) joins the export."""
    write_interactions(_rows(), tmp_path)
    con = ibis.duckdb.connect()
    interactions = read_interactions(tmp_path, con=con)
    scored = con.create_table(
        "customers",
        pa.table(
            {
                "customer_id": ["c1", "c2", "客户3", "c4"],
                "alert": [True, True, False, True],
                "alerted_on": [dt.date(2026, 1, 4), dt.date(2026, 1, 4), None, dt.date(2026, 2, 1)],
            }
        ),
    )
    alerted = scored.filter(scored.alert).select("customer_id", since=scored.alerted_on)
    answer = contacted_since(interactions, alerted).to_pyarrow().to_pylist()
    by_id = {row["customer_id"]: row for row in answer}
    assert set(by_id) == {"c1", "c2", "c4"}
    assert by_id["c1"]["contacted"] and by_id["c1"]["first_contact_after"] == D(2026, 2, 20, 15)
    assert by_id["c2"]["contacted"]  # the e-mail of 30 March
    assert not by_id["c4"]["contacted"] and by_id["c4"]["first_contact_after"] is None
    # and from the export's own alert columns: the moment each alert was raised
    raised = interactions.filter(interactions.alert_id.notnull()).select(
        "customer_id", since=interactions.alert_raised_at
    )
    (row,) = contacted_since(interactions, raised).to_pyarrow().to_pylist()
    # the unanswered call of 5 January is no contact: the visit of 20 February is the first
    assert (row["customer_id"], row["first_contact_after"]) == ("c1", D(2026, 2, 20, 15))


def test_a_temporary_file_left_by_a_killed_writer_is_removed_by_the_next(tmp_path: Path) -> None:
    path = write_interactions(_rows(), tmp_path)
    left = path.parent / ".interactions-killed.tmp"  # what a SIGKILLed writer leaves behind
    left.write_bytes(b"half a parquet file")
    write_interactions(_rows(), tmp_path)
    assert [p.name for p in path.parent.iterdir()] == [path.name]
