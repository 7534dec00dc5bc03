"""Core ranking: captured holdout revenue of three rankings, on CDNOW and where behaviour matters.

CDNOW (``tests/fixtures/CDNOW_sample.txt``, the 2,357-customer sample of Fader, Hardie &
Lee 2005) is read here with plain Python into the canonical shape. Its buyers behave as
the BTYD models assume, so the combined ranking has little to add there; the synthetic
set below is built so that it does: some customers' purchase rates grow, others fade, and
some return most of what they buy, none of which the BTYD models see.
"""

from __future__ import annotations

import datetime
import doctest
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

import corecustomers.insights.ranking as ranking_module
from corecustomers.errors import ColumnMappingError, ConfigError
from corecustomers.insights.ranking import capture_comparison, core_scores

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CALIBRATION_END = datetime.date(1997, 9, 30)
AS_OF = datetime.date(1998, 6, 30)
SYNTHETIC_START = datetime.date(2022, 1, 1)
SYNTHETIC_CALIBRATION_END = datetime.date(2023, 12, 31)
SYNTHETIC_AS_OF = datetime.date(2024, 6, 30)


def _read_cdnow() -> pa.Table:
    customers, stamps, amounts = [], [], []
    with (FIXTURES / "CDNOW_sample.txt").open(encoding="ascii") as lines:
        for line in lines:
            master, _sample, day, _n_cds, dollars = line.split()
            customers.append(master)
            stamps.append(datetime.datetime.strptime(day, "%Y%m%d"))
            amounts.append(float(dollars))
    return pa.table(
        {
            "customer_id": pa.array(customers, pa.string()),
            "timestamp": pa.array(stamps, pa.timestamp("us")),
            "amount": pa.array(amounts, pa.float64()),
            "order_id": pa.nulls(len(customers), pa.string()),
        }
    )


def _behaviour_transactions(n_customers: int = 4000, seed: int = 11) -> pa.Table:
    """Customers whose future differs from what their (x, t_x, T, m) summary says.

    First purchases are spread over 2022; the data run to 2024-06-30. Each customer buys
    as a Poisson process with a gamma-distributed base rate (mean one purchase in 20
    days), half of them at a steady rate, a quarter at a rate growing linearly from 0.2 to
    2 times the base over the whole period, a quarter at one fading from 2 to 0.1 times
    it. A fifth of the customers return 60 % of their purchases 3-10 days later. Spend
    per purchase is gamma around a customer-specific mean.
    """
    rng = np.random.default_rng(seed)
    days = (SYNTHETIC_AS_OF - SYNTHETIC_START).days + 1
    first = rng.uniform(0.0, 365.0, n_customers)
    kind = rng.choice(3, n_customers, p=[0.5, 0.25, 0.25])  # steady, growing, fading
    rate = rng.gamma(1.0, 1.0 / 20.0, n_customers)
    mean_spend = rng.gamma(4.0, 12.5, n_customers)
    returner = rng.random(n_customers) < 0.2

    top = 2.0 * rate
    owner = np.repeat(np.arange(n_customers), rng.poisson(top * (days - first)))
    t = first[owner] + rng.random(len(owner)) * (days - first[owner])
    share = t / days
    multiplier = np.choose(kind[owner], [np.ones_like(share), 0.2 + 1.8 * share, 2.0 - 1.9 * share])
    keep = rng.random(len(owner)) * top[owner] < rate[owner] * multiplier
    owner = np.concatenate((np.arange(n_customers), owner[keep]))
    t = np.concatenate((first, t[keep]))
    spend = rng.gamma(5.0, mean_spend[owner] / 5.0)

    back = returner[owner] & (rng.random(len(owner)) < 0.6)
    owner = np.concatenate((owner, owner[back]))
    t = np.concatenate((t, np.minimum(t[back] + rng.uniform(3.0, 10.0, back.sum()), days - 0.01)))
    amount = np.round(np.concatenate((spend, -spend[back])), 2)

    start = np.datetime64(SYNTHETIC_START.isoformat(), "us")
    stamps = start + (t * 86_400e6).astype("timedelta64[us]")
    return pa.table(
        {
            "customer_id": pa.array([f"S{i:05d}" for i in owner], pa.string()),
            "timestamp": pa.array(stamps, pa.timestamp("us")),
            "amount": pa.array(amount, pa.float64()),
            "order_id": pa.nulls(len(owner), pa.string()),
        }
    )


