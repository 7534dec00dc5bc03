"""Issue 8: the outputs before the ranking stay what they were before "compute once".

The golden files in ``tests/fixtures/golden/`` were written by the code as it was before
issue 8 changed the analysis' plumbing (commit 9ba6887): for each case, the per-customer
columns up to the lifetime value (features, RFM, ABC, ``p_alive``,
``expected_purchases``, ``expected_spend``, ``clv``) as Parquet, and the summary's
figures up to the models (counts, concentration, segment and ABC tables, the fitted
models' parameters and the holdout check) as JSON. ``run_id`` and ``generated_at`` are
not kept: they differ on every run.

Cases: the CDNOW sample with the calibration end the other tests use (1997-09-30), and
the demo data set as ``corecustomers demo`` writes it (seed 7) with 2,000 customers (a
smaller deterministic run, about ten seconds); the full 20,000-customer demo is the same
check marked ``slow``.

Regenerate (only when an output is *meant* to change, and say so in the CHANGELOG)::

    .venv/bin/python tests/service/test_golden_outputs.py
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corecustomers.config import Settings
from corecustomers.data.demo import write_demo_csv
from corecustomers.service import analyze

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GOLDEN = FIXTURES / "golden"
TODAY = dt.date(2026, 11, 23)

#: The per-customer columns that come before the ranking (those present are compared).
COLUMNS = (
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "first_purchase",
    "last_purchase",
    "total_spend",
    "returns_amount",
    "n_orders",
    "n_periods",
    "tenure_days",
    "days_since_last_purchase",
    "frequency_holdout",
    "monetary_value_holdout",
    "duration_holdout",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "rfm_segment_label",
    "abc_class",
    "p_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
)

#: The summary's keys that come before the ranking.
SUMMARY_KEYS = (
    "source_kind",
    "encoding",
    "amount_format",
    "columns",
    "as_of",
    "calibration_end",
    "time_unit",
    "currency",
    "rows_read",
    "rows_accepted",
    "rows_quarantined",
    "rows_after_as_of",
    "rows_analysed",
    "quarantine_reasons",
    "customers",
    "revenue",
    "concentration",
    "segments",
    "abc",
    "models",
    "holdout",
)

#: Relative tolerance of the features and the summary's sums. The data are the same, but
#: DuckDB aggregates in parallel and adds floats in no fixed order, so a sum can differ
#: in its last bits from run to run (about 1e-16 relative); 1e-9 leaves room for that
#: and for nothing else.
RTOL_DATA = 1e-9

#: Relative tolerance of what the fitted models give (parameters, log-likelihood,
#: standard errors, predictions, CLV). The optimiser stops at its own tolerance, so the
#: last-bit noise of its inputs can move the optimum by far more than the noise itself;
#: 1e-6 is well below any difference a user could see and far above that noise.
RTOL_MODEL = 1e-6

_MODEL_COLUMNS = ("p_alive", "expected_purchases", "expected_spend", "clv")


def _cdnow(root: Path) -> tuple[str, Settings]:
    settings = Settings(
        columns={"customer_id": "1", "timestamp": "3", "amount": "5"},
        calibration_end=dt.date(1997, 9, 30),
        workspace=str(root / "workspace"),
    )
    return str(FIXTURES / "CDNOW_sample.txt"), settings


def _demo(n: int) -> Any:
    def make(root: Path) -> tuple[str, Settings]:
        data = root / "demo-transactions.csv"
        write_demo_csv(data, n_customers=n, seed=7)
        # the settings of ``corecustomers demo`` (its default language)
        return str(data), Settings(currency="¥", lang="en", workspace=str(root / "workspace"))

    return make


CASES = {"cdnow": _cdnow, "demo2000": _demo(2000), "demo20000": _demo(20_000)}


def run_case(name: str, root: Path) -> tuple[pa.Table, dict[str, Any]]:
    """Analyse case ``name`` in ``root``: the golden columns and summary of the run."""
    root.mkdir(parents=True, exist_ok=True)
    source, settings = CASES[name](root)
    result = analyze(source, root / "out", settings, today=TODAY)
    summary = json.loads((root / "out" / "summary.json").read_text(encoding="utf-8"))
    customers = result.customers
    keep = [c for c in COLUMNS if c in customers.column_names]
    table = customers.select(keep)
    table = table.take(pa.compute.sort_indices(table, [("customer_id", "ascending")]))
    return table, {k: summary[k] for k in SUMMARY_KEYS if k in summary}


def _close(path: str, got: Any, want: Any, rtol: float, errors: list[str]) -> None:
    if isinstance(want, dict) and isinstance(got, dict):
        if set(got) != set(want):
            errors.append(f"{path}: keys {sorted(got)} != {sorted(want)}")
        for key in want.keys() & got.keys():
            tol = RTOL_MODEL if key in ("models", "holdout") else rtol
            _close(f"{path}.{key}", got[key], want[key], tol, errors)
    elif isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            errors.append(f"{path}: {len(got)} items != {len(want)}")
        for i, (g, w) in enumerate(zip(got, want, strict=False)):
            _close(f"{path}[{i}]", g, w, rtol, errors)
    elif isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
        if not math.isclose(got, want, rel_tol=rtol, abs_tol=1e-12):
            errors.append(f"{path}: {got!r} != {want!r}")
    elif got != want:
        errors.append(f"{path}: {got!r} != {want!r}")


def compare(name: str, table: pa.Table, summary: dict[str, Any]) -> list[str]:
    """The differences between a run of case ``name`` and its golden files."""
    want_table = pq.read_table(GOLDEN / f"{name}.customers.parquet")
    want_summary = json.loads((GOLDEN / f"{name}.summary.json").read_text(encoding="utf-8"))
    errors: list[str] = []
    if table.column_names != want_table.column_names:
        errors.append(f"columns {table.column_names} != {want_table.column_names}")
    if table.num_rows != want_table.num_rows:
        errors.append(f"{table.num_rows} customers != {want_table.num_rows}")
    if errors:
        return errors
    for column in want_table.column_names:
        got, want = table.column(column), want_table.column(column)
        if pa.types.is_floating(want.type):
            g = np.asarray(got.to_numpy(zero_copy_only=False), dtype=np.float64)
            w = np.asarray(want.to_numpy(zero_copy_only=False), dtype=np.float64)
            rtol = RTOL_MODEL if column in _MODEL_COLUMNS else RTOL_DATA
            ok = np.isclose(g, w, rtol=rtol, atol=1e-12, equal_nan=True)
            if not ok.all():
                i = int(np.argmin(ok))
                errors.append(
                    f"{column}: {int((~ok).sum())} customers differ, e.g. row {i}: "
                    f"{g[i]!r} != {w[i]!r}"
                )
        elif not got.equals(want):
            errors.append(f"{column}: values differ")
    _close("summary", summary, want_summary, RTOL_DATA, errors)
    return errors


@pytest.mark.parametrize(
    "name", ["cdnow", "demo2000", pytest.param("demo20000", marks=pytest.mark.slow)]
)
def test_outputs_before_the_ranking_equal_the_golden_files(name: str, tmp_path: Path) -> None:
    table, summary = run_case(name, tmp_path)
    assert compare(name, table, summary) == []


def test_the_comparison_catches_a_changed_value(tmp_path: Path) -> None:
    """The check itself can fail: one p_alive moved by 1e-5 is a difference."""
    want = pq.read_table(GOLDEN / "cdnow.customers.parquet")
    summary = json.loads((GOLDEN / "cdnow.summary.json").read_text(encoding="utf-8"))
    p = np.asarray(want.column("p_alive").to_numpy(), dtype=np.float64).copy()
    p[7] *= 1 + 1e-5
    changed = want.set_column(want.column_names.index("p_alive"), "p_alive", pa.array(p))
    errors = compare("cdnow", changed, summary)
    assert len(errors) == 1 and errors[0].startswith("p_alive: 1 customers differ")
    summary["models"]["transaction"]["params"] = {
        k: v * 1.001 for k, v in summary["models"]["transaction"]["params"].items()
    }
    assert any("models.transaction.params" in e for e in compare("cdnow", want, summary))


def _regenerate(names: list[str]) -> None:
    import tempfile

    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in names:
        with tempfile.TemporaryDirectory() as tmp:
            table, summary = run_case(name, Path(tmp))
        pq.write_table(table, GOLDEN / f"{name}.customers.parquet", compression="zstd")
        text = json.dumps(summary, ensure_ascii=False, indent=1, sort_keys=True)
        (GOLDEN / f"{name}.summary.json").write_text(text + "\n", encoding="utf-8")
        print(name, table.num_rows, "customers")


if __name__ == "__main__":
    _regenerate(sys.argv[1:] or list(CASES))
