"""The customers at one cut of the core ranking, and the models fitted on them.

The private half of :mod:`corecustomers.insights.ranking` (whose docstring describes the
procedure): the per-customer frame at a cut -- the features, the activity in the recent
windows, the revenue of the target window and the BTYD fit -- built either from the
transactions or from the analysis' own features and fitted models, and the
gradient-boosted model fitted on one frame and applied to another.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.data.features import customer_features, materialize
from corecustomers.data.window import day_of, rows_up_to
from corecustomers.ids import increasing, same_ids
from corecustomers.insights._tree_scores import tree_predictions
from corecustomers.insights.behaviour import ACTIVITY_WINDOW_COLUMNS, activity_columns
from corecustomers.insights.fitted import FittedValue
from corecustomers.machine import cpus, thread_limit
from corecustomers.models import BetaGeoModel, GammaGammaModel, record_fit_warnings
from corecustomers.units import TimeUnit, days_per

__all__ = [
    "MIN_CUSTOMERS",
    "TRAINING_SAMPLE",
    "Frame",
    "ModelFactory",
    "bgnbd",
    "build_frame",
    "first_day",
    "first_purchase_day",
    "fit_and_predict",
    "frames_at_cut",
    "significant",
]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]

MIN_CUSTOMERS: Final = 20
"""Fewer customers (or repeat buyers, for the BTYD fit) than this and no model is fitted."""


#: Hyper-parameters of the gradient-boosted model; fixed, so that runs are reproducible.
_GBM_PARAMS: Final[Mapping[str, Any]] = {
    "loss": "poisson",
    "learning_rate": 0.05,
    "max_iter": 100,
    "max_leaf_nodes": 7,
    "min_samples_leaf": 100,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": 0,
}

ModelFactory = Callable[[], tuple[Any, GammaGammaModel]]
"""Makes the unfitted transaction and spend models to fit at a cut."""


def bgnbd() -> tuple[Any, GammaGammaModel]:
    """BG/NBD and Gamma-Gamma without a penalty: the models of the standalone functions."""
    return BetaGeoModel(), GammaGammaModel()


#: From this many customers the model's predictions are computed on several threads.
_THREADED_FROM: Final = 100_000

#: The gradient-boosted model learns from at most this many customers, drawn at random
#: (fixed seed) when there are more: its 7-leaf trees over 19 inputs are learnt as well
#: from 200,000 customers as from millions, at a fraction of the time and memory.
TRAINING_SAMPLE: Final = 200_000


def significant(
    values: FloatArray, digits: int = 6, *, keep_infinities: bool = False
) -> FloatArray:
    """``values`` rounded to ``digits`` significant digits (infinities become NaN, or
    stay with ``keep_infinities``; NaN and 0 are kept).

    Each value ``x`` (finite, non-zero) becomes ``round(x * s) / s`` with
    ``s = 10 ** (digits - 1 - floor(log10(|x|)))``. The powers of ten are read from a
    table of ``10.0 ** e`` (the same ``numpy.power``, so the same floats; a power per
    value cost more than the rest), and the values are rounded in blocks of
    :data:`_BLOCK`, whose temporaries stay in the cache instead of a dozen arrays the
    size of a million-customer matrix: bit for bit the figures of the element-wise
    formula, in a fifth of its time.

    >>> significant(np.array([1234567.0, -0.000123456789, 0.0, np.inf, np.nan])).tolist()
    [1234570.0, -0.000123457, 0.0, nan, nan]
    """
    if not 1 <= digits <= 17:
        raise ValueError(f"digits must be between 1 and 17 (a float64's), got {digits}")
    x = np.ascontiguousarray(values, dtype=np.float64)
    out = np.empty_like(x)
    flat, rounded = x.reshape(-1), out.reshape(-1)
    # a value rounded past the largest float64 becomes inf, and its NaN (as before)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for start in range(0, flat.size, _BLOCK):
            block = flat[start : start + _BLOCK]
            finite = np.isfinite(block)
            scaled = finite & (block != 0.0)
            mag = np.floor(np.log10(np.abs(np.where(scaled, block, 1.0))))
            power = _POWERS_OF_TEN[(digits - 1 - mag).astype(np.intp) - _LOWEST_POWER]
            scale = np.where(scaled, power, 1.0)
            near = np.round(block * scale) / scale
            rounded[start : start + _BLOCK] = np.where(
                finite, near, block if keep_infinities else np.where(np.isinf(block), np.nan, block)
            )
    return out


_BLOCK: Final = 1 << 16
"""Values rounded at a time by :func:`significant`."""

_LOWEST_POWER: Final = -400
"""The smallest exponent of :data:`_POWERS_OF_TEN`: ``digits - 1 - floor(log10|x|)``
lies in ``[digits - 309, digits + 323]`` for the finite non-zero float64 ``x``."""

with np.errstate(over="ignore"):  # 10 ** 309 and up are inf, as the power gave them
    _POWERS_OF_TEN: Final = 10.0 ** np.arange(_LOWEST_POWER, -_LOWEST_POWER + 1, dtype=np.float64)


def fit_and_predict(
    train: Frame,
    apply: Frame,
    names: tuple[str, ...],
    window: int,
    *,
    train_inputs: FloatArray | None = None,
    apply_inputs: FloatArray | None = None,
) -> FloatArray:
    """Fit the gradient-boosted model on ``train`` and predict ``apply``'s revenue.

    ``train_inputs`` and ``apply_inputs``, when given, are the frames'
    :meth:`Frame.rounded_inputs` already built: the ranking applies one model to the
    frame it then trains the next on, and builds that frame's matrix once.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    if train.target is None or train.btyd is None or apply.btyd is None:
        raise ValueError("fit_and_predict needs BTYD values on both frames and train's target")
    y = np.clip(train.target, 0.0, None)
    sample = None
    if train.n > TRAINING_SAMPLE:
        sample = np.sort(np.random.default_rng(0).choice(train.n, TRAINING_SAMPLE, replace=False))
        y = y[sample]
    if train_inputs is not None:
        X_train = train_inputs if sample is None else train_inputs[sample]
    else:
        X_train = train.inputs(names, window)
        # rounded after the sample: element-wise, so the same values as the other way
        X_train = significant(X_train if sample is None else X_train[sample], keep_infinities=True)
    X_apply = apply.rounded_inputs(names, window) if apply_inputs is None else apply_inputs
    # one OpenMP thread (as the churn risk's classifier): the threaded sums of gradients
    # depend on the thread count, so the figures are the same on every machine; and the
    # fit runs beside the analysis' other steps, where a second OpenMP thread waits at
    # every barrier for a core that is busy: 200,000 customers beside a DuckDB query,
    # 2.9 s on one thread against 6.8 s on two (1.9 against 1.1 s on an idle machine)
    with thread_limit(1, "openmp"):
        model = HistGradientBoostingRegressor(**_GBM_PARAMS).fit(X_train, y)
    # predict()'s figures, split by split over column blocks (half its time)
    return tree_predictions(model, X_apply, 1 if len(X_apply) < _THREADED_FROM else cpus())