@pytest.fixture(scope="module")
def cdnow(duckdb_con: Any) -> Any:
    return duckdb_con.create_table("ranking_cdnow", _read_cdnow(), temp=True, overwrite=True)


@pytest.fixture(scope="module")
def behaviour(duckdb_con: Any) -> Any:
    table = _behaviour_transactions()
    return duckdb_con.create_table("ranking_behaviour", table, temp=True, overwrite=True)


@pytest.fixture(scope="module")
def cdnow_capture(cdnow: Any) -> dict[str, Any]:
    return capture_comparison(cdnow, calibration_end=CALIBRATION_END, as_of=AS_OF)


@pytest.fixture(scope="module")
def behaviour_capture(behaviour: Any) -> dict[str, Any]:
    return capture_comparison(
        behaviour, calibration_end=SYNTHETIC_CALIBRATION_END, as_of=SYNTHETIC_AS_OF
    )


def test_cdnow_capture_of_the_three_rankings(cdnow_capture: dict[str, Any]) -> None:
    # Regression pin, not a published number: the BTYD x Gamma-Gamma ranking's top 20 %
    # captured 0.66285 of the holdout revenue (1997-10-01 .. 1998-06-30, $70,976.39), as
    # capture_comparison gave when it was written and again at commit 590a4dc (2026-12-05);
    # the same run gave historic spend 0.6626, combined 0.6334, best possible 0.9428, and
    # in the time-shifted validation combined 0.6109 against BTYD 0.6148, better in 32 % of
    # the bootstrap resamples -> BTYD is kept. The tolerance, 5e-4, is one customer swapped
    # at the top-20 % boundary (a typical holdout revenue there is about $30, 4e-4 of it).
    result = cdnow_capture
    capture = result["capture"]
    for name in ("historic_spend", "btyd", "combined", "core_score", "best_possible"):
        assert 0.0 < capture[name] <= 1.0, name
    assert capture["btyd"] is not None and capture["combined"] is not None
    assert (
        max(capture["historic_spend"], capture["btyd"], capture["combined"])
        <= (capture["best_possible"])
    )
    # 2,357 customers (FHL 2005); the top 20 % rounded up; the holdout in days; a training
    # window of a third of the 272 days from 1997-01-01 to the calibration end, whole days
    assert result["customers"] == 2357
    assert result["top_customers"] == math.ceil(0.2 * 2357) == 472
    assert result["holdout_days"] == (AS_OF - CALIBRATION_END).days == 273
    history_days = (CALIBRATION_END - datetime.date(1997, 1, 1)).days
    assert result["training_window_days"] == history_days // 3 == 90
    assert result["core_score"] == "btyd"
    assert capture["core_score"] == capture["btyd"]
    assert result["capture"]["btyd"] == pytest.approx(0.66285, abs=5e-4)
    validation = result["validation"]
    window = datetime.timedelta(days=90)
    assert validation["scored_at"] == (CALIBRATION_END - window).isoformat() == "1997-07-02"
    assert validation["features_end"] == (CALIBRATION_END - 2 * window).isoformat()
    assert 0.0 <= validation["bootstrap_share_better"] < 0.9
    assert "BTYD" in result["reason"]
    json.dumps(result, allow_nan=False)


def test_combined_ranking_wins_where_behaviour_matters(behaviour_capture: dict[str, Any]) -> None:
    # For the record (not asserted): capture_comparison gave historic spend 0.5772, BTYD
    # 0.5685, combined 0.6158, best 0.6678; the validation (L = 182 days) combined 0.5679
    # against BTYD 0.5496, better in 100 % of the bootstrap resamples. Asserted is what the
    # synthetic set is built to show, with margins (0.02) about half of those measured
    # (0.047 over BTYD, 0.039 over historic spend).
    result = behaviour_capture
    capture = result["capture"]
    assert result["core_score"] == "combined"
    assert capture["core_score"] == capture["combined"]
    assert capture["combined"] > capture["btyd"] + 0.02
    assert capture["combined"] > capture["historic_spend"] + 0.02
    assert result["validation"]["bootstrap_share_better"] >= 0.9
    assert result["training_window_days"] == 182
    assert result["customers"] == 4000
    json.dumps(result, allow_nan=False)


