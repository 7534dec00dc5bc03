"""``corecustomers privacy export|erase`` on a real workspace (its SQLite file, WAL
included): the export holds the customer; after the erasure no byte of the file names
them; a re-import of the master data skips the erased id."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests.web.privacy.privacy_helpers import EMAIL, ERASED_ID, NAME, NEIGHBOUR_ID, PHONE, found

CLI = [sys.executable, "-m", "corecustomers"]


def _run(*args: str, workspace: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CORECUSTOMERS_ENV": "development", "COLUMNS": "200"}
    env.pop("CORECUSTOMERS_DB", None)
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [*CLI, *args, "--workspace", str(workspace)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def _database_bytes(workspace: Path) -> bytes:
    folder = workspace / ".corecustomers"
    # files only: the job runner keeps a folder of beat files beside the database too
    return b"".join(p.read_bytes() for p in sorted(folder.glob("service.sqlite3*")) if p.is_file())


@pytest.mark.slow  # four commands on a fresh workspace: about 20 s idle, a minute under load
def test_cli_export_erase_and_reimport(tmp_path: Path) -> None:
    master = tmp_path / "customers.csv"
    master.write_text(
        "customer_id,name,phone,email\n"
        f"{ERASED_ID},{NAME},{PHONE},{EMAIL}\n"
        f"{NEIGHBOUR_ID},Li Na,13800000000,li.na@example.cn\n",
        encoding="utf-8",
    )
    imported = _run("import-customers", str(master), workspace=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert set(found(_database_bytes(tmp_path))) == {"id", "name", "name_zh", "phone", "email"}

    out = tmp_path / "export.zip"
    exported = _run("privacy", "export", ERASED_ID, "--out", str(out), workspace=tmp_path)
    assert exported.returncode == 0, exported.stderr
    customer = zipfile.ZipFile(out).read("data/customers.Customer.json").decode("utf-8")
    assert NAME in customer and PHONE in customer

    erased = _run("privacy", "erase", ERASED_ID, "--yes", workspace=tmp_path)
    assert erased.returncode == 0, erased.stderr
    assert '"kind": "erase"' in erased.stdout
    assert found(_database_bytes(tmp_path)) == {}

    again = _run("import-customers", str(master), workspace=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Skipped 1 rows of erased customers" in again.stdout
    assert found(_database_bytes(tmp_path)) == {}

    missing = _run("privacy", "erase", ERASED_ID, "--yes", workspace=tmp_path)
    assert missing.returncode == 2 and "no customer" in missing.stderr
