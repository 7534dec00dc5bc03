"""The estimator contract, checked once for every model in ``corecustomers.models``.

Like scikit-learn's common estimator checks: ``__init__`` stores keyword
hyper-parameters only; ``fit(X)`` returns the model; fitted state ends in ``_``; using a
model before ``fit`` raises :class:`~corecustomers.errors.NotFittedError`; refitting
replaces all state; ``to_dict``/``from_dict`` (through JSON) gives identical predictions.

The model list is read from ``corecustomers.models.ALL_MODELS`` at collection time, so a
new model is checked as soon as it is registered there; each model provides a small
table it can fit through ``_contract_example()``.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import numpy as np
import pytest

from corecustomers.errors import NotFittedError


def model_classes() -> tuple[type[Any], ...]:
    import corecustomers.models as models

    fallback = (
        models.beta_geo.BetaGeoModel,
        models.pareto_nbd.ParetoNBDModel,
        models.modified_beta_geo.ModifiedBetaGeoModel,
    )
    return tuple(getattr(models, "ALL_MODELS", fallback))


MODELS = model_classes()


def example(cls: type[Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in cls._contract_example().items()}


def reweighted(X: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Different data in the same columns: every row's weight multiplied by 1, 2 or 3."""
    n = len(next(iter(X.values())))
    factor = np.random.default_rng(5).integers(1, 4, n).astype(float)
    return {**X, "weights": np.asarray(X.get("weights", np.ones(n)), dtype=float) * factor}


def fitted_state(model: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(model).items() if k.endswith("_")}


@pytest.fixture(params=MODELS, ids=lambda c: c.__name__)
def cls(request: pytest.FixtureRequest) -> type[Any]:
    return request.param  # type: ignore[no-any-return]


def test_init_takes_keyword_hyper_parameters_only(cls: type[Any]) -> None:
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    assert all(p.default is not inspect.Parameter.empty for p in params)
    model = cls()
    assert set(vars(model)) == {p.name for p in params}
    assert model.get_params() == {p.name: p.default for p in params}
    assert not fitted_state(model)


def test_use_before_fit_raises_not_fitted(cls: type[Any]) -> None:
    model = cls()
    with pytest.raises(NotFittedError):
        model.to_dict()
    with pytest.raises(NotFittedError):
        model.log_likelihood(example(cls))


def test_fit_returns_self_with_the_literature_parameters(cls: type[Any]) -> None:
    model = cls()
    X = example(cls)
    assert model.fit(X) is model
    assert list(model.params_) == list(cls._param_names)
    assert all(np.isfinite(v) for v in model.params_.values())
    assert set(model.standard_errors_) == set(cls._param_names)
    assert np.isfinite(model.log_likelihood_)
    assert model.n_customers_ > 0
    assert isinstance(model.converged_, bool)
    # fit adds fitted state only: everything not a hyper-parameter ends in "_"
    assert set(vars(model)) - set(model.get_params()) == set(fitted_state(model))


def test_refit_replaces_all_state(cls: type[Any]) -> None:
    X = example(cls)
    Y = reweighted(X)
    refit = cls().fit(X).fit(Y)
    fresh = cls().fit(Y)
    assert set(fitted_state(refit)) == set(fitted_state(fresh))
    assert refit.to_dict() == fresh.to_dict()
    assert refit.params_ != cls().fit(X).params_


def test_to_dict_from_dict_round_trip_gives_identical_predictions(cls: type[Any]) -> None:
    X = example(cls)
    model = cls().fit(X)
    data = json.loads(json.dumps(model.to_dict()))
    restored = cls.from_dict(data)
    assert restored.get_params() == model.get_params()
    assert restored.params_ == model.params_
    assert restored.log_likelihood_ == model.log_likelihood_
    np.testing.assert_array_equal(restored.log_likelihood(X), model.log_likelihood(X))
    np.testing.assert_array_equal(restored.covariance_, model.covariance_)
