"""Pareto/NBD: published CDNOW results, heavy buyers and closed-form identities.

Sources of the reference numbers (CDNOW summary, weeks;
``tests/fixtures/cdnow_customers_summary.csv``):

* [FHL05] Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", section 5,
  the Pareto/NBD benchmark: r = 0.553, alpha = 10.578, s = 0.606, beta = 11.669,
  LL = -9595.0.
* [BTYD] the BTYD R package vignette (Dziurzynski, Wadsworth & McCarthy, "BTYD:
  Implementing Buy 'Til You Die Models"), Pareto/NBD walk-through: ``pnbd.cbs.LL`` =
  -9594.976 at its estimates (0.5533971, 10.5801985, 0.6060625, 11.6562237);
  ``pnbd.Expectation(params, t = 52)`` = 1.473; customer 1516 (x = 26, t_x = 30.86,
  T = 31) expects 25.46 purchases in 52 weeks.
* [CLVTools] bachmannpatrick/CLVTools tests/testthat (Pareto/NBD correctness): LL =
  -9594.976 at r = 0.55315, alpha = 10.57633, s = 0.60625, beta = 11.67150.

The likelihood is flat along ``beta`` (standard error ~6), so implementations agree on
``beta`` only to the optimiser's tolerance: 11.656 (BTYD), 11.672 (CLVTools), 11.669
(FHL05). We check the third decimal of ``r, alpha, s`` and ``beta`` within 0.02.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from corecustomers.models.pareto_nbd import ParetoNBDModel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PUBLISHED = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}  # [FHL05]
BTYD_ESTIMATES = {"r": 0.5533971, "alpha": 10.5801985, "s": 0.6060625, "beta": 11.6562237}


def cdnow() -> dict[str, np.ndarray]:
    with (FIXTURES / "cdnow_customers_summary.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in ("frequency", "recency", "T")}


@pytest.fixture(scope="module")
def fitted() -> ParetoNBDModel:
    return ParetoNBDModel().fit(cdnow())


def test_cdnow_estimates_match_the_paper(fitted: ParetoNBDModel) -> None:
    for name in ("r", "alpha", "s"):
        assert fitted.params_[name] == pytest.approx(PUBLISHED[name], abs=1.5e-3), name
    assert fitted.params_["beta"] == pytest.approx(PUBLISHED["beta"], abs=0.02)
    assert fitted.converged_


def test_cdnow_log_likelihood(fitted: ParetoNBDModel) -> None:
    # [BTYD], [CLVTools]: -9594.976 (their summaries keep more decimals of t_x and T
    # than the fixture, which moves the total by ~0.002)
    assert fitted.log_likelihood_ == pytest.approx(-9594.98, abs=0.01)
    btyd = ParetoNBDModel.from_dict({"params": BTYD_ESTIMATES})
    at_btyd = btyd.log_likelihood(cdnow()).sum()
    assert at_btyd == pytest.approx(-9594.976, abs=0.01)
    assert fitted.log_likelihood_ >= at_btyd  # ours is the maximum on these data


def test_customer_1516_expected_purchases(fitted: ParetoNBDModel) -> None:
    # [BTYD]: 25.46
    customer = {"frequency": [26], "recency": [30.86], "T": [31.0]}
    assert float(fitted.expected_purchases(customer, 52.0)[0]) == pytest.approx(25.46, abs=0.005)


def test_expected_purchases_of_a_new_customer() -> None:
    # [BTYD]: pnbd.Expectation(params, t = 52) = 1.473
    btyd = ParetoNBDModel.from_dict({"params": BTYD_ESTIMATES})
    assert float(btyd.expected_purchases_new(52.0)) == pytest.approx(1.473, abs=5e-4)


def test_heavy_buyers_stay_finite() -> None:
    # lifetimes' ParetoNBDFitter returns NaN here: its 2F1 overflows
    model = ParetoNBDModel.from_dict({"params": PUBLISHED})
    heavy = {
        "frequency": [3000, 3000, 500, 1000],
        "recency": [38.9, 20.0, 39.0, 500.0],
        "T": [39.0, 39.0, 39.0, 520.0],
    }
    for values in (
        model.log_likelihood(heavy),
        model.probability_alive(heavy),
        model.expected_purchases(heavy, 52.0),
    ):
        assert np.all(np.isfinite(values))
    p = model.probability_alive(heavy)
    assert p[2] == 1.0 and p[1] < 1e-100 < p[0]


def test_pmf_sums_to_one_and_its_mean_is_the_expectation() -> None:
    model = ParetoNBDModel.from_dict({"params": PUBLISHED})
    n = np.arange(0, 300)
    pmf = model.probability_of_purchases(n, 39.0)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    assert float(n @ pmf) == pytest.approx(float(model.expected_purchases_new(39.0)), rel=1e-8)
    assert float(model.probability_of_purchases(0, 0.0)) == 1.0


def test_expectations_are_continuous_at_s_equal_one() -> None:
    at = ParetoNBDModel.from_dict({"params": {"r": 0.5, "alpha": 10.0, "s": 1.0, "beta": 12.0}})
    near = ParetoNBDModel.from_dict(
        {"params": {"r": 0.5, "alpha": 10.0, "s": 1.0 + 1e-9, "beta": 12.0}}
    )
    customer = {"frequency": [3], "recency": [20.0], "T": [39.0]}
    assert float(at.expected_purchases_new(52.0)) == pytest.approx(
        float(near.expected_purchases_new(52.0)), rel=1e-8
    )
    assert float(at.expected_purchases(customer, 52.0)[0]) == pytest.approx(
        float(near.expected_purchases(customer, 52.0)[0]), rel=1e-8
    )


def test_alpha_equal_beta_joins_both_branches() -> None:
    # the note's two hypergeometric branches (alpha >= beta and alpha < beta) meet here
    X = {"frequency": [0, 2, 7], "recency": [0.0, 10.0, 30.0], "T": [39.0, 39.0, 39.0]}
    lls = [
        ParetoNBDModel.from_dict(
            {"params": {"r": 0.5, "alpha": alpha, "s": 0.6, "beta": 11.0}}
        ).log_likelihood(X)
        for alpha in (11.0 - 1e-9, 11.0, 11.0 + 1e-9)
    ]
    np.testing.assert_allclose(lls[0], lls[1], rtol=1e-9)
    np.testing.assert_allclose(lls[2], lls[1], rtol=1e-9)


def test_log_likelihood_per_customer_sums_to_the_total(fitted: ParetoNBDModel) -> None:
    assert fitted.log_likelihood(cdnow()).sum() == pytest.approx(fitted.log_likelihood_, rel=1e-12)


def test_sample_is_reproducible_and_valid() -> None:
    model = ParetoNBDModel.from_dict({"params": PUBLISHED})
    a = model.sample(3000, 39.0, seed=11)
    b = model.sample(3000, 39.0, seed=11)
    np.testing.assert_array_equal(a["recency"], b["recency"])
    assert np.all((a["recency"] >= 0) & (a["recency"] <= a["T"]))
    assert a["frequency"].mean() == pytest.approx(
        float(model.expected_purchases_new(39.0)), abs=0.2
    )
