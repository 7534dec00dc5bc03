"""The lifetime-value models fitted once per analysis, and what they predict per customer.

The analysis fits its transaction model (the configured one, or the one
:func:`~corecustomers.models.select_model` chose) and the Gamma-Gamma spend model once,
in ``corecustomers.service.valuation``. Everything downstream -- the core ranking,
potential value, early warnings, the report -- reads this object instead of fitting
again, so that every figure of a run comes from the same models, the same penalizer and
the same CLV horizon.

It lives in ``insights`` (not ``service``) because the insights consume it and may not
import the service layer.

Examples
--------
>>> import numpy as np
>>> from corecustomers.models import BetaGeoModel, GammaGammaModel, record_fit_warnings
>>> rng = np.random.default_rng(0)
>>> n = 200
>>> T = rng.uniform(20, 40, n)
>>> frequency = rng.poisson(3, n).astype(float)
>>> recency = np.where(frequency > 0, T * rng.uniform(0.3, 1, n), 0.0)
>>> money = np.where(frequency > 0, rng.gamma(5, 10, n), 0.0)
>>> X = {"frequency": frequency, "recency": recency, "T": T, "monetary_value": money}
>>> repeat = (frequency > 0) & (money > 0)
>>> with record_fit_warnings():  # random data: the fits may sit on a boundary
...     fitted = FittedValue.predict(
...         customer_id=[f"c{i}" for i in range(n)],
...         X=X,
...         transaction_model=BetaGeoModel().fit(X),
...         spend_model=GammaGammaModel().fit({k: v[repeat] for k, v in X.items()}),
...         clv=np.zeros(n),
...         time_unit="week",
...         horizon=52.0,
...         penalizer=0.0,
...     )
>>> fitted.n, bool(np.all((fitted.p_alive >= 0) & (fitted.p_alive <= 1)))
(200, True)
>>> bool(np.allclose(fitted.value(364), fitted.expected_purchases * fitted.expected_spend))
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from corecustomers.models import GammaGammaModel
from corecustomers.units import TimeUnit, days_per

__all__ = ["BTYD_COLUMNS", "FittedValue"]

FloatArray = NDArray[np.float64]

#: The per-customer summary the transaction and spend models read.
BTYD_COLUMNS = ("frequency", "recency", "T", "monetary_value")


@dataclass(frozen=True)
class FittedValue:
    """Fitted transaction and spend models at one cut, with their per-customer predictions.

    Attributes
    ----------
    customer_id
        The customers, in the order of every array below.
    X
        ``frequency, recency, T, monetary_value`` (:data:`BTYD_COLUMNS`), float64.
    transaction_model
        The fitted transaction model (BG/NBD, Pareto/NBD or MBG/NBD).
    spend_model
        The fitted Gamma-Gamma model.
    p_alive
        P(alive) at the cut, clipped to [0, 1].
    expected_purchases
        Expected purchases over the next ``horizon_days``.
    expected_spend
        The Gamma-Gamma conditional mean spend per purchase.
    clv
        The discounted lifetime value over the horizon (margin applied).
    time_unit
        The unit of ``recency`` and ``T``.
    horizon
        The CLV horizon in ``time_unit`` (the configured months times
        :func:`~corecustomers.models.clv.units_per_month`).
    penalizer
        The L2 penalty both models were fitted with; a refit at another cut uses it too.
    """

    customer_id: pa.Array
    X: dict[str, FloatArray]
    transaction_model: Any
    spend_model: GammaGammaModel
    p_alive: FloatArray
    expected_purchases: FloatArray
    expected_spend: FloatArray
    clv: FloatArray
    time_unit: TimeUnit
    horizon: float
    penalizer: float
    _purchases: dict[float, FloatArray] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def predict(
        cls,
        *,
        customer_id: pa.Array | Sequence[str],
        X: dict[str, FloatArray],
        transaction_model: Any,
        spend_model: GammaGammaModel,
        clv: FloatArray,
        time_unit: TimeUnit,
        horizon: float,
        penalizer: float,
    ) -> FittedValue:
        """The predictions of fitted models over ``horizon`` (in ``time_unit``), once."""
        p = np.asarray(transaction_model.probability_alive(X), dtype=np.float64)
        expected = transaction_model.expected_purchases(X, horizon)
        return cls(
            customer_id=customer_id
            if isinstance(customer_id, pa.Array)
            else pa.array(customer_id, pa.string()),
            X=X,
            transaction_model=transaction_model,
            spend_model=spend_model,
            p_alive=np.clip(p, 0.0, 1.0),
            expected_purchases=np.asarray(expected, dtype=np.float64),
            expected_spend=np.asarray(spend_model.expected_spend(X), dtype=np.float64),
            clv=np.asarray(clv, dtype=np.float64),
            time_unit=time_unit,
            horizon=horizon,
            penalizer=penalizer,
        )

    @property
    def n(self) -> int:
        """Number of customers."""
        return len(self.customer_id)

    @property
    def horizon_days(self) -> float:
        """The CLV horizon in days."""
        return self.horizon * days_per(self.time_unit)

    @property
    def model_name(self) -> str:
        """The transaction model's class name (e.g. ``BetaGeoModel``)."""
        return type(self.transaction_model).__name__

    def purchases_in(self, days: float) -> FloatArray:
        """Expected purchases in the next ``days`` (the stored array when it is the horizon)."""
        if math.isclose(days, self.horizon_days, rel_tol=1e-12):
            return self.expected_purchases
        # the ranking and the churn risk ask for the same windows several times: the
        # series of E[X(t)] is summed once per window (read-only, as it is shared)
        found = self._purchases.get(days)
        if found is None:
            t = days / days_per(self.time_unit)
            found = np.asarray(
                self.transaction_model.expected_purchases(self.X, t), dtype=np.float64
            )
            found.setflags(write=False)
            self._purchases[days] = found
        return found

    def value(self, days: float) -> FloatArray:
        """Predicted net revenue in the next ``days``: ``E[X(days)] * E[Z]``."""
        return self.purchases_in(days) * self.expected_spend

    def take(self, indices: NDArray[np.intp]) -> FittedValue:
        """The same fit, its customers reordered (or subset) by ``indices``."""
        return FittedValue(
            customer_id=self.customer_id.take(pa.array(indices)),
            X={k: v[indices] for k, v in self.X.items()},
            transaction_model=self.transaction_model,
            spend_model=self.spend_model,
            p_alive=self.p_alive[indices],
            expected_purchases=self.expected_purchases[indices],
            expected_spend=self.expected_spend[indices],
            clv=self.clv[indices],
            time_unit=self.time_unit,
            horizon=self.horizon,
            penalizer=self.penalizer,
        )

    def new_models(self) -> tuple[Any, GammaGammaModel]:
        """Unfitted models of the same kinds and penalizer, to fit at another cut."""
        return (
            type(self.transaction_model)(penalizer=self.penalizer),
            GammaGammaModel(penalizer=self.penalizer),
        )
