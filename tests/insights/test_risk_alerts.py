"""Issue 9 in the library: the [alerts] settings, the budget, the risk-first list, its
reasons, the evaluation figures and the churn risk's fallback and determinism."""

from __future__ import annotations

import datetime
import doctest
import warnings
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corecustomers.data.features import customer_features, materialize
from corecustomers.errors import ConfigError
from corecustomers.insights import alert_evaluation, risk
from corecustomers.insights.alert_evaluation import (
    average_precision,
    calibration_table,
    evaluate_alert_list,
    list_figures,
)
from corecustomers.insights.alerts import (
    AlertSettings,
    AlertThresholds,
    alert_budget,
    early_warnings,
    pick,
)
from corecustomers.insights.behaviour import customer_behaviour
from corecustomers.insights.fitted import FittedValue
from corecustomers.insights.risk import auc, churn_risk
from corecustomers.models import BetaGeoModel, GammaGammaModel

PROPERTY = settings(max_examples=40, deadline=None)


def behaviour_row(customer: str, *, idle: int = 10, gap: float | None = 20.0) -> dict[str, Any]:
    return {
        "customer_id": customer,
        "n_purchase_days": 6,
        "days_since_last_purchase": idle,
        "mean_gap_days": gap,
        "overdue_ratio": None if gap is None else idle / gap,
        "spend_last_90d": 100.0,
        "spend_prev_90d": 100.0,
        "spend_trend": 0.0,
        "spend_last_365d": 400.0,
    }


def book(n: int, rng: np.random.Generator) -> tuple[pa.Table, pa.Table, np.ndarray[Any, Any]]:
    """``n`` customers, about a quarter core, with risks, values and rhythms."""
    ids = [f"c{i:04d}" for i in range(n)]
    tiers = rng.choice(["strategic", "key", "ordinary", "ordinary"], n)
    scored = pa.table(
        {
            "customer_id": ids,
            "tier": tiers,
            "p_alive": rng.uniform(0.05, 1.0, n),
            "clv": np.round(rng.gamma(2.0, 100.0, n), 1),
        }
    )
    behaviour = pa.Table.from_pylist(
        [
            behaviour_row(i, idle=int(d), gap=float(g))
            for i, d, g in zip(ids, rng.integers(0, 200, n), rng.uniform(2, 60, n), strict=True)
        ]
    )
    return scored, behaviour, np.round(rng.uniform(0, 1, n), 2)


# --- the [alerts] settings ------------------------------------------------------------


