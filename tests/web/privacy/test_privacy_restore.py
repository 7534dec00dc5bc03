"""Restoring a backup re-applies the suppression list before the service starts: a customer
erased after the backup was made is erased again by the restore itself (real commands in
subprocesses, on an SQLite file database)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from tests.web.privacy.privacy_helpers import EMAIL, ERASED_ID, NAME, NEIGHBOUR_ID, PHONE, found

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("CORECUSTOMERS_TEST_DB")),
    reason="the commands here use their own SQLite file: it ran in the SQLite pass",
)


def _cc(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    run = subprocess.run(
        [sys.executable, "-m", "corecustomers", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, f"{args}: {run.stderr}"
    return run


def _customers(db: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return dict(con.execute("SELECT external_id, name FROM customers_customer").fetchall())


def _suppressed(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return int(con.execute("SELECT count(*) FROM privacy_suppression").fetchone()[0])


def test_a_restore_erases_again_whoever_was_erased_after_the_backup(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORECUSTOMERS_")}
    env["CORECUSTOMERS_WATCH_SECONDS"] = "0"
    live = tmp_path / "live"
    live.mkdir()
    master = tmp_path / "customers.csv"
    master.write_text(
        "customer_id,name,phone,email\n"
        f"{ERASED_ID},{NAME},{PHONE},{EMAIL}\n"
        f"{NEIGHBOUR_ID},Li Na,13800000000,li.na@example.cn\n",
        encoding="utf-8",
    )
    _cc("import-customers", str(master), cwd=live, env=env)
    db = live / ".corecustomers" / "service.sqlite3"
    assert _customers(db)[ERASED_ID] == NAME
    _cc("backup", str(tmp_path / "before-erasure.db"), cwd=live, env=env)

    _cc("privacy", "erase", ERASED_ID, "--yes", cwd=live, env=env)
    assert ERASED_ID not in _customers(db)
    assert (live / ".corecustomers" / "suppression.json").is_file()

    # the backup predates the erasure: restoring it must not bring the customer back
    restored = _cc("restore", str(tmp_path / "before-erasure.db"), cwd=live, env=env)
    assert "Restored" in restored.stdout
    customers = _customers(db)
    assert ERASED_ID not in customers and customers[NEIGHBOUR_ID] == "Li Na"
    assert [cid for cid in customers if cid.startswith("erased:")]
    assert _suppressed(db) == 2  # the old id and the erased id, as keyed hashes
    # and the restored file's pages (free ones included) no longer hold the person
    files = (p for p in db.parent.glob("service.sqlite3*") if p.is_file())  # not the beats folder
    data = b"".join(p.read_bytes() for p in files)
    assert found(data) == {}
    # a second restore of the same backup: the same outcome, nothing left over
    _cc("restore", str(tmp_path / "before-erasure.db"), cwd=live, env=env)
    assert ERASED_ID not in _customers(db) and _suppressed(db) == 2
