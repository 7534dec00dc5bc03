"""The one "write beside, rename, remove a killed writer's leftover" (``data/atomic.py``)."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

import pytest

from corecustomers.data.atomic import remove_leftovers, replacing


def test_a_clean_write_replaces_the_target_owner_only_and_leaves_nothing_beside(
    tmp_path: Path,
) -> None:
    target = tmp_path / "export.json"
    target.write_text("old", encoding="utf-8")
    with replacing(target, prefix=".export-") as temporary:
        assert temporary.parent == tmp_path and temporary.name.startswith(".export-")
        temporary.write_text("new", encoding="utf-8")
        assert target.read_text(encoding="utf-8") == "old"  # not before the exit
    assert target.read_text(encoding="utf-8") == "new"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["export.json"]


def test_the_mode_asked_for_is_the_new_files(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    with replacing(target, prefix=".erase-", suffix=".csv", mode=0o644) as temporary:
        assert temporary.suffix == ".csv"
        temporary.write_text("a,b\n", encoding="utf-8")
    assert target.stat().st_mode & 0o777 == 0o644


def test_an_error_keeps_the_old_file_and_removes_the_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), replacing(target, prefix=".export-") as temporary:
        temporary.write_text("half", encoding="utf-8")
        raise RuntimeError("killed half-way")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["export.json"]


def test_a_dead_writers_leftover_goes_and_a_live_writers_file_stays(tmp_path: Path) -> None:
    dead = tmp_path / ".export-k1ll3d.tmp"
    dead.write_text("{", encoding="utf-8")
    busy = tmp_path / ".export-busy.tmp"
    busy.write_text("{", encoding="utf-8")
    other = tmp_path / ".other-k1ll3d.tmp"  # another writer's prefix: not ours to judge
    other.write_text("{", encoding="utf-8")
    fd = os.open(busy, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        with replacing(tmp_path / "export.json", prefix=".export-") as temporary:
            temporary.write_text("{}", encoding="utf-8")
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            ["export.json", busy.name, other.name]
        )
    finally:
        os.close(fd)
    assert remove_leftovers(tmp_path, ".export-") == [busy]


_KILLED_WRITER = """
import os, sys
from pathlib import Path
from corecustomers.data.atomic import replacing
with replacing(Path(sys.argv[1]), prefix=".export-", serial=True) as temporary:
    temporary.write_text("first", encoding="utf-8")
    os.kill(os.getpid(), 9)  # killed while it holds the folder's lock
"""


def test_a_serial_writer_killed_holding_the_lock_does_not_block_the_next(tmp_path: Path) -> None:
    target = tmp_path / "export.json"
    done = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(target)], timeout=60)
    assert done.returncode == -9
    assert any(p.name.startswith(".export-") for p in tmp_path.iterdir())  # its leftover
    with replacing(target, prefix=".export-", serial=True) as temporary:
        temporary.write_text("second", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["export.json"]