def test_alert_settings_defaults_and_the_old_keys_keep_their_meaning() -> None:
    default = AlertSettings.from_config(None)
    assert (default.risk_window_days, default.max_share_of_core, default.min_idle_days) == (
        90,
        0.10,
        14,
    )
    assert default.risk_score == "auto" and default.min_risk is None
    assert default.min_overdue_ratio == 1.0
    old = AlertSettings.from_config({"overdue_ratio": 3.0, "p_alive_drop": 0.3})
    assert old.thresholds == AlertThresholds(overdue_ratio=3.0, p_alive_drop=0.3)


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"budget": 10}, r"unknown key\(s\) budget in \[alerts\]; known: .*max_share_of_core"),
        ({"max_share_of_core": 0}, r"max_share_of_core must be a share in \(0, 1\]"),
        ({"max_share_of_core": 1.5}, r"max_share_of_core"),
        ({"risk_window_days": 3}, r"risk_window_days must be a whole number of days"),
        ({"risk_window_days": 90.5}, r"risk_window_days"),
        ({"min_risk": 1.2}, r"min_risk must be a probability"),
        ({"risk_score": "magic"}, r"risk_score must be one of auto, model, p_alive, recency"),
        ({"min_idle_days": -1}, r"min_idle_days"),
        ({"min_overdue_ratio": -0.5}, r"min_overdue_ratio must be a number >= 0"),
        ({"overdue_ratio": -1.0}, r"overdue_ratio must be a number above 0"),
    ],
)
def test_bad_alert_settings_say_which_key(config: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        AlertSettings.from_config(config)


# --- the list: risk first, then value, within the budget --------------------------------


def test_risk_first_then_value_within_the_budget_and_no_alert_for_a_short_gap() -> None:
    ids = [f"c{i}" for i in range(20)]
    scored = pa.table(
        {
            "customer_id": ids,
            "tier": ["key"] * 20,
            "p_alive": [0.2] * 20,
            "clv": [float(100 + i) for i in range(20)],
        }
    )
    rows = [behaviour_row(i, idle=60, gap=20.0) for i in ids]
    rows[19] = behaviour_row("c19", idle=9, gap=3.0)  # 3x a 3-day gap, but bought 9 days ago
    behaviour = pa.Table.from_pylist(rows)
    risk_values = np.array([0.9] * 10 + [0.3] * 10)
    risk_values[19] = 0.99
    out = early_warnings(
        scored,
        behaviour,
        risk=risk_values,
        method="risk",
        min_risk=0.8,
        max_share_of_core=0.10,
        min_idle_days=14,
        value_if_kept=True,
    ).to_pylist()
    alerted = [r["customer_id"] for r in out if r["alert"]]
    # budget 2 of 20 core; among risk >= 0.8 (c0..c9; c19 bought too recently) the two
    # with the most value at stake
    assert alerted == ["c8", "c9"]
    ranks = {r["customer_id"]: r["alert_rank"] for r in out if r["alert"]}
    assert ranks == {"c9": 1, "c8": 2}
    c9 = next(r for r in out if r["customer_id"] == "c9")
    # value if kept: clv / P(alive)
    assert c9["value_at_stake"] == pytest.approx(109.0 / 0.2)
    assert c9["churn_risk"] == pytest.approx(0.9)
    assert c9["alert_reason"] == "churn_risk,overdue"
    assert c9["alert_reason_en"] == (
        "At risk: churn risk 0.90 (no purchase in the next 90 days); 60 days since the last "
        "purchase, 3.0 times the usual gap of 20 days."
    )
    assert c9["alert_reason_zh"] == (
        "流失预警：流失风险0.90（未来90天内无购买的概率90%）；距上次购买已60天，是平常购买"
        "间隔（20天）的3.0倍。"
    )


def test_the_reason_names_the_rhythm_when_no_rule_tripped() -> None:
    scored = pa.table({"customer_id": ["a"], "tier": ["key"], "clv": [10.0], "p_alive": [0.5]})
    behaviour = pa.Table.from_pylist([behaviour_row("a", idle=30, gap=20.0)])
    out = early_warnings(
        scored, behaviour, risk=np.array([0.7]), method="risk", min_risk=0.5
    ).to_pylist()[0]
    assert out["alert"] and out["alert_reason"] == "churn_risk,recency"
    assert out["alert_reason_en"].endswith(
        "30 days since the last purchase, 1.5 times the usual gap of 20 days."
    )
    assert "距上次购买已30天，是平常购买间隔（20天）的1.5倍" in out["alert_reason_zh"]


@PROPERTY
@given(n=st.integers(1, 120), seed=st.integers(0, 10_000), share=st.floats(0.01, 1.0))
def test_alerts_never_exceed_the_budget(n: int, seed: int, share: float) -> None:
    scored, behaviour, risk_values = book(n, np.random.default_rng(seed))
    for method in ("risk", "p_alive", "recency", "rules"):
        out = early_warnings(
            scored,
            behaviour,
            risk=risk_values,
            method=method,  # type: ignore[arg-type]
            min_risk=0.5,
            max_share_of_core=share,
            min_idle_days=14,
        )
        core = np.asarray(out["core"].to_pylist(), dtype=bool)
        alert = np.asarray(out["alert"].to_pylist(), dtype=bool)
        assert alert.sum() <= alert_budget(int(core.sum()), share) <= share * core.sum()
        assert not (alert & ~core).any()


@PROPERTY
@given(n=st.integers(1, 80), seed=st.integers(0, 10_000))
def test_the_alert_list_is_deterministic_and_row_order_invariant(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    scored, behaviour, risk_values = book(n, rng)

    def run(s: pa.Table, b: pa.Table, r: np.ndarray[Any, Any]) -> dict[str, tuple[Any, ...]]:
        out = early_warnings(
            s, b, risk=r, method="risk", min_risk=0.5, max_share_of_core=0.1, value_if_kept=True
        )
        return {
            row["customer_id"]: (row["alert"], row["alert_rank"], row["alert_reason_en"])
            for row in out.to_pylist()
        }

    first = run(scored, behaviour, risk_values)
    assert run(scored, behaviour, risk_values) == first
    order = rng.permutation(n)
    back = rng.permutation(n)
    assert run(scored.take(order), behaviour.take(back), risk_values[order]) == first


@PROPERTY
@given(
    keys=st.lists(st.integers(0, 3), min_size=1, max_size=30),
    limit=st.integers(0, 10),
    seed=st.integers(0, 1000),
)
def test_pick_takes_the_top_by_key_then_id(keys: list[int], limit: int, seed: int) -> None:
    ids = [f"x{i:02d}" for i in range(len(keys))]
    values = np.asarray(keys, dtype=float)
    chosen = pick(np.ones(len(keys), dtype=bool), [values], ids, limit)
    expected = sorted(range(len(keys)), key=lambda i: (-keys[i], ids[i]))[:limit]
    assert sorted(np.flatnonzero(chosen).tolist()) == sorted(expected)
    order = np.random.default_rng(seed).permutation(len(keys))
    shuffled = pick(np.ones(len(keys), dtype=bool), [values[order]], [ids[i] for i in order], limit)
    assert sorted(ids[order[i]] for i in np.flatnonzero(shuffled)) == sorted(
        ids[i] for i in expected
    )


# --- the figures -------------------------------------------------------------------------


def test_list_figures_and_the_evaluation_against_the_baselines() -> None:
    core = np.array([True] * 6 + [False])
    inactive = np.array([True, True, False, True, False, False, True])
    stake = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0])
    listed = np.array([True, True, False, False, False, False, True])
    figures = list_figures(listed, core, inactive, stake)
    # the non-core customer does not count
    assert figures == {"n": 2, "precision": 1.0, "recall": 2 / 3, "value_coverage": 30 / 70}
    out = evaluate_alert_list(
        ids=[f"c{i}" for i in range(7)],
        alert=listed,
        core=core,
        inactive=inactive,
        stake=stake,
        risk=np.array([0.9, 0.8, 0.1, 0.7, 0.2, 0.1, 0.9]),
        p_alive=np.array([0.1, 0.2, 0.9, 0.3, 0.8, 0.9, 0.1]),
        idle=np.array([90.0, 80.0, 5.0, 70.0, 10.0, 3.0, 99.0]),
        rules=np.array([False, False, True, True, True, False, False]),
    )
    assert out["baselines"]["p_alive"]["n"] == 2 and out["baselines"]["p_alive"]["precision"] == 1
    assert out["baselines"]["rules"]["precision"] == 0.5  # c3 and c4, by value at stake
    assert out["at_least_best_baseline"] is True
    assert out["ranking"]["risk"]["auc"] == 1.0
    assert out["core_inactive_share"] == 0.5


