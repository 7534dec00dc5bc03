"""The customers' distinct histories found once (``distinct_histories``) and shared by the
fits of several models and the CLV, and the predictions over several horizons
(``expected_purchases_over``): the same numbers, bit for bit, as each computed alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from corecustomers.models import (
    BetaGeoModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    customer_lifetime_value,
    distinct_histories,
    select_model,
)
from corecustomers.models._transactions import RFMData

PARAMS: dict[type[Any], dict[str, float]] = {
    BetaGeoModel: {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4},
    ModifiedBetaGeoModel: {"r": 0.52, "alpha": 6.2, "a": 0.89, "b": 1.6},
    ParetoNBDModel: {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7},
}


def _customers(n: int, seed: int = 5) -> dict[str, np.ndarray]:
    """Customers in weeks of whole days: many share a history, most do not."""
    truth = BetaGeoModel.from_dict({"params": PARAMS[BetaGeoModel]})
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 400, n) / 7.0
    data = truth.sample(n, T, seed=rng)
    recency = np.round(data["recency"] * 7.0) / 7.0
    return {"frequency": data["frequency"], "recency": recency, "T": data["T"]}


def test_distinct_histories_are_what_a_fit_compresses_with_the_way_back() -> None:
    X = _customers(3000)
    rows, index = distinct_histories(X)
    compressed = RFMData.from_table(X, compress=True)
    for got, want in ((rows.x, compressed.x), (rows.tx, compressed.tx), (rows.T, compressed.T)):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(rows.w, compressed.w)
    assert rows.n_rows < 3000
    np.testing.assert_array_equal(rows.x[index], X["frequency"])
    np.testing.assert_array_equal(rows.tx[index], X["recency"])
    np.testing.assert_array_equal(rows.T[index], X["T"])


def test_distinct_histories_take_one_customer_a_row() -> None:
    X = {**_customers(50), "weights": np.full(50, 2.0)}
    with pytest.raises(ValueError, match="weights"):
        distinct_histories(X)


@pytest.mark.parametrize("model", [BetaGeoModel, ParetoNBDModel, ModifiedBetaGeoModel])
def test_a_fit_on_the_histories_is_the_fit_on_the_customers(model: Any) -> None:
    X = _customers(3000)
    rows, _ = distinct_histories(X)
    alone, shared = model().fit(X), model().fit(rows)
    assert shared.params_ == alone.params_
    assert shared.standard_errors_ == alone.standard_errors_
    assert shared.log_likelihood_ == alone.log_likelihood_
    assert shared.n_customers_ == alone.n_customers_ == 3000


def test_selection_on_shared_histories_is_the_selection_on_the_customers() -> None:
    X = _customers(3000)
    rows, _ = distinct_histories(X)
    alone = select_model(X).to_dict()
    assert select_model(X, histories=rows).to_dict() == alone
    assert select_model(X, histories=None).to_dict() == alone


@pytest.mark.parametrize("model", [BetaGeoModel, ParetoNBDModel, ModifiedBetaGeoModel])
@pytest.mark.parametrize("n", [300, 6000])  # with and without the grouping of (x, T)
def test_expected_purchases_over_horizons_are_those_of_each_horizon(model: Any, n: int) -> None:
    X = _customers(n)
    fitted = model.from_dict({"params": PARAMS[model]})
    horizons = [0.0, 4.35, 13.0, 52.2]
    over = list(fitted.expected_purchases_over(X, horizons))
    assert len(over) == len(horizons)
    for t, got in zip(horizons, over, strict=True):
        want = fitted.expected_purchases(X, t)
        assert got.shape == (n,)
        np.testing.assert_array_equal(got, want)
    assert np.all(over[-1] > over[1])


@pytest.mark.parametrize("model", [BetaGeoModel, ParetoNBDModel, ModifiedBetaGeoModel])
def test_clv_from_given_histories_is_the_clv(model: Any) -> None:
    X = _customers(6000)
    fitted = model.from_dict({"params": PARAMS[model]})
    spend = np.linspace(10.0, 50.0, 6000)
    kwargs: dict[str, Any] = {"horizon": 12, "discount_rate": 0.01, "time_unit": "week"}
    alone = customer_lifetime_value(fitted, spend, X, **kwargs)
    shared = customer_lifetime_value(fitted, spend, X, histories=distinct_histories(X), **kwargs)
    np.testing.assert_array_equal(shared, alone)
    assert np.all(alone > 0)
