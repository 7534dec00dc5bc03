"""The bulk analysis import stores exactly what a row-by-row reading of the file gives.

The reference below is the plain-Python conversion of each ``customers.parquet`` row (the
import's behaviour before it loaded through a staging table): every field of every state
and history point is compared with it, on the CDNOW analysis and on a file with the edge
cases (values that are not finite, whole floats, JSON text, missing columns, odd ids).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corecustomers.web.customers import analysis_import
from corecustomers.web.customers.analysis_import import (
    PATTERN_COLUMNS,
    STATE_COLUMNS,
    import_analysis,
)
from corecustomers.web.customers.identity import pseudonym, pseudonyms
from corecustomers.web.customers.models import Customer, CustomerHistory, CustomerState

pytestmark = pytest.mark.django_db


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _recommendations(value: Any) -> list[str]:
    if not value:
        return []
    text = str(value)
    if text.startswith("["):
        try:
            return [str(item) for item in json.loads(text)]
        except json.JSONDecodeError:
            pass
    return [part.strip() for part in text.split("|") if part.strip()]


def expected_state(row: dict[str, Any]) -> dict[str, Any]:
    """One row as the state's fields, value by value in plain Python."""
    out: dict[str, Any] = {}
    for field, (source, kind) in STATE_COLUMNS.items():
        value = row.get(source)
        if kind == "text":
            out[field] = "" if value is None else str(value)
        elif kind == "num":
            out[field] = _num(value)
        elif kind == "int":
            out[field] = None if value is None else int(value)
        elif kind == "int0":
            out[field] = 0 if value is None else int(value)
        elif kind == "bool":
            out[field] = bool(value)
        elif kind == "date":
            out[field] = value
        elif kind == "recs":
            out[field] = _recommendations(value)
        else:
            out[field] = {
                name: _jsonable(row[name]) for name in PATTERN_COLUMNS if row.get(name) is not None
            }
    out["total_spend"] = out["total_spend"] or 0.0
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal, with floats equal to the bit and ints not passing for floats."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def assert_imported_exactly(folder: Path) -> None:
    rows = pq.read_table(folder / "customers.parquet").to_pylist()
    states = {s.customer.external_id: s for s in CustomerState.objects.select_related("customer")}
    assert len(states) == len(rows)
    for row in rows:
        cid = str(row["customer_id"])
        state = states[cid]
        assert state.customer.pseudonym == pseudonym(cid)
        for field, value in expected_state(row).items():
            stored = getattr(state, field)
            assert _same(stored, value), (cid, field, stored, value)
        point = CustomerHistory.objects.get(customer=state.customer)
        assert point.tier == state.tier
        assert _same(point.total_spend, _num(row.get("total_spend")))
        assert _same(point.clv, _num(row.get("clv")))


def test_every_state_field_is_read_from_the_file() -> None:
    # The scope copies (the customer's region and team) are kept by database triggers.
    kept = {"customer", "as_of", "run_id", "scope_region", "scope_team"}
    fields = {f.name for f in CustomerState._meta.concrete_fields} - kept
    assert fields == set(STATE_COLUMNS)


def test_cdnow_import_equals_a_row_by_row_reading(cdnow_analysis: Path) -> None:
    import_analysis(cdnow_analysis)
    assert_imported_exactly(cdnow_analysis)


def test_edge_cases_import_exactly(tmp_path: Path, cdnow_analysis: Path) -> None:
    folder = tmp_path / "edge"
    folder.mkdir()
    shutil.copy(cdnow_analysis / "summary.json", folder / "summary.json")
    nan, inf = float("nan"), float("inf")
    table = pa.table(
        {
            "customer_id": ["a/1", "客户 2", "=3", "4"],
            "tier": ["key", "ordinary", None, "key"],
            "core_score": [1.0, nan, inf, None],
            "clv": [0.0, -0.0, 1e16, 1 / 3],
            "total_spend": [None, 2.0, 3.5, 1e-7],
            "frequency": pa.array([None, 1, 2, 3], pa.int64()),
            "alert": [True, None, False, True],
            "tier_since": pa.array([dt.date(2024, 1, 2), None, None, dt.date(1999, 12, 31)]),
            "recommended_products": ['["x", "y"]', "a | b||c", None, ""],
            "gap_std_days": [nan, 1.0, None, 2.5e-300],
            "n_products": pa.array([1, None, 3, 0], pa.int64()),
            "high_potential": [True, False, None, True],
            "top_products": ['[{"product": "咖啡", "share": 0.5}]', "[not json", None, "{}"],
            "tier_reason_zh": ['引号 " 和逗号 ,', "换行\n", "", None],
        }
    )
    pq.write_table(table, folder / "customers.parquet")
    import_analysis(folder)
    assert_imported_exactly(folder)


def test_small_chunks_load_the_same(cdnow_analysis: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analysis_import, "CHUNK", 777)
    result = import_analysis(cdnow_analysis)
    assert result.new_customers == Customer.objects.count()
    assert_imported_exactly(cdnow_analysis)


def test_pseudonyms_in_bulk_equal_one_by_one() -> None:
    ids = ["C1", "客户/2", "", "x" * 200]
    assert pseudonyms(ids) == [pseudonym(i) for i in ids]
