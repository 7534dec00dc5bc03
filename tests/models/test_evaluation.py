"""Holdout evaluation: hand-computed cases, a simulated BG/BB holdout and the CDNOW holdout."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from corecustomers.models import BetaGeoBetaBinomModel, BetaGeoModel, GammaGammaModel
from corecustomers.models.evaluation import holdout_evaluation

CDNOW = Path(__file__).resolve().parents[1] / "fixtures" / "CDNOW_sample.txt"


def cdnow_calibration_holdout() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """CDNOW sample: 39-week calibration to 1997-09-30, 39-week holdout to 1998-06-30.

    Times in weeks; one purchase per customer and day (spend summed); ``monetary_value``
    is the mean of the calibration repeat days, ``monetary_value_holdout`` of the holdout
    days. Also returns the repeat purchases of the cohort in each holdout week.
    """
    cal_end, end = dt.date(1997, 9, 30), dt.date(1998, 6, 30)
    spend: dict[str, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    with CDNOW.open() as fh:
        for line in fh:
            customer, _sample, date, _cds, value = line.split()
            spend[customer][dt.date(int(date[:4]), int(date[4:6]), int(date[6:]))] += float(value)
    weekly = np.zeros(39)
    rows = []
    for days in spend.values():
        ordered = sorted(days)
        cal = [d for d in ordered if d <= cal_end]
        hold = [d for d in ordered if cal_end < d <= end]
        for d in hold:
            weekly[((d - cal_end).days - 1) // 7] += 1
        repeat = [days[d] for d in cal[1:]]
        rows.append(
            (
                len(cal) - 1,
                (cal[-1] - cal[0]).days / 7,
                (cal_end - cal[0]).days / 7,
                sum(repeat) / len(repeat) if repeat else 0.0,
                len(hold),
                (end - cal_end).days / 7,
                sum(days[d] for d in hold) / len(hold) if hold else 0.0,
            )
        )
    names = (
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "frequency_holdout",
        "duration_holdout",
        "monetary_value_holdout",
    )
    return dict(zip(names, np.array(rows).T, strict=True)), weekly


class Stub:
    """Predicts ``rate * t`` holdout purchases; a new customer makes ``0.1 t``."""

    def __init__(self, rate: list[float]) -> None:
        self.rate = np.asarray(rate, dtype=float)

    def expected_purchases(self, X: Any, t: Any) -> np.ndarray:
        n = len(X["frequency"])
        return np.broadcast_to(self.rate[:n] * np.asarray(t, dtype=float), (n,)).copy()

    def expected_purchases_new(self, t: Any) -> np.ndarray:
        return 0.1 * np.asarray(t, dtype=float)


class SpendStub:
    def expected_spend(self, X: Any) -> np.ndarray:
        return np.array([10.0, 10.0, 10.0, 50.0])


@pytest.fixture
def table() -> dict[str, np.ndarray]:
    return {
        "frequency": np.array([0.0, 1.0, 8.0, 2.0]),
        "recency": np.array([0.0, 3.0, 20.0, 9.0]),
        "T": np.array([10.0, 10.0, 30.0, 12.0]),
        "frequency_holdout": np.array([0.0, 3.0, 5.0, 2.0]),
        "duration_holdout": np.full(4, 2.0),
        "monetary_value_holdout": np.array([0.0, 10.0, 20.0, 5.0]),
    }


def test_hand_computed_errors_bins_and_shares(table: dict[str, np.ndarray]) -> None:
    # predicted = rate * 2 = [1, 2, 6, 2]; actual = [0, 3, 5, 2]; errors [1, -1, 1, 0]
    result = holdout_evaluation(Stub([0.5, 1.0, 3.0, 1.0]), table)
    assert result.n_customers == 4
    assert result.actual_purchases == 10
    assert result.predicted_purchases == 11
    assert result.mae == pytest.approx(0.75)
    assert result.rmse == pytest.approx(np.sqrt(3 / 4))
    assert result.correlation == pytest.approx(np.corrcoef([1, 2, 6, 2], [0, 3, 5, 2])[0, 1])
    bins = {b.frequency: b for b in result.by_frequency}
    assert list(bins) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert (bins["0"].n_customers, bins["0"].actual, bins["0"].predicted) == (1, 0, 1)
    assert (bins["1"].actual, bins["1"].predicted) == (3, 2)
    assert (bins["7+"].n_customers, bins["7+"].actual, bins["7+"].predicted) == (1, 5, 6)
    assert bins["3"].n_customers == 0 and np.isnan(bins["3"].actual)
    # top 10 % and 20 % of 4 customers are 1 customer: the one predicted 6, who made 5 of 10
    for share in result.purchases_top_share:
        assert share.n_customers == 1
        assert share.captured == pytest.approx(0.5)
        assert share.best_possible == pytest.approx(0.5)
    # holdout spend = frequency_holdout * monetary_value_holdout = [0, 30, 100, 10]
    assert result.actual_spend == 140
    assert result.predicted_spend is None
    assert result.spend_top_share is not None
    assert result.spend_top_share[0].captured == pytest.approx(100 / 140)


def test_spend_model_ranks_by_predicted_value(table: dict[str, np.ndarray]) -> None:
    # predicted value = [1, 2, 6, 2] * [10, 10, 10, 50] = [10, 20, 60, 100]: the top customer
    # by value is the 4th, whose actual holdout spend is 10 of 140
    result = holdout_evaluation(Stub([0.5, 1.0, 3.0, 1.0]), table, spend_model=SpendStub())
    assert result.predicted_spend == 190
    assert result.spend_top_share is not None
    assert result.spend_top_share[0].captured == pytest.approx(10 / 140)
    assert result.spend_top_share[0].best_possible == pytest.approx(100 / 140)


def test_tracking_curve(table: dict[str, np.ndarray]) -> None:
    result = holdout_evaluation(
        Stub([0.5, 1.0, 3.0, 1.0]), table, period_counts=[1, 2, 3], period_length=0.5
    )
    tracking = result.tracking
    assert tracking is not None
    assert tracking.period == (1, 2, 3)
    assert tracking.actual == (1, 3, 6)
    # conditional: sum(rate) * k * 0.5 = 5.5 * [0.5, 1, 1.5]
    np.testing.assert_allclose(tracking.conditional, [2.75, 5.5, 8.25])
    # unconditional: 4 customers * 0.1 * (T + k L - T)
    assert tracking.predicted is not None
    np.testing.assert_allclose(tracking.predicted, [0.2, 0.4, 0.6])


def test_to_dict_is_json(table: dict[str, np.ndarray]) -> None:
    result = holdout_evaluation(
        Stub([0.5, 1.0, 3.0, 1.0]), table, spend_model=SpendStub(), period_counts=[1, 2]
    )
    data = result.to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["by_frequency"][3] == {
        "frequency": "3",
        "n_customers": 0,
        "actual": None,
        "predicted": None,
    }
    assert data["purchases_top_share"][1]["share"] == 0.2
    assert data["tracking"]["actual"] == [1.0, 3.0]


def test_spend_model_needs_holdout_spend(table: dict[str, np.ndarray]) -> None:
    del table["monetary_value_holdout"]
    with pytest.raises(ValueError, match="monetary_value_holdout"):
        holdout_evaluation(Stub([1.0] * 4), table, spend_model=SpendStub())
    assert holdout_evaluation(Stub([1.0] * 4), table).spend_top_share is None


def test_needs_holdout_columns(table: dict[str, np.ndarray]) -> None:
    del table["duration_holdout"]
    with pytest.raises(ValueError, match="duration_holdout"):
        holdout_evaluation(Stub([1.0] * 4), table)


def _simulate_bgbb(n: int, calibration: int, holdout: int, seed: int) -> dict[str, np.ndarray]:
    """The BG/BB story run past the calibration period (plain NumPy, independent of the model)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(1.2, 0.75, size=n)
    theta = rng.beta(0.66, 2.8, size=n)
    total = calibration + holdout
    death = rng.geometric(theta)  # opportunity at whose start the customer dies
    opp = np.arange(1, total + 1)
    buys = (opp[None, :] < death[:, None]) & (rng.random((n, total)) < p[:, None])
    cal, hold = buys[:, :calibration], buys[:, calibration:]
    return {
        "frequency": cal.sum(axis=1).astype(float),
        "recency": np.where(cal, opp[:calibration], 0).max(axis=1).astype(float),
        "T": np.full(n, float(calibration)),
        "frequency_holdout": hold.sum(axis=1).astype(float),
        "duration_holdout": np.full(n, float(holdout)),
        "per_period": hold.sum(axis=0).astype(float),
    }


