"""``fit_positive(..., hessian=...)``: Newton's method from a warm start with an
approximate Hessian (a subsample's) reaches the optimum the finite-difference Hessian
reaches, with fewer evaluations of the objective, and its standard errors come from a
Hessian computed near the optimum."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from scipy.special import digamma, gammaln

from corecustomers.models._optimize import fit_positive


def _gamma_objective(data: np.ndarray, calls: list[int]) -> Any:
    """Negative log-likelihood of Gamma(shape k, rate b) and its gradient in (k, b)."""
    n, sum_x, sum_log = data.size, float(data.sum()), float(np.log(data).sum())

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        calls.append(1)
        k, b = float(theta[0]), float(theta[1])
        ll = n * (k * np.log(b) - gammaln(k)) + (k - 1.0) * sum_log - b * sum_x
        grad = np.array([n * (np.log(b) - digamma(k)) + sum_log, n * k / b - sum_x])
        return -ll, -grad

    return objective


def _fit(hessian: np.ndarray | None, start: list[float]) -> tuple[Any, int]:
    data = np.random.default_rng(3).gamma(2.5, 1.0 / 4.0, 20_000)
    calls: list[int] = []
    result = fit_positive(
        _gamma_objective(data, calls),
        [start],
        n_observations=float(data.size),
        newton_first=True,
        hessian=hessian,
    )
    return result, len(calls)


def test_an_approximate_hessian_reaches_the_same_optimum_in_fewer_evaluations() -> None:
    start = [2.4, 3.9]  # near the optimum, as a subsample's estimate is
    plain, plain_calls = _fit(None, start)
    at_optimum, _ = _fit(None, [float(v) for v in plain.params])
    # the Hessian near the optimum, 10 % off: what a subsample of the data gives
    approx = 1.1 * plain.hessian
    warm, warm_calls = _fit(approx, start)
    assert warm.converged and plain.converged
    np.testing.assert_allclose(warm.params, plain.params, rtol=1e-10)
    assert warm.hessian.shape == (2, 2)
    assert warm_calls < plain_calls
    # the plain fit's Hessian is the one after its first step (about 1e-3 off the one at
    # the optimum); the approximate steps end nearer
    error = np.abs(warm.standard_errors / at_optimum.standard_errors - 1.0)
    plain_error = np.abs(plain.standard_errors / at_optimum.standard_errors - 1.0)
    assert np.all(error < 1e-4)
    assert np.max(error) < np.max(plain_error)


def test_a_useless_approximate_hessian_changes_nothing_but_the_cost() -> None:
    start = [2.4, 3.9]
    plain, _ = _fit(None, start)
    for bad in (-np.eye(2), np.full((2, 2), np.nan), 1e6 * np.eye(2)):
        result, _ = _fit(bad, start)
        assert result.converged
        np.testing.assert_allclose(result.params, plain.params, rtol=1e-10)
        np.testing.assert_allclose(result.standard_errors, plain.standard_errors, rtol=1e-4)


def test_the_standard_errors_come_from_a_hessian_near_the_optimum() -> None:
    """Far from the start, the approximate steps come first and the finite-difference
    Hessian is computed once they are short: its standard errors equal those of a
    central-difference Hessian at the optimum (a fresh fit from the optimum itself)."""
    plain, _ = _fit(None, [2.4, 3.9])
    at_optimum, _ = _fit(None, [float(v) for v in plain.params])
    warm, _ = _fit(plain.hessian, [1.8, 3.0])
    np.testing.assert_allclose(warm.params, plain.params, rtol=1e-10)
    np.testing.assert_allclose(warm.standard_errors, at_optimum.standard_errors, rtol=1e-5)


def test_a_hessian_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="hessian"):
        _fit(np.eye(3), [2.4, 3.9])
