"""CLV: lifetimes' discrete loop, a hand-computed case, and continuous discounting (DERT)."""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from corecustomers.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ParetoNBDModel,
    customer_lifetime_value,
    discounted_expected_transactions,
)
from corecustomers.models.clv import units_per_month

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


class ConstantRate:
    """A customer who never leaves and buys ``rate`` times per time unit: ``E[X(t)] = rate t``."""

    def __init__(self, rate: list[float]) -> None:
        self.rate = np.asarray(rate, dtype=float)

    def expected_purchases(self, X: Any, t: Any) -> np.ndarray:
        return self.rate * np.asarray(t, dtype=float)


def lifetimes_loop(
    model: Any, X: Any, monetary_value: np.ndarray, time: int, discount_rate: float, factor: float
) -> np.ndarray:
    """lifetimes' ``utils._customer_lifetime_value`` loop, re-implemented on arrays.

    ``factor`` is the number of model time units per month (lifetimes: 30 for "D",
    4.345 for "W", 1 for "M").
    """
    clv = np.zeros_like(monetary_value)
    for i in np.arange(1, time + 1) * factor:
        n = model.expected_purchases(X, i) - model.expected_purchases(X, i - factor)
        clv += monetary_value * n / (1 + discount_rate) ** (i / factor)
    return clv


