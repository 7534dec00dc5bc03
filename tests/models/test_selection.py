"""Model registry and selection by holdout error or BIC."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest

from corecustomers.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeoModel,
)
from corecustomers.models.selection import MODEL_REGISTRY, model_class, select_model

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def cdnow_with_holdout() -> dict[str, np.ndarray]:
    """The weekly CDNOW calibration summary plus purchase days from 1997-10-01 to 1998-06-30."""
    with (FIXTURES / "cdnow_customers_summary.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    table = {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    days: dict[int, set[dt.date]] = {}
    with (FIXTURES / "CDNOW_sample.txt").open() as fh:
        for line in fh:
            _master, sample_id, date, _cds, _value = line.split()
            day = dt.date(int(date[:4]), int(date[4:6]), int(date[6:]))
            if dt.date(1997, 9, 30) < day <= dt.date(1998, 6, 30):
                days.setdefault(int(sample_id), set()).add(day)
    table["frequency_holdout"] = np.array([len(days.get(int(i), ())) for i in table["ID"]], float)
    table["duration_holdout"] = np.full(table["ID"].size, 39.0)
    return table


def _bgbb_table(n: int, seed: int) -> dict[str, np.ndarray]:
    truth = BetaGeoBetaBinomModel()
    truth.params_ = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
    sample = truth.sample(n, 6, seed=seed)
    return {"frequency": sample["frequency"], "recency": sample["recency"], "T": sample["periods"]}


def test_registry_names() -> None:
    assert MODEL_REGISTRY["bgnbd"] is BetaGeoModel
    assert MODEL_REGISTRY["mbgnbd"] is ModifiedBetaGeoModel
    assert MODEL_REGISTRY["pnbd"] is ParetoNBDModel
    assert list(MODEL_REGISTRY) == ["bgnbd", "pnbd", "mbgnbd", "bgbb", "sbg", "gg"]
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


def test_chooses_among_the_btyd_models_on_cdnow() -> None:
    X = cdnow_with_holdout()
    candidates = ("bgnbd", "pnbd", "mbgnbd")
    by_holdout = select_model(X)  # the default candidates
    assert by_holdout.criterion == "holdout"
    maes = [c.holdout_mae for c in by_holdout.candidates]
    assert all(m is not None for m in maes)
    best = int(np.argmin(maes))
    assert [c.name for c in by_holdout.candidates] == list(candidates)
    assert [c.selected for c in by_holdout.candidates] == [i == best for i in range(3)]
    assert by_holdout.name == candidates[best]
    assert type(by_holdout.model) is model_class(candidates[best])

    by_bic = select_model(X, candidates=candidates, criterion="bic")
    bics = [c.bic for c in by_bic.candidates]
    assert by_bic.name == candidates[int(np.argmin(bics))]
    # the candidates' log-likelihoods on this summary are the published ones
    # (BG/NBD -9582.4, FHL 2005; Pareto/NBD -9595.0, the BTYD vignette)
    assert by_bic.candidates[0].log_likelihood == pytest.approx(-9582.43, abs=0.01)
    assert by_bic.candidates[1].log_likelihood == pytest.approx(-9594.97, abs=0.01)
    assert json.loads(json.dumps(by_bic.to_dict(), allow_nan=False))["criterion"] == "bic"
