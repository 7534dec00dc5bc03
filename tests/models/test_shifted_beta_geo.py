"""The sBG model against Fader & Hardie (2007), "How to Project Customer Retention".

The paper's two cohorts of 1000 customers (Berry & Linoff's data), active at the start of
years 0..7, fitted on years 1-7, give regular alpha = 0.704, beta = 1.182 and high end
alpha = 0.668, beta = 3.806 (three decimals). The same numbers are the reference values
of PyMC-Marketing's sBG cohort notebook (``docs/source/notebooks/clv/dev/sBG_marimo.py``:
``{'highend': [0.668, 3.806], 'regular': [0.704, 1.182]}``) and of the test in
jdmaturen/shifted_beta_geometric_py (high end 0.668 / 3.806 to 1e-3; log-likelihood
-2.115 per customer at alpha = beta = 1; projected survival for years 8-12 of 0.460,
0.436, 0.414, 0.395, 0.378; DERL at d = 10 % after 7 renewals of 7.530).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize
from scipy.special import betaln

from corecustomers.errors import NotFittedError
from corecustomers.models import ShiftedBetaGeoModel, survival_table

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]
# actual shares still active in years 8-12 (the paper's holdout years)
REGULAR_HOLDOUT = [0.223, 0.207, 0.194, 0.183, 0.173]
HIGH_END_HOLDOUT = [0.468, 0.445, 0.427, 0.409, 0.394]


def _model(alpha: float, beta: float) -> ShiftedBetaGeoModel:
    model = ShiftedBetaGeoModel()
    model.params_ = {"alpha": alpha, "beta": beta}
    return model


@pytest.mark.parametrize(
    ("alive", "alpha", "beta"),
    [(REGULAR, 0.704, 1.182), (HIGH_END, 0.668, 3.806)],
    ids=["regular", "high-end"],
)
def test_reproduces_fader_hardie_2007(alive: list[int], alpha: float, beta: float) -> None:
    model = ShiftedBetaGeoModel().fit(alive)
    assert model.params_["alpha"] == pytest.approx(alpha, abs=5e-4)
    assert model.params_["beta"] == pytest.approx(beta, abs=5e-4)
    assert model.n_customers_ == 1000
    assert model.converged_


def test_log_likelihood_at_one_one_matches_reference() -> None:
    table = survival_table(np.array(HIGH_END) / 1000)
    ll = float(np.dot(_model(1.0, 1.0).log_likelihood(table), table["weights"]))
    assert ll == pytest.approx(-2.115, rel=1e-3)  # the reference's own tolerance


@pytest.mark.parametrize(
    ("alive", "holdout"), [(REGULAR, REGULAR_HOLDOUT), (HIGH_END, HIGH_END_HOLDOUT)]
)
def test_projects_the_holdout_years(alive: list[int], holdout: list[float]) -> None:
    # the paper's point: fitted on 7 years, the sBG tracks the next 5 within a few percent
    projected = ShiftedBetaGeoModel().fit(alive).survival(np.arange(8, 13))
    np.testing.assert_allclose(projected, holdout, rtol=0.05)


def test_projection_matches_reference_implementation() -> None:
    projected = ShiftedBetaGeoModel().fit(HIGH_END).survival(np.arange(8, 13))
    np.testing.assert_allclose(projected, [0.460, 0.436, 0.414, 0.395, 0.378], atol=5e-4)


def test_derl_matches_reference_and_direct_sum() -> None:
    model = ShiftedBetaGeoModel().fit(HIGH_END)
    assert float(model.discounted_expected_residual_lifetime(7, 0.1)) == pytest.approx(
        7.530, abs=5e-4
    )
    n, d = 7, 0.1
    k = np.arange(0, 3000)
    direct = np.sum(model.survival(n + 1 + k) / model.survival(n) / (1 + d) ** k)
    assert float(model.discounted_expected_residual_lifetime(n, d)) == pytest.approx(
        direct, rel=1e-9
    )
    del_direct = np.sum(model.survival(k) / (1 + d) ** k)
    assert model.discounted_expected_lifetime(d) == pytest.approx(del_direct, rel=1e-9)


def test_undiscounted_lifetimes() -> None:
    heavy = _model(0.7, 1.2)  # alpha <= 1: expected lifetime is infinite
    assert np.isinf(heavy.discounted_expected_residual_lifetime(3, 0.0))
    assert heavy.discounted_expected_lifetime(0.0) == float("inf")
    light = _model(3.0, 5.0)
    k = np.arange(0, 200_000)
    assert float(light.discounted_expected_residual_lifetime(2, 0.0)) == pytest.approx(
        np.sum(light.survival(3 + k)) / float(light.survival(2)), rel=1e-6
    )
    assert light.discounted_expected_lifetime(0.0) == pytest.approx(
        np.sum(light.survival(k)), rel=1e-6
    )


def test_retention_rates_rise_and_chain_to_survival() -> None:
    model = _model(0.704, 1.182)
    t = np.arange(1, 20)
    r = model.retention_rate(t)
    assert np.all(np.diff(r) > 0)
    np.testing.assert_allclose(np.cumprod(r), model.survival(t), rtol=1e-12)
    np.testing.assert_allclose(
        model.churn_probability(t), model.survival(t - 1) - model.survival(t), rtol=1e-10
    )


def test_input_forms_are_equivalent() -> None:
    lost = -np.diff(HIGH_END)
    forms = [
        HIGH_END,
        np.array(HIGH_END, dtype=float),
        {"alive": HIGH_END},
        pa.table({"alive": HIGH_END}),
        {"lost": lost, "survivors": HIGH_END[-1]},
        survival_table(HIGH_END),
        survival_table(lost=lost, survivors=HIGH_END[-1]),
    ]
    fits = [ShiftedBetaGeoModel().fit(form).params_ for form in forms]
    for params in fits[1:]:
        assert params == pytest.approx(fits[0], rel=1e-10)


def _reference_fit(cohorts: list[list[int]]) -> dict[str, float]:
    """Maximum likelihood by SciPy on Fader & Hardie (2007) eqs. (4) and (5): a customer lost
    in year t has probability B(a + 1, b + t - 1) / B(a, b), one still active after year T
    B(a, b + T) / B(a, b); Nelder-Mead on the log-parameters, to 1e-10."""

    def minus_ll(log_params: np.ndarray) -> float:
        a, b = np.exp(log_params)
        total = 0.0
        for alive in cohorts:
            for t in range(1, len(alive)):
                total += (alive[t - 1] - alive[t]) * (betaln(a + 1, b + t - 1) - betaln(a, b))
            total += alive[-1] * (betaln(a, b + len(alive) - 1) - betaln(a, b))
        return -total

    options = {"xatol": 1e-10, "fatol": 1e-12, "maxiter": 5000}
    best = optimize.minimize(minus_ll, [0.0, 0.0], method="Nelder-Mead", options=options)
    assert best.success
    alpha, beta = np.exp(best.x)
    return {"alpha": float(alpha), "beta": float(beta)}


def test_several_cohorts_of_different_ages() -> None:
    # a young cohort (3 years) and an old one (7 years) from one population: the joint
    # maximum-likelihood estimate (alpha 0.7249, beta 1.2216), within one standard error
    # of the regular cohort's own (0.704, 1.182)
    young, old = survival_table(REGULAR[:4]), survival_table(REGULAR)
    both = {k: np.concatenate([young[k], old[k]]) for k in young}
    model = ShiftedBetaGeoModel().fit(both)
    assert model.n_customers_ == 2000
    assert model.params_ == pytest.approx(_reference_fit([REGULAR[:4], REGULAR]), rel=1e-6)
    for name, published in (("alpha", 0.704), ("beta", 1.182)):
        assert abs(model.params_[name] - published) < model.standard_errors_[name], name


def test_probability_alive_of_a_duration_table() -> None:
    model = _model(0.668, 3.806)
    X = {"duration": [3.0, 3.0], "churned": [1.0, 0.0]}
    np.testing.assert_allclose(model.probability_alive(X), [0.0, float(model.retention_rate(4))])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alive": [1000, 1100]}, "non-increasing"),
        ({"alive": [1000]}, "at least one"),
        ({"lost": [10, 5]}, "survivors"),
        ({}, "either"),
    ],
)
def test_survival_table_rejects_bad_input(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        survival_table(**kwargs)  # type: ignore[arg-type]


def test_no_churn_cannot_be_fitted() -> None:
    with pytest.raises(ValueError, match="no customer churned"):
        ShiftedBetaGeoModel().fit([100, 100, 100])


def test_predictions_before_fit_raise() -> None:
    with pytest.raises(NotFittedError):
        ShiftedBetaGeoModel().survival(3)


def test_round_trip() -> None:
    model = ShiftedBetaGeoModel().fit(REGULAR)
    clone = ShiftedBetaGeoModel.from_dict(model.to_dict())
    np.testing.assert_array_equal(clone.survival(np.arange(10)), model.survival(np.arange(10)))
    assert clone.standard_errors_ == model.standard_errors_


def test_simulate_then_fit_recovers_parameters() -> None:
    truth = _model(0.7, 1.2)
    fit = ShiftedBetaGeoModel().fit(truth.sample(20_000, 10, seed=2007))
    for name in ("alpha", "beta"):
        z = (fit.params_[name] - truth.params_[name]) / fit.standard_errors_[name]
        assert abs(z) < 4, name


@settings(max_examples=100, deadline=None)
@given(
    alpha=st.floats(0.01, 50),
    beta=st.floats(0.01, 50),
    t=st.lists(st.integers(0, 500), min_size=2, max_size=10),
)
def test_survival_is_a_decreasing_probability(alpha: float, beta: float, t: list[int]) -> None:
    model = _model(alpha, beta)
    ts = np.sort(np.array(t, dtype=float))
    s = model.survival(ts)
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.diff(s) <= 1e-15)
    alive = model.probability_alive({"duration": ts, "churned": np.zeros_like(ts)})
    assert np.all((alive >= 0) & (alive <= 1))
