"""Invariants of the transaction models (BG/NBD, MBG/NBD, Pareto/NBD), checked with hypothesis.

* ``0 <= P(alive) <= 1`` and finite log-likelihoods for any parameters and any valid
  history, heavy buyers included;
* expected purchases are finite, non-negative and non-decreasing in the horizon ``t``;
* simulate-then-fit recovers the parameters within sampling error: 20,000 simulated
  customers (fixed seeds), each estimate within 4 of its standard errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corecustomers.models.beta_geo import BetaGeoModel
from corecustomers.models.modified_beta_geo import ModifiedBetaGeoModel
from corecustomers.models.pareto_nbd import ParetoNBDModel

MODELS = (BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel)
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, derandomize=True)

positive = st.floats(min_value=-4.0, max_value=4.0).map(lambda v: float(10.0**v))


@st.composite
def histories(draw: st.DrawFn) -> dict[str, np.ndarray]:
    n = draw(st.integers(min_value=1, max_value=6))
    T = np.array(draw(st.lists(st.floats(0.0, 1000.0), min_size=n, max_size=n)))
    x = np.array(draw(st.lists(st.integers(0, 5000), min_size=n, max_size=n)), dtype=float)
    share = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    return {"frequency": x, "recency": np.where(x > 0, share * T, 0.0), "T": T}


def model_with(cls: type[Any], p: tuple[float, float, float, float]) -> Any:
    return cls.from_dict({"params": dict(zip(cls._param_names, p, strict=True))})


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
@PROPERTY_SETTINGS
@given(p=st.tuples(positive, positive, positive, positive), X=histories())
def test_p_alive_is_a_probability_and_likelihood_finite(
    cls: type[Any], p: tuple[float, float, float, float], X: dict[str, np.ndarray]
) -> None:
    model = model_with(cls, p)
    prob = model.probability_alive(X)
    assert np.all((prob >= 0.0) & (prob <= 1.0))
    assert np.all(np.isfinite(model.log_likelihood(X)))


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
@PROPERTY_SETTINGS
@given(
    p=st.tuples(positive, positive, positive, positive),
    X=histories(),
    t=st.lists(st.floats(0.0, 2000.0), min_size=2, max_size=2).map(sorted),
)
def test_expected_purchases_grow_with_the_horizon(
    cls: type[Any], p: tuple[float, float, float, float], X: dict[str, np.ndarray], t: list[float]
) -> None:
    model = model_with(cls, p)
    short, long = (model.expected_purchases(X, h) for h in t)
    assert np.all(np.isfinite(long)) and np.all(short >= 0.0)
    assert np.all(long >= short * (1.0 - 1e-9))
    new_short, new_long = model.expected_purchases_new(np.array(t))
    assert 0.0 <= new_short <= new_long * (1.0 + 1e-9)


TRUTHS = [
    (BetaGeoModel, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
    (ModifiedBetaGeoModel, {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}),
    (ParetoNBDModel, {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}),
]


@pytest.mark.parametrize(("cls", "truth"), TRUTHS, ids=lambda v: getattr(v, "__name__", ""))
def test_simulate_then_fit_recovers_the_parameters(cls: type[Any], truth: dict[str, float]) -> None:
    n = 20_000
    rng = np.random.default_rng(2005)
    T = np.round(rng.uniform(26.0, 78.0, n) * 7) / 7  # whole days, in weeks
    data = cls.from_dict({"params": truth}).sample(n, T, seed=rng)
    model = cls().fit(data)
    assert model.converged_
    for name, value in truth.items():
        se = model.standard_errors_[name]
        assert np.isfinite(se) and se > 0
        assert abs(model.params_[name] - value) <= 4.0 * se, (name, model.params_[name], se)


@pytest.mark.parametrize("cls", MODELS, ids=lambda c: c.__name__)
def test_p_alive_is_calibrated_on_simulated_customers(cls: type[Any]) -> None:
    # among simulated customers the mean P(alive) estimates the share still alive
    truth = dict(TRUTHS[MODELS.index(cls)][1])
    model = cls.from_dict({"params": truth})
    data = model.sample(20_000, 39.0, seed=17)
    share = data["alive"].mean()
    se = np.sqrt(share * (1 - share) / 20_000)
    assert abs(model.probability_alive(data).mean() - share) <= 4 * se