def cdnow_summary_with_spend() -> dict[str, np.ndarray]:
    """``cdnow_customers_summary.csv`` (weeks) plus each customer's mean repeat spend.

    Spend comes from ``CDNOW_sample.txt`` (customer = the file's sample id, which is the
    summary's ID): purchases on one day are one purchase with summed spend, the first day
    is not a repeat, only days up to 1997-09-30 count.
    """
    with (FIXTURES / "cdnow_customers_summary.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    table = {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    spend: dict[int, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    with (FIXTURES / "CDNOW_sample.txt").open() as fh:
        for line in fh:
            _master, sample_id, date, _cds, value = line.split()
            day = dt.date(int(date[:4]), int(date[4:6]), int(date[6:]))
            if day <= dt.date(1997, 9, 30):
                spend[int(sample_id)][day] += float(value)
    monetary = []
    for customer in table["ID"].astype(int):
        repeat = [spend[customer][d] for d in sorted(spend[customer])[1:]]
        monetary.append(sum(repeat) / len(repeat) if repeat else 0.0)
    table["monetary_value"] = np.array(monetary)
    return table


@pytest.fixture(scope="module")
def donations() -> dict[str, np.ndarray]:
    with (FIXTURES / "donations.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


@pytest.fixture(scope="module")
def bgbb() -> BetaGeoBetaBinomModel:
    model = BetaGeoBetaBinomModel()
    model.params_ = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}
    return model


def test_hand_computed_discrete_case() -> None:
    # 0.5 purchases a week -> 0.5 * 30.4375 / 7 = 2.174107 a month, at 20 each, margin 30 %,
    # over 3 months at 1 % a month: 0.3 * 20 * 2.174107 * (1/1.01 + 1/1.01^2 + 1/1.01^3)
    value = customer_lifetime_value(
        ConstantRate([0.5]), 20.0, None, horizon=3, discount_rate=0.01, time_unit="week", margin=0.3
    )
    assert value[0] == pytest.approx(38.364101676528, rel=1e-12)


def test_hand_computed_continuous_case() -> None:
    # infinite horizon: int_0^inf e^{-delta t} rate dt = rate / delta, delta = ln(1.01) per
    # month = ln(1.01) / 4.348214 per week: 0.3 * 20 * 2.174107 / ln(1.01)
    model = ConstantRate([0.5])
    value = customer_lifetime_value(
        model,
        20.0,
        None,
        horizon=math.inf,
        discount_rate=0.01,
        time_unit="week",
        margin=0.3,
        discounting="continuous",
    )
    assert value[0] == pytest.approx(1310.9757906180, rel=1e-8)
    # 12 months: the same stream cut at the horizon
    value_12 = customer_lifetime_value(
        model,
        20.0,
        None,
        horizon=12,
        discount_rate=0.01,
        time_unit="week",
        margin=0.3,
        discounting="continuous",
    )
    assert value_12[0] == pytest.approx(1310.9757906180 * (1 - 1.01**-12), rel=1e-10)


@pytest.mark.parametrize(
    ("time_unit", "factor"),
    [("day", 30.4375), ("week", 30.4375 / 7), ("month", 1.0), ("year", 1 / 12)],
)
def test_discrete_matches_lifetimes_loop(
    bgbb: BetaGeoBetaBinomModel, donations: dict[str, np.ndarray], time_unit: Any, factor: float
) -> None:
    # donations' periods are years; read them in each unit to exercise the conversion
    spend = np.linspace(10, 50, donations["frequency"].size)
    ours = customer_lifetime_value(
        bgbb, spend, donations, horizon=24, discount_rate=0.01, time_unit=time_unit
    )
    theirs = lifetimes_loop(bgbb, donations, spend, 24, 0.01, factor)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_lifetimes_month_lengths_differ_only_slightly(
    bgbb: BetaGeoBetaBinomModel, donations: dict[str, np.ndarray]
) -> None:
    # lifetimes takes a month as 4.345 weeks; the fixed 30.4375-day month is 4.348 weeks
    ours = customer_lifetime_value(
        bgbb, 30.0, donations, horizon=12, discount_rate=0.01, time_unit="week"
    )
    theirs = lifetimes_loop(bgbb, donations, np.full(ours.size, 30.0), 12, 0.01, 4.345)
    np.testing.assert_allclose(ours, theirs, rtol=2e-3)


def test_reproduces_lifetimes_quickstart_and_its_unit_pitfall() -> None:
    # lifetimes' Quickstart fits BG/NBD and gamma-gamma on this weekly CDNOW summary and
    # prints customer_lifetime_value(..., time=12, discount_rate=0.01) for the first five
    # customers: 140.096218, 18.943466, 38.180575, 38.180575, 38.180575. It leaves freq at
    # its default "D", so a "month" there is 30 *weeks* and the horizon is 360 weeks.
    X = cdnow_summary_with_spend()
    assert np.array_equal(X["frequency"] > 0, X["monetary_value"] > 0)
    bgnbd = BetaGeoModel().fit(X)
    spend = GammaGammaModel().fit(X)
    published = [140.096218, 18.943466, 38.180575, 38.180575, 38.180575]
    loop = lifetimes_loop(bgnbd, X, spend.expected_spend(X), 12, 0.01, 30.0)
    np.testing.assert_allclose(loop[:5], published, rtol=1e-3)
    # the same mistake here needs time_unit="day", and differs only by the month length
    as_days = customer_lifetime_value(
        bgnbd, spend, X, horizon=12, discount_rate=0.01, time_unit="day"
    )
    np.testing.assert_allclose(as_days[:5], published, rtol=0.02)
    # the correct unit: 12 months of 30.4375 days are 52.18 weeks, about a quarter of it
    weekly = customer_lifetime_value(
        bgnbd, spend, X, horizon=12, discount_rate=0.01, time_unit="week"
    )
    np.testing.assert_allclose(
        weekly, lifetimes_loop(bgnbd, X, spend.expected_spend(X), 12, 0.01, 30.4375 / 7)
    )
    assert np.all(weekly[:5] < 0.3 * np.asarray(published))


def test_uses_the_spend_model(bgbb: BetaGeoBetaBinomModel) -> None:
    spend = GammaGammaModel()
    spend.params_ = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    X = {
        "frequency": [0.0, 3.0],
        "recency": [0.0, 5.0],
        "periods": [6.0, 6.0],
        "monetary_value": [0.0, 40.0],
    }
    with_model = customer_lifetime_value(
        bgbb, spend, X, horizon=36, discount_rate=0.01, time_unit="year", margin=0.5
    )
    by_hand = customer_lifetime_value(
        bgbb, spend.expected_spend(X), X, horizon=36, discount_rate=0.01, time_unit="year"
    )
    np.testing.assert_allclose(with_model, 0.5 * by_hand)


def test_numerical_dert_matches_direct_sum_for_bgbb(
    bgbb: BetaGeoBetaBinomModel, donations: dict[str, np.ndarray]
) -> None:
    # A BG/BB customer buys only at whole opportunities n + k: the discrete DERT is the sum
    # of the expected purchases at n + k, each discounted by e^{-delta k}. Were E(t) linear
    # between whole t, the continuous DERT would be exactly (e^delta - 1) / delta times that
    # sum, each step's flow arriving evenly over its opportunity. The model's E(t) continues
    # the Beta functions of FHL (2010) eq. (13) to real t instead, which is not quite linear:
    # at delta = 0.1 the ratio is 1.05211, (e^delta - 1) / delta is 1.05171 (4e-4 apart).
    # Every donor has the same n (6), so the ratio is the same for all of them.
    delta = 0.1
    numeric = discounted_expected_transactions(bgbb, donations, delta=delta, horizon=math.inf)
    k = np.arange(1, 400)  # e^{-0.1 * 400} < 1e-17: the tail is below double precision
    steps = np.diff(
        np.stack([bgbb.expected_purchases(donations, float(t)) for t in np.append(0, k)]),
        axis=0,
    )
    direct = (np.exp(-delta * k)[:, None] * steps).sum(axis=0)
    ratio = numeric / direct
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
    assert ratio[0] == pytest.approx(math.expm1(delta) / delta, rel=5e-4)
    assert np.all(numeric > direct)  # flows arrive before the end of their opportunity
    # and the quadrature against SciPy's adaptive one of delta int e^{-delta t} E(t) dt
    # (the same integral by parts, as E(0) = 0), for one donor
    one = {name: column[:1] for name, column in donations.items()}
    adaptive, _ = integrate.quad(
        lambda t: delta * math.exp(-delta * t) * float(bgbb.expected_purchases(one, t)[0]),
        0,
        math.inf,
        limit=500,
        epsabs=1e-13,
        epsrel=1e-12,
    )
    assert numeric[0] == pytest.approx(adaptive, rel=1e-9)


def test_pareto_nbd_dert_closed_form_matches_the_integral() -> None:
    # FHL (2005) eq. (2) against the numerical integral of the model's own conditional
    # expectation, on CDNOW with the published Pareto/NBD estimates and FHL's 15 % a year
    X = cdnow_summary_with_spend()
    model = ParetoNBDModel.from_dict(
        {"params": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}}
    )
    delta = math.log(1.15) / 52  # 0.0027 a week
    closed = discounted_expected_transactions(model, X, delta=delta)
    integral = discounted_expected_transactions(model, X, delta=delta, horizon=60 / delta)
    np.testing.assert_allclose(closed, integral, rtol=1e-8)
    # and customer_lifetime_value uses it with delta = ln(1 + monthly rate) per month
    clv = customer_lifetime_value(
        model,
        2.0,
        X,
        horizon=math.inf,
        discount_rate=0.01,
        time_unit="week",
        margin=0.5,
        discounting="continuous",
    )
    weekly = math.log(1.01) / (30.4375 / 7)
    np.testing.assert_allclose(clv, discounted_expected_transactions(model, X, delta=weekly))


