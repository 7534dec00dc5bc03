"""Erasure beyond the service database (issue 14's privacy test): after it, a byte search of
the database, the workspace and every file the service keeps finds none of the person's
identifiers (the id as a whole value); the points ledger still balances; and a new
analysis of the original source does not bring the customer back."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pyarrow.parquet as pq
import pytest
from tests.web.privacy.privacy_helpers import (
    EMAIL,
    ERASED_ID,
    IDENTIFIERS,
    NAME,
    NEIGHBOUR_ID,
    PHONE,
    Caller,
    found,
    plant,
    stored_bytes,
)

COLUMNS = {"customer_id": "customer", "timestamp": "date", "amount": "amount"}


def _source(path: Path) -> tuple[Path, int]:
    """Transactions of 40 customers; the erased one with name, phone and e-mail, a bad row
    among theirs (quarantined with its raw values unless suppressed). Their row count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows: list[list[str]] = []
    people = [(ERASED_ID, NAME, PHONE, EMAIL), (NEIGHBOUR_ID, "Li Na", "13800000000", "")]
    people += [(f"CUST-{n:04d}", f"Person {n}", f"1370000{n:04d}", "") for n in range(2, 40)]
    for i, (cid, name, phone, email) in enumerate(people):
        for k in range(1 + i % 4):
            day = dt.date(2024, 1, 1) + dt.timedelta(days=(i * 11 + k * 37) % 330)
            rows.append([cid, name, phone, email, day.isoformat(), f"{10 + i + k}.50", f"O{i}-{k}"])
    rows.append([ERASED_ID, NAME, PHONE, EMAIL, "not a date", "12.00", "O-bad"])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer", "name", "phone", "email", "date", "amount", "order"])
        writer.writerows(rows)
    return path, sum(1 for r in rows if r[0] == ERASED_ID)


def _views(root: Path) -> bytes:
    """Every file under ``root`` as bytes, and what compression hides: the members of zip
    files (Excel) and the values of Parquet files as text."""
    chunks = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        chunks.append(data)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                chunks.extend(archive.read(info) for info in archive.infolist())
        if path.suffix == ".parquet":
            chunks.append(json.dumps(pq.read_table(path).to_pylist(), default=str).encode())
        if path.suffix == ".duckdb":
            chunks.append(_workspace_text(path).encode())
    return b"\n".join(chunks)


