"""The customers at one cut of the churn risk.

The private half of :mod:`corecustomers.insights.risk` (whose docstring describes the
procedure): the per-customer frame at a cut -- the BTYD fit and its predictions, the
rhythm and spend inputs, the behaviour table and, once labelled, whether the customer
bought in the next window -- built from the transactions or from an analysis' own
features and fitted models.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.data.features import materialize
from corecustomers.data.window import day_of, rows_up_to
from corecustomers.ids import same_ids
from corecustomers.insights._frames import Frame, build_frame, significant
from corecustomers.insights.behaviour import (
    BREADTH_COLUMNS,
    activity_columns,
    customer_behaviour,
    split_activity,
)
from corecustomers.insights.fitted import FittedValue
from corecustomers.units import TimeUnit, days_per

__all__ = [
    "BTYD",
    "RISK_BEHAVIOUR",
    "RiskFrame",
    "UnfitError",
    "active_in",
    "align_to",
    "bought_by",
    "labelled",
    "positions",
    "risk_frame",
    "significant",
    "summary_before",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: The per-customer summary the transaction models read (P(alive) a window earlier).
BTYD: Final = ("frequency", "recency", "T")

#: The behaviour columns the risk's inputs read (the alert rules read more of a
#: validation frame's: :data:`~corecustomers.insights.alert_reasons.BEHAVIOUR_NEEDED`).
RISK_BEHAVIOUR: Final = ("customer_id", "gap_std_days", "spend_trend")

Summary = tuple[pa.Array, dict[str, FloatArray]]


@dataclass(frozen=True)
class RiskFrame:
    """The customers at one cut: ids (sorted), model inputs, fit, behaviour and labels."""

    cut: datetime.date
    customer_id: pa.Array
    inputs: dict[str, FloatArray]
    btyd: FittedValue
    behaviour: pa.Table
    inactive: BoolArray | None = None

    @property
    def n(self) -> int:
        return len(self.customer_id)

    def matrix(self, names: tuple[str, ...]) -> FloatArray:
        return significant(np.column_stack([self.inputs[name] for name in names]))

    def summary(self) -> Summary:
        """The customers and their BTYD summary, for a later frame's P(alive) change."""
        return self.customer_id, {k: self.inputs[k] for k in BTYD}


class UnfitError(Exception):
    """A shifted cut whose models could not be fitted."""


def active_in(tx: ir.Table, windows: list[tuple[datetime.date, datetime.date]]) -> pa.Table:
    """Per customer: ``w0, w1, ...`` -- whether they bought in each window ``(start, end]``.

    A purchase is a row with ``amount >= 0`` (as for ``frequency``); one scan of the
    transactions for all windows.
    """
    end = max(e for _, e in windows)
    rows = rows_up_to(tx, end)
    day = day_of(rows)
    bought = rows["amount"] >= 0
    metrics = {
        f"w{i}": rows["amount"].count(
            where=bought
            & (day > ibis.literal(s, type="date"))
            & (day <= ibis.literal(e, type="date"))
        )
        for i, (s, e) in enumerate(windows)
    }
    customer = rows["customer_id"]
    if not customer.type().is_string():
        customer = customer.cast("string")
    return materialize(rows.group_by(customer_id=customer).aggregate(**metrics))


def summary_before(frame: Frame, window_days: int, time_unit: TimeUnit) -> Summary:
    """The customers of ``frame`` who had bought ``window_days`` before its cut, and their
    BTYD summary (``frequency``, ``recency``, ``T``) then, without reading the
    transactions again.

    ``frame`` is built with ``idle_before`` (:func:`~corecustomers.insights._frames.build_frame`).
    A customer's first purchase day is the same then as at the cut, so they had bought
    when their tenure at the cut is at least the window; their purchase days then are
    those at the cut less the window's (``periods_recent``), and the last of them is
    ``idle_days_before`` before the cut. The times are whole days divided by the unit's
    length, as :func:`~corecustomers.data.features.customer_features` divides them, so
    the summary is the one it gives at that day, bit for bit.
    """
    b = frame.behaviour
    tenure = b["tenure_days"]
    had = tenure >= window_days
    unit = days_per(time_unit)
    return (
        frame.customer_id.cast(pa.string()).filter(pa.array(had)),
        {
            "frequency": b["frequency"][had] - b["periods_recent"][had],
            "recency": (tenure[had] - b["idle_days_before"][had]) / unit,
            "T": (tenure[had] - window_days) / unit,
        },
    )