def test_core_scores_without_a_holdout(behaviour: Any) -> None:
    scores = core_scores(behaviour, as_of=SYNTHETIC_CALIBRATION_END, horizon_days=182)
    table = scores.table
    assert table.column_names == ["customer_id", "core_score", "btyd_value", "historic_spend"]
    ids = table["customer_id"].to_pylist()
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids)) == 4000
    core = table["core_score"].to_numpy()
    assert np.all(np.isfinite(core)) and np.all(core >= 0)
    assert table["btyd_value"].null_count == 0
    assert scores.method == "combined"
    summary = scores.to_dict()
    assert summary["core_score"] == "combined"
    assert summary["horizon_days"] == 182
    assert summary["training_window_days"] == 182
    json.dumps(summary, allow_nan=False)


def test_scores_use_nothing_after_the_day_scored(cdnow: Any, duckdb_con: Any) -> None:
    cut = CALIBRATION_END
    until_cut = cdnow.filter(cdnow.timestamp < datetime.datetime(1997, 10, 1))
    with_future = core_scores(cdnow, as_of=cut, horizon_days=180)
    without = core_scores(until_cut, as_of=cut, horizon_days=180)
    # Equal up to the order in which the engine adds floating-point amounts.
    assert with_future.table["customer_id"].equals(without.table["customer_id"])
    for name in ("core_score", "btyd_value", "historic_spend"):
        np.testing.assert_allclose(
            with_future.table[name].to_numpy(), without.table[name].to_numpy(), rtol=1e-9
        )
    assert with_future.method == without.method
    a, b = with_future.to_dict()["validation"], without.to_dict()["validation"]
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == (pytest.approx(b[key]) if isinstance(b[key], float) else b[key]), key