def test_continuous_exceeds_discrete_by_less_than_a_month_of_interest(
    bgbb: BetaGeoBetaBinomModel, donations: dict[str, np.ndarray]
) -> None:
    kwargs: dict[str, Any] = {"horizon": 60, "discount_rate": 0.01, "time_unit": "year"}
    discrete = customer_lifetime_value(bgbb, 1.0, donations, **kwargs)
    continuous = customer_lifetime_value(bgbb, 1.0, donations, discounting="continuous", **kwargs)
    assert np.all(continuous >= discrete)
    assert np.all(continuous <= discrete * 1.01)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"time_unit": "fortnight"}, "unknown time_unit"),
        ({"horizon": 2.5}, "whole, finite horizon"),
        ({"horizon": math.inf}, "whole, finite horizon"),
        ({"discount_rate": -1.0}, "greater than -1"),
        ({"discounting": "hyperbolic"}, "discounting must be"),
    ],
)
def test_rejects_bad_arguments(
    bgbb: BetaGeoBetaBinomModel, kwargs: dict[str, Any], match: str
) -> None:
    args: dict[str, Any] = {"horizon": 12, "discount_rate": 0.01, "time_unit": "week"}
    args.update(kwargs)
    X = {"frequency": [1.0], "recency": [1.0], "periods": [6.0]}
    with pytest.raises(ValueError, match=match):
        customer_lifetime_value(bgbb, 10.0, X, **args)


