"""The frames at the analysis' cut built once for the core ranking and the churn risk
(:mod:`corecustomers.insights.at_cut`) are those each step builds on its own, bit for bit,
and the steps given them return what they return without."""

from __future__ import annotations

import datetime
import warnings
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from tests.insights.model_helpers import btyd_fit

from corecustomers.data.features import customer_features, materialize
from corecustomers.insights import _frames, _risk_frames
from corecustomers.insights._frames import Frame, bgnbd, build_frame, frames_at_cut
from corecustomers.insights._risk_frames import RISK_BEHAVIOUR, risk_frame
from corecustomers.insights.at_cut import AtCut, activity_windows, frames_at
from corecustomers.insights.behaviour import BREADTH_COLUMNS, activity_columns, customer_behaviour
from corecustomers.insights.ranking import rank_customers, training_window

CUT = datetime.date(2024, 3, 31)
HOLDOUT_END = datetime.date(2024, 6, 30)
RISK_WINDOW = 60


def book() -> Any:
    """400 customers over 18 months with products, returns, a zero-value order and
    purchases on the cut's last second and after it (the holdout)."""
    rng = np.random.default_rng(11)
    start = datetime.datetime(2023, 1, 1)
    rows: dict[str, list[Any]] = {"customer_id": [], "timestamp": [], "amount": [], "product": []}
    for c in rng.permutation(400):
        first = int(rng.integers(0, 420))
        for day in np.sort(first + rng.integers(0, 180, int(rng.integers(1, 12)))):
            when = start + datetime.timedelta(days=int(day), seconds=int(rng.integers(0, 86_400)))
            amount = float(rng.gamma(2.0, 20.0)) * (1.0 if rng.random() > 0.08 else -0.5)
            rows["customer_id"].append(f"c{c:03d}")
            rows["timestamp"].append(when)
            rows["amount"].append(0.0 if c == 7 else amount)
            rows["product"].append(f"p{int(rng.integers(0, 9))}")
        if c % 40 == 0:
            rows["customer_id"].append(f"c{c:03d}")
            rows["timestamp"].append(datetime.datetime.combine(CUT, datetime.time(23, 59, 59)))
            rows["amount"].append(12.0)
            rows["product"].append("p1")
    return ibis.memtable(rows)


@pytest.fixture(scope="module")
def analysis() -> tuple[Any, pa.Table, Any, pa.Table]:
    """The transactions, the analysis' features and fit at the cut, its behaviour."""
    tx = book()
    features = materialize(customer_features(tx, as_of=CUT, time_unit="week"))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # a small random book: the fit may sit on a bound
        fitted = btyd_fit(features)
    behaviour = materialize(customer_behaviour(tx, as_of=CUT))
    return tx, features, fitted, behaviour