def risk_frame(
    tx: ir.Table,
    *,
    cut: datetime.date,
    window_days: int,
    time_unit: TimeUnit,
    has_product: bool,
    new_models: Callable[[], tuple[Any, Any]],
    before: Summary | None = None,
    features: pa.Table | None = None,
    fitted: FittedValue | None = None,
    behaviour: pa.Table | None = None,
    start: FittedValue | None = None,
    behaviour_columns: tuple[str, ...] | None = None,
    base: Frame | None = None,
) -> RiskFrame:
    """The frame at ``cut``, from the analysis' ``features``, ``fitted`` and
    ``behaviour`` there when given, else from the transactions (the BTYD models of
    ``new_models`` fitted from ``start``'s parameters).

    ``before`` is the summary ``window_days`` before ``cut``, for the P(alive) change;
    without it that summary is read from the transactions.

    A ``behaviour`` given with ``n_products`` (the analysis' own) supplies the breadth
    input; otherwise it is counted with the frame's activity, and the behaviour read here
    leaves the breadth out (the alert rules that read a frame's behaviour do not use it,
    and its distinct counts cost as much as the rest of the table). ``behaviour_columns``
    (say :data:`RISK_BEHAVIOUR`, for a frame whose behaviour nobody else reads) keeps
    only those columns of the behaviour read here: the engine then leaves out the
    aggregates no kept column needs (at 100,000 customers, 0.35 -> 0.24 s a frame).

    ``base`` is the frame at ``cut`` already built from the same ``features``,
    ``fitted`` and ``behaviour`` with ``window_days`` (with ``idle_days_before`` when
    ``before`` is None): :func:`~corecustomers.insights._frames.frames_at_cut`.
    """
    notes: list[str] = []
    # P(alive) one window earlier: from the same frame's activity when not given
    reads_before = before is None
    activity: pa.Table | None = None
    if base is None and behaviour is None:
        # the behaviour first, with the frame's activity and distinct products: the
        # frame then reads neither again (a time-shifted split: one aggregation of the
        # rows fewer)
        behaviour, activity = _behaviour_and_activity(
            tx,
            cut=cut,
            window_days=window_days,
            has_product=has_product,
            idle_before=reads_before,
            columns=behaviour_columns,
        )
    if base is not None:
        if reads_before and "idle_days_before" not in base.behaviour:
            raise ValueError("the frame given lacks the idle days before its window")
    else:
        base = build_frame(
            tx,
            cut=cut,
            target_end=None,
            window_days=window_days,
            time_unit=time_unit,
            has_product=has_product,
            notes=notes,
            new_models=new_models,
            features=features,
            fitted=fitted,
            start=start,
            breadth=behaviour if activity is None else activity,
            idle_before=reads_before,
            activity=activity,
        )
    if base.btyd is None:
        raise UnfitError(f"the BTYD models could not be fitted at {cut} ({'; '.join(notes)})")
    ids = base.customer_id.cast(pa.string())
    if behaviour is None:
        sources = {source for source, _ in BREADTH_COLUMNS}
        narrow = tx.select(*[name for name in tx.columns if name not in sources])
        expr = customer_behaviour(narrow, as_of=cut)
        if behaviour_columns is not None:
            expr = expr.select(*behaviour_columns)
        behaviour = materialize(expr)
    where = positions(ids, behaviour.column("customer_id").cast(pa.string()))

    def beh(name: str) -> FloatArray:
        values = np.asarray(
            pc.fill_null(behaviour.column(name).cast(pa.float64()), np.nan).to_numpy(
                zero_copy_only=False
            ),
            dtype=np.float64,
        )
        out = np.full(len(ids), np.nan)
        out[where >= 0] = values[where[where >= 0]]
        return out

    b = base.behaviour
    inputs = {k: b[k] for k in b if k != "idle_days_before"}
    model = base.btyd.transaction_model
    inputs["p_alive"] = base.btyd.p_alive
    inputs["expected_purchases"] = base.btyd.purchases_in(window_days)
    with np.errstate(divide="ignore", invalid="ignore"):
        inputs["gap_cv"] = beh("gap_std_days") / b["mean_gap_days"]
        inputs["spend_change"] = np.where(
            b["spend_previous"] > 0, b["spend_recent"] / b["spend_previous"], np.nan
        )
    inputs["spend_trend"] = beh("spend_trend")
    # P(alive) one window earlier: the same model on each customer's summary then
    if before is None:
        before = summary_before(base, window_days, time_unit)
    change = np.full(len(ids), np.nan)
    if len(before[0]):
        at = positions(ids, before[0])
        had = at >= 0
        if had.any():
            X = {k: before[1][k][at[had]] for k in BTYD}
            earlier = np.clip(np.asarray(model.probability_alive(X), np.float64), 0.0, 1.0)
            change[had] = inputs["p_alive"][had] - earlier
    inputs["p_alive_change"] = change
    return RiskFrame(cut, ids, inputs, base.btyd, behaviour.take(pa.array(np.maximum(where, 0))))


