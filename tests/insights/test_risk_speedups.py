"""The churn risk's shortcuts give the figures of the longer way: the blocked rounding,
the labels read from the next frame, the narrow behaviour of the training frame, the
logistic regression's inputs of a sample and Platt scaling's calibrated scores."""

from __future__ import annotations

import datetime
import warnings
from typing import Any

import ibis
import numpy as np
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tests.insights.model_helpers import rows_to_score

from corecustomers.data.features import customer_features
from corecustomers.insights import _risk_scores, _tree_scores, risk
from corecustomers.insights._frames import build_frame
from corecustomers.insights._risk_frames import (
    RISK_BEHAVIOUR,
    RiskFrame,
    active_in,
    bought_by,
    labelled,
    risk_frame,
    significant,
    summary_before,
)
from corecustomers.models import BetaGeoModel, GammaGammaModel

START = datetime.date(2023, 1, 1)
CUT = datetime.date(2024, 3, 31)
WINDOW = 90


def elementwise(values: np.ndarray[Any, Any], digits: int = 6) -> np.ndarray[Any, Any]:
    """The rounding as it was written before the blocks and the table of powers."""
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        finite = np.isfinite(x) & (x != 0.0)
        mag = np.floor(np.log10(np.abs(np.where(finite, x, 1.0))))
        scale = np.where(finite, 10.0 ** (digits - 1 - mag), 1.0)
        out = np.round(x * scale) / scale
    return np.where(np.isfinite(x), out, np.where(np.isinf(x), np.nan, x))


def same(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    """Bit for bit, NaN included (and -0.0 told from 0.0)."""
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@settings(max_examples=60, deadline=None)
@given(
    values=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=2, max_side=40),
        elements=st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
    ),
    digits=st.integers(min_value=1, max_value=17),
)
def test_significant_is_the_elementwise_rounding_bit_for_bit(
    values: np.ndarray[Any, Any], digits: int
) -> None:
    assert same(significant(values, digits), elementwise(values, digits))


def test_significant_across_blocks_and_at_the_edges_of_float64() -> None:
    rng = np.random.default_rng(0)
    x = rng.lognormal(0.0, 6.0, 300_001) * rng.choice([-1.0, 1.0], 300_001)
    edges = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -2.2250738585072014e-308]
    edges += [1.7976931348623157e308, 999999.5, 9.999995e5, 1e-300, 1e22, 1e23]
    x[: len(edges)] = edges
    x[100_000:100_100] = np.nextafter(10.0 ** rng.integers(-30, 30, 100), 0.0)
    assert same(significant(x), elementwise(x))
    strided = x[:-1].reshape(-1, 6)[:, 2:5]  # not contiguous
    assert same(significant(strided), elementwise(strided))
    with pytest.raises(ValueError, match="between 1 and 17"):
        significant(x, 18)


def ranking_elementwise(values: np.ndarray[Any, Any], digits: int = 6) -> np.ndarray[Any, Any]:
    """The core ranking's rounding as it was written (infinities kept)."""
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scale = np.where(
            np.isfinite(x) & (x != 0.0), 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(x)))), 1.0
        )
        out = np.round(x * scale) / scale
    return np.where(np.isfinite(x), out, x)


def test_significant_keeping_infinities_is_the_ranking_rounding_bit_for_bit() -> None:
    """The core ranking's inputs (an overdue ratio over a zero gap is infinite) go through
    the same blocked rounding with ``keep_infinities``."""
    rng = np.random.default_rng(1)
    x = rng.lognormal(0.0, 6.0, 200_003) * rng.choice([-1.0, 1.0], 200_003)
    x[:8] = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 999999.5, 1.7976931348623157e308]
    assert same(significant(x, keep_infinities=True), ranking_elementwise(x))
    assert np.isinf(significant(x, keep_infinities=True)[2:4]).all()


