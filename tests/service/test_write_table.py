"""The output files: a failed write, or a failed analysis after the customers' files
started, leaves the earlier files and no temporary one."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

# the writer of customers.parquet/.csv and summarize's output
from corecustomers.service.output_files import CUSTOMER_FILES, write_table


def _table(n: int) -> pa.Table:
    return pa.table({"customer_id": [f"C{i:05d}" for i in range(n)], "value": range(n)})


@pytest.mark.parametrize("name", ["customers.csv", "customers.parquet"])
def test_a_failed_write_leaves_the_earlier_file_and_nothing_else(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"the earlier run's")
    good = _table(10)
    if name.endswith(".parquet"):  # a union column: Parquet has no such type
        types, children = pa.array([0] * 10, pa.int8()), [pa.array(range(10)), pa.array(["x"] * 10)]
        bad = good.append_column("mixed", pa.UnionArray.from_sparse(types, children))
    else:  # a struct column: CSV has no such type (the BOM is written first)
        bad = good.append_column("nested", pa.array([{"a": i} for i in range(10)]))
    with pytest.raises((pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError)):
        write_table(bad, path)
    assert path.read_bytes() == b"the earlier run's"
    assert [p.name for p in tmp_path.iterdir()] == [name]
    write_table(good, path)  # and the next write replaces it
    assert path.read_bytes() != b"the earlier run's"
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_customer_files_move_into_place_only_when_published(tmp_path: Path) -> None:
    from corecustomers.service.output_files import CustomerFiles

    for name in CUSTOMER_FILES:
        (tmp_path / name).write_bytes(b"the earlier run's")
    with CustomerFiles(tmp_path) as files:
        files.start(_table(1000))
        # written under temporary names: the earlier files are untouched until publish()
        assert all((tmp_path / n).read_bytes() == b"the earlier run's" for n in CUSTOMER_FILES)
        paths = files.publish()
    assert sorted(paths) == sorted(CUSTOMER_FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(CUSTOMER_FILES)
    assert pq.read_table(tmp_path / "customers.parquet").equals(_table(1000))
    text = (tmp_path / "customers.csv").read_text(encoding="utf-8-sig")
    assert text.splitlines()[:2] == ['"customer_id","value"', '"C00000",0']


def test_an_analysis_that_fails_after_the_files_started_leaves_the_earlier_ones(
    tmp_path: Path,
) -> None:
    from corecustomers.service.output_files import CustomerFiles

    for name in CUSTOMER_FILES:
        (tmp_path / name).write_bytes(b"the earlier run's")
    with (
        pytest.raises(RuntimeError, match="the snapshot's database"),
        CustomerFiles(tmp_path) as files,
    ):
        files.start(_table(200_000))
        raise RuntimeError("the snapshot's database refused the rows")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(CUSTOMER_FILES)
    assert all((tmp_path / n).read_bytes() == b"the earlier run's" for n in CUSTOMER_FILES)


def test_analyze_whose_snapshot_fails_leaves_the_earlier_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The customers' files are written beside the snapshot (CustomerFiles); a snapshot
    that fails leaves the earlier run's files as they were, and no temporary file."""
    from corecustomers.config import Settings
    from corecustomers.service import analyze
    from corecustomers.store import Workspace, WorkspaceError

    source = str(Path(__file__).resolve().parents[1] / "fixtures" / "CDNOW_sample.txt")
    settings = Settings(
        columns={"customer_id": "1", "timestamp": "3", "amount": "5"},
        workspace=str(tmp_path / "workspace"),
    )
    out = tmp_path / "out"
    analyze(source, out, settings)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(CUSTOMER_FILES) <= set(before)

    def refused(*args: object, **kwargs: object) -> None:
        raise WorkspaceError("the snapshot's database refused the rows")

    monkeypatch.setattr(Workspace, "write_snapshot", refused)
    with pytest.raises(WorkspaceError, match="refused"):
        analyze(source, out, settings)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def _varied(n: int) -> pa.Table:
    """Text that needs quoting, nulls, floats, dates and flags."""
    import datetime as dt

    texts = ["plain", 'with "quotes"', "comma, and\nnewline", "中文", None]
    return pa.table(
        {
            "customer_id": [f"C{i:07d}" for i in range(n)],
            "text": [texts[i % len(texts)] for i in range(n)],
            "value": [None if i % 7 == 0 else i / 3 for i in range(n)],
            "day": [dt.date(2024, 1, 1) + dt.timedelta(days=i % 400) for i in range(n)],
            "flag": [i % 3 == 0 for i in range(n)],
        }
    )


def test_a_large_csv_written_in_parts_is_the_csv_written_whole(tmp_path: Path) -> None:
    from corecustomers.service.output_files import CSV_PART_ROWS, CSV_PARTS_FROM, CustomerFiles

    table = _varied(CSV_PARTS_FROM + CSV_PART_ROWS // 2)  # a last part of half the rows
    write_table(table, tmp_path / "whole.csv")
    out = tmp_path / "out"
    out.mkdir()
    with CustomerFiles(out) as files:
        files.start(table)
        files.publish()
    assert (out / "customers.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert sorted(p.name for p in out.iterdir()) == sorted(CUSTOMER_FILES)


def test_a_failed_part_leaves_the_earlier_csv_and_no_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corecustomers.service import output_files

    real = output_files._csv_part
    calls: list[bool] = []

    def a_later_part_fails(part: pa.Table, head: bool) -> pa.Buffer:
        calls.append(head)
        if len(calls) == 7:  # parts written before it, the rest not yet formatted
            raise OSError("disk full")
        return real(part, head)

    monkeypatch.setattr(output_files, "_csv_part", a_later_part_fails)
    for name in CUSTOMER_FILES:
        (tmp_path / name).write_bytes(b"the earlier run's")
    with (
        pytest.raises(OSError, match="disk full"),
        output_files.CustomerFiles(tmp_path) as files,
    ):
        files.start(_varied(output_files.CSV_PARTS_FROM))
        files.publish()
    assert len(calls) >= 7
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(CUSTOMER_FILES)
    assert all((tmp_path / n).read_bytes() == b"the earlier run's" for n in CUSTOMER_FILES)
