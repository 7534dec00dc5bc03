"""Model registry and selection by holdout error or BIC."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from corecustomers.models import (
    BetaGeoBetaBinomModel,
    GammaGammaModel,
    ShiftedBetaGeoModel,
)
from corecustomers.models.selection import MODEL_REGISTRY, model_class, select_model


def _bgbb_table(n: int, seed: int) -> dict[str, np.ndarray]:
    truth = BetaGeoBetaBinomModel()
    truth.params_ = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
    sample = truth.sample(n, 6, seed=seed)
    return {"frequency": sample["frequency"], "recency": sample["recency"], "T": sample["periods"]}


def test_registry_names() -> None:
    assert MODEL_REGISTRY["bgbb"] is BetaGeoBetaBinomModel
    assert MODEL_REGISTRY["sbg"] is ShiftedBetaGeoModel
    assert MODEL_REGISTRY["gg"] is GammaGammaModel
    assert model_class(" GG ") is GammaGammaModel


def test_unknown_name_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'nbd'; choose one of .*bgbb"):
        model_class("nbd")


@pytest.mark.parametrize("name", ["sbg", "gg"])
def test_only_transaction_models_compete(name: str) -> None:
    with pytest.raises(ValueError, match="not a transaction model"):
        select_model(_bgbb_table(50, 0), candidates=("bgbb", name))


def test_bic_without_holdout() -> None:
    X = _bgbb_table(2000, 1)
    result = select_model(X, candidates=("bgbb",))
    assert result.criterion == "bic"
    (only,) = result.candidates
    assert only.selected and only.holdout_mae is None
    assert only.bic == pytest.approx(4 * math.log(2000) - 2 * only.log_likelihood)
    assert isinstance(result.model, BetaGeoBetaBinomModel)
    assert result.model.params_ == pytest.approx(BetaGeoBetaBinomModel().fit(X).params_)
    json.dumps(result.to_dict(), allow_nan=False)


def test_holdout_when_its_columns_exist() -> None:
    X: dict[str, np.ndarray] = dict(_bgbb_table(2000, 2))
    X["frequency_holdout"] = np.ones(2000)
    X["duration_holdout"] = np.full(2000, 3.0)
    result = select_model(X, candidates=("bgbb",))
    assert result.criterion == "holdout"
    predicted = result.model.expected_purchases(X, 3.0)  # type: ignore[attr-defined]
    assert result.candidates[0].holdout_mae == pytest.approx(np.mean(np.abs(predicted - 1)))
    assert select_model(X, candidates=("bgbb",), criterion="bic").criterion == "bic"


def test_holdout_criterion_needs_holdout_columns() -> None:
    with pytest.raises(ValueError, match="frequency_holdout"):
        select_model(_bgbb_table(50, 3), candidates=("bgbb",), criterion="holdout")
