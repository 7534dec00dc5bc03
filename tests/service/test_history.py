"""``history``: each snapshot it stores equals the one ``analyze --as-of`` stores.

The history computes many dates in one command (the features of all dates in one scan,
each date's model fits started from the previous date's estimates); ``analyze --as-of``
computes one date from scratch. Run in turn, date after date, in a second workspace,
``analyze --as-of`` must store the same snapshot as the history for every date: the
same customers, tiers, previous tiers, tier dates, RFM scores and segments, ABC classes,
alerts and tier state exactly, and the model-derived numbers (``core_score``, ``clv``,
``p_alive``) to the models' tolerance (below).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from corecustomers.config import Settings
from corecustomers.data.demo import write_demo_csv
from corecustomers.segments.migration import migration_series
from corecustomers.service import analyze
from corecustomers.service.history import history
from corecustomers.store import Workspace

TODAY = dt.date(2026, 11, 23)

#: Model-derived columns and their relative tolerance. A warm-started fit (the history
#: starts each date's fit from the previous date's estimates) and a cold one (``analyze``)
#: stop at the same optimum only to the optimiser's tolerance: L-BFGS-B and Newton stop
#: at a max-norm gradient of 1e-9 of the mean log-likelihood in log-parameters
#: (``models/_optimize.py``), which leaves the parameters about 1e-7 apart relative to
#: each other on these data; predictions move by the same order. 1e-5 is a hundred times
#: that and still far below any difference a user could see (a cent in 1,000).
RTOL = 1e-5

EXACT = (
    "customer_id",
    "tier",
    "previous_tier",
    "tier_since",
    "frequency",
    "days_since_last_purchase",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "abc_class",
    "alert",
    "policy_version",
)
#: DuckDB sums in parallel, in no fixed order: two runs over the same rows can differ in
#: the last bit of a sum (1742.1000000000001 against 1742.1 was seen), so ``total_spend``
#: is compared to 1e-12, relative.
SUM_RTOL = 1e-12

CLOSE = {"total_spend": SUM_RTOL, "core_score": RTOL, "clv": RTOL, "p_alive": RTOL}


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("demo") / "demo.csv"
    write_demo_csv(path, n_customers=1200, seed=5)
    return str(path)


def _sorted(table: pa.Table) -> pa.Table:
    return table.sort_by("customer_id")


def _same(got: Any, want: Any, day: dt.date) -> None:
    """Equal JSON values, floats to :data:`RTOL`."""
    if isinstance(want, float) and isinstance(got, (int, float)):
        assert got == pytest.approx(want, rel=RTOL, abs=1e-9), day
    elif isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), day
        for key in want:
            _same(got[key], want[key], day)
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), day
        for a, b in zip(got, want, strict=True):
            _same(a, b, day)
    else:
        assert got == want, day


@pytest.mark.parametrize("jobs", [1, 2])
def test_history_snapshots_equal_analyze_as_of(demo_csv: str, tmp_path: Path, jobs: int) -> None:
    """On one process and on two (each worker analyses every other date and its fits
    start from two dates back; the snapshots are saved in date order)."""
    base = Settings(currency="¥", model="bgnbd")
    in_history = dataclasses.replace(base, workspace=str(tmp_path / "ws-history"), jobs=jobs)
    result = history(
        demo_csv,
        in_history,
        every="month",
        start=dt.date(2024, 8, 1),
        end=dt.date(2024, 11, 30),
        out_dir=tmp_path / "hist",
        today=TODAY,
    )
    dates = [dt.date.fromisoformat(s["as_of"]) for s in result["snapshots"]]
    assert dates == [
        dt.date(2024, 8, 31),
        dt.date(2024, 9, 30),
        dt.date(2024, 10, 31),
        dt.date(2024, 11, 30),
    ]
    one_by_one = str(tmp_path / "ws-analyze")
    for i, day in enumerate(dates):
        settings = dataclasses.replace(base, workspace=one_by_one, as_of=day)
        analyze(demo_csv, tmp_path / f"out-{i}", settings, today=TODAY)
    with Workspace.open(str(tmp_path / "ws-history")) as ws_h, Workspace.open(one_by_one) as ws_a:
        for day in dates:
            got = _sorted(ws_h.read_snapshot(day))
            want = _sorted(ws_a.read_snapshot(day))
            assert got.num_rows == want.num_rows > 0, day
            for name in EXACT:
                assert got.column(name).to_pylist() == want.column(name).to_pylist(), (day, name)
            for name, rtol in CLOSE.items():
                a = np.asarray(got.column(name).to_pylist(), dtype=float)
                b = np.asarray(want.column(name).to_pylist(), dtype=float)
                np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-9, err_msg=f"{day} {name}")
            # the reasons (JSON): the same rules and outcomes, their figures to RTOL
            pairs = zip(
                got.column("tier_reasons").to_pylist(),
                want.column("tier_reasons").to_pylist(),
                strict=True,
            )
            for mine, theirs in pairs:
                _same(json.loads(mine), json.loads(theirs), day)
            assert got.column("alert_reason").to_pylist() == want.column("alert_reason").to_pylist()
        # history.json counts each snapshot's customers, and its series is the one of
        # the stored snapshots (read whole here)
        stored = [ws_h.read_snapshot(d) for d in dates]
    assert [s["customers"] for s in result["snapshots"]] == [t.num_rows for t in stored]
    series = migration_series(
        list(zip(dates, stored, strict=True)),
        tiers=["strategic", "key", "ordinary"],
        core_tiers=["strategic", "key"],
    )
    assert result["migration_series"] == series


def test_history_through_the_first_months(tmp_path: Path) -> None:
    """The first dates with a trained churn risk: its training split lies so early that
    the changes over a window before it (P(alive), spend) have no value for anyone; the
    classifier is trained without them instead of failing (scikit-learn 1.9 cannot bin a
    column without a value). Before the fix ``analyze --as-of 2022-07-31`` of the demo
    failed, and with it every monthly history of the demo."""
    path = tmp_path / "demo.csv"
    write_demo_csv(path, n_customers=3000, seed=7)
    result = history(
        str(path),
        Settings(currency="¥", workspace=str(tmp_path / "ws")),
        every="month",
        start=dt.date(2022, 7, 1),
        end=dt.date(2022, 8, 31),
        out_dir=tmp_path / "hist",
        today=TODAY,
    )
    assert [s["as_of"] for s in result["snapshots"]] == ["2022-07-31", "2022-08-31"]
    assert all(s["customers"] > 0 for s in result["snapshots"])
