"""The engine's suppression list: erased customers' rows are counted, never written."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import ibis
import pytest

from corecustomers.data.mapping import map_columns
from corecustomers.data.quarantine import write_quarantine
from corecustomers.data.readers import read_source
from corecustomers.data.suppression import (
    KEY_FILE_VARIABLE,
    KEY_VARIABLE,
    KeyMissingError,
    key_hash,
    load_suppression,
    pseudonym,
    pseudonym_key,
    pseudonyms,
    suppression_path,
    write_suppression,
)
from corecustomers.data.validation import count_rows, validate
from corecustomers.errors import ConfigError

KEY = "test-key-0123456789"
TODAY = dt.date(2024, 6, 30)
ROWS = [
    ("C1", "Zhang Wei", "13800138000", "2024-01-05", "10.00", "O1"),
    ("C1", "Zhang Wei", "13800138000", "not a date", "11.00", "O2"),  # erased and bad
    ("C12", "Li Na", "13900139000", "2024-01-06", "12.00", "O3"),
    ("C2", "Wang Fang", "13700137000", "bad", "13.00", "O4"),
    (" C1 ", "Zhang Wei", "13800138000", "2024-02-05", "14.00", "O5"),  # trimmed: C1
]


@pytest.fixture(autouse=True)
def _no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (KEY_VARIABLE, KEY_FILE_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CORECUSTOMERS_ENV", "development")


def _validated(tmp_path: Path, suppression: object):  # type: ignore[no-untyped-def]
    path = tmp_path / "tx.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer", "name", "phone", "date", "amount", "order_id"])
        writer.writerows(ROWS)
    raw = read_source(str(path), con=ibis.duckdb.connect(), staging_dir=tmp_path)
    mapping = map_columns(
        raw.columns,
        {"customer_id": "customer", "timestamp": "date", "amount": "amount"},
    )
    return validate(raw, mapping, today=TODAY, suppression=suppression)  # type: ignore[arg-type]


def test_suppressed_rows_are_counted_under_their_own_reason_and_never_written(
    tmp_path: Path,
) -> None:
    write_suppression(tmp_path, [key_hash("C1", KEY)], key=KEY)
    listed = load_suppression(tmp_path, key=KEY)
    assert listed is not None and len(listed) == 1
    validated = _validated(tmp_path, listed)
    counts = count_rows(validated)
    assert counts.rows_read == len(ROWS)
    assert counts.reasons == {"suppressed": 3, "unparseable_date": 1}
    accepted = validated.accepted.to_pyarrow().to_pylist()
    assert sorted(r["customer_id"] for r in accepted) == ["C12"]
    quarantine = tmp_path / "quarantine.csv"
    sample = write_quarantine(validated, quarantine)
    data = quarantine.read_bytes()
    for value in (b"Zhang Wei", b"13800138000", b"O2", b"O5"):
        assert value not in data
    assert b"Wang Fang" in data  # the other bad row is still shown with its values
    assert [row["reason"] for row in sample] == ["unparseable_date"]


def test_without_a_list_nothing_changes(tmp_path: Path) -> None:
    assert load_suppression(tmp_path, key=KEY) is None  # no file
    counts = count_rows(_validated(tmp_path, None))
    assert counts.reasons == {"unparseable_date": 2}
    write_suppression(tmp_path, [], key=KEY)
    assert load_suppression(tmp_path) is None  # an empty list needs no key


def test_a_list_without_a_key_or_with_another_key_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_suppression(tmp_path, [key_hash("C1", KEY)], key=KEY)
    with pytest.raises(KeyMissingError, match=KEY_VARIABLE):
        load_suppression(tmp_path)
    monkeypatch.setenv(KEY_VARIABLE, "another-key")
    with pytest.raises(ConfigError, match="differs"):
        load_suppression(tmp_path)
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    assert load_suppression(tmp_path) is not None


def test_the_key_comes_from_the_environment_a_file_or_the_development_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert pseudonym_key(tmp_path) is None
    secrets = tmp_path / ".corecustomers" / "secrets.json"
    secrets.parent.mkdir()
    secrets.write_text(json.dumps({"pseudonym_key": "dev-key"}), encoding="utf-8")
    assert pseudonym_key(tmp_path) == "dev-key"
    monkeypatch.setenv("CORECUSTOMERS_ENV", "production")
    assert pseudonym_key(tmp_path) is None  # never the file beside the data in production
    key_file = tmp_path / "elsewhere.key"
    key_file.write_text("file-key\n", encoding="utf-8")
    monkeypatch.setenv(KEY_FILE_VARIABLE, str(key_file))
    assert pseudonym_key(tmp_path) == "file-key"
    monkeypatch.setenv(KEY_VARIABLE, "env-key")
    assert pseudonym_key(tmp_path) == "env-key"
    monkeypatch.delenv(KEY_VARIABLE)
    monkeypatch.setenv(KEY_FILE_VARIABLE, str(tmp_path / "missing.key"))
    with pytest.raises(ConfigError, match=KEY_FILE_VARIABLE):
        pseudonym_key(tmp_path)


def test_the_file_holds_only_keyed_hashes(tmp_path: Path) -> None:
    path = write_suppression(tmp_path, [key_hash("C1", KEY), key_hash("C1", KEY)], key=KEY)
    assert path == suppression_path(tmp_path)
    body = json.loads(path.read_text(encoding="utf-8"))
    assert body["hashes"] == [key_hash("C1", KEY)]
    assert b"C1" not in path.read_bytes()


def test_pseudonyms_are_stable_keyed_and_batchable() -> None:
    assert pseudonym("C1", KEY) == pseudonym("C1", KEY)
    assert pseudonym("C1", KEY) != pseudonym("C1", "other")
    assert pseudonyms(["C1", "C12"], KEY) == [pseudonym("C1", KEY), pseudonym("C12", KEY)]
