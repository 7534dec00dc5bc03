"""BG/BB against Fader, Hardie & Shang (2010) and Hardie's BG/BB spreadsheet.

Published numbers (on the 11,104 donors of ``tests/fixtures/donations.csv``):

* estimates alpha = 1.204, beta = 0.750, gamma = 0.657, delta = 2.783 and
  LL = -33225.58 (FHS 2010, table 2; the BTYD vignette, ``bgbb.EstimateParameters``);
* P(alive in 2002): 0.11 for (x, t_x) = (0, 0), 0.59 for (2, 4), 0.93 for (6, 6)
  (FHS 2010, table 6);
* expected donations 2002-2006 over all donors, 12,884.2 ("Conditional Expectations (II)"
  sheet of http://brucehardie.com/notes/010/); expected number of donors with 0 and 6
  repeat donations in 6 years, 3,454.9 and 1,253.1 (its "In-Sample Fit" sheet).
The spreadsheet figures are also the ones lifetimes' test suite uses.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import betaln

from corecustomers.errors import NotFittedError
from corecustomers.models import BetaGeoBetaBinomModel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}


def _donations() -> dict[str, np.ndarray]:
    with (FIXTURES / "donations.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


@pytest.fixture(scope="module")
def donations() -> dict[str, np.ndarray]:
    return _donations()


@pytest.fixture(scope="module")
def fitted(donations: dict[str, np.ndarray]) -> BetaGeoBetaBinomModel:
    return BetaGeoBetaBinomModel().fit(donations)


def _model(**params: float) -> BetaGeoBetaBinomModel:
    model = BetaGeoBetaBinomModel()
    model.params_ = dict(params)
    return model


def test_reproduces_published_estimates_and_log_likelihood(
    fitted: BetaGeoBetaBinomModel,
) -> None:
    for name, value in PUBLISHED.items():
        assert fitted.params_[name] == pytest.approx(value, abs=5e-4), name
    assert fitted.log_likelihood_ == pytest.approx(-33225.58, abs=5e-3)
    assert fitted.n_customers_ == 11104
    assert fitted.converged_
    assert all(0 < se < 1 for se in fitted.standard_errors_.values())


def test_probability_alive_matches_table_6(
    fitted: BetaGeoBetaBinomModel, donations: dict[str, np.ndarray]
) -> None:
    p_alive = fitted.probability_alive(donations)
    lookup = {
        (f, r): p
        for f, r, p in zip(donations["frequency"], donations["recency"], p_alive, strict=True)
    }
    assert lookup[(0.0, 0.0)] == pytest.approx(0.11, abs=5e-3)
    assert lookup[(2.0, 4.0)] == pytest.approx(0.59, abs=5e-3)
    assert lookup[(6.0, 6.0)] == pytest.approx(0.93, abs=5e-3)


def test_conditional_expectation_matches_hardie_spreadsheet(
    fitted: BetaGeoBetaBinomModel, donations: dict[str, np.ndarray]
) -> None:
    total = float(np.dot(fitted.expected_purchases(donations, t=5), donations["weights"]))
    assert total == pytest.approx(12884.2, abs=0.5)


def test_probability_of_purchases_matches_hardie_in_sample_fit(
    fitted: BetaGeoBetaBinomModel, donations: dict[str, np.ndarray]
) -> None:
    n_donors = donations["weights"].sum()
    expected = fitted.probability_of_purchases(np.arange(7), 6) * n_donors
    assert expected[0] == pytest.approx(3454.9, abs=0.5)
    assert expected[6] == pytest.approx(1253.1, abs=0.5)
    assert expected.sum() == pytest.approx(n_donors)


def test_expected_purchases_new_is_the_mean_of_the_count_distribution(
    fitted: BetaGeoBetaBinomModel,
) -> None:
    for n in (1, 4, 6, 11):
        pmf = fitted.probability_of_purchases(np.arange(n + 1), n)
        mean = float(np.dot(np.arange(n + 1), pmf))
        assert float(fitted.expected_purchases_new(n)) == pytest.approx(mean, rel=1e-10)


def test_expected_purchases_sums_per_opportunity_terms(
    fitted: BetaGeoBetaBinomModel, donations: dict[str, np.ndarray]
) -> None:
    # eq. (13) sums, over the next t opportunities n + k, the probability of a transaction
    # there: B(a+x+1, b+n-x)/B(a,b) * B(g, d+n+k)/B(g,d) / L. Compare with that sum.
    p = fitted.params_
    x, n = donations["frequency"], donations["periods"]
    log_l = fitted.log_likelihood(donations)
    direct = sum(
        np.exp(
            betaln(p["alpha"] + x + 1, p["beta"] + n - x)
            - betaln(p["alpha"], p["beta"])
            + betaln(p["gamma"], p["delta"] + n + k)
            - betaln(p["gamma"], p["delta"])
            - log_l
        )
        for k in (1, 2, 3)
    )
    np.testing.assert_allclose(fitted.expected_purchases(donations, t=3), direct, rtol=1e-10)
    assert np.all(fitted.expected_purchases(donations, t=0) == 0)


def test_gamma_near_one_is_continuous() -> None:
    # eqs. (8) and (13) divide by gamma - 1; the implementation switches to a series
    # within 1e-5 of gamma = 1: both sides of the switch and gamma = 1 itself must agree
    X = {"frequency": [3.0], "recency": [5.0], "periods": [6.0]}
    values = []
    for gamma in (1.0 - 2e-5, 1.0 - 1e-9, 1.0, 1.0 + 1e-9, 1.0 + 2e-5):
        model = _model(alpha=1.2, beta=0.7, gamma=gamma, delta=2.5)
        values.append(
            (float(model.expected_purchases_new(6)), float(model.expected_purchases(X, 4)[0]))
        )
    for new, cond in values[1:]:
        assert new == pytest.approx(values[0][0], rel=1e-4)
        assert cond == pytest.approx(values[0][1], rel=1e-4)
    mid = values[2]
    for new, cond in values[1:4]:
        assert new == pytest.approx(mid[0], rel=1e-8)
        assert cond == pytest.approx(mid[1], rel=1e-8)


def test_weights_and_expanded_rows_give_the_same_fit(
    donations: dict[str, np.ndarray], fitted: BetaGeoBetaBinomModel
) -> None:
    reps = donations["weights"].astype(int)
    expanded = {k: np.repeat(donations[k], reps) for k in ("frequency", "recency", "periods")}
    refit = BetaGeoBetaBinomModel().fit(expanded)
    for name in PUBLISHED:
        assert refit.params_[name] == pytest.approx(fitted.params_[name], rel=1e-6)
    assert refit.log_likelihood_ == pytest.approx(fitted.log_likelihood_, rel=1e-10)


def test_periods_may_be_given_as_t_column(donations: dict[str, np.ndarray]) -> None:
    renamed = {("T" if k == "periods" else k): v for k, v in donations.items()}
    model = _model(**PUBLISHED)
    np.testing.assert_allclose(model.probability_alive(renamed), model.probability_alive(donations))


@pytest.mark.parametrize(
    ("frequency", "recency", "periods"),
    [([2.0], [1.0], [6.0]), ([1.0], [7.0], [6.0]), ([0.0], [2.0], [6.0]), ([1.5], [2.0], [6.0])],
)
def test_rejects_impossible_histories(
    frequency: list[float], recency: list[float], periods: list[float]
) -> None:
    X = {"frequency": frequency, "recency": recency, "periods": periods}
    with pytest.raises(ValueError, match="BG/BB needs"):
        BetaGeoBetaBinomModel().fit(X)


def test_predictions_before_fit_raise() -> None:
    with pytest.raises(NotFittedError):
        BetaGeoBetaBinomModel().expected_purchases_new(3)


def test_round_trip_keeps_predictions(
    fitted: BetaGeoBetaBinomModel, donations: dict[str, np.ndarray]
) -> None:
    clone = BetaGeoBetaBinomModel.from_dict(fitted.to_dict())
    np.testing.assert_array_equal(
        clone.expected_purchases(donations, 5), fitted.expected_purchases(donations, 5)
    )


def test_simulate_then_fit_recovers_parameters() -> None:
    truth = _model(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
    sample = truth.sample(30_000, 8, seed=20100611)
    fit = BetaGeoBetaBinomModel().fit(sample)
    for name, value in truth.params_.items():
        z = (fit.params_[name] - value) / fit.standard_errors_[name]
        assert abs(z) < 4, (name, fit.params_[name], value)


def test_sample_is_reproducible_and_consistent() -> None:
    truth = _model(alpha=1.2, beta=0.75, gamma=0.66, delta=2.8)
    a = truth.sample(500, 6, seed=1)
    b = truth.sample(500, 6, seed=1)
    np.testing.assert_array_equal(a["frequency"], b["frequency"])
    assert np.all(a["frequency"] <= a["recency"])
    assert np.all(a["recency"] <= 6)
    # the simulated mean number of transactions agrees with eq. (8)
    big = truth.sample(40_000, 6, seed=2)
    assert big["frequency"].mean() == pytest.approx(
        float(truth.expected_purchases_new(6)), rel=0.03
    )


params = st.fixed_dictionaries(
    {
        "alpha": st.floats(0.05, 20),
        "beta": st.floats(0.05, 20),
        "gamma": st.floats(0.05, 20),
        "delta": st.floats(0.05, 20),
    }
)


@st.composite
def histories(draw: st.DrawFn) -> dict[str, list[float]]:
    n = draw(st.integers(1, 30))
    tx = draw(st.integers(0, n))
    x = 0 if tx == 0 else draw(st.integers(1, tx))
    return {"frequency": [float(x)], "recency": [float(tx)], "periods": [float(n)]}


@settings(max_examples=150, deadline=None)
@given(p=params, X=histories())
def test_probability_alive_is_a_probability(p: dict[str, float], X: dict[str, list[float]]) -> None:
    value = float(_model(**p).probability_alive(X)[0])
    assert 0.0 <= value <= 1.0


@settings(max_examples=100, deadline=None)
@given(p=params, X=histories(), t1=st.floats(0, 50), t2=st.floats(0, 50))
def test_expected_purchases_do_not_decrease_with_t(
    p: dict[str, float], X: dict[str, list[float]], t1: float, t2: float
) -> None:
    model = _model(**p)
    lo, hi = sorted((t1, t2))
    e_lo, e_hi = model.expected_purchases(X, lo)[0], model.expected_purchases(X, hi)[0]
    assert e_lo <= e_hi * (1 + 1e-9) + 1e-12
    assert 0 <= e_hi <= hi + 1e-9  # at most one transaction per opportunity
    n_lo, n_hi = model.expected_purchases_new(lo), model.expected_purchases_new(hi)
    assert n_lo <= n_hi * (1 + 1e-9) + 1e-12
