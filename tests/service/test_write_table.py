"""The output files: a failed write leaves the earlier file and no temporary one."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

# the writer of customers.parquet/.csv and summarize's output
from corecustomers.service.analysis import _write_table


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
        _write_table(bad, path)
    assert path.read_bytes() == b"the earlier run's"
    assert [p.name for p in tmp_path.iterdir()] == [name]
    _write_table(good, path)  # and the next write replaces it
    assert path.read_bytes() != b"the earlier run's"
    assert [p.name for p in tmp_path.iterdir()] == [name]