# -- frames -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    """The customers at one cut: ids, behaviour, historic spend, BTYD fit and target."""

    customer_id: pa.Array
    behaviour: dict[str, FloatArray]
    historic_spend: FloatArray
    target: FloatArray | None
    btyd: FittedValue | None

    @property
    def n(self) -> int:
        return len(self.customer_id)

    def inputs(self, names: tuple[str, ...], window: int) -> FloatArray:
        """The model inputs ``names`` with the BTYD predictions for ``window`` days."""
        if self.btyd is None:
            raise ValueError("the frame has no BTYD values to build the model inputs from")
        columns = dict(self.behaviour)
        columns["expected_purchases"] = self.btyd.purchases_in(window)
        columns["expected_spend"] = self.btyd.expected_spend
        columns["btyd_value"] = columns["expected_purchases"] * columns["expected_spend"]
        columns["p_alive"] = self.btyd.p_alive
        return np.column_stack([columns[name] for name in names])

    def rounded_inputs(self, names: tuple[str, ...], window: int) -> FloatArray:
        """:meth:`inputs` rounded to six significant digits, as the model reads them.

        Parallel aggregation sums floats in no fixed order, so a feature can differ in
        its last bits between two runs on the same data; six significant digits keep
        such noise from moving a value across a histogram bin edge and flipping a split.
        """
        return significant(self.inputs(names, window), keep_infinities=True)


