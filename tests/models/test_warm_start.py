"""Transaction models fitted from a given start (``fit(X, start=...)``, issue 8).

The core ranking fits the analysis' transaction model again at earlier cut dates, each
fit starting from the one a window later. These tests pin what a start may and may not
change: a likelihood with a maximum gives the same optimum as a cold fit (on the CDNOW
summary of [FHL05], whatever the start); a likelihood that rises along a ridge towards
the boundary is searched only within ``START_RANGE`` of the start and says so.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from corecustomers.models import (
    START_RANGE,
    BetaGeoModel,
    BoundaryWarning,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _cdnow() -> dict[str, np.ndarray]:
    with (FIXTURES / "cdnow_customers_summary.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in ("frequency", "recency", "T")}


@pytest.mark.parametrize("model", [BetaGeoModel, ParetoNBDModel, ModifiedBetaGeoModel])
@pytest.mark.parametrize("factor", [0.5, 3.0])
def test_a_start_reaches_the_cold_fit_optimum(model: Any, factor: float) -> None:
    X = _cdnow()
    cold = model().fit(X)
    start = {k: v * factor for k, v in cold.params_.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no boundary, no convergence warning
        warm = model().fit(X, start=start)
    assert warm.converged_
    assert warm.log_likelihood_ == pytest.approx(cold.log_likelihood_, abs=1e-6)
    for name, value in cold.params_.items():
        # Pareto/NBD's beta is flat (standard error ~6 on CDNOW): compare the likelihood
        assert warm.params_[name] == pytest.approx(value, rel=1e-3), name


def _cdnow_up_to(cut: dt.date) -> dict[str, np.ndarray]:
    """``frequency, recency, T`` (weeks) of the CDNOW sample's customers at ``cut``."""
    days: dict[str, set[dt.date]] = {}
    with (FIXTURES / "CDNOW_sample.txt").open(encoding="ascii") as lines:
        for line in lines:
            customer, _sample, day, _n_cds, _dollars = line.split()
            date = dt.datetime.strptime(day, "%Y%m%d").date()
            if date <= cut:
                days.setdefault(customer, set()).add(date)
    first = np.array([(min(d) - cut).days for d in days.values()], dtype=np.float64)
    last = np.array([(max(d) - cut).days for d in days.values()], dtype=np.float64)
    return {
        "frequency": np.array([len(d) - 1 for d in days.values()], dtype=np.float64),
        "recency": (last - first) / 7.0,
        "T": -first / 7.0,
    }


def test_a_ridge_is_searched_only_near_the_start() -> None:
    """The CDNOW sample's first three months (to 1997-04-03, the core ranking's earliest
    cut in the analysis of the other tests): Pareto/NBD's likelihood keeps rising as ``s``
    and ``beta`` grow together, so a cold fit follows that ridge for about a minute (each
    step costlier than the last). Started from the estimates one window later, the fit
    stops within ``START_RANGE`` of them and says so."""
    X = _cdnow_up_to(dt.date(1997, 4, 3))
    start = {"r": 0.5613, "alpha": 9.441, "s": 0.5144, "beta": 6.159}  # fit to 1997-07-02
    ridge = [
        float(
            np.sum(
                ParetoNBDModel.from_dict(
                    {"params": {**start, "s": start["s"] * k, "beta": start["beta"] * k * 1.5}}
                ).log_likelihood(X)
            )
        )
        for k in (1.0, 10.0, 100.0)
    ]
    assert ridge[0] < ridge[1] < ridge[2]  # the likelihood rises along s, beta -> infinity
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warm = ParetoNBDModel().fit(X, start=start)
    messages = [str(w.message) for w in caught if issubclass(w.category, BoundaryWarning)]
    assert messages and "edge of the range searched around the start" in messages[0]
    assert not warm.converged_
    for name, value in warm.params_.items():
        assert math.isfinite(value)
        low, high = start[name] / START_RANGE, start[name] * START_RANGE
        assert low * (1 - 1e-9) <= value <= high * (1 + 1e-9), name
    assert warm.log_likelihood_ > ridge[0]


@pytest.mark.parametrize(
    "start",
    [
        {"r": 1.0, "alpha": 1.0, "a": 1.0},
        {"r": 1.0, "alpha": 1.0, "a": 1.0, "b": 1.0, "s": 1.0},
        {"r": 1.0, "alpha": -1.0, "a": 1.0, "b": 1.0},
        {"r": 1.0, "alpha": math.nan, "a": 1.0, "b": 1.0},
    ],
)
def test_a_bad_start_is_refused(start: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="start"):
        BetaGeoModel().fit(_cdnow(), start=start)