def same(a: Any, b: Any) -> bool:
    """Bit for bit, NaN included."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same_frames(a: Frame, b: Frame, *, target: bool = True) -> None:
    assert a.customer_id.equals(b.customer_id)
    assert list(a.behaviour) == list(b.behaviour)
    for name in a.behaviour:
        assert same(a.behaviour[name], b.behaviour[name]), name
    assert same(a.historic_spend, b.historic_spend)
    if target:
        assert same(a.target, b.target)
    assert a.btyd is not None and b.btyd is not None
    assert a.btyd.customer_id.equals(b.btyd.customer_id)
    for name in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        assert same(getattr(a.btyd, name), getattr(b.btyd, name)), name


def alone(
    tx: Any, features: pa.Table, fitted: Any, behaviour: pa.Table, window: int, **kw: Any
) -> Frame:
    """The frame a step builds on its own."""
    return build_frame(
        tx,
        cut=CUT,
        window_days=window,
        time_unit="week",
        has_product=True,
        notes=[],
        new_models=bgnbd,
        features=features,
        fitted=fitted,
        breadth=behaviour,
        **kw,
    )


def shared_frames(
    analysis: tuple[Any, pa.Table, Any, pa.Table],
    holdout_end: datetime.date | None,
    activity: pa.Table | None = None,
) -> AtCut:
    """Both frames at the cut of the tests' analysis, as the analysis builds them (with
    the ``activity`` read with the behaviour, when given)."""
    tx, features, fitted, behaviour = analysis
    return frames_at(
        tx,
        features=features,
        fitted=fitted,
        breadth=behaviour,
        cut=CUT,
        holdout_end=holdout_end,
        time_unit="week",
        risk_window_days=RISK_WINDOW,
        activity=activity,
    )


@pytest.mark.parametrize("holdout_end", [None, HOLDOUT_END])
def test_both_frames_are_those_each_step_builds(
    analysis: tuple[Any, pa.Table, Any, pa.Table], holdout_end: datetime.date | None
) -> None:
    """The ranking's frame (its training window, the holdout as target) and the risk's
    (its window, the idle days before it, no target read) from one query and one sort."""
    tx, features, fitted, behaviour = analysis
    at = shared_frames(analysis, holdout_end)
    window = training_window(features, cut=CUT, horizon_days=fitted.horizon_days)
    assert window != RISK_WINDOW and window > 60  # two different windows are shared
    ranking = alone(tx, features, fitted, behaviour, window, target_end=holdout_end)
    assert_same_frames(at.ranking, ranking)
    risk = alone(tx, features, fitted, behaviour, RISK_WINDOW, target_end=None, idle_before=True)
    assert_same_frames(at.risk, risk, target=False)
    assert "idle_days_before" in at.risk.behaviour
    assert "idle_days_before" not in at.ranking.behaviour
    # the columns that do not depend on the window are one array, not copies
    assert at.ranking.behaviour["recency"] is at.risk.behaviour["recency"]
    assert not same(at.ranking.behaviour["spend_recent"], at.risk.behaviour["spend_recent"])


def test_one_window_for_both_is_one_frame(analysis: tuple[Any, pa.Table, Any, pa.Table]) -> None:
    tx, features, fitted, behaviour = analysis
    frames = frames_at_cut(
        tx,
        cut=CUT,
        target_end=None,
        windows=(RISK_WINDOW, RISK_WINDOW),
        time_unit="week",
        has_product=True,
        features=features,
        fitted=fitted,
        breadth=behaviour,
        idle_before=(RISK_WINDOW,),
    )
    assert list(frames) == [RISK_WINDOW]
    risk = alone(tx, features, fitted, behaviour, RISK_WINDOW, target_end=None, idle_before=True)
    assert_same_frames(frames[RISK_WINDOW], risk)
    with pytest.raises(ValueError, match="at least one window"):
        frames_at_cut(
            tx,
            cut=CUT,
            target_end=None,
            windows=(),
            time_unit="week",
            has_product=True,
            features=features,
            fitted=fitted,
        )


def test_the_risk_frame_given_the_shared_frame_is_the_one_it_builds(
    analysis: tuple[Any, pa.Table, Any, pa.Table],
) -> None:
    tx, features, fitted, behaviour = analysis
    shared = shared_frames(analysis, HOLDOUT_END)
    common: dict[str, Any] = {
        "cut": CUT,
        "window_days": RISK_WINDOW,
        "time_unit": "week",
        "has_product": True,
        "new_models": fitted.new_models,
        "features": features,
        "fitted": fitted,
        "behaviour": behaviour,
    }
    given = risk_frame(tx, base=shared.risk, **common)
    built = risk_frame(tx, **common)
    assert given.customer_id.equals(built.customer_id)
    assert list(given.inputs) == list(built.inputs)
    for name in built.inputs:
        assert same(given.inputs[name], built.inputs[name]), name
    assert given.behaviour.equals(built.behaviour)
    # a frame without the idle days before its window cannot give P(alive) then
    with pytest.raises(ValueError, match="idle days before"):
        risk_frame(tx, base=shared.ranking, **common)


def test_the_ranking_given_the_shared_frame_ranks_as_without(
    analysis: tuple[Any, pa.Table, Any, pa.Table],
) -> None:
    tx, features, fitted, behaviour = analysis
    shared = shared_frames(analysis, HOLDOUT_END)
    kw: dict[str, Any] = {
        "features": features,
        "fitted": fitted,
        "cut": CUT,
        "time_unit": "week",
        "holdout_end": HOLDOUT_END,
        "behaviour": behaviour,
    }
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        given = rank_customers(tx, frame=shared.ranking, **kw)
        built = rank_customers(tx, **kw)
    assert given.table.equals(built.table)
    assert (given.method, given.reason) == (built.method, built.reason)
    # the warnings of the earlier cuts' fits on this small book follow the engine's
    # parallel float sums (two runs without a frame differ in them now and then); the
    # figures do not
    assert given.capture is not None and built.capture is not None
    assert {k: v for k, v in given.capture.items() if k != "warnings"} == {
        k: v for k, v in built.capture.items() if k != "warnings"
    }


def read_with_behaviour(tx: Any, window: int) -> pa.Table:
    """The frames' activity at the cut as the analysis reads it: with its behaviour."""
    windows, idle = (window, RISK_WINDOW), (RISK_WINDOW,)
    table = materialize(customer_behaviour(tx, as_of=CUT, activity=windows, idle_before=idle))
    return table.select(["customer_id", *activity_columns(windows, idle)])


