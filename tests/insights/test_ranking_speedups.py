"""The core ranking's shortcuts give the figures of the longer way: the validation's
bootstrap with its buffers, and the frame that reorders the analysis' fit by the sort of
its ids instead of looking them up."""

from __future__ import annotations

import datetime
from typing import Any

import ibis
import numpy as np
import pytest
from tests.insights.model_helpers import btyd_fit, rows_to_score

from corecustomers.data.features import customer_features
from corecustomers.insights._capture import (
    BOOTSTRAP_REPLICATES,
    BOOTSTRAP_SEED,
    bootstrap_better,
    top_count,
    top_revenue,
)
from corecustomers.insights._frames import Frame, bgnbd, build_frame

FloatArray = np.ndarray[Any, np.dtype[np.float64]]


def plain_bootstrap(combined: FloatArray, btyd: FloatArray, revenue: FloatArray, top: int) -> int:
    """The validation's bootstrap as it was written: two ``top_revenue`` per resample."""
    n = revenue.size
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    better = 0
    for _ in range(BOOTSTRAP_REPLICATES):
        pick = rng.integers(0, n, n)
        picked = revenue[pick]
        if not float(np.sum(picked)) > 0.0:
            continue
        better += top_revenue(combined[pick], picked, top) > top_revenue(btyd[pick], picked, top)
    return better