def build_frame(
    tx: ir.Table,
    *,
    cut: datetime.date,
    target_end: datetime.date | None,
    window_days: int,
    time_unit: TimeUnit,
    has_product: bool,
    notes: list[str],
    new_models: ModelFactory,
    features: pa.Table | None = None,
    fitted: FittedValue | None = None,
    start: FittedValue | None = None,
    breadth: pa.Table | None = None,
    idle_before: bool = False,
    activity: pa.Table | None = None,
) -> Frame:
    """Customers who bought by ``cut``: behaviour up to it, revenue up to ``target_end``.

    ``features`` (the analysis' per-customer features at ``cut``) and ``fitted`` (its
    models, fitted on those customers) are used when given instead of computing and
    fitting them again; otherwise the features are computed here and the models made by
    ``new_models`` are fitted, starting from ``start``'s parameters when it is given and
    of the same kind (the fit at a neighbouring cut: see ``TransactionModel.fit``).
    ``breadth`` (a table with ``customer_id`` and ``n_products`` at ``cut``: the analysis'
    behaviour there) gives the distinct products instead of counting them again.
    With ``idle_before`` the behaviour also holds ``idle_days_before``: the days from the
    last purchase day on or before ``cut - window_days`` to ``cut`` (0 for a customer
    without one), from which :func:`summary_before` gives the BTYD summary then.
    ``activity``: the frame's aggregation of the rows read already, as in
    :func:`frames_at_cut`.
    """
    return _frames(
        tx,
        cut=cut,
        target_end=target_end,
        windows=(window_days,),
        idle_before=(window_days,) if idle_before else (),
        time_unit=time_unit,
        has_product=has_product,
        notes=notes,
        new_models=new_models,
        features=features,
        fitted=fitted,
        start=start,
        breadth=breadth,
        activity=activity,
    )[window_days]


def frames_at_cut(
    tx: ir.Table,
    *,
    cut: datetime.date,
    target_end: datetime.date | None,
    windows: Sequence[int],
    time_unit: TimeUnit,
    has_product: bool,
    features: pa.Table,
    fitted: FittedValue,
    breadth: pa.Table | None = None,
    idle_before: Collection[int] = (),
    activity: pa.Table | None = None,
) -> dict[int, Frame]:
    """The analysis' customers at its own ``cut`` as one :class:`Frame` per window length.

    Each frame equals :func:`build_frame`'s with the same ``features``, ``fitted`` and
    ``breadth`` and that ``window_days`` (with ``idle_before`` when the window is in
    ``idle_before``), but all of them come from one activity query over the rows and one
    sort of the customers, and share every array that does not depend on the window: the
    core ranking (its training window) and the churn risk (its risk window) read the same
    customers at the same cut, and each built them apart before (10M rows: one scan and
    one sort of a million ids fewer). A window's frame holds a ``target`` when
    ``target_end`` is given; a reader that needs none ignores it.

    ``activity``, when given, is that query's result already read (``customer_id`` and
    its columns, as :func:`~corecustomers.insights.behaviour.customer_behaviour` reads
    them with the analysis' behaviour at ``cut``): used instead of the query when it
    holds every column these frames read (no ``target_end``, whose rows are after
    ``cut``).
    """
    windows = tuple(dict.fromkeys(windows))
    if not windows:
        raise ValueError("give at least one window length")
    return _frames(
        tx,
        cut=cut,
        target_end=target_end,
        windows=windows,
        idle_before=tuple(w for w in windows if w in idle_before),
        time_unit=time_unit,
        has_product=has_product,
        notes=[],  # nothing to note: the models are the analysis' own
        new_models=fitted.new_models,
        features=features,
        fitted=fitted,
        breadth=breadth,
        activity=activity,
    )


