"""Statistical models of customer behaviour: who buys again, how often, and for how much.

Transaction models (fit customers' ``frequency, recency, T`` summaries):

* :class:`BetaGeoModel` -- BG/NBD (Fader, Hardie & Lee 2005);
* :class:`ParetoNBDModel` -- Pareto/NBD (Schmittlein, Morrison & Colombo 1987);
* :class:`ModifiedBetaGeoModel` -- MBG/NBD (Batislam, Denizel & Filiztekin 2007);
* :class:`BetaGeoBetaBinomModel` -- BG/BB, discrete transaction opportunities.

Retention model (fits a cohort's survival counts): :class:`ShiftedBetaGeoModel`.

Spend model (fits ``frequency, monetary_value``): :class:`GammaGammaModel`.

Every model follows one contract: ``__init__`` takes keyword hyper-parameters only,
``fit(X)`` returns the model (transaction models also take ``fit(X, start=params)``, a
starting point such as a fit on related data, searched within :data:`START_RANGE`),
fitted state ends in ``_`` (``params_``, ``log_likelihood_``, ...), predictions before
``fit`` raise
:class:`~corecustomers.errors.NotFittedError`, and ``to_dict``/``from_dict`` round-trip a
fitted model. :data:`ALL_MODELS` lists every model class.

Value and assessment: :func:`customer_lifetime_value`, :func:`holdout_evaluation`,
:func:`select_model`; :func:`distinct_histories` finds the customers' distinct histories
once for the fits of several models and the CLV.

A fit that ends on the boundary of the parameter space, does not converge or finds spend
correlated with frequency says so with a warning (:class:`BoundaryWarning`,
:class:`ConvergenceWarning`, :class:`SpendFrequencyCorrelationWarning`); inside
:func:`record_fit_warnings` the current thread's fits append them to a list of
:class:`FitWarning` instead, which fits on other threads leave alone.
"""

from __future__ import annotations

from corecustomers.models._base import BaseModel
from corecustomers.models._optimize import BoundaryWarning, ConvergenceWarning
from corecustomers.models._transactions import START_RANGE, distinct_histories
from corecustomers.models._warnings import FitWarning, record_fit_warnings
from corecustomers.models.beta_geo import BetaGeoModel
from corecustomers.models.beta_geo_beta_binom import BetaGeoBetaBinomModel
from corecustomers.models.clv import customer_lifetime_value, discounted_expected_transactions
from corecustomers.models.evaluation import HoldoutEvaluation, holdout_evaluation
from corecustomers.models.gamma_gamma import GammaGammaModel, SpendFrequencyCorrelationWarning
from corecustomers.models.modified_beta_geo import ModifiedBetaGeoModel
from corecustomers.models.pareto_nbd import ParetoNBDModel
from corecustomers.models.selection import (
    MODEL_REGISTRY,
    ModelSelection,
    model_class,
    select_model,
)
from corecustomers.models.shifted_beta_geo import ShiftedBetaGeoModel, survival_table

__all__ = [
    "ALL_MODELS",
    "MODEL_REGISTRY",
    "START_RANGE",
    "BaseModel",
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "BoundaryWarning",
    "ConvergenceWarning",
    "FitWarning",
    "GammaGammaModel",
    "HoldoutEvaluation",
    "ModelSelection",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "ShiftedBetaGeoModel",
    "SpendFrequencyCorrelationWarning",
    "customer_lifetime_value",
    "discounted_expected_transactions",
    "distinct_histories",
    "holdout_evaluation",
    "model_class",
    "record_fit_warnings",
    "select_model",
    "survival_table",
]

#: Every model class, in the order the documentation lists them.
ALL_MODELS: tuple[type[BaseModel], ...] = (
    BetaGeoModel,
    ParetoNBDModel,
    ModifiedBetaGeoModel,
    BetaGeoBetaBinomModel,
    ShiftedBetaGeoModel,
    GammaGammaModel,
)
