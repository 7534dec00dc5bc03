"""Helpers shared by the insights tests: a BTYD fit of a feature table, and rows to score
a fitted tree model on (missing values and values sitting on its split thresholds)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from corecustomers.insights._frames import significant
from corecustomers.insights.fitted import FittedValue
from corecustomers.models import BetaGeoModel, GammaGammaModel, record_fit_warnings


def btyd_fit(features: pa.Table) -> FittedValue:
    """BG/NBD and Gamma-Gamma fitted on ``features`` (weeks, a 52-week horizon)."""
    X = {
        name: np.asarray(features.column(name).to_numpy(), dtype=np.float64)
        for name in ("frequency", "recency", "T", "monetary_value")
    }
    repeat = (X["frequency"] > 0) & (X["monetary_value"] > 0)
    with record_fit_warnings():
        return FittedValue.predict(
            customer_id=features.column("customer_id").combine_chunks(),
            X=X,
            transaction_model=BetaGeoModel().fit(X),
            spend_model=GammaGammaModel().fit({k: v[repeat] for k, v in X.items()}),
            clv=np.zeros(features.num_rows),
            time_unit="week",
            horizon=52.0,
            penalizer=0.0,
        )


def rows_to_score(trees: list[Any], rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """2,000 rows of 5 columns, a fifth of the values missing, and the first rows each
    sitting on a split threshold of one of the first 40 ``trees`` (their ``nodes``)."""
    rows = significant(rng.lognormal(0.0, 1.5, (2_000, 5)))
    rows[rng.random((2_000, 5)) < 0.2] = np.nan
    for k, t in enumerate(trees[:40]):
        split = np.flatnonzero(~t["is_leaf"].astype(bool))[0]
        rows[k, t["feature_idx"][split]] = t["num_threshold"][split]
    return rows