BACKENDS = [
    # four Spark jobs with shuffles and joins: about a minute on two cores
    pytest.param("pyspark", id="pyspark", marks=[pytest.mark.spark, pytest.mark.slow]),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_same_scores_on_every_backend(
    backend: str, request: pytest.FixtureRequest, duckdb_con: Any
) -> None:
    """Features, activity windows and targets are Ibis expressions: any backend, one answer."""
    data = _behaviour_transactions(n_customers=300, seed=2)
    expected = core_scores(
        duckdb_con.create_table("cc_rank_ref", data, temp=True, overwrite=True),
        as_of=SYNTHETIC_CALIBRATION_END,
        horizon_days=182,
    )
    name = f"cc_rank_{backend}"
    con = request.getfixturevalue(f"{'spark' if backend == 'pyspark' else backend}_con")
    if backend == "pyspark":
        request.getfixturevalue("spark_session").createDataFrame(data).createOrReplaceTempView(name)
        tx = con.table(name)
    else:
        tx = con.create_table(name, data, temp=True, overwrite=True)
    try:
        got = core_scores(tx, as_of=SYNTHETIC_CALIBRATION_END, horizon_days=182)
    finally:
        if backend == "pyspark":
            request.getfixturevalue("spark_session").catalog.dropTempView(name)
        else:
            con.drop_table(name, force=True)
    assert got.method == expected.method
    assert got.table["customer_id"].equals(expected.table["customer_id"])
    for column in ("core_score", "btyd_value", "historic_spend"):
        np.testing.assert_allclose(
            got.table[column].to_numpy(), expected.table[column].to_numpy(), rtol=1e-6
        )


def test_short_history_keeps_the_btyd_ranking(duckdb_con: Any) -> None:
    rng = np.random.default_rng(4)
    n = 80
    owner = np.repeat(np.arange(n), rng.integers(1, 6, n))
    day = rng.integers(0, 30, len(owner))
    table = pa.table(
        {
            "customer_id": pa.array([f"c{i:02d}" for i in owner]),
            "timestamp": pa.array(
                np.datetime64("2024-03-01", "us") + day.astype("timedelta64[D]"),
                pa.timestamp("us"),
            ),
            "amount": pa.array(rng.gamma(2.0, 10.0, len(owner))),
        }
    )
    tx = duckdb_con.create_table("ranking_short", table, temp=True, overwrite=True)
    scores = core_scores(tx, as_of=datetime.date(2024, 3, 30))
    assert scores.method == "btyd"
    assert "too short" in scores.reason
    assert scores.table["core_score"].equals(scores.table["btyd_value"])


def test_too_few_customers_rank_by_historic_spend(duckdb_con: Any) -> None:
    table = pa.table(
        {
            "customer_id": ["a", "b", "b", "c"],
            "timestamp": pa.array(
                [datetime.datetime(2024, 1, d) for d in (2, 3, 9, 4)], pa.timestamp("us")
            ),
            "amount": [5.0, 7.0, 8.0, 30.0],
        }
    )
    tx = duckdb_con.create_table("ranking_tiny", table, temp=True, overwrite=True)
    scores = core_scores(tx, as_of=datetime.date(2024, 1, 31))
    assert scores.method == "historic_spend"
    assert scores.table["core_score"].to_pylist() == [5.0, 15.0, 30.0]
    assert scores.table["btyd_value"].null_count == 3
    assert scores.to_dict()["validation"] is None


def test_bad_arguments_are_refused(cdnow: Any) -> None:
    with pytest.raises(ConfigError, match="after calibration_end"):
        capture_comparison(cdnow, calibration_end=AS_OF, as_of=AS_OF)
    with pytest.raises(ConfigError, match="top_share"):
        capture_comparison(cdnow, calibration_end=CALIBRATION_END, as_of=AS_OF, top_share=0.0)
    with pytest.raises(ConfigError, match="horizon_days"):
        core_scores(cdnow, as_of=AS_OF, horizon_days=0)
    with pytest.raises(ConfigError, match=r"datetime\.date"):
        core_scores(cdnow, as_of=datetime.datetime(1998, 6, 30))
    with pytest.raises(ColumnMappingError, match="amount"):
        core_scores(cdnow.drop("amount"), as_of=AS_OF)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(ranking_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_rank_customers_reuses_the_analysis_fit(cdnow: Any) -> None:
    """Issue 8: the ranking at the cut takes the analysis' features and fitted models --
    no fit there, the given model kind and penalty at the two earlier cuts, the CLV
    horizon -- and its capture describes the ranking that is the core_score."""
    from corecustomers.data.features import customer_features, materialize
    from corecustomers.insights.fitted import FittedValue
    from corecustomers.insights.ranking import rank_customers
    from corecustomers.models import GammaGammaModel, ModifiedBetaGeoModel

    features = materialize(customer_features(cdnow, as_of=AS_OF, calibration_end=CALIBRATION_END))
    X = {
        k: np.asarray(features.column(k).to_numpy(zero_copy_only=False), dtype=np.float64)
        for k in ("frequency", "recency", "T", "monetary_value")
    }
    repeat = (X["frequency"] > 0) & (X["monetary_value"] > 0)
    with warnings.catch_warnings():  # a penalised Gamma-Gamma sits at q = 1 on CDNOW
        warnings.simplefilter("ignore")
        transactions = ModifiedBetaGeoModel(penalizer=0.01).fit(X)
        spend = GammaGammaModel(penalizer=0.01).fit({k: v[repeat] for k, v in X.items()})
    fitted = FittedValue.predict(
        customer_id=features.column("customer_id").combine_chunks(),
        X=X,
        transaction_model=transactions,
        spend_model=spend,
        clv=np.zeros(features.num_rows),
        time_unit="week",
        horizon=12 * 30.4375 / 7,
        penalizer=0.01,
    )
    made: list[Any] = []
    original = FittedValue.new_models

    def counted(self: FittedValue) -> Any:
        models = original(self)
        made.append(models)
        return models

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FittedValue, "new_models", counted)
        scores = rank_customers(
            cdnow, features=features, fitted=fitted, cut=CALIBRATION_END, holdout_end=AS_OF
        )
    # the cut's BTYD value is the given fit's prediction over the CLV horizon, per customer
    table = scores.table
    order = {cid: i for i, cid in enumerate(features.column("customer_id").to_pylist())}
    at = np.array([order[c] for c in table.column("customer_id").to_pylist()])
    expected = fitted.expected_purchases[at] * fitted.expected_spend[at]
    assert np.allclose(table.column("btyd_value").to_numpy(), expected, rtol=1e-12)
    # only the two time-shifted cuts fitted models, of the given kind and penalty
    assert len(made) == 2
    assert all(isinstance(m, ModifiedBetaGeoModel) and m.penalizer == 0.01 for m, _ in made)
    assert all(s.penalizer == 0.01 for _, s in made)
    assert scores.details["model"] == "ModifiedBetaGeoModel"
    assert scores.details["horizon_days"] == pytest.approx(365.25)
    # the capture is that of the ranking chosen as the core_score
    capture = scores.capture
    assert capture is not None and capture["core_score"] == scores.method
    assert capture["capture"]["core_score"] == capture["capture"][scores.method]
    assert capture["customers"] == features.num_rows == 2357


def test_time_shifted_fits_start_from_the_fit_a_window_later(cdnow: Any) -> None:
    """Issue 8 regression: with Pareto/NBD (what ``model = "auto"`` chooses on CDNOW) and
    the configured penalizer 0, the earliest time-shifted cut (1997-04-03, three months of
    history) has no maximum: its likelihood rises along the ``s, beta -> infinity`` ridge,
    which a cold fit followed for about a minute. Each time-shifted fit now receives the
    configured penalizer and starts from the fit one window later; the first converges,
    the second stops near its start with finite parameters."""
    from corecustomers.data.features import customer_features, materialize
    from corecustomers.insights.fitted import FittedValue
    from corecustomers.insights.ranking import rank_customers
    from corecustomers.models import START_RANGE, GammaGammaModel, ParetoNBDModel

    features = materialize(customer_features(cdnow, as_of=AS_OF, calibration_end=CALIBRATION_END))
    X = {
        k: np.asarray(features.column(k).to_numpy(zero_copy_only=False), dtype=np.float64)
        for k in ("frequency", "recency", "T", "monetary_value")
    }
    repeat = (X["frequency"] > 0) & (X["monetary_value"] > 0)
    fitted = FittedValue.predict(
        customer_id=features.column("customer_id").combine_chunks(),
        X=X,
        transaction_model=ParetoNBDModel(penalizer=0.0).fit(X),
        spend_model=GammaGammaModel(penalizer=0.0).fit({k: v[repeat] for k, v in X.items()}),
        clv=np.zeros(features.num_rows),
        time_unit="week",
        horizon=12 * 30.4375 / 7,
        penalizer=0.0,
    )
    fits: list[tuple[float, dict[str, float] | None, ParetoNBDModel]] = []
    original = ParetoNBDModel.fit

    def recorded(self: ParetoNBDModel, data: Any, **kwargs: Any) -> ParetoNBDModel:
        given = kwargs.get("start")
        start = None if given is None else dict(given)
        model = original(self, data, **kwargs)
        fits.append((self.penalizer, start, model))
        return model

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ParetoNBDModel, "fit", recorded)
        scores = rank_customers(
            cdnow, features=features, fitted=fitted, cut=CALIBRATION_END, holdout_end=AS_OF
        )
    assert scores.details["training_window_days"] == 90
    assert scores.details["validation"] is not None  # both earlier cuts were usable
    assert len(fits) == 2  # 1997-07-02, then 1997-04-03
    (pen_later, start_later, later), (pen_earlier, start_earlier, earlier) = fits
    assert pen_later == pen_earlier == fitted.penalizer
    assert start_later == fitted.transaction_model.params_
    assert start_earlier == later.params_
    assert later.converged_
    for model in (later, earlier):
        assert all(math.isfinite(v) and v > 0 for v in model.params_.values())
    for name, value in earlier.params_.items():
        assert start_earlier[name] / START_RANGE <= value * (1 + 1e-9)
        assert value <= start_earlier[name] * START_RANGE * (1 + 1e-9)
    assert any("edge of the range searched" in w for w in scores.details["warnings"])


