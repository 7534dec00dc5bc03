"""A busy workspace: commands wait with backoff instead of failing, and say so.

Another process really holds the DuckDB file (a subprocess with the file open), as the
service's worker does while it syncs overrides.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from corecustomers.errors import SourceError
from corecustomers.store import Workspace
from corecustomers.store.outputs import recorded_outputs

ROOT = Path(__file__).resolve().parents[2]
CDNOW = ROOT / "tests" / "fixtures" / "CDNOW_sample.txt"

_HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


@contextmanager
def held(project: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holds the workspace of ``project`` for ``seconds``."""
    path = Workspace.default_path(project)
    Workspace.open(project).close()  # create it
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait(timeout=10)


def test_open_waits_until_the_other_process_lets_go(tmp_path: Path) -> None:
    with held(tmp_path, 2.0) as holder:
        started = time.monotonic()
        with Workspace.open(tmp_path) as workspace:
            waited = time.monotonic() - started
            assert holder.poll() is not None  # it opened only once the holder was gone
            assert workspace.snapshot_dates() == []
    assert waited >= 1.0


def test_open_gives_up_after_the_wait_and_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORECUSTOMERS_WORKSPACE_WAIT", "1")
    with held(tmp_path, 60.0), pytest.raises(SourceError) as caught:
        Workspace.open(tmp_path)
    message = str(caught.value)
    assert "in use by another process" in message
    assert "CORECUSTOMERS_WORKSPACE_WAIT" in message


def test_analyze_waits_for_a_busy_workspace_and_leaves_a_run_marker(tmp_path: Path) -> None:
    env = {**os.environ, "CORECUSTOMERS_WORKSPACE_WAIT": "120"}
    command = [
        *(sys.executable, "-m", "corecustomers", "analyze", str(CDNOW)),
        *("--customer-col", "1", "--date-col", "3", "--amount-col", "5"),
        *("--out", str(tmp_path / "out"), "--workspace", str(tmp_path)),
    ]
    errors = tmp_path / "stderr.txt"
    with held(tmp_path, 3600.0) as holder, errors.open("w", encoding="utf-8") as sink:
        run = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink, text=True, env=env)
        # the holder lets go only once analyze has met the busy workspace and said so (a
        # fixed hold of some seconds failed on a loaded machine: analyze got there too late)
        deadline = time.monotonic() + 300
        while "in use by another process" not in errors.read_text(encoding="utf-8"):
            assert run.poll() is None, errors.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, errors.read_text(encoding="utf-8")
            time.sleep(0.2)
        holder.kill()
        holder.wait(timeout=10)
        returncode = run.wait(timeout=600)
    stderr = errors.read_text(encoding="utf-8")
    assert returncode == 0, stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    (marker,) = recorded_outputs(tmp_path)
    assert marker.run_id == summary["run_id"]
    assert marker.folder == (tmp_path / "out").resolve()
    assert str(marker.as_of) == summary["as_of"]