def test_bgbb_predicts_a_simulated_holdout() -> None:
    data = _simulate_bgbb(20_000, 6, 5, seed=1086)
    model = BetaGeoBetaBinomModel().fit(data)
    result = holdout_evaluation(model, data, period_counts=data["per_period"])
    assert result.predicted_purchases == pytest.approx(result.actual_purchases, rel=0.03)
    for b in result.by_frequency[:7]:
        assert b.predicted == pytest.approx(b.actual, abs=0.1), b.frequency
    assert result.correlation > 0.6
    assert result.purchases_top_share[1].captured > 0.3
    assert result.tracking is not None and result.tracking.predicted is not None
    np.testing.assert_allclose(result.tracking.conditional, result.tracking.actual, rtol=0.04)
    np.testing.assert_allclose(result.tracking.predicted, result.tracking.actual, rtol=0.04)


def test_bgnbd_on_the_cdnow_holdout() -> None:
    X, weekly = cdnow_calibration_holdout()
    assert X["frequency"].size == 2357 and X["duration_holdout"][0] == 39
    model = BetaGeoModel().fit(X)
    spend = GammaGammaModel().fit(X)
    result = holdout_evaluation(model, X, spend_model=spend, period_counts=weekly)
    assert result.actual_purchases == weekly.sum()
    expected = model.expected_purchases(X, X["duration_holdout"])
    assert result.predicted_purchases == pytest.approx(expected.sum())
    assert result.predicted_spend == pytest.approx(np.dot(expected, spend.expected_spend(X)))
    # the curve ends where the totals are
    tracking = result.tracking
    assert tracking is not None and tracking.predicted is not None
    assert tracking.actual[-1] == result.actual_purchases
    assert tracking.conditional[-1] == pytest.approx(result.predicted_purchases, rel=1e-10)
    # the unconditional (age-shifted) and conditional sums estimate the same total
    assert tracking.predicted[-1] == pytest.approx(tracking.conditional[-1], rel=0.02)
    # the model ranks customers: its top 20 % bring most of the holdout purchases
    for share in result.purchases_top_share:
        assert share.captured <= share.best_possible
    assert result.purchases_top_share[1].captured > 0.55
    assert result.correlation > 0.5
    predicted_by_bin = [b.predicted for b in result.by_frequency]
    assert predicted_by_bin == sorted(predicted_by_bin)
    json.dumps(result.to_dict(), allow_nan=False)