def _scores(n: int, seed: int) -> tuple[FloatArray, FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    revenue = np.where(rng.random(n) < 0.4, rng.gamma(1.0, 100.0, n), 0.0)
    revenue[rng.random(n) < 0.05] *= -0.3  # some net returns
    btyd = rng.gamma(1.0, 50.0, n)
    combined = btyd * np.exp(rng.normal(0.0, 0.3, n)) + 0.05 * revenue
    return combined, btyd, revenue


@pytest.mark.parametrize("n", [1, 5, 37, 2_000])
@pytest.mark.parametrize(
    "case", ["continuous", "ties", "nan", "same ranking", "close rankings", "no revenue"]
)
def test_the_bootstrap_counts_what_the_plain_loop_counts(n: int, case: str) -> None:
    """The same count, where a tie or the summation order decides: rankings rounded to
    a few values (ties at the k-th score), NaN scores (the sorting fallback), the same
    ranking twice (equal sums: never better), one differing in a single customer."""
    combined, btyd, revenue = _scores(n, seed=n)
    if case == "ties":
        combined, btyd = np.round(combined / 40.0), np.round(btyd / 40.0)
    elif case == "nan":
        combined[:: max(n // 7, 2)] = np.nan
    elif case == "same ranking":
        combined = btyd * 3.0
    elif case == "close rankings":
        combined = btyd.copy()
        combined[np.argmax(btyd)] = -1.0
    elif case == "no revenue":
        revenue[:] = 0.0
    top = top_count(n, 0.2)
    assert bootstrap_better(combined, btyd, revenue, top) == plain_bootstrap(
        combined, btyd, revenue, top
    )


def _transactions(n_customers: int = 300, seed: int = 5) -> Any:
    rng = np.random.default_rng(seed)
    start = datetime.datetime(2023, 1, 1)
    ids, stamps, amounts = [], [], []
    for i in rng.permutation(n_customers):
        first = rng.integers(0, 300)
        for day in np.sort(first + rng.integers(0, 420, rng.integers(1, 9))):
            ids.append(f"c{i:04d}")
            stamps.append(start + datetime.timedelta(days=int(day)))
            amounts.append(float(rng.gamma(2.0, 20.0)) * (1 if rng.random() > 0.1 else -0.5))
    return ibis.memtable({"customer_id": ids, "timestamp": stamps, "amount": amounts})


def _same_frames(a: Frame, b: Frame) -> None:
    assert a.customer_id.equals(b.customer_id)
    assert a.behaviour.keys() == b.behaviour.keys()
    for name in a.behaviour:
        np.testing.assert_array_equal(a.behaviour[name], b.behaviour[name], err_msg=name)
    np.testing.assert_array_equal(a.target, b.target)
    assert a.btyd is not None and b.btyd is not None
    assert a.btyd.customer_id.equals(b.btyd.customer_id)
    assert a.btyd.customer_id.equals(a.customer_id)
    for name in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        np.testing.assert_array_equal(getattr(a.btyd, name), getattr(b.btyd, name))
    for name in a.btyd.X:
        np.testing.assert_array_equal(a.btyd.X[name], b.btyd.X[name])


def _frame_at_cut(tx: Any, features: Any, fitted: Any) -> Frame:
    """The frame at the tests' cut (2024-01-31, target to 2024-03-31) from ``features``
    and their ``fitted`` models."""
    return build_frame(
        tx,
        cut=datetime.date(2024, 1, 31),
        target_end=datetime.date(2024, 3, 31),
        window_days=60,
        time_unit="week",
        has_product=False,
        notes=[],
        new_models=bgnbd,
        features=features,
        fitted=fitted,
    )


def test_a_fit_in_the_features_order_is_reordered_as_one_looked_up_by_id() -> None:
    """The analysis fits its own features, so its fit is reordered by the sort of the
    features' ids; a fit of the same customers in another order is looked up by id:
    the same frame either way."""
    tx = _transactions()
    cut = datetime.date(2024, 1, 31)
    features = customer_features(tx, as_of=cut, time_unit="week").to_pyarrow()
    fitted = btyd_fit(features)
    shuffled = fitted.take(np.random.default_rng(1).permutation(fitted.n).astype(np.intp))
    frames = [_frame_at_cut(tx, features, given) for given in (fitted, shuffled)]
    _same_frames(*frames)
    ids = frames[0].customer_id.to_pylist()
    assert ids == sorted(ids) and len(ids) == features.num_rows


@pytest.mark.parametrize("threads", [1, 2])
def test_the_tree_predictions_are_the_regressors_bit_for_bit(
    threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The core ranking's Poisson regressor predicted a column at a time gives
    ``predict``'s figures: missing values either side, values on a threshold, in blocks
    on one thread or several; a model without the private arrays gets its own predict."""
    from types import SimpleNamespace

    from sklearn.ensemble import HistGradientBoostingRegressor

    from corecustomers.insights import _frames, _tree_scores
    from corecustomers.insights._frames import significant

    rng = np.random.default_rng(7)
    n = 3_000
    X = significant(rng.lognormal(0.0, 1.0, (n, 5)))
    X[rng.random((n, 5)) < 0.1] = np.nan
    y = np.maximum(np.nan_to_num(X[:, 0]) * 20.0 + rng.normal(0.0, 5.0, n), 0.0)
    model = HistGradientBoostingRegressor(**_frames._GBM_PARAMS).fit(X, y)
    trees = [tree.nodes for (tree,) in model._predictors]
    assert any(t["missing_go_to_left"][~t["is_leaf"].astype(bool)].any() for t in trees)
    new = rows_to_score(trees, rng)
    monkeypatch.setattr(_tree_scores, "TREE_BLOCK", 300)
    expected = model.predict(new)
    got = _tree_scores.tree_predictions(model, new, threads)
    assert got.tobytes() == np.asarray(expected, dtype=np.float64).tobytes()
    stripped = SimpleNamespace(predict=model.predict, n_trees_per_iteration_=1)
    assert _tree_scores.tree_predictions(stripped, new, 1).tobytes() == expected.tobytes()


def test_the_regressor_is_fitted_on_one_openmp_thread_at_any_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The combined ranking's regressor learns on one OpenMP thread however many
    customers it has (its threaded sums of gradients would change with the machine's
    CPUs, and beside the analysis' other steps a second thread waits for a busy core),
    while its predictions may be threaded: the fit sees one thread even where the
    frame counts as large."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from threadpoolctl import threadpool_info, threadpool_limits

    from corecustomers.insights import _frames
    from corecustomers.insights._frames import fit_and_predict

    tx = _transactions()
    cut = datetime.date(2024, 1, 31)
    features = customer_features(tx, as_of=cut, time_unit="week").to_pyarrow()
    frame = _frame_at_cut(tx, features, btyd_fit(features))
    seen: list[int] = []
    fit = HistGradientBoostingRegressor.fit

    def counting_fit(self: Any, *args: Any, **kwargs: Any) -> Any:
        seen.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp")
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(HistGradientBoostingRegressor, "fit", counting_fit)
    monkeypatch.setattr(_frames, "_THREADED_FROM", 0)  # every frame counts as large
    names = ("frequency", "recency", "T", "monetary_value", "p_alive")
    with threadpool_limits(limits=2, user_api="openmp"):
        two = fit_and_predict(frame, frame, names, 60)
    assert seen and set(seen) == {1}
    with threadpool_limits(limits=1, user_api="openmp"):
        one = fit_and_predict(frame, frame, names, 60)
    assert two.tobytes() == one.tobytes()
