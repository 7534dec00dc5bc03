"""BG/NBD: published CDNOW results, closed-form identities and input validation.

Sources of the reference numbers (CDNOW 1/10th sample, 2,357 customers, 39-week
calibration period, time in weeks; ``tests/fixtures/cdnow_customers_summary.csv``):

* [FHL05] Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", *Marketing
  Science* 24(2), section 5: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
* [CLVTools] bachmannpatrick/CLVTools, tests/testthat (BG/NBD correctness):
  LL = -9582.429 at r = 0.2425945, alpha = 4.4136019, a = 0.7929199, b = 2.4258881.
* [Hardie-xls] Hardie's BG/NBD Excel implementation, as reproduced by lifetimes'
  ``test_conditional_expectation_returns_same_value_as_Hardie_excel_sheet``
  (CamDavidsonPilon/lifetimes, lifetimes/tests/test_estimation.py): customer 1
  (x = 2, t_x = 30.43, T = 38.86) expects 1.226 purchases in the next 39 weeks.
* [BTYD] the BTYD R package vignette (Dziurzynski, Wadsworth & McCarthy, "BTYD:
  Implementing Buy 'Til You Die Models"), BG/NBD walk-through: customer 1516 (x = 26,
  t_x = 30.857, T = 31) expects 25.76 purchases in 52 weeks, P(alive) = 0.9689; and the
  BTYD reference manual, ``bgnbd.pmf`` at the published parameters: P(X(2) = 10) =
  1.07869e-07 and P(X(30) = n), n = 11..20 (as also quoted by lifetimes'
  ``test_probability_of_n_purchases_up_to_time_same_as_R_BTYD``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from corecustomers.errors import InputError, NotFittedError
from corecustomers.models.beta_geo import BetaGeoModel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}  # [FHL05]


def cdnow() -> dict[str, np.ndarray]:
    with (FIXTURES / "cdnow_customers_summary.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in ("frequency", "recency", "T")}


@pytest.fixture(scope="module")
def fitted() -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow())


def published() -> BetaGeoModel:
    return BetaGeoModel.from_dict({"params": PUBLISHED})


def one(x: float, tx: float, T: float) -> dict[str, list[float]]:
    return {"frequency": [x], "recency": [tx], "T": [T]}


def test_cdnow_estimates_match_the_paper(fitted: BetaGeoModel) -> None:
    # [FHL05], three decimals
    for name, value in PUBLISHED.items():
        assert round(fitted.params_[name], 3) == value, name
    # [FHL05] -9582.4, [CLVTools] -9582.429
    assert fitted.log_likelihood_ == pytest.approx(-9582.43, abs=0.01)
    assert fitted.converged_
    assert fitted.n_customers_ == 2357


def test_cdnow_standard_errors_are_finite_and_positive(fitted: BetaGeoModel) -> None:
    se = fitted.standard_errors_
    assert set(se) == set(PUBLISHED)
    assert all(0 < v < fitted.params_[k] for k, v in se.items())
    assert np.allclose(fitted.covariance_, fitted.covariance_.T)


def test_customer_1_expected_purchases_next_39_weeks(fitted: BetaGeoModel) -> None:
    # [Hardie-xls]: 1.226
    assert round(float(fitted.expected_purchases(one(2, 30.43, 38.86), 39.0)[0]), 3) == 1.226


def test_customer_1516_expected_purchases_and_p_alive(fitted: BetaGeoModel) -> None:
    customer = one(26, 30.857, 31.0)
    # [BTYD]: 25.76 in 52 weeks, P(alive) 0.9689
    assert float(fitted.expected_purchases(customer, 52.0)[0]) == pytest.approx(25.76, abs=0.005)
    # published to 4 decimals, from parameters published to 3
    assert float(fitted.probability_alive(customer)[0]) == pytest.approx(0.9689, abs=1e-4)


def test_pmf_matches_btyd_reference_values() -> None:
    model = published()
    # [BTYD] bgnbd.pmf(params, t = 2, x = 10)
    assert float(model.probability_of_purchases(10, 2.0)) == pytest.approx(1.07869e-07, rel=1e-5)
    expected = [
        0.0019995214,
        0.0015170236,
        0.0011633150,
        0.0009003148,
        0.0007023638,
        0.0005517902,
        0.0004361913,
        0.0003467171,
        0.0002769613,
        0.0002222260,
    ]
    # [BTYD] bgnbd.pmf(params, t = 30, x = 11:20)
    actual = model.probability_of_purchases(np.arange(11, 21), 30.0)
    np.testing.assert_allclose(actual, expected, rtol=1e-6)


def test_pmf_sums_to_one_and_its_mean_is_the_expectation() -> None:
    model = published()
    n = np.arange(0, 400)
    pmf = model.probability_of_purchases(n, 39.0)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
    assert float(n @ pmf) == pytest.approx(float(model.expected_purchases_new(39.0)), rel=1e-9)


def test_new_customer_expectation_is_the_conditional_one_at_zero_history() -> None:
    model = published()
    t = np.array([0.0, 0.5, 39.0, 520.0])
    zero = {"frequency": np.zeros(4), "recency": np.zeros(4), "T": np.zeros(4)}
    np.testing.assert_allclose(model.expected_purchases_new(t), model.expected_purchases(zero, t))
    assert model.expected_purchases_new(0.0) == 0.0


def test_customers_without_repeat_purchases_are_alive() -> None:
    # BG/NBD: no dropout opportunity before the first repeat purchase
    p = published().probability_alive(
        {"frequency": [0, 0], "recency": [0.0, 0.0], "T": [1.0, 500.0]}
    )
    np.testing.assert_array_equal(p, [1.0, 1.0])


def test_weights_are_the_same_as_repeated_rows() -> None:
    X = cdnow()
    repeated = {k: np.concatenate([v, v[:100]]) for k, v in X.items()}
    weights = np.ones(X["T"].size)
    weights[:100] = 2.0
    a = BetaGeoModel().fit(repeated)
    b = BetaGeoModel().fit({**X, "weights": weights})
    assert a.log_likelihood_ == pytest.approx(b.log_likelihood_, rel=1e-12)
    for k in PUBLISHED:
        assert a.params_[k] == pytest.approx(b.params_[k], rel=1e-6)


def test_log_likelihood_per_customer_sums_to_the_total(fitted: BetaGeoModel) -> None:
    assert fitted.log_likelihood(cdnow()).sum() == pytest.approx(fitted.log_likelihood_, rel=1e-12)


def test_penalizer_shrinks_the_parameters() -> None:
    plain = BetaGeoModel().fit(cdnow())
    shrunk = BetaGeoModel(penalizer=0.1).fit(cdnow())
    assert sum(shrunk.params_.values()) < sum(plain.params_.values())
    # log_likelihood_ is the unpenalised one, lower away from the MLE
    assert shrunk.log_likelihood_ < plain.log_likelihood_


def test_time_unit_only_rescales_alpha() -> None:
    X = cdnow()
    days = {"frequency": X["frequency"], "recency": 7 * X["recency"], "T": 7 * X["T"]}
    weeks_fit, days_fit = BetaGeoModel().fit(X), BetaGeoModel().fit(days)
    assert days_fit.params_["alpha"] == pytest.approx(7 * weeks_fit.params_["alpha"], rel=1e-6)
    assert days_fit.params_["r"] == pytest.approx(weeks_fit.params_["r"], rel=1e-6)


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ({"frequency": [-1], "recency": [0.0], "T": [5.0]}, "frequency"),
        ({"frequency": [1.5], "recency": [1.0], "T": [5.0]}, "frequency"),
        ({"frequency": [1], "recency": [6.0], "T": [5.0]}, "recency"),
        ({"frequency": [0], "recency": [2.0], "T": [5.0]}, "recency"),
        ({"frequency": [1], "recency": [1.0], "T": [-5.0]}, "T"),
    ],
)
def test_invalid_rows_name_the_column(row: dict[str, list[float]], column: str) -> None:
    with pytest.raises(InputError) as info:
        published().probability_alive(row)
    assert info.value.column == column


def test_missing_column_is_reported() -> None:
    with pytest.raises(ValueError, match="recency"):
        BetaGeoModel().fit({"frequency": [1.0], "T": [3.0]})


def test_predictions_before_fit_raise() -> None:
    with pytest.raises(NotFittedError):
        BetaGeoModel().expected_purchases_new(1.0)


def test_sample_has_valid_summaries_and_is_reproducible() -> None:
    model = published()
    a = model.sample(2000, 39.0, seed=7)
    b = model.sample(2000, 39.0, seed=7)
    np.testing.assert_array_equal(a["frequency"], b["frequency"])
    assert np.all((a["recency"] >= 0) & (a["recency"] <= a["T"]))
    assert np.all(a["recency"][a["frequency"] == 0] == 0)
    assert np.all(a["alive"][a["frequency"] == 0] == 1)  # no dropout before a repeat buy
    # the simulated mean frequency matches E[X(39)] (standard error ~ 0.05)
    assert a["frequency"].mean() == pytest.approx(
        float(model.expected_purchases_new(39.0)), abs=0.2
    )


@pytest.mark.parametrize("modified", [False, True])
def test_expected_purchases_of_many_customers_are_the_bits_of_one_at_a_time(
    modified: bool,
) -> None:
    """The distinct (x, T) rows of a large table are computed once
    (``beta_geo._distinct_rows``): every customer gets exactly what it gets alone, with
    repeated, heavy, zero and signed-zero rows among them."""
    from corecustomers.models.beta_geo import _DISTINCT_FROM, conditional_expectation

    rng = np.random.default_rng(7)
    n = 2 * _DISTINCT_FROM
    x = rng.integers(0, 40, n).astype(np.float64)
    x[:5] = [0.0, -0.0, 150.0, 0.0, 1.0]
    T = np.round(rng.uniform(0.0, 80.0, n) * 7) / 7  # ages in whole days, in weeks
    T[:5] = [0.0, -0.0, 79.0, 1e-9, 52.0]
    tx = np.minimum(T, np.round(rng.uniform(0.0, 80.0, n) * 7) / 7) * (x > 0)
    params = np.array([0.24, 4.41, 0.79, 2.43])
    together = conditional_expectation(params, x, tx, T, np.float64(39.0), modified=modified)
    alone = np.concatenate(
        [
            conditional_expectation(
                params, x[i : i + 1], tx[i : i + 1], T[i : i + 1], 39.0, modified=modified
            )
            for i in range(n)
        ]
    )
    assert np.array_equal(together, alone)
    assert len(np.unique(x + 1j * T)) < n  # the grouping had rows to share