def _frames(
    tx: ir.Table,
    *,
    cut: datetime.date,
    target_end: datetime.date | None,
    windows: tuple[int, ...],
    idle_before: tuple[int, ...],
    time_unit: TimeUnit,
    has_product: bool,
    notes: list[str],
    new_models: ModelFactory,
    features: pa.Table | None,
    fitted: FittedValue | None,
    start: FittedValue | None = None,
    breadth: pa.Table | None = None,
    activity: pa.Table | None = None,
) -> dict[int, Frame]:
    """:func:`build_frame` for each of ``windows`` at once (several only with ``features``:
    a fit made here would be made once per window); ``activity`` as in
    :func:`frames_at_cut`."""
    given = features is not None
    if not given and len(windows) > 1:
        raise ValueError("frames for several windows need the analysis' features and fit")
    unit = days_per(time_unit)
    if breadth is not None and "n_products" not in breadth.column_names:
        breadth = None
    counts_products = has_product and breadth is None
    needed = activity_columns(windows, idle_before) + (["n_products"] if counts_products else [])
    if activity is None or target_end is not None or not set(needed) <= set(activity.column_names):
        activity = materialize(
            _activity(
                tx,
                cut=cut,
                target_end=target_end,
                windows=windows,
                has_product=counts_products,
                idle_before=idle_before,
            )
        )
    if features is None:
        # two queries, joined and sorted here: the engine's join and sort of a million
        # customers by id cost more than the aggregations themselves
        features = materialize(customer_features(tx, as_of=cut, time_unit=time_unit))
    ids = features.column("customer_id").cast(pa.string())
    order = _sort_order(ids)
    read = ["customer_id", *needed, *(["target"] if target_end is not None else [])]
    table = _with_activity(features, ids, order, activity.select(read))
    columns: dict[str, FloatArray] = {}

    def col(name: str) -> FloatArray:
        """The column as floats, converted once (several inputs read the same one)."""
        found = columns.get(name)
        if found is None:
            values = table.column(name).to_numpy(zero_copy_only=False)
            found = np.nan_to_num(np.asarray(values, dtype=np.float64))  # null sums are 0
            columns[name] = found
        return found

    frequency = col("frequency")
    gross = col("total_spend") + col("returns_amount")
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_gap = np.where(frequency > 0, col("recency") * unit / frequency, np.nan)
        overdue = col("days_since_last_purchase") / mean_gap
        returns_share = np.where(gross > 0, col("returns_amount") / gross, 0.0)
    shared: dict[str, FloatArray] = {
        "frequency": frequency,
        "recency": col("recency"),
        "T": col("T"),
        "monetary_value": col("monetary_value"),
        "total_spend": col("total_spend"),
        "returns_share": returns_share,
        "orders_per_period": col("n_orders") / np.maximum(col("n_periods"), 1.0),
        "days_since_last_purchase": col("days_since_last_purchase"),
        "tenure_days": col("tenure_days"),
        "mean_gap_days": mean_gap,
        "overdue": overdue,
    }
    products: FloatArray | None = None
    if has_product:
        products = col("n_products") if breadth is None else _products(table, breadth)
    customer_id = table.column("customer_id").combine_chunks()
    target = None if target_end is None else col("target")
    reordered = _fitted_at(fitted, table, notes, ids=ids, order=order) if given else None
    frames: dict[int, Frame] = {}
    for window in windows:
        behaviour = dict(shared)
        for name in ACTIVITY_WINDOW_COLUMNS:
            behaviour[name] = col(f"{name}_{window}")
        if products is not None:
            behaviour["n_products"] = products
        if window in idle_before:
            behaviour["idle_days_before"] = col(f"idle_days_before_{window}")
        frames[window] = Frame(
            customer_id=customer_id,
            behaviour=behaviour,
            historic_spend=behaviour["total_spend"],
            target=target,
            btyd=reordered
            if given
            else _fit_btyd(
                behaviour,
                time_unit=time_unit,
                cut=cut,
                notes=notes,
                new_models=new_models,
                start=start,
                window_days=window,
            ),
        )
    return frames


#: The features' columns a frame reads (the analysis' own features carry many more).
_FEATURE_COLUMNS: Final = (
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "total_spend",
    "returns_amount",
    "n_orders",
    "n_periods",
    "days_since_last_purchase",
    "tenure_days",
)


def _sort_order(ids: pa.ChunkedArray) -> pa.Array | None:
    """The order of ``ids`` sorted, or None when they are sorted (strictly increasing)
    already: the analysis sorts its features by id once
    (:func:`~corecustomers.service.analysis.analyse_prepared`), and a sort of a million
    ids costs half a second."""
    return None if increasing(ids) else pc.sort_indices(ids)


