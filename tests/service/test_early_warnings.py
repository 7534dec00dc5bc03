"""Issue 9 end to end: a core of the right size, a calibrated churn risk, few and right
alerts, measured against the baselines -- on the CDNOW sample and on the demo.

The demo is analysed with the calibration end six months before the end of its data
(2024-06-30); its simulator knows who has left by then (:func:`simulated_leavers`).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from corecustomers.config import Settings
from corecustomers.data.demo import generate_demo, write_demo_csv
from corecustomers.service import analyze
from corecustomers.service.history import history

FIXTURES = Path(__file__).parents[1] / "fixtures"
CDNOW = str(FIXTURES / "CDNOW_sample.txt")
CDNOW_COLUMNS = {"customer_id": "1", "timestamp": "3", "amount": "5"}
TODAY = dt.date(2026, 11, 23)

#: The demo of these tests: its size and seed are fixed, so are its figures.
DEMO_CUSTOMERS = 3000
DEMO_SEED = 7
DEMO_CALIBRATION_END = dt.date(2024, 6, 30)


def _analyse(source: str, settings: Settings, root: Path) -> tuple[pa.Table, dict[str, Any]]:
    result = analyze(source, root / "out", settings, today=TODAY)
    summary = json.loads((root / "out" / "summary.json").read_text(encoding="utf-8"))
    report = (root / "out" / "report.html").read_text(encoding="utf-8")
    summary["_report"] = report
    return result.customers, summary


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> tuple[pa.Table, dict[str, Any]]:
    root = tmp_path_factory.mktemp("cdnow")
    settings = Settings(
        columns=CDNOW_COLUMNS,
        calibration_end=dt.date(1997, 9, 30),
        workspace=str(root / "ws"),
    )
    return _analyse(CDNOW, settings, root)


@pytest.fixture(scope="module")
def demo_csv(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("demo") / "demo.csv"
    write_demo_csv(path, n_customers=DEMO_CUSTOMERS, seed=DEMO_SEED)
    return str(path)


@pytest.fixture(scope="module")
def demo(
    demo_csv: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[pa.Table, dict[str, Any]]:
    root = tmp_path_factory.mktemp("demo-run")
    settings = Settings(
        currency="¥",
        lang="en",
        calibration_end=DEMO_CALIBRATION_END,
        workspace=str(root / "ws"),
    )
    return _analyse(demo_csv, settings, root)


def _flags(customers: pa.Table, name: str) -> np.ndarray[Any, Any]:
    return np.asarray(pc.fill_null(customers.column(name), False).to_pylist(), dtype=bool)


# --- the simulator's truth --------------------------------------------------------------


def simulated_leavers(n_customers: int, seed: int, as_of: dt.date) -> set[str]:
    """Member ids of the demo customers who have left for good by ``as_of``.

    The simulator draws each customer's purchase times, thins them by the season, and
    cuts them after ``stays`` repeat purchases (the dropout). It returns transactions
    only, so the two facts the truth needs are caught on the way: the number of purchases
    each customer would have made without the dropout (the second ``segments`` call
    counts them) and the member numbers. A customer with fewer clean purchases than that
    has dropped out, at their last purchase; they have left by ``as_of`` when that
    purchase is on or before it.
    """
    module = sys.modules[generate_demo.__module__]
    seen: dict[str, Any] = {"segments": []}
    segments: Callable[..., Any] = module.segments
    members: Callable[..., Any] = module._member_numbers

    def record_segments(counts: Any) -> Any:
        seen["segments"].append(np.asarray(counts).copy())
        return segments(counts)

    def record_members(*args: Any) -> Any:
        seen["members"] = members(*args)
        return seen["members"]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "segments", record_segments)
        patch.setattr(module, "_member_numbers", record_members)
        table = generate_demo(n_customers=n_customers, seed=seed)
    would_buy = seen["segments"][1]  # thinned arrivals per customer, before the dropout
    ids = module.fixed_width("M", seen["members"], 7).to_pylist()
    clean = table.filter(
        pc.and_(pc.is_null(table["quality_issue"]), pc.greater(table["amount"], 0))
    )
    counts: dict[str, int] = {}
    last: dict[str, dt.datetime] = {}
    for cid, ts in zip(
        clean["customer_id"].to_pylist(), clean["timestamp"].to_pylist(), strict=True
    ):
        counts[cid] = counts.get(cid, 0) + 1
        last[cid] = max(last.get(cid, ts), ts)
    # the simulator's own bookkeeping must add up: a member's sales are the first one
    # plus the repeat purchases kept, never more than they would have made
    kept = np.array([counts.get(i, 1) - 1 for i in ids])
    assert (kept <= would_buy).all()
    return {
        i for i, k, w in zip(ids, kept, would_buy, strict=True) if k < w and last[i].date() <= as_of
    }


# --- Done when: the size of the core and of the list -----------------------------------


@pytest.mark.parametrize("case", ["cdnow", "demo"])
def test_the_core_is_the_vital_few_and_alerts_stay_within_the_budget(
    case: str, request: pytest.FixtureRequest
) -> None:
    customers, summary = request.getfixturevalue(case)
    n = customers.num_rows
    core = _flags(customers, "core")
    alert = _flags(customers, "alert")
    assert summary["tiers"]["policy_version"] == "retail@2"
    assert 0.15 * n <= core.sum() <= 0.25 * n
    strategic = np.asarray(customers.column("tier").to_pylist()) == "strategic"
    assert 0.03 * n <= strategic.sum() <= 0.07 * n
    alerts = summary["alerts"]
    assert alerts["max_share_of_core"] == 0.10
    assert alerts["budget"] == int(0.10 * core.sum() + 1e-9)
    assert 0 < alert.sum() <= alerts["budget"] <= 0.10 * core.sum()
    assert not (alert & ~core).any()
    # each alert: a high calibrated risk, a reason in both languages naming it
    risk = np.asarray(customers.column("churn_risk").to_pylist(), dtype=float)
    chosen = alerts["choice"]
    assert alerts["choice"]["method"] == "risk"
    assert (risk[alert] >= chosen["min_risk"] - 1e-12).all()
    for row in customers.filter(pa.array(alert)).to_pylist():
        assert row["alert_reason"].startswith("churn_risk")
        assert f"churn risk {row['churn_risk']:.2f}" in row["alert_reason_en"]
        assert "流失风险" in row["alert_reason_zh"]
        # a few days past a very short usual gap is not an alert, nor a slow buyer on
        # their own pace
        assert row["days_since_last_purchase"] >= alerts["min_idle_days"] == 14
        if (row["n_purchase_days"] or 0) >= 3:  # their own rhythm (else the typical one)
            assert row["overdue_ratio"] >= 1.0
    # the list is ordered by value at stake
    ranked = sorted(customers.filter(pa.array(alert)).to_pylist(), key=lambda r: r["alert_rank"])
    stakes = [r["value_at_stake"] for r in ranked]
    assert stakes == sorted(stakes, reverse=True)


@pytest.mark.parametrize("case", ["cdnow", "demo"])
def test_the_alert_list_is_at_least_as_precise_as_the_best_baseline(
    case: str, request: pytest.FixtureRequest
) -> None:
    _, summary = request.getfixturevalue(case)
    evaluation = summary["alerts"]["evaluation"]
    own = evaluation["alerts"]
    assert own["n"] == summary["alerts"]["alerted"]
    baselines = evaluation["baselines"]
    assert set(baselines) == {"p_alive", "recency", "rules"}
    for figures in baselines.values():
        assert figures["n"] <= own["n"]
    best = max(b["precision"] for b in baselines.values())
    assert own["precision"] >= best
    assert evaluation["at_least_best_baseline"] is True
    # and clearly better than alerting core customers at random
    assert own["precision"] > evaluation["core_inactive_share"]
    # every figure of item 4 is there
    for name in ("risk", "days_since_last_purchase", "one_minus_p_alive"):
        ranking = evaluation["ranking"][name]
        assert 0.5 < ranking["auc"] <= 1 and 0 < ranking["average_precision"] <= 1
    for key in ("precision", "recall", "value_coverage"):
        assert 0 <= own[key] <= 1
    assert len(evaluation["calibration"]["deciles"]) == 10
    value_models = evaluation["value_models"]
    assert len(value_models["p_alive"]) == 10 and len(value_models["purchases"]) == 10
    # and in the report
    report = summary["_report"]
    for text in ("Early warnings", "Calibration", "1 − P(alive)", "Days since the last purchase"):
        assert text in report, text


def test_the_risk_is_calibrated_on_the_cdnow_holdout(
    cdnow: tuple[pa.Table, dict[str, Any]],
) -> None:
    """In every decile over all customers, the share with no purchase in the 90 days
    after the calibration end is within 0.1 of the mean predicted risk."""
    _, summary = cdnow
    risk = summary["alerts"]["risk"]
    assert risk["method"] == "model" and risk["window_days"] == 90
    calibration = summary["alerts"]["evaluation"]["calibration"]
    assert calibration["window_days"] == 90
    for row in calibration["deciles"]:
        assert abs(row["predicted"] - row["observed"]) <= 0.1, row
    assert sum(r["customers"] for r in calibration["deciles"]) == summary["customers"]


def test_demo_alerts_find_the_simulated_leavers(demo: tuple[pa.Table, dict[str, Any]]) -> None:
    """The alerted core customers are true leavers (by the simulator) at least 1.5 times as
    often as core customers overall, and at least as often as the same number of core
    customers picked by 1 - P(alive).

    Measured (3,000 customers, seed 7): 42 alerts of a budget of 52, leavers 15 times
    (35.7 %) against 9.9 % of all core customers, and 15 times among the 42 core
    customers with the lowest P(alive). On this demo the churn risk is the calibrated
    1 - P(alive) (no other score ranked the validation split's alertable core customers
    clearly better), so the alerts are those customers minus any who bought recently or
    are within their usual gap; the "at least as often" half is met as a tie, not a win.
    Not every demo meets it: with the same settings, seed 2 (3,000 customers; the
    classifier chosen, 10 alerts, 6 leavers against 9), seed 11 (6,000; 40 of 105 against
    41) and seed 7 with 10,000 customers (classifier; 22 of 52 against 25) do not;
    seeds 1 and 3 (3,000) do, as ties.
    """
    customers, summary = demo
    left = simulated_leavers(DEMO_CUSTOMERS, DEMO_SEED, DEMO_CALIBRATION_END)
    ids = np.asarray(customers.column("customer_id").to_pylist(), dtype=object)
    gone = np.isin(ids, list(left))
    core = _flags(customers, "core")
    alert = _flags(customers, "alert")
    k = int(alert.sum())
    # a list long enough to measure (nine alerts out of a budget of 52 made the
    # comparison a matter of one customer)
    assert k >= summary["alerts"]["budget"] // 2
    p_alive = np.asarray(customers.column("p_alive").to_pylist(), dtype=float)
    by_p_alive = np.flatnonzero(core)[np.argsort(p_alive[core], kind="stable")[:k]]
    alerted_rate = gone[alert].mean()
    assert alerted_rate >= 1.5 * gone[core].mean()
    assert alerted_rate >= gone[by_p_alive].mean()


def test_demo_accounts_still_have_open_alerts(demo: tuple[pa.Table, dict[str, Any]]) -> None:
    """The service's work queue is built on the alerts: the demo keeps some in each of
    the demo account managers' regions' reach (at least a handful over all)."""
    customers, _ = demo
    assert _flags(customers, "alert").sum() >= 5
    assert customers.column("alert_reason_en").null_count < customers.num_rows


def test_the_core_share_holds_after_the_stability_rules(demo_csv: str, tmp_path: Path) -> None:
    """Over a short monthly history (band and grace at work) the core stays 15-25 %."""
    settings = Settings(workspace=str(tmp_path / "ws"), currency="¥")
    result = history(
        demo_csv,
        settings,
        every="month",
        start=dt.date(2024, 4, 1),
        end=dt.date(2024, 6, 30),
        out_dir=tmp_path / "hist",
        today=TODAY,
    )
    snapshots = result["snapshots"]
    assert len(snapshots) == 3
    from corecustomers.store import Workspace

    with Workspace.open(str(tmp_path / "ws")) as ws:
        for snap in snapshots:
            table = ws.read_snapshot(dt.date.fromisoformat(snap["as_of"]))
            tiers = np.asarray(table.column("tier").to_pylist())
            share = np.isin(tiers, ["strategic", "key"]).mean()
            assert 0.15 <= share <= 0.25, (snap["as_of"], share)
            assert table.column("alert").to_pylist().count(True) <= 0.1 * (
                np.isin(tiers, ["strategic", "key"]).sum()
            )


@pytest.mark.parametrize("case", ["cdnow", "demo"])
def test_the_risk_score_is_chosen_on_the_core_customers_an_alert_could_reach(
    case: str, request: pytest.FixtureRequest
) -> None:
    """The churn risk is judged on the validation split's core customers who are idle and
    past their usual gap -- the only ones the alert list is drawn from: 1 - P(alive)
    unless another score ranks them better in at least 95 % of paired bootstrap
    resamples (then the best of those). On the CDNOW sample the classifier wins (99 %);
    on the demo none does (1 - P(alive), AUC 0.745; the classifier 0.656)."""
    _, summary = request.getfixturevalue(case)
    risk = summary["alerts"]["risk"]
    validation = risk["validation"]
    assert validation["judged_on"].startswith("core customers who could be alerted")
    assert 0 < validation["judged_customers"] < validation["core_customers"]
    scores = validation["scores"]
    clear = [n for n, s in scores.items() if n != "p_alive" and s["beats_p_alive"] >= 0.95]
    best = max(scores[n]["auc_judged"] for n in clear or ["p_alive"])
    assert scores[risk["score"]]["auc_judged"] == best
    assert risk["score"] == ("model" if case == "cdnow" else "p_alive")
    assert f"AUC {best:.3f}" in risk["reason"]