def book() -> Any:
    """300 customers over 15 months; returns, midnight and last-second rows, returns-only
    customers and purchases on the cuts themselves."""
    rng = np.random.default_rng(7)
    rows: dict[str, list[Any]] = {"customer_id": [], "timestamp": [], "amount": []}
    span = (CUT - START).days + 1
    cuts = [CUT - datetime.timedelta(days=k * WINDOW) for k in (1, 2)]
    for c in range(300):
        first = int(rng.integers(0, span - 30))
        days = rng.choice(np.arange(first, span), size=int(rng.integers(1, 14)), replace=False)
        for d in sorted(days):
            when = datetime.datetime.combine(START, datetime.time()) + datetime.timedelta(
                days=int(d), seconds=int(rng.choice([0, 43_200, 86_399]))
            )
            rows["customer_id"].append(f"c{c:03d}")
            rows["timestamp"].append(when)
            rows["amount"].append(float(rng.integers(5, 80)))
            if rng.random() < 0.1:  # a return a few days later
                rows["customer_id"].append(f"c{c:03d}")
                rows["timestamp"].append(when + datetime.timedelta(days=int(rng.integers(0, 9))))
                rows["amount"].append(-float(rng.integers(1, 5)))
        if c % 25 == 0:  # a purchase on a cut, the last second of that day
            at = cuts[c % 2]
            rows["customer_id"].append(f"c{c:03d}")
            rows["timestamp"].append(datetime.datetime.combine(at, datetime.time(23, 59, 59)))
            rows["amount"].append(0.0)  # a zero-value order is a purchase
    rows["customer_id"] += ["only-returns"] * 2
    rows["timestamp"] += [datetime.datetime(2023, 6, 1), datetime.datetime(2024, 1, 5)]
    rows["amount"] += [-3.0, -4.0]
    return ibis.memtable(rows)


def frame(tx: Any, cut: datetime.date, **kw: Any) -> RiskFrame:
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # a small random book: the fit may sit on a boundary
        return risk_frame(
            tx,
            cut=cut,
            window_days=WINDOW,
            time_unit="week",
            has_product=False,
            new_models=lambda: (BetaGeoModel(), GammaGammaModel()),
            **kw,
        )


@pytest.fixture(scope="module")
def frames() -> tuple[Any, RiskFrame, RiskFrame, RiskFrame]:
    tx = book()
    b = CUT - datetime.timedelta(days=WINDOW)
    a = b - datetime.timedelta(days=WINDOW)
    train = frame(tx, a, behaviour_columns=RISK_BEHAVIOUR)
    check = frame(tx, b, before=train.summary())
    now = frame(tx, CUT, before=check.summary())
    return tx, train, check, now


def test_the_labels_read_from_the_next_frame_are_those_counted(
    frames: tuple[Any, RiskFrame, RiskFrame, RiskFrame],
) -> None:
    tx, train, check, now = frames
    labels = active_in(tx, [(train.cut, check.cut), (check.cut, now.cut)])
    for earlier, later, column in ((train, check, "w0"), (check, now, "w1")):
        bought = bought_by(earlier, later)
        assert bought is not None
        counted = labelled(earlier, labels, column).inactive
        assert counted is not None and 0 < counted.sum() < earlier.n
        np.testing.assert_array_equal(labelled(earlier, bought).inactive, counted)
    # a later frame without some of the customers: no labels from it
    fewer = RiskFrame(
        now.cut,
        now.customer_id.slice(1),
        {k: v[1:] for k, v in now.inputs.items()},
        now.btyd,
        now.behaviour,
    )
    assert bought_by(check, fewer) is None


def test_the_training_frames_narrow_behaviour_gives_the_same_inputs(
    frames: tuple[Any, RiskFrame, RiskFrame, RiskFrame],
) -> None:
    tx, train, _, _ = frames
    wide = frame(tx, train.cut)
    assert train.behaviour.column_names == list(RISK_BEHAVIOUR)
    assert "overdue_ratio" in wide.behaviour.column_names
    assert train.inputs.keys() == wide.inputs.keys()
    for name, values in wide.inputs.items():
        np.testing.assert_allclose(train.inputs[name], values, rtol=1e-12, err_msg=name)


