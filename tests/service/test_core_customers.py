"""Issue 4 end to end: tiers with reasons, history and migration, overrides, alerts,
recommendations and the capture comparison, on the demo data and the CDNOW sample."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corecustomers.config import Settings
from corecustomers.data.demo import write_demo_csv
from corecustomers.service import analyze
from corecustomers.service.history import add_override, compare, history
from corecustomers.store import Workspace

FIXTURES = Path(__file__).parents[1] / "fixtures"
CDNOW = str(FIXTURES / "CDNOW_sample.txt")
CDNOW_COLUMNS = {"customer_id": "1", "timestamp": "3", "amount": "5"}
TODAY = dt.date(2026, 11, 23)


def _one_tier_and_reasons(customers: pa.Table) -> None:
    ids = customers.column("customer_id").to_pylist()
    assert len(ids) == len(set(ids))
    tiers = customers.column("tier").to_pylist()
    assert all(t in ("strategic", "key", "ordinary") for t in tiers)
    for lang in ("en", "zh"):
        reasons = customers.column(f"tier_reason_{lang}").to_pylist()
        assert all(isinstance(r, str) and r.strip() for r in reasons), lang
    assert all(customers.column("next_best_action").to_pylist())


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("demo") / "demo.csv"
    write_demo_csv(path, n_customers=1500, seed=11)
    return str(path)


def test_cdnow_every_customer_one_tier_with_reasons_alerts_and_capture(tmp_path: Path) -> None:
    settings = Settings(
        columns=CDNOW_COLUMNS, calibration_end=dt.date(1997, 9, 30), workspace=str(tmp_path)
    )
    result = analyze(CDNOW, tmp_path / "out", settings, today=TODAY)
    _one_tier_and_reasons(result.customers)
    assert result.customers.num_rows == 2357
    s = result.summary
    assert sum(r["customers"] for r in s["tiers"]["table"]) == 2357
    # the alert list measured on the holdout: alerted core customers are markedly less
    # active in the holdout than the core customers not alerted
    holdout = s["alerts"]["holdout"]
    assert holdout["n_alerted"] > 0 and holdout["n_not_alerted"] > 0
    assert holdout["alerted_active_rate"] < 0.75 * holdout["not_alerted_active_rate"]
    # the capture of holdout revenue by the top 20 % under three rankings
    capture = s["capture"]["capture"]
    for key in ("historic_spend", "btyd", "combined"):
        assert 0 < capture[key] <= capture["best_possible"] <= 1
    saved = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert saved["capture"]["capture"]["btyd"] == pytest.approx(capture["btyd"])
    for col in (
        "core_score",
        "tier",
        "tier_reasons",
        "previous_tier",
        "alert",
        "alert_reason",
        "potential_score",
        "next_best_action",
    ):
        assert col in result.customers.column_names, col


def test_demo_history_compare_and_overrides(demo_csv: str, tmp_path: Path) -> None:
    settings = Settings(workspace=str(tmp_path), currency="¥")
    result = history(
        demo_csv,
        settings,
        every="month",
        start=dt.date(2024, 1, 1),
        end=dt.date(2024, 6, 30),
        out_dir=tmp_path / "hist",
        today=TODAY,
    )
    dates = [s["as_of"] for s in result["snapshots"]]
    assert dates == [
        "2024-01-31",
        "2024-02-29",
        "2024-03-31",
        "2024-04-30",
        "2024-05-31",
        "2024-06-30",
    ]
    with Workspace.open(str(tmp_path)) as ws:
        assert [d.isoformat() for d in ws.snapshot_dates()] == dates
        before = ws.read_snapshot(dt.date(2024, 1, 31))
        after = ws.read_snapshot(dt.date(2024, 6, 30))
    both = len(
        set(before.column("customer_id").to_pylist()) & set(after.column("customer_id").to_pylist())
    )
    cmp = compare(settings, start=dt.date(2024, 1, 31), end=dt.date(2024, 6, 30))
    assert cmp["customers"]["both"] == both
    assert sum(sum(row) for row in cmp["matrix"]["customers"]) == both
    assert cmp["customers"]["both"] + cmp["customers"]["gone"] == before.num_rows
    assert cmp["customers"]["both"] + cmp["customers"]["new"] == after.num_rows

    # an override survives recomputation
    ordinary = next(
        c
        for c, t in zip(
            after.column("customer_id").to_pylist(), after.column("tier").to_pylist(), strict=True
        )
        if t == "ordinary"
    )
    add_override(
        settings, ordinary, tier="strategic", by="Li Na", reason="renegotiating", until=None
    )
    out1 = analyze(demo_csv, tmp_path / "a1", settings, today=TODAY)
    out2 = analyze(demo_csv, tmp_path / "a2", settings, today=TODAY)
    for res in (out1, out2):
        _one_tier_and_reasons(res.customers)
        row = _row(res.customers, ordinary)
        assert row["tier"] == "strategic"
        assert "Li Na" in row["tier_reason_en"] and "Li Na" in row["tier_reason_zh"]
    s = out2.summary
    # the second run compares with the first run's snapshot (same as-of: replaced) or the
    # latest earlier one; either way the migration is reported
    assert "migration" in s
    # recommendations measured against the popularity baseline
    rec = s["recommendations"]
    assert rec["customers_evaluated"] > 0
    for k in ("hit_rate_at_5", "hit_rate_at_10"):
        assert 0 <= rec[k] <= 1 and 0 <= rec["baseline"][k] <= 1
    assert "recommended_products" in out2.customers.column_names


def _row(table: pa.Table, customer_id: str) -> dict[str, Any]:
    ids = table.column("customer_id").to_pylist()
    return table.slice(ids.index(customer_id), 1).to_pylist()[0]


def test_tiers_do_not_depend_on_row_order(tmp_path: Path) -> None:
    lines = (FIXTURES / "CDNOW_sample.txt").read_text().splitlines()
    shuffled = tmp_path / "shuffled.txt"
    import random

    random.Random(3).shuffle(lines)
    shuffled.write_text("\n".join(lines) + "\n")
    settings = Settings(columns=CDNOW_COLUMNS, workspace=str(tmp_path / "ws1"), model="bgnbd")
    a = analyze(CDNOW, tmp_path / "a", settings, today=TODAY).customers
    b = analyze(
        str(shuffled),
        tmp_path / "b",
        Settings(columns=CDNOW_COLUMNS, workspace=str(tmp_path / "ws2"), model="bgnbd"),
        today=TODAY,
    ).customers
    # the customers come in the order of their ids, whatever the order of the rows, in
    # the table and in the files
    ids = a.column("customer_id").to_pylist()
    assert ids == sorted(ids) == b.column("customer_id").to_pylist()
    written = pq.read_table(tmp_path / "b" / "customers.parquet").column("customer_id")
    assert written.to_pylist() == ids
    ta = dict(zip(a.column("customer_id").to_pylist(), a.column("tier").to_pylist(), strict=True))
    tb = dict(zip(b.column("customer_id").to_pylist(), b.column("tier").to_pylist(), strict=True))
    assert ta == tb
