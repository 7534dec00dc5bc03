"""Choosing a transaction model: fit the candidates, score them, keep the best.

:data:`MODEL_REGISTRY` maps the short names used on the command line to the model
classes. :func:`select_model` fits several transaction models on the same customers and
picks one by

* **holdout error** when the table has holdout columns (``frequency_holdout``,
  ``duration_holdout``): the mean absolute error of each customer's predicted holdout
  purchases, ``E[X(T, T + duration_holdout) | x, t_x, T]``, against the actual ones --
  what the model is used for;
* **BIC** otherwise, ``k ln N - 2 LL`` with ``k`` parameters and ``N`` customers
  (Schwarz 1978), which penalises the extra parameter of the richer models.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from corecustomers.models._base import BaseModel, columns
from corecustomers.models._transactions import RFMData, TransactionModel
from corecustomers.models.beta_geo import BetaGeoModel
from corecustomers.models.beta_geo_beta_binom import BetaGeoBetaBinomModel
from corecustomers.models.gamma_gamma import GammaGammaModel
from corecustomers.models.modified_beta_geo import ModifiedBetaGeoModel
from corecustomers.models.pareto_nbd import ParetoNBDModel
from corecustomers.models.shifted_beta_geo import ShiftedBetaGeoModel

__all__ = [
    "MODEL_REGISTRY",
    "TRANSACTION_MODELS",
    "CandidateScore",
    "ModelSelection",
    "model_class",
    "select_model",
]

#: Short name -> model class (the names the CLI's ``fit --model`` accepts).
MODEL_REGISTRY: Mapping[str, type[BaseModel]] = {
    "bgnbd": BetaGeoModel,
    "pnbd": ParetoNBDModel,
    "mbgnbd": ModifiedBetaGeoModel,
    "bgbb": BetaGeoBetaBinomModel,
    "sbg": ShiftedBetaGeoModel,
    "gg": GammaGammaModel,
}

#: Names of the models that predict repeat transactions from ``frequency, recency, T``.
TRANSACTION_MODELS: tuple[str, ...] = ("bgnbd", "pnbd", "mbgnbd", "bgbb")

Criterion = Literal["auto", "holdout", "bic"]


def model_class(name: str) -> type[BaseModel]:
    """The model class registered under ``name`` (case-insensitive).

    >>> model_class("gg").__name__
    'GammaGammaModel'
    """
    try:
        return MODEL_REGISTRY[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; choose one of {', '.join(MODEL_REGISTRY)}"
        ) from None


@dataclass(frozen=True)
class CandidateScore:
    """One fitted candidate and its scores (``None`` where not computed)."""

    name: str
    model: str
    n_params: int
    n_customers: int
    log_likelihood: float
    bic: float
    holdout_mae: float | None
    converged: bool
    selected: bool = False


@dataclass(frozen=True)
class ModelSelection:
    """The chosen fitted model, how it was chosen, and every candidate's scores."""

    model: BaseModel
    name: str
    criterion: Literal["holdout", "bic"]
    candidates: tuple[CandidateScore, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary: the choice, the criterion and the score table."""

        def num(v: float | None) -> float | None:
            return None if v is None or not math.isfinite(v) else float(v)

        return {
            "name": self.name,
            "criterion": self.criterion,
            "model": self.model.to_dict(),
            "candidates": [
                {
                    "name": c.name,
                    "model": c.model,
                    "n_params": c.n_params,
                    "n_customers": c.n_customers,
                    "log_likelihood": num(c.log_likelihood),
                    "bic": num(c.bic),
                    "holdout_mae": num(c.holdout_mae),
                    "converged": c.converged,
                    "selected": c.selected,
                }
                for c in self.candidates
            ],
        }


def _has_holdout(X: Any) -> bool:
    try:
        columns(X, ("frequency_holdout", "duration_holdout"))
    except ValueError:
        return False
    return True


def select_model(
    X: Any,
    *,
    candidates: Sequence[str] = ("bgnbd", "pnbd", "mbgnbd"),
    criterion: Criterion = "auto",
    penalizer: float = 0.0,
    histories: RFMData | None = None,
) -> ModelSelection:
    """Fit each candidate transaction model on ``X`` and keep the best.

    Parameters
    ----------
    X : table
        ``frequency, recency, T`` (calibration) and, for the holdout criterion,
        ``frequency_holdout`` and ``duration_holdout``.
    candidates : sequence of str
        Names from :data:`MODEL_REGISTRY` of transaction models.
    criterion : {"auto", "holdout", "bic"}
        ``"auto"`` uses the holdout when its columns exist and BIC otherwise.
    penalizer : float, default 0.0
        Passed to every candidate.
    histories : RFMData, optional
        ``X``'s distinct histories (the first result of
        :func:`~corecustomers.models.distinct_histories`), when they are at hand. The
        continuous-time candidates are fitted on them -- or, without them, on ``X``
        validated and compressed once for all of them.

    Returns
    -------
    ModelSelection
        The chosen model (fitted), its name, the criterion used and a table of all
        candidates; ties go to the candidate listed first.
    """
    names = [c.strip().lower() for c in candidates]
    if not names:
        raise ValueError("give at least one candidate model")
    for name in names:
        model_class(name)
        if name not in TRANSACTION_MODELS:
            raise ValueError(
                f"{name!r} is not a transaction model; select among {', '.join(TRANSACTION_MODELS)}"
            )
    if criterion not in ("auto", "holdout", "bic"):
        raise ValueError(f"criterion must be 'auto', 'holdout' or 'bic', not {criterion!r}")
    holdout = _has_holdout(X)
    if criterion == "holdout" and not holdout:
        raise ValueError(
            "the holdout criterion needs frequency_holdout and duration_holdout columns"
        )
    used: Literal["holdout", "bic"] = (
        "holdout" if criterion == "holdout" or (criterion == "auto" and holdout) else "bic"
    )
    if used == "holdout":
        cols, _ = columns(X, ("frequency_holdout", "duration_holdout"))
        actual, duration = cols["frequency_holdout"], cols["duration_holdout"]

    shared = histories
    if shared is None and any(issubclass(model_class(n), TransactionModel) for n in names):
        shared = RFMData.from_table(X, compress=True)  # validated and compressed once
    fitted: list[BaseModel] = []
    scores: list[CandidateScore] = []
    for name in names:
        cls: Any = model_class(name)  # every registered model takes ``penalizer``
        model: Any = cls(penalizer=penalizer)
        model.fit(shared if issubclass(cls, TransactionModel) else X)
        k = len(model._param_names)
        n = model.n_customers_
        bic = k * math.log(n) - 2.0 * model.log_likelihood_ if n > 0 else math.nan
        mae = None
        if used == "holdout":
            predicted = np.asarray(model.expected_purchases(X, duration), dtype=np.float64)
            mae = float(np.mean(np.abs(predicted - actual)))
        fitted.append(model)
        scores.append(
            CandidateScore(
                name=name,
                model=type(model).__name__,
                n_params=k,
                n_customers=n,
                log_likelihood=float(model.log_likelihood_),
                bic=float(bic),
                holdout_mae=mae,
                converged=bool(model.converged_),
            )
        )
    key = [s.holdout_mae if used == "holdout" else s.bic for s in scores]
    finite = [i for i, v in enumerate(key) if v is not None and math.isfinite(v)]
    if not finite:
        raise ValueError("no candidate could be scored (non-finite likelihood or predictions)")
    best = min(finite, key=lambda i: (key[i], i))
    scores[best] = replace(scores[best], selected=True)
    return ModelSelection(
        model=fitted[best], name=names[best], criterion=used, candidates=tuple(scores)
    )
