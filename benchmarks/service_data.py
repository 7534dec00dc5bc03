"""A synthetic ``analyze`` output folder with many customers, for the service benchmark.

``customers.parquet`` has exactly the columns a real ``corecustomers analyze`` run writes:
the rows are resampled from the 20k-customer demo analysis (``corecustomers demo``) with
unique ids and perturbed money columns, and ``summary.json`` is the demo's summary with
every count and total the service reads recomputed from the generated rows (customers,
revenue, concentration, segments, ABC classes, tiers, alerts, actions, the CLV total).

A share of the customers gets a ``previous_tier`` (mostly the same tier, some moves up or
down, some new customers without one), as in the second analysis of a source, so that the
dashboard's won / kept / downgraded / lost counts have something to count.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmarks.runner import DATA, ROOT, log

__all__ = ["demo_analysis", "write_analysis"]

BLOCK = 100_000

#: Money columns: multiplied by one log-normal factor per customer, so that a customer's
#: spend, value and stake move together and the tiers and alerts keep their meaning.
MONEY = (
    "monetary_value",
    "total_spend",
    "returns_amount",
    "expected_spend",
    "clv",
    "spend_last_90d",
    "spend_prev_90d",
    "spend_last_365d",
    "gross_spend",
    "predicted_value",
    "historic_value",
    "referred_revenue",
    "value_at_stake",
)


def demo_analysis(folder: Path = DATA / "service-demo") -> Path:
    """The 20k-customer demo analysis (``corecustomers demo --out``), made once and kept."""
    analysis = folder / "analysis"
    if not (analysis / "customers.parquet").is_file():
        log(f"  corecustomers demo --out {folder} (the template rows) ...")
        subprocess.run(
            [sys.executable, "-m", "corecustomers", "demo", "--out", str(folder)],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return analysis


def write_analysis(
    out: Path, customers: int, *, template: Path | None = None, seed: int = 0
) -> dict[str, Any]:
    """Write ``customers.parquet`` and ``summary.json`` for ``customers`` customers to ``out``.

    Returns the summary. Rows are written in blocks of 100k (one row group each).
    """
    template = template or demo_analysis()
    source = pq.read_table(template / "customers.parquet")
    base_summary = json.loads((template / "summary.json").read_text(encoding="utf-8"))
    tiers_order = [str(row["tier"]) for row in base_summary["tiers"]["table"]]
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "customers.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    totals: dict[str, Any] = {
        "spend": [],
        "frequency": [],
        "tiers": Counter(),
        "tier_revenue": Counter(),
        "tier_clv": Counter(),
        "segments": Counter(),
        "segment_revenue": Counter(),
        "abc": Counter(),
        "abc_revenue": Counter(),
        "actions": Counter(),
        "core": 0,
        "alerted": 0,
        "stake": 0.0,
        "clv": 0.0,
    }
    writer: pq.ParquetWriter | None = None
    try:
        for start in range(0, customers, BLOCK):
            n = min(BLOCK, customers - start)
            block = _block(source, rng, start, n, tiers_order)
            _tally(block, totals)
            if writer is None:
                writer = pq.ParquetWriter(tmp, block.schema)
            writer.write_table(block, row_group_size=BLOCK)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)
    summary = _summary(base_summary, totals, customers, seed)
    (out / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2, allow_nan=False), encoding="utf-8"
    )
    return summary


def _block(
    source: pa.Table, rng: np.random.Generator, start: int, n: int, tiers_order: list[str]
) -> pa.Table:
    picks = rng.integers(0, source.num_rows, size=n)
    block = source.take(pa.array(picks))
    ids = pa.array([f"B{start + i:07d}" for i in range(n)], pa.string())
    block = block.set_column(block.schema.get_field_index("customer_id"), "customer_id", ids)
    factor = rng.lognormal(mean=0.0, sigma=0.25, size=n)
    for name in MONEY:
        if name in block.column_names:
            i = block.schema.get_field_index(name)
            column = block.column(i)
            scaled = pc.multiply(column.cast(pa.float64()), pa.array(factor))
            block = block.set_column(i, name, scaled.cast(column.type))
    if "core_score" in block.column_names:
        i = block.schema.get_field_index("core_score")
        noise = 1.0 + rng.normal(0.0, 0.02, size=n)
        block = block.set_column(i, "core_score", pc.multiply(block.column(i), pa.array(noise)))
    if "previous_tier" in block.column_names:
        block = block.set_column(
            block.schema.get_field_index("previous_tier"),
            "previous_tier",
            _previous_tiers(block.column("tier").to_numpy(zero_copy_only=False), rng, tiers_order),
        )
    return block


def _previous_tiers(tiers: np.ndarray, rng: np.random.Generator, order: list[str]) -> pa.Array:
    """85 % the same tier, 5 % one up, 5 % one down, 5 % new (no previous tier)."""
    rank = {tier: i for i, tier in enumerate(order)}
    draw = rng.random(len(tiers))
    out: list[str | None] = []
    for tier, u in zip(tiers.tolist(), draw.tolist(), strict=True):
        r = rank.get(tier)
        if r is None or u < 0.85:
            out.append(tier)
        elif u < 0.90:
            out.append(order[max(r - 1, 0)])
        elif u < 0.95:
            out.append(order[min(r + 1, len(order) - 1)])
        else:
            out.append(None)
    return pa.array(out, pa.string())


def _tally(block: pa.Table, totals: dict[str, Any]) -> None:
    spend = block.column("total_spend").to_numpy(zero_copy_only=False).astype(float)
    clv = np.nan_to_num(block.column("clv").to_numpy(zero_copy_only=False).astype(float))
    totals["spend"].append(spend)
    totals["frequency"].append(block.column("frequency").to_numpy(zero_copy_only=False))
    columns = {
        "tiers": block.column("tier").to_pylist(),
        "segments": block.column("rfm_segment").to_pylist(),
        "abc": block.column("abc_class").to_pylist(),
    }
    for key, revenue_key in (
        ("tiers", "tier_revenue"),
        ("segments", "segment_revenue"),
        ("abc", "abc_revenue"),
    ):
        totals[key].update(columns[key])
        for label, value in zip(columns[key], spend.tolist(), strict=True):
            totals[revenue_key][label] += value
    for tier, value in zip(columns["tiers"], clv.tolist(), strict=True):
        totals["tier_clv"][tier] += value
    totals["actions"].update(block.column("action_code").to_pylist())
    core = block.column("core").to_numpy(zero_copy_only=False).astype(bool)
    alert = block.column("alert").to_numpy(zero_copy_only=False).astype(bool)
    stake = np.nan_to_num(block.column("value_at_stake").to_numpy(zero_copy_only=False))
    totals["core"] += int(core.sum())
    totals["alerted"] += int(alert.sum())
    totals["stake"] += float(stake[alert].sum())
    totals["clv"] += float(clv.sum())


def _summary(
    base: dict[str, Any], totals: dict[str, Any], customers: int, seed: int
) -> dict[str, Any]:
    from corecustomers.segments.abc import concentration

    spend = np.concatenate(totals["spend"])
    frequency = np.concatenate(totals["frequency"])
    summary = json.loads(json.dumps(base))
    summary["run_id"] = f"bench-{customers}-{seed}"
    summary["source"] = f"synthetic: {customers:,} customers resampled from the demo"
    summary["source_name"] = "bench-synthetic"
    summary["customers"] = customers
    summary["concentration"] = concentration(spend, frequency)
    summary["revenue"] = summary["concentration"]["revenue"]
    revenue = summary["revenue"] or 1.0
    for key, table_key, count_key, revenue_key in (
        ("segments", "segment", "segments", "segment_revenue"),
        ("abc", "class", "abc", "abc_revenue"),
    ):
        for row in summary[key]["table"]:
            label = row[table_key]
            row["customers"] = int(totals[count_key].get(label, 0))
            row["revenue"] = float(totals[revenue_key].get(label, 0.0))
            row["share_customers"] = row["customers"] / customers
            row["share_revenue"] = row["revenue"] / revenue
    for row in summary["tiers"]["table"]:
        tier = row["tier"]
        row["customers"] = int(totals["tiers"].get(tier, 0))
        row["revenue"] = float(totals["tier_revenue"].get(tier, 0.0))
        row["clv"] = float(totals["tier_clv"].get(tier, 0.0))
    summary["alerts"] = {
        "core_customers": totals["core"],
        "alerted": totals["alerted"],
        "value_at_stake": totals["stake"],
    }
    summary["actions"] = dict(sorted(totals["actions"].items()))
    summary.setdefault("models", {}).setdefault("clv", {})["total"] = totals["clv"]
    assert math.isfinite(summary["revenue"])
    return summary