def _workspace_text(path: Path) -> str:
    """Every value of every table of a DuckDB file, as text (read-only)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        return "\n".join(
            json.dumps(con.execute(f'SELECT * FROM "{t}"').fetchall(), default=str) for t in tables
        )
    finally:
        con.close()


def _analyze(source: Path, out: Path, workspace: Path) -> dict[str, Any]:
    from corecustomers.config import Settings
    from corecustomers.service import analyze

    # no transaction model: the fit is not what this test is about, and it takes minutes
    analyze(str(source), out, Settings(columns=COLUMNS, workspace=str(workspace), model="none"))
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return summary


@pytest.mark.django_db(transaction=True)
def test_erasure_reaches_the_workspace_and_every_stored_file(
    people: Any, tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import openpyxl

    from corecustomers.store import Workspace
    from corecustomers.web.customers.analysis_import import import_analysis
    from corecustomers.web.customers.models import Customer
    from corecustomers.web.loyalty.checks import ledger_problems
    from corecustomers.web.loyalty.ledger import balance
    from corecustomers.web.work.export import export_interactions

    shop = tmp_path / "shop"
    folder = shop / ".corecustomers"
    settings.WORKSPACE = str(shop)
    settings.SERVICE_FOLDER = folder
    settings.UPLOAD_FOLDER = folder / "uploads"
    # the engine reads the key from the environment (as in production), the service
    # from its settings: the same secret
    monkeypatch.setenv("CORECUSTOMERS_PSEUDONYM_KEY", settings.PSEUDONYM_KEY)

    source, erased_rows = _source(tmp_path / "source" / "tx.csv")
    # the service's own analysis of an uploaded copy of the source, and a CLI one
    upload = folder / "uploads" / "sources" / "3f9a0c.csv"
    upload.parent.mkdir(parents=True)
    shutil.copy(source, upload)
    first = _analyze(upload, folder / "analyses" / "shop" / "1", shop)
    assert first["quarantine_reasons"] == {"unparseable_date": 1}
    cli_out = shop / "results"
    _analyze(source, cli_out, shop)
    quarantine = (cli_out / "quarantine.csv").read_text(encoding="utf-8-sig")
    assert PHONE in quarantine  # raw values of the bad row, before the erasure

    planted = plant(people)
    import_analysis(folder / "analyses" / "shop" / "1")
    with Workspace.open(str(shop)) as workspace:
        workspace.add_override(ERASED_ID, "key", by="admin", reason=f"{NAME} asked")
        workspace.add_override(NEIGHBOUR_ID, "key", by="admin", reason="Li Na asked")
    export_interactions(str(shop))
    # a master-data upload (Excel) and a message in the outbox
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["customer_id", "name", "phone", "email"])
    sheet.append([ERASED_ID, NAME, PHONE, EMAIL])
    sheet.append([NEIGHBOUR_ID, "Li Na", "13800000000", ""])
    book.save(folder / "uploads" / "a1b2c3.xlsx")
    (folder / "outbox").mkdir()
    (folder / "outbox" / "m1.json").write_text(
        json.dumps({"to": EMAIL, "body": f"Dear {NAME}, your id {ERASED_ID}"}), encoding="utf-8"
    )
    before_balance = balance(planted.customer)

    # the search works: before the erasure it finds every identifier in the files
    assert set(found(_views(shop))) == set(IDENTIFIERS)
    assert "id" in found((folder / "workspace.duckdb").read_bytes())

    answer = Caller(people.admin).post("/customers/" + quote(ERASED_ID, safe="") + "/erase")
    assert answer.status_code == 200, answer.content
    details = answer.json()["details"]
    assert details["workspace"]["rewritten"] is True
    assert details["workspace"]["rows"]["overrides.customer_id"] == 1
    stored = details["stored_files"]
    for name in (
        "uploads/sources/3f9a0c.csv",
        "uploads/a1b2c3.xlsx",
        "analyses/shop/1/customers.parquet",
        "analyses/shop/1/quarantine.csv",
        "exports/interactions.parquet",
        "outbox/m1.json",
    ):
        assert stored.get(name) == "rewritten", (name, stored)
    assert stored.get(str((cli_out / "quarantine.csv").resolve())) == "rewritten"

    # nothing left: the workspace file, every stored file (the database's pages: below)
    assert found(_views(shop)) == {}
    assert not list(folder.glob("workspace.duckdb.*"))  # no stale WAL or rewrite left
    # whole values only: the neighbour is untouched everywhere
    text = _workspace_text(folder / "workspace.duckdb")
    assert NEIGHBOUR_ID in text and "Li Na asked" in text
    assert NEIGHBOUR_ID in upload.read_text(encoding="utf-8")
    erased = Customer.objects.get(pk=planted.customer.pk)
    assert erased.external_id in text  # the override follows the customer's erased id
    # the upload keeps its row count (the id replaced), so totals stay as they were
    assert len(upload.read_text(encoding="utf-8").splitlines()) == len(
        source.read_text(encoding="utf-8").splitlines()
    )
    # the ledger still balances, the points stay with the (erased) member
    assert ledger_problems(erased.pk) == []
    assert balance(erased) == before_balance

    # a new analysis of the original source leaves the customer out, values unwritten
    again = _analyze(source, tmp_path / "again", shop)
    assert again["quarantine_reasons"]["suppressed"] == erased_rows
    ids = pq.read_table(tmp_path / "again" / "customers.parquet").column("customer_id")
    assert ERASED_ID not in ids.to_pylist() and NEIGHBOUR_ID in ids.to_pylist()
    assert found(_views(tmp_path / "again")) == {}
    done = import_analysis(tmp_path / "again")
    assert not Customer.objects.filter(external_id=ERASED_ID).exists()
    assert done.suppressed == 0  # the analysis had left them out already
    # and the service's re-analysis of the (cleaned) upload does not either
    cleaned = _analyze(upload, tmp_path / "upload-again", shop)
    assert cleaned["quarantine_reasons"]["suppressed"] == erased_rows
    # last, as it depends on the whole PostgreSQL cluster: VACUUM could only remove the old
    # row versions if no older transaction ran anywhere on it (the record says so)
    assert details["files"].get("complete", True), details["files"]
    assert found(stored_bytes()) == {}