def _with_activity(
    features: pa.Table, ids: pa.ChunkedArray, order: pa.Array | None, activity: pa.Table
) -> pa.Table:
    """The customers ``ids`` (``features``' own, as strings) and the features a frame
    reads, in the ``order`` of their ids (None: as they are), with ``activity``'s
    columns matched by id.

    Only those columns are reordered: the analysis' features have several times as many
    (scores, segments, text), and taking them all cost more than the sort.
    """
    table = pa.table(
        [ids, *(features.column(name) for name in _FEATURE_COLUMNS)],
        names=["customer_id", *_FEATURE_COLUMNS],
    )
    if order is not None:
        table = table.take(order)
    at = table.column("customer_id")
    given = activity.column("customer_id").cast(pa.string())
    index = None if same_ids(at, given) else pc.index_in(at, value_set=given)
    for name in activity.column_names:
        if name != "customer_id":
            column = activity.column(name)
            table = table.append_column(name, column if index is None else column.take(index))
    return table


def _products(table: pa.Table, breadth: pa.Table) -> FloatArray:
    """``breadth``'s ``n_products`` of ``table``'s customers (0 when absent, as counted)."""
    ids = table.column("customer_id").cast(pa.string())
    given = breadth.column("customer_id").cast(pa.string())
    values = breadth.column("n_products").cast(pa.float64())
    if not same_ids(ids, given):
        values = values.take(pc.index_in(ids, value_set=given))
    return np.nan_to_num(np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64))


def _fitted_at(
    fitted: FittedValue | None,
    table: pa.Table,
    notes: list[str],
    *,
    ids: pa.ChunkedArray,
    order: pa.Array | None,
) -> FittedValue | None:
    """The analysis' fit reordered to ``table``'s customers (None without one).

    ``table`` holds the customers ``ids`` in the ``order`` of their ids. A fit made on
    those very customers in that sequence (the analysis fits its own features) is
    reordered by ``order`` itself, instead of looking up a million ids again.
    """
    if fitted is None:
        notes.append("no lifetime-value model was fitted in this analysis")
        return None
    if fitted.customer_id.equals(ids.combine_chunks()):
        if order is None:  # in the order of their ids already
            return fitted
        return fitted.take(np.asarray(order.to_numpy(zero_copy_only=False), dtype=np.intp))
    position = pc.index_in(table.column("customer_id"), value_set=fitted.customer_id)
    if position.null_count:
        raise ValueError("the fitted models do not cover every customer of the features")
    return fitted.take(np.asarray(position.to_numpy(zero_copy_only=False), dtype=np.intp))


def _activity(
    tx: ir.Table,
    *,
    cut: datetime.date,
    target_end: datetime.date | None,
    windows: tuple[int, ...],
    has_product: bool,
    idle_before: tuple[int, ...] = (),
) -> ir.Table:
    """Per customer and for each window length ``w`` of ``windows``: spend in the last two
    windows before ``cut`` (``spend_recent_w``, ``spend_previous_w``), purchase days in
    the last (``periods_recent_w``); distinct products; (with ``target_end``) the net
    amount in ``(cut, target_end]``; and for each ``w`` of ``idle_before`` the days from
    the last purchase day before the last window to ``cut`` (``idle_days_before_w``).
    One aggregation of the rows for all of them."""
    tx = rows_up_to(tx, cut if target_end is None else target_end)
    tx = tx.mutate(_day=day_of(tx))
    cut_day = ibis.literal(cut, type="date")
    amount = tx["amount"].cast("float64")
    before = tx["_day"] <= cut_day
    metrics: dict[str, ir.Value] = {}
    for window in windows:
        recent_start = ibis.literal(cut - datetime.timedelta(days=window), type="date")
        previous_start = ibis.literal(cut - datetime.timedelta(days=2 * window), type="date")
        recent = before & (tx["_day"] > recent_start)
        previous = (tx["_day"] > previous_start) & (tx["_day"] <= recent_start)
        metrics[f"spend_recent_{window}"] = amount.sum(where=recent)
        metrics[f"spend_previous_{window}"] = amount.sum(where=previous)
        metrics[f"periods_recent_{window}"] = tx["_day"].nunique(where=recent & (amount >= 0))
        if window in idle_before:
            last = tx["_day"].max(where=(tx["_day"] <= recent_start) & (amount >= 0))
            metrics[f"idle_days_before_{window}"] = cut_day.delta(last, unit="day")
    if has_product:
        metrics["n_products"] = tx["product"].nunique(where=before & (amount >= 0))
    if target_end is not None:
        metrics["target"] = amount.sum(where=~before)
    customer = tx["customer_id"]
    if not customer.type().is_string():
        customer = customer.cast("string")
    return tx.group_by(customer_id=customer).aggregate(**metrics)


