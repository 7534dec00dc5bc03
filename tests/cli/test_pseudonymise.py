"""`analyze --pseudonymise`: outputs without direct identifiers, keyed like the service's."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corecustomers.cli import main
from corecustomers.data.suppression import (
    KEY_FILE_VARIABLE,
    KEY_VARIABLE,
    key_hash,
    pseudonym,
    write_suppression,
)

KEY = "cli-test-key-0123456789abcdef"
NAME, PHONE = "Zhang Weiming", "13912345678"


def _source(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer", "name", "phone", "date", "amount"])
        for i in range(30):
            for k in range(1 + i % 3):
                day = dt.date(2024, 1, 1) + dt.timedelta(days=(i * 13 + k * 41) % 300)
                writer.writerow([f"C{i}", f"Person {i}", f"1370000{i:04d}", day, 10 + i + k])
        writer.writerow(["C1", NAME, PHONE, "not a date", 12])
    return path


def _analyze(source: Path, out: Path, *more: str) -> int:
    return main(
        [
            "analyze",
            str(source),
            "--customer-col",
            "customer",
            "--date-col",
            "date",
            "--amount-col",
            "amount",
            "--model",
            "none",
            "--out",
            str(out),
            "--quiet",
            *more,
        ]
    )


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (KEY_VARIABLE, KEY_FILE_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CORECUSTOMERS_ENV", "production")


def test_outputs_hold_pseudonyms_and_no_source_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path / "tx.csv")
    key_file = tmp_path / "secret" / "pseudonym.key"
    key_file.parent.mkdir()
    key_file.write_text(KEY + "\n", encoding="utf-8")
    monkeypatch.setenv(KEY_FILE_VARIABLE, str(key_file))
    out = tmp_path / "for-analysts"
    assert _analyze(source, out, "--pseudonymise") == 0
    ids = pq.read_table(out / "customers.parquet").column("customer_id").to_pylist()
    assert len(ids) == 30
    assert set(ids) == {pseudonym(f"C{i}", KEY) for i in range(30)}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["pseudonymised"] is True and summary["customers"] == 30
    assert summary["quarantine_reasons"] == {"unparseable_date": 1}
    quarantine = (out / "quarantine.csv").read_text(encoding="utf-8-sig")
    assert "unparseable_date" in quarantine and "date" in quarantine
    for path in out.iterdir():
        text = path.read_bytes()
        for value in (NAME, PHONE, "not a date", "Person 3"):
            assert value.encode() not in text, (path.name, value)
        # no customer id as a whole value (C1 … C29), in any file
        data = text.decode("utf-8", "ignore")
        for i in range(30):
            for edge in (f'"C{i}"', f",C{i},", f">C{i}<", f"\nC{i},"):
                assert edge not in data, (path.name, edge)
    # the workspace keeps the real ids (its history); the run is not offered to a service
    assert not list((tmp_path / ".corecustomers" / "runs").glob("*.json"))


def test_without_a_key_it_stops_before_reading(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = _source(tmp_path / "tx.csv")
    assert _analyze(source, tmp_path / "out", "--pseudonymise") == 2
    message = capsys.readouterr().err
    assert KEY_VARIABLE in message and "--pseudonymise" in message
    assert not (tmp_path / "out" / "customers.parquet").exists()


def test_an_erased_customer_is_left_out_of_a_new_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = _source(tmp_path / "tx.csv")
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    write_suppression(tmp_path, [key_hash("C1", KEY)], key=KEY)
    out = tmp_path / "out"
    assert _analyze(source, out) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["quarantine_reasons"] == {"suppressed": 3}  # C1's two rows and its bad one
    ids = pq.read_table(out / "customers.parquet").column("customer_id").to_pylist()
    assert "C1" not in ids and "C12" in ids
    assert PHONE.encode() not in (out / "quarantine.csv").read_bytes()
