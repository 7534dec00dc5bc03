"""`corecustomers source add|list|remove` and `corecustomers run`, each call a process of its
own on a SQLite file; a source's runs and `analyze --source-name` continue one history."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDNOW = ROOT / "tests" / "fixtures" / "CDNOW_sample.txt"
CLI = Path(sys.executable).parent / "corecustomers"
COLUMNS = ["--customer-col", "1", "--date-col", "3", "--amount-col", "5"]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200"},
        check=False,
    )


def _count(db: Path, table: str) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


def test_add_list_run_and_remove_sources(tmp_path: Path) -> None:
    db = tmp_path / "service.sqlite3"
    flags = ["--db", f"sqlite:///{db}", "--workspace", str(tmp_path)]
    lines = CDNOW.read_text(encoding="utf-8").splitlines()
    half = tmp_path / "cdnow-half.txt"
    half.write_text("\n".join(x for x in lines if x.split()[2] <= "19970331") + "\n")

    added = _run("source", "add", "cdnow", str(half), *COLUMNS, "--no-header",
                 "--schedule", "daily", "--at", "03:00", *flags, cwd=tmp_path)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "Registered the source cdnow" in added.stdout
    again = _run("source", "add", "cdnow", str(half), *COLUMNS, *flags, cwd=tmp_path)
    assert again.returncode == 2
    assert "exists" in again.stderr and "name" in again.stderr

    secret = _run("source", "add", "shop", "--url", "postgresql://u:hunter2@db/shop",
                  "--table", "orders", *flags, cwd=tmp_path)  # fmt: skip
    assert secret.returncode == 2
    assert "password" in secret.stderr and "hunter2" not in secret.stderr + secret.stdout
    shop = _run("source", "add", "shop", "--url", "env:SHOP_DB", "--table", "orders", *flags,
                cwd=tmp_path)  # fmt: skip
    assert shop.returncode == 0, shop.stderr
    bad_schedule = _run("source", "add", "x", str(half), "--schedule", "hourly", *flags,
                        cwd=tmp_path)  # fmt: skip
    assert bad_schedule.returncode == 2 and "schedule" in bad_schedule.stderr

    listed = _run("source", "list", *flags, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "cdnow" in listed.stdout and "daily 03:00" in listed.stdout
    assert "env:SHOP_DB" in listed.stdout and "never" in listed.stdout

    ran = _run("run", "cdnow", "--wait", *flags, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "Ran cdnow: 2,357 customers as of 1997-03-31" in ran.stdout
    assert _count(db, "customers_analysis") == 1

    # the command line's analyze with --source-name continues the source's history
    out = tmp_path / "full"
    analysed = _run("analyze", str(CDNOW), *COLUMNS, "--source-name", "cdnow",
                    "--workspace", str(tmp_path), "--out", str(out), "-q", cwd=tmp_path)  # fmt: skip
    assert analysed.returncode == 0, analysed.stderr
    history = json.loads((out / "summary.json").read_text(encoding="utf-8"))["history"]
    assert "1997-03-31" in history["message"] and "'cdnow'" in history["message"]

    queued = _run("run", "cdnow", *flags, cwd=tmp_path)
    assert queued.returncode == 0 and "Queued run" in queued.stdout
    twice = _run("run", "cdnow", *flags, cwd=tmp_path)
    assert "Already queued or running" in twice.stdout
    assert _count(db, "sources_sourcerun") == 2

    missing = _run("run", "nope", *flags, cwd=tmp_path)
    assert missing.returncode == 2 and "No source named nope" in missing.stderr
    removed = _run("source", "remove", "shop", *flags, cwd=tmp_path)
    assert removed.returncode == 0 and "Removed the source shop" in removed.stdout
    assert _run("source", "remove", "shop", *flags, cwd=tmp_path).returncode == 2
    assert _count(db, "sources_source") == 1


@pytest.mark.parametrize("command", [["source", "add"], ["source", "list"],
                                     ["source", "remove"], ["run"]])  # fmt: skip
def test_every_source_command_has_help_with_an_example(command: list[str], tmp_path: Path) -> None:
    shown = _run(*command, "--help", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Example" in shown.stdout
    assert "corecustomers " + " ".join(command) in shown.stdout