def test_units_per_month() -> None:
    assert units_per_month("day") == 30.4375
    assert units_per_month("month") == 1.0
    assert units_per_month("year") * 12 == pytest.approx(1.0)


@settings(max_examples=40, deadline=None)
@given(
    params=st.tuples(*(st.floats(0.1, 10) for _ in range(4))),
    rate=st.floats(0.0, 0.05),
    horizon=st.integers(1, 60),
)
def test_value_rises_with_horizon_and_falls_with_discount_rate(
    params: tuple[float, float, float, float], rate: float, horizon: int
) -> None:
    model = BetaGeoBetaBinomModel()
    model.params_ = dict(zip(("alpha", "beta", "gamma", "delta"), params, strict=True))
    X = {"frequency": [0.0, 2.0, 6.0], "recency": [0.0, 4.0, 6.0], "periods": [6.0] * 3}

    def clv(h: int, r: float) -> np.ndarray:
        return customer_lifetime_value(model, 10.0, X, horizon=h, discount_rate=r, time_unit="year")

    base = clv(horizon, rate)
    assert np.all(base >= 0)
    assert np.all(clv(horizon + 6, rate) >= base - 1e-12)
    assert np.all(clv(horizon, rate + 0.01) <= base + 1e-12)


@pytest.mark.parametrize("model_class", [BetaGeoModel, ParetoNBDModel])
def test_repeated_histories_are_valued_once_with_the_same_result(model_class: Any) -> None:
    # 3,000 customers, 60 distinct histories: a mapping of arrays takes the compressed path
    # (one prediction per distinct history), a pyarrow table the row-by-row one; every
    # customer gets exactly the same value from both
    rng = np.random.default_rng(7)
    x = rng.integers(0, 4, 60).astype(float)
    T = rng.integers(10, 60, 60).astype(float)
    tx = np.where(x > 0, np.floor(T * rng.uniform(0.2, 1.0, 60)), 0.0)
    pick = rng.integers(0, 60, 3000)
    X = {"frequency": x[pick], "recency": tx[pick], "T": T[pick]}
    model = model_class()
    names = {
        "BetaGeoModel": ("r", "alpha", "a", "b"),
        "ParetoNBDModel": ("r", "alpha", "s", "beta"),
    }
    model.params_ = dict(zip(names[model_class.__name__], (0.6, 8.0, 0.9, 3.0), strict=True))
    spend = rng.uniform(5, 50, 3000)
    kwargs: dict[str, Any] = {"horizon": 12, "discount_rate": 0.008, "time_unit": "week"}
    value = customer_lifetime_value(model, spend, X, **kwargs)
    row_by_row = customer_lifetime_value(model, spend, pa.table(X), **kwargs)
    np.testing.assert_array_equal(value, row_by_row)
    assert np.all(value > 0)