def test_the_activity_read_with_the_behaviour_gives_the_frames_without_their_query(
    analysis: tuple[Any, pa.Table, Any, pa.Table], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both frames from the activity the behaviour query read (spends, purchase days,
    idle days before the risk window) are those built from the frames' own aggregation,
    bit for bit, and that aggregation does not run."""
    tx, features, fitted, behaviour = analysis
    window = training_window(features, cut=CUT, horizon_days=fitted.horizon_days)
    # the windows the analysis asks the behaviour for, from the first day of the data:
    # this book's history is shorter than three horizons, so a third of it
    history = (CUT - _frames.first_day(features)).days
    assert activity_windows(
        horizon_days=fitted.horizon_days, risk_window_days=RISK_WINDOW, history_days=history
    ) == ((window, RISK_WINDOW), (RISK_WINDOW,))
    assert window < int(fitted.horizon_days)
    activity = read_with_behaviour(tx, window)
    # the book has days with several rows and customers idle in a window: the counts and
    # the missing idle days are exercised
    assert pc.min(activity.column(f"periods_recent_{RISK_WINDOW}")).as_py() == 0
    assert activity.column(f"idle_days_before_{RISK_WINDOW}").null_count > 0
    ranking = alone(tx, features, fitted, behaviour, window, target_end=None)
    risk = alone(tx, features, fitted, behaviour, RISK_WINDOW, target_end=None, idle_before=True)

    def no_query(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the frames queried their activity again")

    monkeypatch.setattr(_frames, "_activity", no_query)
    at = shared_frames(analysis, None, activity)
    assert_same_frames(at.ranking, ranking, target=False)
    assert_same_frames(at.risk, risk, target=False)


@pytest.mark.parametrize("case", ["holdout", "other window"])
def test_frames_query_their_activity_when_the_one_given_lacks_a_column(
    analysis: tuple[Any, pa.Table, Any, pa.Table], monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """A holdout's target is after the cut (not in the behaviour's rows), and a window
    the behaviour did not read (a history shorter than three horizons) is not there:
    the frames then query the rows as before, with the same frames."""
    tx, features, fitted, _ = analysis
    window = training_window(features, cut=CUT, horizon_days=fitted.horizon_days)
    if case == "other window":
        # the windows the analysis reads with the behaviour, before the features: the
        # horizon, but this book's history before the cut is shorter than three
        windows = activity_windows(horizon_days=fitted.horizon_days, risk_window_days=RISK_WINDOW)
        assert windows == ((int(fitted.horizon_days), RISK_WINDOW), (RISK_WINDOW,))
        assert window < int(fitted.horizon_days)
        activity = read_with_behaviour(tx, int(fitted.horizon_days))
    else:
        activity = read_with_behaviour(tx, window)
    holdout_end = HOLDOUT_END if case == "holdout" else None
    expected = shared_frames(analysis, holdout_end)
    queries: list[int] = []
    query = _frames._activity

    def counted(*args: Any, **kwargs: Any) -> Any:
        queries.append(1)
        return query(*args, **kwargs)

    monkeypatch.setattr(_frames, "_activity", counted)
    at = shared_frames(analysis, holdout_end, activity)
    assert queries == [1]
    assert_same_frames(at.ranking, expected.ranking)
    assert_same_frames(at.risk, expected.risk, target=False)


@pytest.mark.parametrize("columns", [None, RISK_BEHAVIOUR])
@pytest.mark.parametrize("has_product", [True, False])
def test_a_split_frame_reads_its_activity_with_its_behaviour(
    analysis: tuple[Any, pa.Table, Any, pa.Table],
    monkeypatch: pytest.MonkeyPatch,
    columns: tuple[str, ...] | None,
    has_product: bool,
) -> None:
    """The churn risk's frame at an earlier split (no features, fit or behaviour given)
    reads the behaviour with the frame's activity and distinct products in one query: the
    same frame, inputs and behaviour as with the frame's own aggregation (as before)."""
    _, _, fitted, _ = analysis
    # one engine thread: the frame is built twice from the rows, and the features'
    # sums of doubles are then added in the same order both times
    tx = ibis.duckdb.connect(threads=1).create_table("book", book().to_pyarrow())
    split = CUT - datetime.timedelta(days=RISK_WINDOW)
    common: dict[str, Any] = {
        "cut": split,
        "window_days": RISK_WINDOW,
        "time_unit": "week",
        "has_product": has_product,
        "new_models": fitted.new_models,
        "start": fitted,
        "behaviour_columns": columns,
    }
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        built = _risk_frames.risk_frame(tx, **common)

        def as_before(tx: Any, **kw: Any) -> tuple[pa.Table, None]:
            # the behaviour without the breadth, and the frame's own aggregation
            breadth = {source for source, _ in BREADTH_COLUMNS}
            narrow = tx.select(*[name for name in tx.columns if name not in breadth])
            expr = customer_behaviour(narrow, as_of=kw["cut"])
            return materialize(expr if columns is None else expr.select(*columns)), None

        monkeypatch.setattr(_risk_frames, "_behaviour_and_activity", as_before)
        before = _risk_frames.risk_frame(tx, **common)
    assert built.customer_id.equals(before.customer_id)
    assert list(built.inputs) == list(before.inputs)
    for name in before.inputs:
        assert same(built.inputs[name], before.inputs[name]), name
    assert built.behaviour.equals(before.behaviour)
    assert ("n_products" in built.inputs) == has_product


