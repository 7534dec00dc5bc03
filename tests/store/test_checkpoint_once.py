"""``Workspace.checkpoint_once``: many snapshots committed one by one, the DuckDB file
brought up to date once at the end, and nothing less durable meanwhile."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa

from corecustomers.store import Workspace

DATES = [dt.date(2024, 1, 31) + dt.timedelta(days=30 * i) for i in range(6)]


def _customers(n: int) -> pa.Table:
    return pa.table(
        {
            "customer_id": [f"C{i:06d}" for i in range(n)],
            "tier": ["key" if i % 7 == 0 else "other" for i in range(n)],
            "tier_reasons": [
                f"spend rank {i} of {n}, a reason long enough to count" for i in range(n)
            ],
        }
    )


def _threshold(ws: Workspace) -> str:
    con = ws.connection.con  # the DuckDB connection under Ibis
    return str(con.execute("SELECT current_setting('checkpoint_threshold')").fetchone()[0])


def test_snapshots_written_inside_are_all_there_and_the_setting_comes_back(
    tmp_path: Path,
) -> None:
    rows = _customers(30_000)
    with Workspace.open(tmp_path) as ws:
        before = _threshold(ws)
        with ws.checkpoint_once():
            assert _threshold(ws) != before
            for i, day in enumerate(DATES):
                ws.write_snapshot(day, rows, run_id=f"r{i}", policy_version="p1")
        assert _threshold(ws) == before
        # folded into the file at the end: the write-ahead log is empty again
        wal = Path(str(ws.location) + ".wal")
        assert not wal.exists() or wal.stat().st_size == 0
    with Workspace.open(tmp_path) as again:
        assert again.snapshot_dates() == DATES
        assert again.read_snapshot(DATES[-1]).column("customer_id").to_pylist() == sorted(
            rows.column("customer_id").to_pylist()
        )


def test_a_process_that_dies_inside_keeps_what_it_committed(tmp_path: Path) -> None:
    """Commits inside are in the synced log: the next opening replays it."""
    script = textwrap.dedent(
        f"""
        import datetime as dt, os, sys
        sys.path[:0] = {sys.path!r}
        import pyarrow as pa
        from corecustomers.store import Workspace
        rows = pa.table({{"customer_id": [f"C{{i}}" for i in range(20000)],
                          "tier": ["key"] * 20000}})
        ws = Workspace.open({str(tmp_path)!r})
        with ws.checkpoint_once():
            for i in range(3):
                ws.write_snapshot(dt.date(2024, 1, 1 + i), rows, run_id=f"r{{i}}",
                                  policy_version="p1")
            os._exit(3)  # no checkpoint, no close
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    with Workspace.open(tmp_path) as ws:
        assert ws.snapshot_dates() == [dt.date(2024, 1, 1 + i) for i in range(3)]
        assert ws.read_snapshot(dt.date(2024, 1, 3)).num_rows == 20_000