def test_the_linear_inputs_of_a_sample_and_the_platt_scores_of_the_fit(
    frames: tuple[Any, RiskFrame, RiskFrame, RiskFrame],
) -> None:
    _, train, check, _ = frames
    rows = np.sort(np.random.default_rng(1).choice(train.n, train.n // 3, replace=False))
    assert same(_risk_scores.linear_inputs(train, rows), _risk_scores.linear_inputs(train)[rows])
    score = np.column_stack([check.inputs["p_alive"], check.inputs["gap_cv"]])
    inactive = np.random.default_rng(2).random(check.n) < 0.4
    apply, calibrated = _risk_scores.platt(score, inactive)
    assert same(calibrated, apply(score))


def midranks_by_unique(values: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """The mid-ranks as they were written, with ``np.unique``."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    ranks = np.empty(len(values))
    _, first, counts = np.unique(sorted_values, return_index=True, return_counts=True)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


@settings(max_examples=80, deadline=None)
@given(
    values=hnp.arrays(
        np.float64,
        st.integers(min_value=1, max_value=300),
        elements=st.sampled_from([0.0, -0.0, 1.0, 2.5, -3.0, 1e-300, np.inf, -np.inf])
        | st.floats(allow_nan=False, allow_infinity=True),
    )
)
def test_midranks_from_the_sorted_values_are_those_of_unique(values: np.ndarray[Any, Any]) -> None:
    """Ties (0.0 and -0.0 among them) share one mean rank, as with ``np.unique``."""
    assert same(risk._midranks(values), midranks_by_unique(values))


def test_choose_alerting_reads_the_flags_of_the_gates_the_risk_judged_with(
    frames: tuple[Any, RiskFrame, RiskFrame, RiskFrame],
) -> None:
    """Equal settings give equal gates, whose flags the threshold's choice reads instead of
    working them out again (the same choice); with other settings it works them out."""
    from dataclasses import replace

    from corecustomers.insights.alert_evaluation import alertable, choose_alerting
    from corecustomers.insights.alerts import AlertSettings

    _, _, check, now = frames
    bought = bought_by(check, now)
    assert bought is not None
    check = labelled(check, bought)
    settings = AlertSettings(min_idle_days=30, min_overdue_ratio=0.5)
    gate = alertable(settings)
    assert gate == alertable(AlertSettings(min_idle_days=30, min_overdue_ratio=0.5))
    flags = gate(check)
    assert 0 < flags.sum() < check.n
    scores = np.random.default_rng(3).random(check.n)
    given = risk.ChurnRisk(
        check.customer_id,
        scores,
        "model",
        "test",
        WINDOW,
        np.zeros(check.n),
        check,
        scores,
        alertable=gate,
        validation_alertable=flags,
    )
    worked_out = replace(given, validation_alertable=None)
    assert choose_alerting(given, settings) == choose_alerting(worked_out, settings)
    # the flags given are read (none alertable: no list) ...
    nobody = replace(given, validation_alertable=np.zeros(check.n, dtype=bool))
    assert all(
        row["alerts"] == 0
        for row in choose_alerting(nobody, settings).details["validation"]["grid"]
    )
    # ... but not under other settings
    other = AlertSettings(min_idle_days=31, min_overdue_ratio=0.5)
    assert alertable(other) != gate
    assert choose_alerting(nobody, other) == choose_alerting(
        replace(worked_out, alertable=alertable(other)), other
    )


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    ("leaves", "smallest_leaf", "coded"),
    [
        (7, 40, {True}),  # the product's trees: every tree's leaves from a code
        (10, 200, {True, False}),  # 6-9 splits: some more than a one-byte code holds
        (31, 5, {False}),  # no tree from a code
    ],
)
def test_the_tree_scores_are_scikit_learns_predictions_bit_for_bit(
    threads: int,
    leaves: int,
    smallest_leaf: int,
    coded: set[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Leaves picked a column at a time give predict_proba's figures: missing values
    on either side, values equal to a threshold, in blocks on several threads or one,
    trees small enough for a one-byte code of their splits' outcomes and larger ones."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(5)
    n = 3_000
    X = significant(rng.lognormal(0.0, 1.0, (n, 5)))
    X[rng.random((n, 5)) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + rng.normal(0.0, 0.5, n) > 1.0).astype(np.int64)
    params = {
        **_risk_scores.GBM_PARAMS,
        "max_leaf_nodes": leaves,
        "min_samples_leaf": smallest_leaf,
    }
    model = HistGradientBoostingClassifier(**params).fit(X, y)
    trees = [tree.nodes for (tree,) in model._predictors]
    assert any(t["missing_go_to_left"][~t["is_leaf"].astype(bool)].any() for t in trees)
    assert any(not t["missing_go_to_left"][~t["is_leaf"].astype(bool)].all() for t in trees)
    splits = {int((~t["is_leaf"].astype(bool)).sum()) for t in trees}
    assert {s <= _tree_scores.CODE_BITS for s in splits} == coded
    new = rows_to_score(trees, rng)
    new[-40:-20][rng.random((20, 5)) < 0.5] = np.inf  # infinities either way
    new[-20:][rng.random((20, 5)) < 0.5] = -np.inf
    monkeypatch.setattr(_tree_scores, "TREE_BLOCK", 300)
    expected = model.predict_proba(new)[:, 1]
    assert same(_tree_scores.tree_scores(model, new, threads), expected)
    assert same(_tree_scores.tree_scores(model, new[:0], threads), expected[:0])


def test_the_tree_scores_of_trees_without_a_split_are_scikit_learns() -> None:
    """A model none of whose trees could split (every leaf would be under
    ``min_samples_leaf``) scores every row with its baseline and leaf values."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(9)
    X = significant(rng.lognormal(0.0, 1.0, (200, 3)))
    y = (X[:, 0] > 1.0).astype(np.int64)
    params = {**_risk_scores.GBM_PARAMS, "min_samples_leaf": 150, "max_iter": 5}
    model = HistGradientBoostingClassifier(**params).fit(X, y)
    assert all(len(tree.nodes) == 1 for (tree,) in model._predictors)
    assert same(_tree_scores.tree_scores(model, X, 1), model.predict_proba(X)[:, 1])
    # a block's code array holds the previous tree's codes: a tree without a split
    # clears them, so its one leaf is picked for every row
    (tree, values), *_ = [_tree_scores.tree_arrays(t.nodes) for (t,) in model._predictors]
    table = _tree_scores._leaf_table(tree, values)
    assert table is not None and len(table[0]) == 0 and len(table[1]) == 1
    code = np.full(4, 5, dtype=np.uint8)
    work = (np.empty(4, dtype=bool), np.empty(4, dtype=np.uint8))
    _tree_scores._leaf_code(tree, table[0], [X[:4, 0]], [None], code, *work)
    assert code.tolist() == [0, 0, 0, 0]


def test_the_tree_scores_fall_back_to_predict_proba_without_the_private_arrays() -> None:
    """A scikit-learn whose model lacks the private tree arrays read here gets its own
    predict_proba (a renamed attribute must not fail the analysis or change a figure)."""
    from types import SimpleNamespace

    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(6)
    X = significant(rng.lognormal(0.0, 1.0, (1_000, 3)))
    y = (X[:, 0] > 1.0).astype(np.int64)
    model = HistGradientBoostingClassifier(**_risk_scores.GBM_PARAMS).fit(X, y)
    stripped = SimpleNamespace(predict_proba=model.predict_proba, n_trees_per_iteration_=1)
    assert same(_tree_scores.tree_scores(stripped, X, 1), model.predict_proba(X)[:, 1])


def test_the_tree_scores_leave_no_reference_cycle() -> None:
    """Each block's column copies are freed when the block is done, not when the cycle
    collector next runs (a recursive closure kept ~290 MB waiting at 10M rows)."""
    import gc

    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(8)
    X = significant(rng.lognormal(0.0, 1.0, (2_000, 3)))
    model = HistGradientBoostingClassifier(**_risk_scores.GBM_PARAMS).fit(X, (X[:, 0] > 1.0))
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        _tree_scores.tree_scores(model, X, 1)
        assert gc.collect() == 0
    finally:
        if enabled:
            gc.enable()


@pytest.mark.parametrize("time_unit", ["day", "week", "month"])
def test_the_summary_a_window_earlier_is_the_features_then_bit_for_bit(time_unit: Any) -> None:
    """The BTYD summary a window before the cut, derived from the frame at the cut
    (its purchase days less the window's, the last purchase day before the window), is
    :func:`customer_features` at that day: the same customers, the same bits (purchases
    on the window's edge and at the cut's last second, returns, zero-value orders)."""
    tx = book()
    earlier = CUT - datetime.timedelta(days=WINDOW)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        base = build_frame(
            tx,
            cut=CUT,
            target_end=None,
            window_days=WINDOW,
            time_unit=time_unit,
            has_product=False,
            notes=[],
            new_models=lambda: (BetaGeoModel(), GammaGammaModel()),
            idle_before=True,
        )
    ids, summary = summary_before(base, WINDOW, time_unit)
    then = customer_features(tx, as_of=earlier, time_unit=time_unit).to_pyarrow()
    then = then.take(pc.sort_indices(then.column("customer_id")))
    assert ids.to_pylist() == then.column("customer_id").to_pylist()
    assert 0 < len(ids) < base.n  # some customers began within the window
    for name in ("frequency", "recency", "T"):
        expected = np.asarray(then.column(name).to_numpy(), dtype=np.float64)
        assert same(summary[name], expected), name


def test_the_change_of_p_alive_is_the_same_without_the_earlier_frame(
    frames: tuple[Any, RiskFrame, RiskFrame, RiskFrame],
) -> None:
    """The frame at the cut given the validation frame's summary, and the frame that
    derives that summary from its own activity: the same P(alive) change."""
    tx, _, _, now = frames
    alone = frame(tx, CUT)
    assert alone.customer_id.equals(now.customer_id)
    assert same(alone.inputs["p_alive_change"], now.inputs["p_alive_change"])
    assert alone.inputs.keys() == now.inputs.keys()


def test_the_classifier_fitted_beside_is_the_one_fitted_on_the_calling_thread(
    frames: tuple[Any, RiskFrame, RiskFrame, RiskFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The risk's classifier, fitted on a thread of its own from the training labels the
    calibration split gives, scores as the one fitted on the calling thread, bit for bit;
    a training split finally labelled otherwise gets its own fit."""
    _, train, check, now = frames
    bought = bought_by(train, check)
    assert bought is not None
    names = risk.RISK_FEATURES
    sample = risk._training_sample(train.n)
    labelled_train = labelled(train, bought)
    here, raw_here = _risk_scores.fit_classifier(labelled_train, names, sample)

    # the small book's split counts as usable
    monkeypatch.setattr(risk, "MIN_CUSTOMERS", 10)
    monkeypatch.setattr(risk, "MIN_CLASS", 5)
    monkeypatch.setattr(risk, "cpus", lambda: 2)
    fitting = risk._Fitting(train, bought, names, sample)
    try:
        assert fitting._started is not None  # on a thread of its own
        beside, raw_beside = fitting.result(labelled_train)
    finally:
        fitting.close()
    assert same(raw_beside, raw_here)
    assert same(beside(now), here(now)) and same(beside(check), here(check))

    flipped = labelled(train, ~bought)
    fitting = risk._Fitting(train, bought, names, sample)
    try:
        _, raw_flipped = fitting.result(flipped)
    finally:
        fitting.close()
    assert same(raw_flipped, _risk_scores.fit_classifier(flipped, names, sample)[1])
    assert not same(raw_flipped, raw_here)

    # one CPU: nothing started, the fit made when asked
    monkeypatch.setattr(risk, "cpus", lambda: 1)
    fitting = risk._Fitting(train, bought, names, sample)
    assert fitting._started is None
    assert same(fitting.result(labelled_train)[1], raw_here)
    fitting.close()