def test_auc_average_precision_and_calibration_table() -> None:
    assert auc([0.1, 0.2, 0.3, 0.4], [False, False, True, True]) == 1.0
    assert auc([0.5, 0.5], [False, True]) == 0.5
    assert auc([0.1, 0.2], [False, False]) is None
    assert average_precision([0.9, 0.1], [False, True]) == 0.5
    rows = calibration_table(np.linspace(0, 1, 100), np.linspace(0, 1, 100) > 0.5)
    assert [r["customers"] for r in rows] == [10] * 10
    assert rows[0]["observed"] == 0.0 and rows[-1]["observed"] == 1.0


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=1, max_size=60),
    st.randoms(use_true_random=False),
)
def test_average_precision_is_scikit_learns_whatever_the_customers_order(
    rows: list[tuple[int, bool]], rng: Any
) -> None:
    # integer scores, as days since the last purchase: many ties, which enter the list
    # together, so that the figure does not follow the order the engine grouped them in
    from sklearn.metrics import average_precision_score

    score = np.array([s for s, _ in rows], dtype=np.float64)
    positive = np.array([p for _, p in rows])
    got = average_precision(score, positive)
    if not positive.any():
        assert got is None
        return
    assert got == pytest.approx(average_precision_score(positive, score), abs=1e-12)
    order = np.array(rng.sample(range(len(rows)), len(rows)))
    assert average_precision(score[order], positive[order]) == pytest.approx(got, abs=1e-12)


def test_module_examples_run() -> None:
    for module in (alert_evaluation, risk):
        assert doctest.testmod(module, optionflags=doctest.ELLIPSIS).failed == 0


# --- the churn risk ----------------------------------------------------------------------