def test_the_analysis_behaviour_gives_the_same_breadth_as_counting_it() -> None:
    """Issue 8: a frame given the analysis' behaviour table reads ``n_products`` from it
    instead of counting the products again, with the same values (0 for a customer whose
    purchases name no product, or who only returned one)."""
    import ibis

    from corecustomers.insights._frames import bgnbd, build_frame
    from corecustomers.insights.behaviour import customer_behaviour

    day = datetime.datetime(2024, 1, 1)
    tx = ibis.memtable(
        {
            "customer_id": ["a", "a", "a", "b", "b", "c", "d", "d"],
            "timestamp": [day + datetime.timedelta(days=d) for d in (0, 3, 9, 1, 40, 2, 5, 6)],
            "amount": [10.0, 5.0, 7.0, 4.0, 8.0, 3.0, 6.0, -6.0],
            "product": ["x", "y", "x", None, None, "z", "w", "v"],
        }
    )
    cut = datetime.date(2024, 2, 29)
    frames = [
        build_frame(
            tx,
            cut=cut,
            target_end=None,
            window_days=30,
            time_unit="week",
            has_product=True,
            notes=[],
            new_models=bgnbd,
            breadth=breadth,
        )
        for breadth in (None, customer_behaviour(tx, as_of=cut).to_pyarrow())
    ]
    counted, given = (f.behaviour["n_products"] for f in frames)
    assert counted.tolist() == given.tolist() == [2.0, 0.0, 1.0, 1.0]
