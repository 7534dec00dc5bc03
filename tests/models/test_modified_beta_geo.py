"""MBG/NBD: published CDNOW estimates and the identities that set it apart from BG/NBD.

Batislam, Denizel & Filiztekin (2007) estimate the model on Turkish grocery data; the
CDNOW estimates its implementations are checked against come from the BTYDplus R package
(M. Platzer, ``mbgnbd.EstimateParameters`` on the CDNOW summary), as reproduced by
lifetimes: CamDavidsonPilon/lifetimes, lifetimes/tests/test_estimation.py,
``TestModifiedBetaGammaFitter.test_params_out_is_close_to_BTYDplus``:
r = 0.525, alpha = 6.183, a = 0.891, b = 1.614 (compared to three decimals there and here).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from corecustomers.models.beta_geo import BetaGeoModel
from corecustomers.models.modified_beta_geo import ModifiedBetaGeoModel

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
BTYDPLUS = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}


def cdnow() -> dict[str, np.ndarray]:
    with (FIXTURES / "cdnow_customers_summary.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in ("frequency", "recency", "T")}


@pytest.fixture(scope="module")
def fitted() -> ModifiedBetaGeoModel:
    return ModifiedBetaGeoModel().fit(cdnow())


def test_cdnow_estimates_match_btydplus(fitted: ModifiedBetaGeoModel) -> None:
    for name, value in BTYDPLUS.items():
        assert fitted.params_[name] == pytest.approx(value, abs=1.5e-3), name
    assert fitted.converged_


def test_log_likelihood_is_close_to_bg_nbd_on_cdnow(fitted: ModifiedBetaGeoModel) -> None:
    # one more dropout opportunity, same number of parameters: on CDNOW the two fit
    # about equally well (BG/NBD -9582.43); the per-customer values sum to the total
    assert fitted.log_likelihood_ == pytest.approx(-9582.1, abs=0.5)
    assert fitted.log_likelihood(cdnow()).sum() == pytest.approx(fitted.log_likelihood_, rel=1e-12)


def test_customers_without_repeat_purchases_may_have_dropped_out() -> None:
    model = ModifiedBetaGeoModel.from_dict({"params": BTYDPLUS})
    p = model.probability_alive({"frequency": [0, 0], "recency": [0.0, 0.0], "T": [0.0, 39.0]})
    a, b = BTYDPLUS["a"], BTYDPLUS["b"]
    # at T = 0 only the dropout right after the first purchase: b / (a + b)
    assert p[0] == pytest.approx(b / (a + b), rel=1e-12)
    assert p[1] < p[0]


def test_expectations_are_consistent() -> None:
    model = ModifiedBetaGeoModel.from_dict({"params": BTYDPLUS})
    t = np.array([0.0, 1.0, 39.0, 78.0])
    zero = {"frequency": np.zeros(4), "recency": np.zeros(4), "T": np.zeros(4)}
    np.testing.assert_allclose(model.expected_purchases_new(t), model.expected_purchases(zero, t))
    n = np.arange(0, 400)
    pmf = model.probability_of_purchases(n, 39.0)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
    assert float(n @ pmf) == pytest.approx(float(model.expected_purchases_new(39.0)), rel=1e-9)


def test_fewer_expected_purchases_than_bg_nbd_at_equal_parameters() -> None:
    # the extra dropout opportunity at time 0 can only lower E[X(t)]
    mbg = ModifiedBetaGeoModel.from_dict({"params": BTYDPLUS})
    bg = BetaGeoModel.from_dict({"params": BTYDPLUS})
    t = np.array([1.0, 39.0, 200.0])
    assert np.all(mbg.expected_purchases_new(t) < bg.expected_purchases_new(t))


def test_sample_lets_customers_drop_out_at_the_start() -> None:
    data = ModifiedBetaGeoModel.from_dict({"params": BTYDPLUS}).sample(4000, 39.0, seed=3)
    none = data["frequency"] == 0
    assert 0 < data["alive"][none].mean() < 1
    assert np.all(data["recency"][none] == 0)