def _short_history() -> tuple[Any, pa.Table, FittedValue, pa.Table, datetime.date]:
    """60 customers over 60 days: too little history for a time-shifted model."""
    rng = np.random.default_rng(3)
    start = datetime.date(2024, 1, 1)
    rows: dict[str, list[Any]] = {"customer_id": [], "timestamp": [], "amount": []}
    for c in range(60):
        for d in sorted(rng.choice(60, size=int(rng.integers(1, 8)), replace=False)):
            rows["customer_id"].append(f"c{c:02d}")
            rows["timestamp"].append(
                datetime.datetime.combine(start, datetime.time(12))
                + datetime.timedelta(days=int(d))
            )
            rows["amount"].append(float(rng.integers(5, 50)))
    tx = ibis.memtable(rows)
    cut = start + datetime.timedelta(days=59)
    features = materialize(customer_features(tx, as_of=cut, time_unit="day"))
    X = {
        k: np.asarray(features[k].to_numpy(), float)
        for k in ("frequency", "recency", "T", "monetary_value")
    }
    repeat = X["frequency"] > 0
    with warnings.catch_warnings():  # a small random book: the fit may sit on a boundary
        warnings.simplefilter("ignore")
        transactions = BetaGeoModel().fit(X)
        spend = GammaGammaModel().fit({k: v[repeat] for k, v in X.items()})
    fitted = FittedValue.predict(
        customer_id=features["customer_id"].cast(pa.string()).combine_chunks(),
        X=X,
        transaction_model=transactions,
        spend_model=spend,
        clv=np.zeros(features.num_rows),
        time_unit="day",
        horizon=365.0,
        penalizer=0.0,
    )
    behaviour = materialize(customer_behaviour(tx, as_of=cut))
    return tx, features, fitted, behaviour, cut


def test_too_little_history_falls_back_to_one_minus_p_alive_and_says_so() -> None:
    tx, features, fitted, behaviour, cut = _short_history()
    with np.errstate(all="ignore"):
        result = churn_risk(
            tx, features=features, fitted=fitted, behaviour=behaviour, cut=cut, time_unit="day"
        )
    assert result.method == "p_alive"
    assert "shorter than two risk windows of 90 days" in result.reason
    assert "1 - P(alive)" in result.reason
    np.testing.assert_array_equal(result.risk, 1.0 - fitted.p_alive)
    assert result.to_dict()["validation"] is None
    none = churn_risk(
        tx, features=features, fitted=None, behaviour=behaviour, cut=cut, time_unit="day"
    )
    assert none.method == "none" and np.isnan(none.risk).all()


def test_a_slow_buyer_on_their_own_pace_is_not_alerted() -> None:
    """High risk of no purchase in 90 days, but 60 days into a usual gap of 120 days."""
    scored = pa.table({"customer_id": ["slow", "late"], "tier": ["key", "key"], "clv": [10.0, 5.0]})
    behaviour = pa.Table.from_pylist(
        [behaviour_row("slow", idle=60, gap=120.0), behaviour_row("late", idle=60, gap=20.0)]
    )
    out = early_warnings(
        scored,
        behaviour,
        risk=np.array([0.9, 0.9]),
        method="risk",
        min_risk=0.5,
        min_idle_days=14,
        min_overdue_ratio=1.0,
    )
    assert out["alert"].to_pylist() == [False, True]


@PROPERTY
@given(
    n=st.integers(min_value=2, max_value=400),
    seed=st.integers(min_value=0, max_value=10_000),
    levels=st.integers(min_value=1, max_value=30),
)
def test_the_bootstrap_from_ranks_wins_as_often_as_an_auc_per_resample(
    n: int, seed: int, levels: int
) -> None:
    # tied scores (few levels), a copy of the default and rare outcomes included
    rng = np.random.default_rng(seed)
    positive = rng.random(n) < rng.uniform(0.02, 0.98)
    base = np.floor(rng.random(n) * levels) + positive * rng.uniform(0.0, 2.0)
    scores = {
        "p_alive": base,
        "model": np.floor(rng.random(n) * levels) + positive * rng.uniform(0.0, 2.0),
        "linear": base.copy(),
        "recency": rng.random(n),
    }
    draws = np.random.default_rng(0)
    expected = dict.fromkeys(("model", "linear", "recency"), 0)
    for _ in range(risk.BOOTSTRAP_DRAWS):
        at = draws.integers(0, n, n)
        default = auc(scores["p_alive"][at], positive[at])
        if default is None:
            continue
        for name in expected:
            value = auc(scores[name][at], positive[at])
            expected[name] += value is not None and value > default
    wins = risk._bootstrap_wins(scores, positive, against="p_alive")
    assert wins == {name: count / risk.BOOTSTRAP_DRAWS for name, count in expected.items()}
