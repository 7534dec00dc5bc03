"""``prepare(keep_rows=True)``: the accepted rows are kept once, on DuckDB in a Parquet file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corecustomers.config import Settings
from corecustomers.data import validation
from corecustomers.service.analysis import prepare


def _source(path: Path) -> Path:
    path.write_text(
        "customer_id,date,amount,product\n"
        "a,2024-01-02,10.5,tea\n"
        "b,2024-01-03,7,cake\n"
        ",2024-01-04,3,tea\n"  # no customer: quarantined
        "a,2024-02-01,-2.5,tea\n"
        "c,2024-02-05,12,soup\n",
        encoding="utf-8",
    )
    return path


def _rows(tx: ir.Table) -> list[tuple[object, ...]]:
    table = tx.order_by("_source_row").to_pyarrow()
    return list(zip(*table.to_pydict().values(), strict=True))


def test_kept_rows_are_read_from_a_parquet_file_and_equal_the_lazy_ones(tmp_path: Path) -> None:
    source = _source(tmp_path / "tx.csv")
    settings = Settings(workspace=str(tmp_path))
    kept_dir, lazy_dir = tmp_path / "kept", tmp_path / "lazy"
    kept_dir.mkdir()
    lazy_dir.mkdir()
    today = dt.date(2024, 12, 31)
    kept = prepare(
        str(source),
        settings,
        staging_dir=kept_dir,
        quarantine_path=tmp_path / "q1.csv",
        today=today,
    )
    lazy = prepare(
        str(source),
        settings,
        staging_dir=lazy_dir,
        quarantine_path=tmp_path / "q2.csv",
        today=today,
        keep_rows=False,
    )
    files = list(kept_dir.glob("accepted-*.parquet"))
    assert len(files) == 1
    assert pq.read_metadata(files[0]).num_rows == 4  # the quarantined row is not kept
    assert not list(lazy_dir.glob("accepted-*.parquet"))
    # no two rows share an order id (there is none): the kept rows leave the column out
    # (data.features.orders_are_rows); the lazy ones, read once, keep it
    assert "order_id" in lazy.transactions.columns
    assert kept.transactions.columns == lazy.transactions.drop("order_id").columns
    assert _rows(kept.transactions) == _rows(lazy.transactions.drop("order_id"))
    assert kept.counts == lazy.counts


def test_kept_rows_keep_the_order_ids_two_rows_share(tmp_path: Path) -> None:
    source = tmp_path / "lines.csv"
    source.write_text(
        "customer_id,date,amount,order,product\n"
        "a,2024-01-02,10.5,o1,tea\n"
        "a,2024-01-02,3,o1,cake\n"  # a second line of the same order
        "b,2024-01-03,7,o2,tea\n",
        encoding="utf-8",
    )
    settings = Settings(
        workspace=str(tmp_path), columns={"order_id": "order", "product": "product"}
    )
    kept = prepare(
        str(source),
        settings,
        staging_dir=tmp_path,
        quarantine_path=tmp_path / "q.csv",
        today=dt.date(2024, 12, 31),
    )
    assert "order_id" in kept.transactions.columns
    assert kept.counts.rows_accepted == 3  # lines of one order are not duplicates


def test_kept_rows_leave_out_order_ids_that_validation_made_distinct(tmp_path: Path) -> None:
    source = tmp_path / "orders.csv"
    source.write_text(
        "customer_id,date,amount,order\n"
        "a,2024-01-02,10.5,o1\n"
        "a,2024-01-02,10.5,o1\n"  # the order exported again: quarantined
        "b,2024-01-03,7,o2\n"
        "b,2024-01-04,2,\n",
        encoding="utf-8",
    )
    settings = Settings(workspace=str(tmp_path), columns={"order_id": "order"}, max_bad_share=0.5)
    kept_dir, lazy_dir = tmp_path / "kept", tmp_path / "lazy"
    kept_dir.mkdir()
    lazy_dir.mkdir()
    kept, lazy = (
        prepare(
            str(source),
            settings,
            staging_dir=folder,
            quarantine_path=folder / "q.csv",
            today=dt.date(2024, 12, 31),
            keep_rows=keep,
        )
        for folder, keep in ((kept_dir, True), (lazy_dir, False))
    )
    assert kept.counts.reasons == {"duplicate_order_id": 1}
    assert (kept_dir / "q.csv").read_bytes() == (lazy_dir / "q.csv").read_bytes()
    assert "order_id" not in kept.transactions.columns
    assert _rows(kept.transactions) == _rows(lazy.transactions.drop("order_id"))


def test_the_rows_after_a_set_as_of_are_counted_up_to_its_last_instant(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    source.write_text(
        "customer_id,date,amount\n"
        "a,2024-01-31 23:59:59,1\n"  # on the as-of day: in
        "a,2024-02-01 00:00:00,2\n"  # the next midnight: after
        "b,2024-03-05 10:00:00,3\n"  # after
        "b,2024-01-02 08:00:00,4\n",
        encoding="utf-8",
    )
    settings = Settings(workspace=str(tmp_path), as_of=dt.date(2024, 1, 31))
    prepared = prepare(
        str(source),
        settings,
        staging_dir=tmp_path,
        quarantine_path=tmp_path / "q.csv",
        today=dt.date(2024, 12, 31),
    )
    assert prepared.rows_after_as_of == 2


def test_a_typed_parquet_source_with_nothing_to_parse_is_read_without_a_copy(
    tmp_path: Path,
) -> None:
    source = tmp_path / "tx.parquet"
    pq.write_table(
        pa.table(
            {
                "customer_id": ["a", "b", "a", "c"],
                "timestamp": pa.array(
                    [dt.datetime(2024, 1, d) for d in (2, 3, 9, 5)], type=pa.timestamp("us")
                ),
                "amount": [10.5, 7.0, -2.5, 12.0],
                "order_id": ["o1", "o2", "o3", "o4"],
            }
        ),
        source,
    )
    settings = Settings(workspace=str(tmp_path))
    read_dir, lazy_dir = tmp_path / "read", tmp_path / "lazy"
    read_dir.mkdir()
    lazy_dir.mkdir()
    read, lazy = (
        prepare(
            str(source),
            settings,
            staging_dir=folder,
            quarantine_path=folder / "q.csv",
            today=dt.date(2024, 12, 31),
            keep_rows=keep,
        )
        for folder, keep in ((read_dir, True), (lazy_dir, False))
    )
    assert not list(read_dir.glob("accepted-*.parquet"))  # no copy
    assert "order_id" not in read.transactions.columns  # the distinct ids are left out
    assert _rows(read.transactions) == _rows(lazy.transactions.drop("order_id"))
    assert read.counts == lazy.counts


def _typed_lines(path: Path, **changes: tuple[int, object]) -> Path:
    columns: dict[str, list[object]] = {
        "customer_id": ["a", "b", "a", "c", "b"],
        "timestamp": [dt.datetime(2024, 1, d) for d in (2, 3, 9, 5, 7)],
        "amount": [10.5, 7.0, -2.5, 12.0, 3.0],
        "order_id": ["o1", "o2", "o3", "o4", "o5"],
        "product": ["tea", "cake", "tea", "soup", "tea"],
    }
    for column, (i, value) in changes.items():
        columns[column][i] = value
    types = {"timestamp": pa.timestamp("us")}
    pq.write_table(pa.table({k: pa.array(v, types.get(k)) for k, v in columns.items()}), path)
    return path


@pytest.mark.parametrize(
    ("changes", "order_ids_kept", "copied"),
    [
        ({}, False, False),  # every row its own order: read as it is, no order ids
        ({"product": (4, " tea")}, False, True),  # a value to trim: a parsed copy
        ({"order_id": (4, "o1"), "product": (4, "cake")}, True, False),  # a line of o1
        ({"customer_id": (1, "N/A")}, False, True),  # a quarantined row: a parsed copy
        ({"order_id": (4, "o1")}, False, True),  # o1's line of tea exported twice
    ],
)
def test_a_typed_parquet_source_gives_the_rows_of_the_checks_run_one_by_one(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    changes: dict[str, tuple[int, object]],
    order_ids_kept: bool,
    copied: bool,
) -> None:
    """The validation's first aggregate (data.validation.Validated.keep_bad_rows, here
    past a one-row probe) decides as the window, the trim query and the count would."""
    source = _typed_lines(tmp_path / "tx.parquet", **changes)
    settings = Settings(workspace=str(tmp_path), max_bad_share=0.5)
    fast_dir, slow_dir = tmp_path / "fast", tmp_path / "slow"
    fast_dir.mkdir()
    slow_dir.mkdir()
    monkeypatch.setattr(validation, "_PROBE_ROWS", 1)
    fast = prepare(
        str(source),
        settings,
        staging_dir=fast_dir,
        quarantine_path=fast_dir / "q.csv",
        today=dt.date(2024, 12, 31),
    )
    monkeypatch.setattr(validation.Validated, "_run_scan", lambda self: None)
    slow = prepare(
        str(source),
        settings,
        staging_dir=slow_dir,
        quarantine_path=slow_dir / "q.csv",
        today=dt.date(2024, 12, 31),
    )
    assert fast.counts == slow.counts
    assert (fast_dir / "q.csv").read_bytes() == (slow_dir / "q.csv").read_bytes()
    assert ("order_id" in fast.transactions.columns) == order_ids_kept
    assert fast.transactions.columns == slow.transactions.columns
    assert _rows(fast.transactions) == _rows(slow.transactions)
    assert bool(list(fast_dir.glob("accepted-*.parquet"))) == copied
    assert bool(list(slow_dir.glob("accepted-*.parquet"))) == copied
