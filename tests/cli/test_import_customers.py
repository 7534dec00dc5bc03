"""`corecustomers import-customers` end to end, each call a process of its own (the command
sets Django up on the database it is given)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.web.masterdata_files import CHINESE, make_master_data, write_csv

CLI = Path(sys.executable).parent / "corecustomers"


def _run(*args: str, cwd: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args],
        cwd=cwd,
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "COLUMNS": "200"},
        check=False,
    )


def _customers(db: Path) -> int:
    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT count(*) FROM customers_customer").fetchone()[0])
    finally:
        con.close()


def test_import_customers_dry_run_real_run_and_again(tmp_path: Path) -> None:
    db = tmp_path / "service.sqlite3"
    flags = ["--db", f"sqlite:///{db}", "--workspace", str(tmp_path)]
    for name, team in (("am1", "East"), ("am2", "West")):
        made = _run(
            "createuser",
            name,
            "--role",
            "account_manager",
            "--team",
            team,
            "--password-stdin",
            *flags,
            cwd=tmp_path,
            stdin=b"a-long-password-42\n",
        )
        assert made.returncode == 0, made.stderr
    data = make_master_data(120, chinese_values=True)
    data.rows[10]["name"] = "[bold]王[/bold]"  # shown as written, never read as markup
    data.rows[11]["email"] = "[red]nobody@"
    path = write_csv(data, tmp_path / "客户.csv", headers=CHINESE, encoding="gb18030")
    bad = set(data.bad) | {13}

    dry = _run("import-customers", str(path), "--dry-run", "--all-bad-rows", *flags, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    for row in bad:
        assert f"│ {row} " in dry.stdout, row
    assert "[red]nobody@" in dry.stdout
    assert f"{120 - len(bad)} good, {len(bad)} bad" in dry.stdout
    assert "Dry run: nothing was written" in dry.stdout
    assert _customers(db) == 0

    real = _run("import-customers", str(path), *flags, cwd=tmp_path)
    assert real.returncode == 0, real.stderr
    assert f"Created {120 - len(bad)}, updated 0" in real.stdout
    assert _customers(db) == 120 - len(bad)
    con = sqlite3.connect(db)
    try:
        name = con.execute(
            "SELECT name FROM customers_customer WHERE external_id = ?",
            (data.rows[10]["external_id"],),
        ).fetchone()[0]
    finally:
        con.close()
    assert name == "[bold]王[/bold]"

    again = _run("import-customers", str(path), *flags, cwd=tmp_path)
    assert f"Created 0, updated 0, unchanged {120 - len(bad)}" in again.stdout
    assert _customers(db) == 120 - len(bad)


def test_an_unusable_file_exits_2_with_a_message(tmp_path: Path) -> None:
    flags = ["--db", f"sqlite:///{tmp_path / 's.sqlite3'}", "--workspace", str(tmp_path)]
    (tmp_path / "photo.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    (tmp_path / "no-id.csv").write_text("name,phone\nLi,13800000000\n", encoding="utf-8")
    for name, message in (
        ("photo.csv", "not a table"),
        ("no-id.csv", "no column holds the customer id"),
        ("missing.xlsx", "does not exist"),
    ):
        result = _run("import-customers", str(tmp_path / name), *flags, cwd=tmp_path)
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        assert message in " ".join(result.stderr.split()), result.stderr