def _behaviour_and_activity(
    tx: ir.Table,
    *,
    cut: datetime.date,
    window_days: int,
    has_product: bool,
    idle_before: bool,
    columns: tuple[str, ...] | None,
) -> tuple[pa.Table, pa.Table]:
    """The behaviour a frame at ``cut`` reads (its ``columns``, all when None; without
    the breadth), and from the same aggregation the frame's activity of ``window_days``
    (with the idle days before it when ``idle_before``) and, with ``has_product``, the
    distinct products (:func:`~corecustomers.insights.behaviour.customer_behaviour`'s
    ``activity``): both tables keyed by ``customer_id``."""
    windows = (window_days,)
    idle = windows if idle_before else ()
    # the categories are not read; the products only for the frame's breadth input
    left_out = {source for source, _ in BREADTH_COLUMNS} - ({"product"} if has_product else set())
    narrow = tx.select(*[name for name in tx.columns if name not in left_out])
    expr = customer_behaviour(narrow, as_of=cut, activity=windows, idle_before=idle)
    extra = [*activity_columns(windows, idle), *(["n_products"] if has_product else [])]
    if columns is not None:
        expr = expr.select(*dict.fromkeys((*columns, "customer_id", *extra)))
    behaviour, activity = split_activity(materialize(expr), extra)
    if activity is None:
        raise ValueError("a frame's activity has at least one window")
    return behaviour, activity


def bought_by(frame: RiskFrame, later: RiskFrame) -> BoolArray | None:
    """Whether each of ``frame``'s customers bought in ``(frame.cut, later.cut]``, read
    from ``later``'s days since the last purchase (None when ``later`` lacks some).

    A customer bought in that window exactly when their last purchase day by
    ``later.cut`` is after ``frame.cut``: when it is fewer than ``later.cut - frame.cut``
    days before ``later.cut``. Purchase days are those of :func:`active_in` (a row with
    ``amount >= 0``), so this is its label without a scan of the transactions.
    """
    at = positions(frame.customer_id, later.customer_id)
    if (at < 0).any():
        return None
    days = (later.cut - frame.cut).days
    return np.asarray(later.inputs["days_since_last_purchase"][at] < days, dtype=np.bool_)


def labelled(frame: RiskFrame, labels: pa.Table | BoolArray, column: str = "") -> RiskFrame:
    """``frame`` with ``inactive``: no purchase counted in ``labels``' ``column`` (or
    ``labels`` the flags of :func:`bought_by`, one per customer of ``frame``)."""
    if isinstance(labels, np.ndarray):
        bought = labels
    else:
        at = positions(frame.customer_id, labels.column("customer_id").cast(pa.string()))
        counts = np.asarray(labels.column(column).to_numpy(zero_copy_only=False), dtype=np.float64)
        bought = np.where(at >= 0, counts[np.maximum(at, 0)], 0.0) > 0
    return RiskFrame(
        frame.cut, frame.customer_id, frame.inputs, frame.btyd, frame.behaviour, ~bought
    )


def positions(ids: pa.Array, other: pa.Array) -> NDArray[np.int64]:
    """Each of ``ids``' position in ``other`` (-1 when absent).

    The analysis' tables are in one order, their customers' ids (its features sorted by
    id: :func:`~corecustomers.service.analysis.analyse_prepared`), so ``other`` is
    often ``ids`` itself: then the positions are 0, 1, 2, ... without a lookup of a
    million ids (half a second)."""
    if same_ids(ids, other):
        return np.arange(len(ids), dtype=np.int64)
    found = pc.index_in(ids, value_set=other)
    return np.asarray(pc.fill_null(found, -1).to_numpy(zero_copy_only=False), dtype=np.int64)


def align_to(ids: pa.Array, frame_ids: pa.Array) -> NDArray[np.int64]:
    """Each of ``ids``' position in ``frame_ids``, which must hold them all."""
    where = positions(ids, frame_ids)
    if (where < 0).any():
        raise ValueError("the frame at the cut does not cover every customer")
    return where
