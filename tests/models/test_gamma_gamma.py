"""The gamma-gamma spend model against Fader, Hardie & Lee (2005) / Hardie's note 025.

On the 946 customers of the CDNOW sample with at least one repeat purchase in the 39-week
calibration period (1997-01-01 to 1997-09-30), spend = mean value of the repeat purchase
days, the published estimates are p = 6.25, q = 3.74, gamma = 15.44 ("The Gamma-Gamma
Model of Monetary Value", http://brucehardie.com/notes/025/, also lifetimes' test suite),
FHL (2005) report a correlation of 0.11 between average spend and frequency, and the
note's spreadsheet gives the conditional expected average spend of the first ten
customers as 24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corecustomers.errors import NotFittedError
from corecustomers.models import (
    BoundaryWarning,
    GammaGammaModel,
    SpendFrequencyCorrelationWarning,
)

CDNOW = Path(__file__).resolve().parents[1] / "fixtures" / "CDNOW_sample.txt"
CALIBRATION_END = dt.date(1997, 9, 30)


def cdnow_calibration_spend() -> dict[str, np.ndarray]:
    """Per customer (first column of the file): repeat purchase days and their mean spend.

    Purchases on one day are one purchase with summed spend; the first day is not a
    repeat purchase; only days up to the calibration end count.
    """
    spend_by_day: dict[str, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    with CDNOW.open() as fh:
        for line in fh:
            customer, _sample_id, date, _cds, value = line.split()
            day = dt.date(int(date[:4]), int(date[4:6]), int(date[6:]))
            spend_by_day[customer][day] += float(value)
            if day > CALIBRATION_END:
                spend_by_day[customer].pop(day)
    frequency, monetary = [], []
    for days in spend_by_day.values():
        repeat = [days[d] for d in sorted(days)[1:]]
        frequency.append(float(len(repeat)))
        monetary.append(sum(repeat) / len(repeat) if repeat else 0.0)
    return {"frequency": np.array(frequency), "monetary_value": np.array(monetary)}


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    return cdnow_calibration_spend()


@pytest.fixture(scope="module")
def fitted(cdnow: dict[str, np.ndarray]) -> GammaGammaModel:
    return GammaGammaModel().fit(cdnow)


def _model(p: float, q: float, gamma: float) -> GammaGammaModel:
    model = GammaGammaModel()
    model.params_ = {"p": p, "q": q, "gamma": gamma}
    return model


def test_fixture_has_the_published_customers(cdnow: dict[str, np.ndarray]) -> None:
    assert cdnow["frequency"].size == 2357
    assert int(np.count_nonzero(cdnow["frequency"] > 0)) == 946


def test_reproduces_published_estimates(fitted: GammaGammaModel) -> None:
    assert fitted.params_["p"] == pytest.approx(6.25, abs=5e-3)
    assert fitted.params_["q"] == pytest.approx(3.74, abs=5e-3)
    assert fitted.params_["gamma"] == pytest.approx(15.44, abs=5e-3)
    assert fitted.n_customers_ == 946  # the 1411 one-time buyers are left out
    assert fitted.converged_
    assert fitted.spend_frequency_correlation_ == pytest.approx(0.11, abs=5e-3)


def test_expected_spend_matches_hardie_spreadsheet(
    fitted: GammaGammaModel, cdnow: dict[str, np.ndarray]
) -> None:
    first_ten = {k: v[:10] for k, v in cdnow.items()}
    expected = [24.65, 18.91, 35.17, 35.17, 35.17, 71.46, 18.91, 35.17, 27.28, 35.17]
    np.testing.assert_allclose(fitted.expected_spend(first_ten), expected, atol=5e-3)


def test_no_repeat_purchase_gets_the_population_mean(fitted: GammaGammaModel) -> None:
    X = {"frequency": [0.0, 0.0], "monetary_value": [0.0, 500.0]}
    p, q, g = fitted.params_["p"], fitted.params_["q"], fitted.params_["gamma"]
    np.testing.assert_allclose(fitted.expected_spend(X), p * g / (q - 1))
    assert fitted.population_mean_spend() == pytest.approx(p * g / (q - 1))


def test_correlated_spend_warns() -> None:
    frequency = np.tile(np.arange(1.0, 9.0), 60)
    sample = _model(6.25, 3.74, 15.44).sample(frequency, seed=3)
    sample["monetary_value"] *= 1.0 + 0.25 * frequency  # frequent buyers spend more
    with pytest.warns(SpendFrequencyCorrelationWarning, match="correlated"):
        model = GammaGammaModel().fit(sample)
    assert model.spend_frequency_correlation_ > 0.3


def test_q_stays_above_one_with_a_clear_warning() -> None:
    truth = _model(2.0, 0.6, 10.0)  # q < 1: heavy-tailed spend, no population mean
    sample = truth.sample(np.tile(np.arange(1.0, 6.0), 200), seed=1)
    with pytest.warns(BoundaryWarning, match="population mean spend"):
        model = GammaGammaModel().fit(sample)
    assert model.params_["q"] > 1
    assert not model.converged_


def test_expected_spend_refuses_q_at_most_one() -> None:
    with pytest.raises(ValueError, match=r"q = 0\.9"):
        _model(2.0, 0.9, 10.0).expected_spend({"frequency": [1.0], "monetary_value": [3.0]})


def test_needs_repeat_customers() -> None:
    with pytest.raises(ValueError, match="repeat purchase"):
        GammaGammaModel().fit({"frequency": [0.0, 0.0], "monetary_value": [0.0, 0.0]})


def test_predictions_before_fit_raise() -> None:
    with pytest.raises(NotFittedError):
        GammaGammaModel().expected_spend({"frequency": [1.0], "monetary_value": [3.0]})


def test_refit_replaces_state(cdnow: dict[str, np.ndarray]) -> None:
    model = GammaGammaModel().fit(cdnow)
    keep = cdnow["frequency"] > 2
    model.fit({k: v[keep] for k, v in cdnow.items()})
    assert model.n_customers_ == int(np.count_nonzero(keep))
    assert model.spend_frequency_correlation_ == pytest.approx(
        np.corrcoef(cdnow["frequency"][keep], cdnow["monetary_value"][keep])[0, 1]
    )


def test_round_trip(fitted: GammaGammaModel, cdnow: dict[str, np.ndarray]) -> None:
    data = json.loads(json.dumps(fitted.to_dict(), allow_nan=False))
    clone = GammaGammaModel.from_dict(data)
    np.testing.assert_array_equal(clone.expected_spend(cdnow), fitted.expected_spend(cdnow))
    assert clone.spend_frequency_correlation_ == fitted.spend_frequency_correlation_


def test_simulate_then_fit_recovers_parameters() -> None:
    truth = _model(6.25, 3.74, 15.44)
    frequency = np.tile(np.arange(1.0, 11.0), 800)
    fit = GammaGammaModel().fit(truth.sample(frequency, seed=2005))
    for name in ("p", "q", "gamma"):
        z = (fit.params_[name] - truth.params_[name]) / fit.standard_errors_[name]
        assert abs(z) < 4, name
    assert fit.population_mean_spend() == pytest.approx(truth.population_mean_spend(), rel=0.05)


@settings(max_examples=100, deadline=None)
@given(
    p=st.floats(0.1, 30),
    q=st.floats(1.01, 30),
    gamma=st.floats(0.1, 100),
    x=st.integers(0, 200),
    m=st.floats(0.01, 1e4),
)
def test_expected_spend_lies_between_population_and_own_mean(
    p: float, q: float, gamma: float, x: int, m: float
) -> None:
    model = _model(p, q, gamma)
    value = float(model.expected_spend({"frequency": [float(x)], "monetary_value": [m]})[0])
    population = model.population_mean_spend()
    own = m if x > 0 else population
    lo, hi = min(population, own), max(population, own)
    assert lo * (1 - 1e-12) <= value <= hi * (1 + 1e-12)


def test_a_large_fit_from_a_subsample_reaches_the_cold_optimum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """From 40,000 distinct rows on, the fit starts from a subsample's estimate and its
    Hessian (Newton's method, the likelihood evaluated in pieces): the optimum, its
    likelihood and standard errors are those of the fit from the usual starts."""
    from corecustomers.models import gamma_gamma

    truth = _model(6.25, 3.74, 15.44)
    frequency = np.tile(np.arange(1.0, 11.0), 6000)
    X = truth.sample(frequency, seed=7)
    warm = GammaGammaModel().fit(X)
    monkeypatch.setattr(gamma_gamma, "_WARM_START_FROM", 10**9)  # no subsample
    monkeypatch.setattr(gamma_gamma, "_CHUNK_ROWS", 10**9)  # one pass
    cold = GammaGammaModel().fit(X)
    assert warm.converged_ and cold.converged_
    for name in ("p", "q", "gamma"):
        assert warm.params_[name] == pytest.approx(cold.params_[name], rel=1e-9), name
        se = warm.standard_errors_[name]
        assert se == pytest.approx(cold.standard_errors_[name], rel=1e-4), name
    assert warm.log_likelihood_ == pytest.approx(cold.log_likelihood_, rel=1e-13)


def _simulated_spend(n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` repeat customers drawn from the model itself (p 6, q 4, gamma 15): above the
    size from which the fit starts from an estimate on a subsample."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 15, n).astype(np.float64)
    nu = rng.gamma(4.0, 1.0 / 15.0, n)
    return {"frequency": x, "monetary_value": rng.gamma(6.0 * x, 1.0 / (nu * x))}


@pytest.mark.parametrize("factor", [0.7, 1.0, 1.6])
@pytest.mark.parametrize("size", ["CDNOW", "60k simulated"])
def test_a_start_reaches_the_optimum_of_the_fit_without(
    cdnow: dict[str, np.ndarray], size: str, factor: float
) -> None:
    """A start (the analysis' fit, for the time-shifted cuts' fits) replaces the estimate
    on a subsample: the same optimum to the optimiser's tolerance."""
    X = cdnow if size == "CDNOW" else _simulated_spend(60_000, seed=3)
    cold = GammaGammaModel().fit(X)
    start = {
        k: (v - 1.0) * factor + 1.0 if k == "q" else v * factor for k, v in cold.params_.items()
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no boundary, no convergence warning
        warm = GammaGammaModel().fit(X, start=start)
    assert warm.converged_
    assert warm.log_likelihood_ == pytest.approx(cold.log_likelihood_, rel=1e-12, abs=1e-9)
    for name, value in cold.params_.items():
        assert warm.params_[name] == pytest.approx(value, rel=1e-5), name


@pytest.mark.parametrize(
    "start",
    [
        {"p": 1.0, "q": 2.0},
        {"p": 1.0, "q": 2.0, "gamma": 1.0, "r": 1.0},
        {"p": 1.0, "q": 1.0, "gamma": 1.0},  # q must be above its bound 1
        {"p": -1.0, "q": 2.0, "gamma": 1.0},
        {"p": 1.0, "q": 2.0, "gamma": float("nan")},
    ],
)
def test_a_bad_start_is_refused(cdnow: dict[str, np.ndarray], start: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="start"):
        GammaGammaModel().fit(cdnow, start=start)


def test_a_start_replaces_the_estimate_on_a_subsample(monkeypatch: pytest.MonkeyPatch) -> None:
    X = _simulated_spend(60_000, seed=4)
    cold = GammaGammaModel().fit(X)

    def refused(*args: object) -> None:
        raise AssertionError("the subsample was fitted although a start was given")

    monkeypatch.setattr(GammaGammaModel, "_subsample_estimate", refused)
    warm = GammaGammaModel().fit(X, start=cold.params_)
    assert warm.params_ == pytest.approx(cold.params_, rel=1e-6)
    with pytest.raises(AssertionError, match="subsample"):
        GammaGammaModel().fit(X)