def test_features_in_id_order_give_the_frames_without_a_sort(
    analysis: tuple[Any, pa.Table, Any, pa.Table],
) -> None:
    """The analysis hands its features over sorted by customer id: the frames, which
    read the customers in that order, are then those of the features in any order,
    without a sort, a reordered fit or a lookup of the products."""
    tx, features, fitted, behaviour = analysis
    by_id = features.take(pc.sort_indices(features.column("customer_id")))
    shuffled = features.take(np.random.default_rng(3).permutation(features.num_rows))
    assert _frames._sort_order(by_id.column("customer_id")) is None
    assert _frames._sort_order(shuffled.column("customer_id")) is not None
    fit_by_id = fitted.take(
        np.asarray(pc.sort_indices(fitted.customer_id).to_numpy(zero_copy_only=False))
    )
    common: dict[str, Any] = {
        "cut": CUT,
        "target_end": HOLDOUT_END,
        "windows": (RISK_WINDOW, 120),
        "time_unit": "week",
        "has_product": True,
        "idle_before": (RISK_WINDOW,),
    }
    aligned = behaviour.take(
        pc.index_in(by_id.column("customer_id"), value_set=behaviour.column("customer_id"))
    )
    sorted_frames = frames_at_cut(tx, features=by_id, fitted=fit_by_id, breadth=aligned, **common)
    other = frames_at_cut(tx, features=shuffled, fitted=fitted, breadth=behaviour, **common)
    for window in (RISK_WINDOW, 120):
        assert_same_frames(sorted_frames[window], other[window])
    # the fit in id order is the frame's as it is, not a copy
    assert sorted_frames[RISK_WINDOW].btyd is fit_by_id


def test_positions_of_the_same_ids_need_no_lookup() -> None:
    ids = pa.array([f"c{i:03d}" for i in range(50)])
    assert _risk_frames.positions(ids, ids).tolist() == list(range(50))
    same = pa.chunked_array([ids.slice(0, 20), ids.slice(20)])
    assert _risk_frames.positions(ids, same).tolist() == list(range(50))
    other = ids.take(pa.array(np.arange(49, -1, -1)))
    assert _risk_frames.positions(ids, other).tolist() == list(range(49, -1, -1))
    assert _risk_frames.positions(ids, ids.slice(0, 10)).tolist() == [*range(10), *[-1] * 40]