def first_day(features: pa.Table) -> datetime.date | None:
    """The earliest ``first_purchase`` of the customers in ``features``."""
    value = pc.min(features.column("first_purchase")).as_py()
    if isinstance(value, datetime.datetime):
        return value.date()
    return value if isinstance(value, datetime.date) else None


def first_purchase_day(tx: ir.Table, cut: datetime.date) -> datetime.date | None:
    tx = rows_up_to(tx, cut)
    day = day_of(tx)
    value = materialize(tx.filter(tx["amount"] >= 0).aggregate(first=day.min()))
    value = value.column("first")[0].as_py()
    if isinstance(value, datetime.datetime):
        return value.date()
    return value if isinstance(value, datetime.date) else None


def _fit_btyd(
    behaviour: dict[str, FloatArray],
    *,
    time_unit: TimeUnit,
    cut: datetime.date,
    notes: list[str],
    new_models: ModelFactory,
    start: FittedValue | None = None,
    window_days: int = 1,
) -> FittedValue | None:
    """The transaction and spend models of ``new_models`` fitted at ``cut``, or None.

    The transaction model starts from ``start``'s when that is of the same kind, the
    spend model from ``start``'s spend model.
    """
    X = {name: behaviour[name] for name in ("frequency", "recency", "T", "monetary_value")}
    repeat = (X["frequency"] > 0) & (X["monetary_value"] > 0)
    if X["frequency"].size < MIN_CUSTOMERS or np.count_nonzero(repeat) < MIN_CUSTOMERS:
        notes.append(
            f"{cut}: BTYD models not fitted: {X['frequency'].size} customers and "
            f"{np.count_nonzero(repeat)} repeat buyers (at least {MIN_CUSTOMERS} of each needed)"
        )
        return None

    try:
        # one BLAS thread: L-BFGS-B over a few parameters is ~8x slower with OpenBLAS's;
        # the fits' warnings recorded for this thread's fits only (the ranking's and the
        # churn risk's frames are built side by side)
        with record_fit_warnings() as caught, thread_limit(1, "blas"):
            transactions, spend = new_models()
            given = None if start is None else start.transaction_model
            if given is not None and type(given) is type(transactions):
                transactions.fit(X, start=given.params_)
            else:
                transactions.fit(X)
            # the spend model starts from the neighbouring fit's too (the same optimum,
            # to the optimiser's tolerance, without the estimate on a subsample first)
            spend_start = None if start is None else getattr(start.spend_model, "params_", None)
            repeaters = {k: v[repeat] for k, v in X.items()}
            btyd = FittedValue.predict(
                customer_id=pa.nulls(X["frequency"].size, pa.string()),
                X=X,
                transaction_model=transactions,
                spend_model=spend.fit(repeaters, start=spend_start),
                clv=np.zeros(X["frequency"].size),
                time_unit=time_unit,
                # the frame's window: its expected purchases are computed once, here
                horizon=window_days / days_per(time_unit),
                penalizer=spend.penalizer,
            )
            check = btyd.value(window_days) * btyd.p_alive
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        log.warning("BTYD models not fitted at %s: %s", cut, exc)
        notes.append(f"{cut}: BTYD models not fitted: {exc}")
        return None
    for issue in caught:
        log.info("BTYD fit at %s: %s", cut, issue.message)
        notes.append(f"{cut}: {issue}")
    if not np.all(np.isfinite(check)):
        notes.append(f"{cut}: BTYD predictions are not finite for some customers; not used")
        return None
    return btyd
