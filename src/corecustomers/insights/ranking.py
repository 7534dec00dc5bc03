"""Core ranking: rank customers by the revenue they will bring, not by what they spent.

Ranking customers by past spend looks backwards. The BTYD models look forwards: a BG/NBD
transaction model (Fader, Hardie & Lee 2005, "Counting your customers the easy way",
*Marketing Science* 24(2)) times a Gamma-Gamma spend model (Fader, Hardie & Lee 2005,
"RFM and CLV", *Journal of Marketing Research* 42(4)) predicts each customer's revenue in
the next window from ``frequency, recency, T`` and ``monetary_value`` alone. This module
adds what those models leave out -- rhythm, trend, returns, breadth -- through a
gradient-boosted regression (scikit-learn's ``HistGradientBoostingRegressor``) trained on
the same data, shifted back in time so that no training target lies after the day scored.

Time-shifted training and the choice
------------------------------------
To score at a cut ``c`` (``calibration_end`` in :func:`capture_comparison`, ``as_of`` in
:func:`core_scores`) with a training window of ``L`` days:

1. **Training.** Features from the transactions up to ``c - L``; target: each customer's
   net revenue (the sum of ``amount``, returns included) in ``(c - L, c]``. The fitted
   model is applied to the same features computed up to ``c``; its prediction (net
   revenue over the next ``L`` days) is the *combined* ranking.
2. **Validation.** The same procedure one window earlier: a model trained on the features
   up to ``c - 2L`` with the revenue in ``(c - 2L, c - L]`` scores the customers at
   ``c - L``, and the top :data:`TOP_SHARE` (20 %) of its ranking is compared with the top
   20 % of the pure BTYD ranking fitted at ``c - L``, on the revenue in ``(c - L, c]``.
   This is the real situation shifted back by one window -- a model trained on the past,
   applied later -- so a model that does not survive the shift in time is caught.
3. **Decision.** The combined ranking becomes the ``core_score`` only if, in
   :data:`BOOTSTRAP_REPLICATES` paired bootstrap resamples of the validation customers
   (seed :data:`BOOTSTRAP_SEED`), its top 20 % capture strictly more revenue than the
   BTYD ranking's top 20 % in at least :data:`REQUIRED_CONFIDENCE` (90 %) of them. A
   difference the resampling cannot tell from noise keeps the BTYD ranking, which
   needs no training (and then, without a holdout to report on, the combined model of
   step 1 is not fitted at all).
4. **Window.** ``L`` is the horizon ``H`` (``as_of - calibration_end`` in
   :func:`capture_comparison`, ``horizon_days`` in :func:`core_scores`) when the history
   before ``c`` (from the first purchase) spans at least ``3H`` days; otherwise a third
   of that history, so that the validation split still has a window of history before
   it. When ``L`` would be shorter than :data:`MIN_WINDOW_DAYS`, or a split has fewer
   than :data:`MIN_CUSTOMERS` customers, no fitted BTYD models or no revenue in its
   target window, no combined ranking is trained and the BTYD ranking is used.

The BTYD models at the earlier cuts ``c - L`` and ``c - 2L`` are the same kinds with the
same penalty as at ``c``, each fit starting from the parameters one window later
(``TransactionModel.fit(X, start=...)``): the same customers a window apart have nearby
optima, and a short history whose likelihood only rises along a ridge (Pareto/NBD's
``s`` and ``beta`` growing together on a few months of data) stops within a factor of 10
of that start, with a warning, instead of following the ridge for a minute.

Above :data:`~corecustomers.insights.shifted.SHIFTED_CUSTOMERS` (300,000) customers at
``c``, the two earlier cuts are built from the rows of a uniform sample of that many
(:mod:`corecustomers.insights.shifted`): the training, the validation and its bootstrap
read the sample; the frame at ``c`` and the scores are every customer's.

When the BTYD models cannot be fitted at ``c`` (fewer than :data:`MIN_CUSTOMERS`
customers or repeat buyers, or a failed fit) the ``core_score`` is the historic spend.
Model-fit warnings are caught and reported in the result's ``warnings``, never raised.

Features of the gradient-boosted model
--------------------------------------
All computed at the cut from the transactions up to it (:data:`MODEL_FEATURES`): the BTYD
prediction for the window (``btyd_value = E[X(L)] * E[Z]``, FHL 2005 eq. (10) times
the Gamma-Gamma conditional mean) and its parts ``expected_purchases``, ``p_alive``,
``expected_spend``; the literature's ``frequency, recency, T, monetary_value``;
``total_spend``, ``returns_share`` (returns over gross purchases), ``orders_per_period``,
``days_since_last_purchase``, ``tenure_days``; the rhythm ``mean_gap_days`` (recency over
repeat purchases, missing without one) and ``overdue`` (days since the last purchase over
the mean gap); the trend ``spend_recent`` / ``spend_previous`` (net spend in the last
window ``L`` and the one before) and ``periods_recent``; and, when the transactions have a
``product`` column, the breadth ``n_products``. Missing values are left to the model
(native NaN handling). The model uses a Poisson loss (log link), fitting the mean of a
non-negative, heavy-tailed revenue; negative targets (net returns) are clipped at 0. Its
hyper-parameters are fixed (``random_state=0``, no early stopping), so runs repeat
exactly. Above ``TRAINING_SAMPLE`` (200,000) customers it learns from that many, drawn
with a fixed seed, and scores every customer.

Examples
--------
>>> import datetime
>>> import ibis
>>> from corecustomers.insights.ranking import capture_comparison
>>> tx = ibis.memtable(
...     {
...         "customer_id": ["a", "a", "b", "b"],
...         "timestamp": [datetime.datetime(2024, m, 1) for m in (1, 3, 1, 2)],
...         "amount": [10.0, 40.0, 30.0, 5.0],
...     }
... )
>>> result = capture_comparison(
...     tx, calibration_end=datetime.date(2024, 1, 31), as_of=datetime.date(2024, 3, 31)
... )
>>> result["core_score"], round(result["capture"]["historic_spend"], 3)
('historic_spend', 0.111)

Too few customers for the models here, so only the historic ranking exists: its top
customer (``b``, 30 spent by January) brings 5 of the 45 of February and March.
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from corecustomers.errors import ColumnMappingError, ConfigError
from corecustomers.insights._capture import (
    BOOTSTRAP_REPLICATES,
    bootstrap_better,
    captured_share,
    descending,
    top_count,
)
from corecustomers.insights._frames import (
    MIN_CUSTOMERS,
    Frame,
    ModelFactory,
    bgnbd,
    build_frame,
    first_day,
    first_purchase_day,
    fit_and_predict,
)
from corecustomers.insights.fitted import FittedValue
from corecustomers.insights.shifted import ShiftedRows
from corecustomers.units import TimeUnit, check_dates, days_per

__all__ = [
    "MIN_CUSTOMERS",
    "MIN_WINDOW_DAYS",
    "MODEL_FEATURES",
    "TOP_SHARE",
    "CoreScores",
    "Method",
    "capture_comparison",
    "core_scores",
    "rank_customers",
    "training_window",
]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

Method = Literal["combined", "btyd", "historic_spend"]
"""Which ranking the ``core_score`` is: the gradient-boosted combination, the pure BTYD x
Gamma-Gamma prediction, or (when no model can be fitted) the historic spend."""

TOP_SHARE: Final = 0.2
"""Share of customers whose captured revenue decides and reports the rankings."""

MIN_WINDOW_DAYS: Final = 14
"""Shortest training window ``L`` (days) for which a combined ranking is trained."""

DEFAULT_HORIZON_DAYS: Final = 365
"""Horizon of :func:`core_scores` when none is given."""

REQUIRED_CONFIDENCE: Final = 0.9
"""Share of bootstrap resamples in which the combined ranking must capture more."""

MODEL_FEATURES: Final = (
    "btyd_value",
    "expected_purchases",
    "p_alive",
    "expected_spend",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "total_spend",
    "returns_share",
    "orders_per_period",
    "days_since_last_purchase",
    "tenure_days",
    "mean_gap_days",
    "overdue",
    "spend_recent",
    "spend_previous",
    "periods_recent",
)
"""Inputs of the gradient-boosted model, in order (plus ``n_products`` with products)."""

# -- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CoreScores:
    """Per-customer ``core_score`` and how it was chosen (see :func:`core_scores`).

    Attributes
    ----------
    table
        One row per customer, ordered by ``customer_id``: ``customer_id`` (string),
        ``core_score`` (float64, higher is more valuable; a ranking score whose scale
        depends on ``method``: for ``"btyd"`` the predicted net revenue of the next
        ``horizon_days``, for ``"combined"`` the predicted net revenue of the next
        ``training_window_days`` (``details``), for ``"historic_spend"`` the net spend so
        far), ``btyd_value`` (the BTYD x Gamma-Gamma predicted net revenue of the next
        ``horizon_days``; null when the models could not be fitted) and ``historic_spend``
        (net spend up to ``as_of``).
    method
        The ranking the ``core_score`` is (:data:`Method`).
    reason
        Why that ranking was chosen, in English.
    details
        The validation figures and windows (JSON-ready).
    capture
        With a holdout (:func:`rank_customers` given ``holdout_end``), the share of the
        holdout revenue each ranking's top customers brought, as
        :func:`capture_comparison` reports it; otherwise None.
    """

    table: pa.Table
    method: Method
    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    capture: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Method, reason and details, JSON-ready (for ``summary.json``).

        Examples
        --------
        >>> import pyarrow as pa
        >>> CoreScores(pa.table({"customer_id": ["a"]}), "btyd", "no holdout").to_dict()
        {'core_score': 'btyd', 'reason': 'no holdout'}
        """
        return {"core_score": self.method, "reason": self.reason, **self.details}


# -- public functions -------------------------------------------------------------------


def capture_comparison(
    tx: ir.Table,
    *,
    calibration_end: datetime.date,
    as_of: datetime.date,
    time_unit: TimeUnit = "week",
    top_share: float = TOP_SHARE,
) -> dict[str, Any]:
    """Share of the holdout revenue captured by the top customers of three rankings.

    The customers are those who bought on or before ``calibration_end``; the holdout
    revenue of each is their net revenue in ``(calibration_end, as_of]``: the sum of
    ``amount``, returns included. The top ``top_share`` of customers (rounded up; ties in
    a ranking go to the lower ``customer_id``) is chosen by

    * ``historic_spend``: net spend up to ``calibration_end``;
    * ``btyd``: BG/NBD x Gamma-Gamma predicted revenue over the holdout length ``H``,
      fitted on the data up to ``calibration_end``;
    * ``combined``: the gradient-boosted ranking, trained on the earlier, time-shifted
      split described in the module docstring (never on the holdout).

    Parameters
    ----------
    tx
        Canonical transactions (``docs/CONTRACTS.md``) on any Ibis backend.
    calibration_end
        Last day (inclusive) whose transactions the rankings may use.
    as_of
        Last day (inclusive) of the holdout; after ``calibration_end``.
    time_unit
        Unit of ``recency`` and ``T`` for the BTYD fit.
    top_share
        Share of customers in the top group, in ``(0, 1]``.

    Returns
    -------
    dict
        JSON-ready: ``calibration_end``, ``as_of``, ``holdout_days``, ``top_share``,
        ``customers``, ``top_customers``, ``holdout_revenue``; ``capture`` with the shares
        ``historic_spend``, ``btyd``, ``combined`` (``None`` when that ranking could not be
        built), ``core_score`` (the share of the chosen ranking) and ``best_possible``
        (the top customers by actual holdout revenue) -- every share ``None`` when the
        holdout revenue is not positive; ``core_score`` (the chosen :data:`Method`),
        ``reason`` (a sentence), ``training_window_days`` (``L``), ``validation`` (the
        time-shifted validation's dates, customers, captures of the three rankings at
        :data:`TOP_SHARE` and ``bootstrap_share_better``; ``None`` when none was run) and
        ``warnings`` (model-fit warnings, as text). The choice of ``core_score`` is always
        made at :data:`TOP_SHARE`, whatever ``top_share`` is reported.

    Raises
    ------
    ConfigError
        If the dates are not ``datetime.date`` values with ``calibration_end < as_of``,
        or ``top_share`` is not in ``(0, 1]``.
    ColumnMappingError
        If ``tx`` lacks a canonical column the features need.

    Examples
    --------
    >>> import datetime
    >>> import ibis
    >>> days = [datetime.datetime(2024, 1, 1) + datetime.timedelta(days=d) for d in range(60)]
    >>> tx = ibis.memtable(
    ...     {
    ...         "customer_id": [f"c{d % 3}" for d in range(60)],
    ...         "timestamp": days,
    ...         "amount": [10.0 * (1 + d % 3) for d in range(60)],
    ...     }
    ... )
    >>> result = capture_comparison(
    ...     tx, calibration_end=datetime.date(2024, 1, 31), as_of=datetime.date(2024, 2, 29)
    ... )
    >>> sorted(result["capture"])
    ['best_possible', 'btyd', 'combined', 'core_score', 'historic_spend']
    >>> result["capture"]["btyd"] is None, result["core_score"]
    (True, 'historic_spend')
    """
    check_dates(as_of, calibration_end)
    if calibration_end >= as_of:
        raise ConfigError(
            f"as_of ({as_of}) must be after calibration_end ({calibration_end}): the "
            "holdout whose revenue is captured runs from calibration_end to as_of."
        )
    _check_share(top_share)
    days_per(time_unit)  # refuse an unknown unit before any work
    horizon = (as_of - calibration_end).days
    scored = _score(
        tx, cut=calibration_end, horizon_days=horizon, time_unit=time_unit, target_end=as_of
    )
    return _capture_report(scored, calibration_end, as_of, time_unit, top_share)


def _capture_report(
    scored: _Scored,
    calibration_end: datetime.date,
    as_of: datetime.date,
    time_unit: TimeUnit,
    top_share: float,
) -> dict[str, Any]:
    """The holdout capture of ``scored``'s rankings (see :func:`capture_comparison`)."""
    frame = scored.frame
    if frame.target is None:
        raise ValueError("the frame was built without a holdout revenue")
    revenue = frame.target
    capture = {
        "historic_spend": captured_share(frame.historic_spend, revenue, top_share),
        "btyd": None
        if scored.btyd_value is None
        else captured_share(scored.btyd_value, revenue, top_share),
        "combined": None
        if scored.combined is None
        else captured_share(scored.combined, revenue, top_share),
        "core_score": captured_share(scored.core_score, revenue, top_share),
        "best_possible": captured_share(revenue, revenue, top_share),
    }
    return {
        "calibration_end": calibration_end.isoformat(),
        "as_of": as_of.isoformat(),
        "holdout_days": (as_of - calibration_end).days,
        "time_unit": time_unit,
        "top_share": top_share,
        "customers": frame.n,
        "top_customers": top_count(frame.n, top_share),
        "holdout_revenue": float(np.sum(revenue)),
        "capture": capture,
        "core_score": scored.method,
        "reason": scored.reason,
        **scored.details,
    }


def core_scores(
    tx: ir.Table,
    *,
    as_of: datetime.date,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    time_unit: TimeUnit = "week",
) -> CoreScores:
    """Per-customer ``core_score`` at ``as_of``, when no holdout is set aside.

    The BTYD x Gamma-Gamma models are fitted on all the transactions up to ``as_of`` and
    predict each customer's net revenue over the next ``horizon_days``. The combined
    ranking is trained on the window before ``as_of`` (features up to ``as_of - L``,
    target the revenue in ``(as_of - L, as_of]``), validated one window earlier and used
    only when it beats the BTYD ranking there, as the module docstring describes; ``L``
    is ``horizon_days``, or a third of the history when that is shorter than
    ``3 * horizon_days``.

    Parameters
    ----------
    tx
        Canonical transactions (``docs/CONTRACTS.md``) on any Ibis backend.
    as_of
        Last day (inclusive) observed; the scores describe the customers on that day.
    horizon_days
        Days ahead whose revenue the scores predict (positive).
    time_unit
        Unit of ``recency`` and ``T`` for the BTYD fit.

    Returns
    -------
    CoreScores
        The per-customer table (every customer who bought on or before ``as_of``), the
        chosen method, the reason and the validation figures.

    Raises
    ------
    ConfigError
        If ``as_of`` is not a ``datetime.date`` or ``horizon_days`` is not positive.
    ColumnMappingError
        If ``tx`` lacks a canonical column the features need.

    Examples
    --------
    >>> import datetime
    >>> import ibis
    >>> tx = ibis.memtable(
    ...     {
    ...         "customer_id": ["a", "a", "b"],
    ...         "timestamp": [datetime.datetime(2024, 1, d) for d in (1, 20, 5)],
    ...         "amount": [10.0, 30.0, 5.0],
    ...     }
    ... )
    >>> scores = core_scores(tx, as_of=datetime.date(2024, 1, 31))
    >>> scores.method, scores.table.column("core_score").to_pylist()
    ('historic_spend', [40.0, 5.0])
    """
    check_dates(as_of, None)
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int) or horizon_days < 1:
        raise ConfigError(
            f"horizon_days must be a positive whole number of days, got {horizon_days!r}."
        )
    scored = _score(tx, cut=as_of, horizon_days=horizon_days, time_unit=time_unit, target_end=None)
    details = {"as_of": as_of.isoformat(), "horizon_days": horizon_days, **scored.details}
    return CoreScores(_score_table(scored), scored.method, scored.reason, details)


def rank_customers(
    tx: ir.Table,
    *,
    features: pa.Table,
    fitted: FittedValue | None,
    cut: datetime.date,
    time_unit: TimeUnit = "week",
    holdout_end: datetime.date | None = None,
    top_share: float = TOP_SHARE,
    behaviour: pa.Table | None = None,
    shifted: ShiftedRows | None = None,
    frame: Frame | None = None,
) -> CoreScores:
    """The core ranking of an analysis, from the features and models it already has.

    The same procedure as :func:`core_scores`, but the customers at ``cut`` are
    ``features`` (the analysis' per-customer features there) and their BTYD prediction
    comes from ``fitted`` -- the analysis' configured (or selected) transaction model,
    penalizer and CLV horizon -- so nothing is computed or fitted twice. Only the two
    earlier cuts of the time-shifted training fit models, of the same kinds and penalty,
    each starting from the fit one window later (the first from ``fitted``).
    Without ``fitted`` (no model in the analysis) customers are ranked by historic spend.

    With ``holdout_end`` (the analysis' as-of date after a calibration end ``cut``) the
    result's ``capture`` reports, as :func:`capture_comparison` does, the share of the
    holdout revenue the top ``top_share`` of each ranking brought: the very ranking the
    analysis uses, so the figures describe its ``core_score``.

    ``behaviour`` (the analysis' :func:`~corecustomers.insights.behaviour.customer_behaviour`
    at ``cut``, materialised) gives the customers' distinct products there instead of
    counting them again. ``shifted`` (:func:`~corecustomers.insights.shifted.shifted_rows`)
    are the rows the two earlier cuts read: above
    :data:`~corecustomers.insights.shifted.SHIFTED_CUSTOMERS` customers, a sample's.
    ``frame`` is the frame at ``cut`` when it is built beside another step's
    (:func:`~corecustomers.insights._frames.frames_at_cut` with :func:`training_window`'s
    length, ``holdout_end`` as the target's end, ``features``, ``fitted`` and
    ``behaviour``): the same frame the ranking would build itself.

    Raises
    ------
    ConfigError
        If the dates are not ``datetime.date`` values with ``cut < holdout_end``, or
        ``top_share`` is not in ``(0, 1]``.
    ColumnMappingError
        If ``tx`` lacks a canonical column.
    """
    check_dates(cut, None)
    if holdout_end is not None:
        check_dates(holdout_end, cut)
        if cut >= holdout_end:
            raise ConfigError(f"holdout_end ({holdout_end}) must be after the cut ({cut}).")
    _check_share(top_share)
    horizon = fitted.horizon_days if fitted is not None else float(DEFAULT_HORIZON_DAYS)
    scored = _score(
        tx,
        cut=cut,
        horizon_days=horizon,
        time_unit=time_unit,
        target_end=holdout_end,
        new_models=fitted.new_models if fitted is not None else bgnbd,
        features=features,
        fitted=fitted,
        breadth=behaviour,
        shifted=shifted,
        frame=frame,
    )
    details = {
        "as_of": cut.isoformat(),
        "horizon_days": horizon,
        "model": fitted.model_name if fitted is not None else None,
        "penalizer": fitted.penalizer if fitted is not None else None,
        **scored.details,
    }
    capture = (
        None
        if holdout_end is None
        else _capture_report(scored, cut, holdout_end, time_unit, top_share)
    )
    return CoreScores(_score_table(scored), scored.method, scored.reason, details, capture)


def _score_table(scored: _Scored) -> pa.Table:
    """The per-customer table of :class:`CoreScores`."""
    frame = scored.frame
    return pa.table(
        {
            "customer_id": frame.customer_id,
            "core_score": pa.array(scored.core_score, pa.float64()),
            "btyd_value": pa.array(
                np.zeros(frame.n) if scored.btyd_value is None else scored.btyd_value,
                pa.float64(),
                mask=np.full(frame.n, scored.btyd_value is None),
            ),
            "historic_spend": pa.array(frame.historic_spend, pa.float64()),
        }
    )


# -- the procedure ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Scored:
    frame: Frame
    btyd_value: FloatArray | None
    core_score: FloatArray
    combined: FloatArray | None
    method: Method
    reason: str
    details: dict[str, Any]


def _score(
    tx: ir.Table,
    *,
    cut: datetime.date,
    horizon_days: float,
    time_unit: TimeUnit,
    target_end: datetime.date | None,
    new_models: ModelFactory = bgnbd,
    features: pa.Table | None = None,
    fitted: FittedValue | None = None,
    breadth: pa.Table | None = None,
    shifted: ShiftedRows | None = None,
    frame: Frame | None = None,
) -> _Scored:
    """Frame at ``cut``, the BTYD and combined rankings, and the choice between them.

    With ``features`` and ``fitted`` (the analysis' features and models at ``cut``) the
    frame at ``cut`` reuses them; only the two earlier cuts of the time-shifted training
    compute features and fit models (made by ``new_models``), from ``shifted``'s rows
    when given (a sample of the customers: :mod:`corecustomers.insights.shifted`).
    ``frame``, when given, is the frame at ``cut`` already built (see
    :func:`rank_customers`).
    """
    _check_columns(tx)
    has_product = "product" in tx.columns
    history, window = _window(tx, cut=cut, horizon_days=horizon_days, features=features)
    notes: list[str] = []

    def frame_at(
        at: datetime.date, end: datetime.date | None, rows: ir.Table = tx, **given: Any
    ) -> Frame:
        return build_frame(
            rows,
            cut=at,
            target_end=end,
            window_days=max(window, 1),
            time_unit=time_unit,
            has_product=has_product,
            notes=notes,
            new_models=new_models,
            **given,
        )

    if frame is None:
        frame = frame_at(cut, target_end, features=features, fitted=fitted, breadth=breadth)
    details: dict[str, Any] = {
        "training_window_days": window,
        "validation": None,
        "shifted_sample": None if shifted is None else shifted.customers,
    }
    earlier_rows = tx if shifted is None else shifted.transactions
    if frame.btyd is None:
        details["warnings"] = notes
        return _Scored(
            frame,
            None,
            frame.historic_spend,
            None,
            "historic_spend",
            "the BTYD models could not be fitted (fewer than "
            f"{MIN_CUSTOMERS} customers or repeat buyers, or a failed fit), so customers "
            "are ranked by historic spend",
            details,
        )
    btyd_value = frame.btyd.value(horizon_days)

    combined: FloatArray | None = None
    validation: dict[str, Any] | None = None
    problem = ""
    if window < MIN_WINDOW_DAYS:
        problem = (
            f"the history before {cut} ({history} days) is too short for time-shifted "
            f"training and validation windows of at least {MIN_WINDOW_DAYS} days"
        )
    else:
        step = datetime.timedelta(days=window)
        # each earlier cut's fit starts from the next later one's: the same customers a
        # window apart, so the optimum is near, and a short history whose likelihood
        # rises along a ridge is not followed towards the boundary
        later = frame_at(cut - step, cut, earlier_rows, start=frame.btyd)
        earlier = frame_at(
            cut - 2 * step,
            cut - step,
            earlier_rows,
            start=later.btyd if later.btyd is not None else frame.btyd,
        )
        problem = _unusable(earlier, "validation") or _unusable(later, "training")
        if not problem:
            names = MODEL_FEATURES + (("n_products",) if has_product else ())
            # the later split is scored in the validation and trained on for the cut:
            # its inputs are built once
            inputs = later.rounded_inputs(names, window)
            validation = _validate(earlier, later, names, window, inputs)
            validation.update(
                features_end=(cut - 2 * step).isoformat(),
                scored_at=(cut - step).isoformat(),
                revenue_window=[(cut - step).isoformat(), cut.isoformat()],
            )
            # the combined ranking at the cut is needed when it won the validation, or
            # to report its capture on a holdout; otherwise nothing reads it
            if target_end is not None or _won(validation):
                combined = fit_and_predict(later, frame, names, window, train_inputs=inputs)
    details["validation"] = validation
    details["warnings"] = notes
    if validation is None:
        reason = (
            f"no combined ranking was trained: {problem}; customers are ranked by the "
            "BTYD prediction"
        )
        return _Scored(frame, btyd_value, btyd_value, combined, "btyd", reason, details)
    won = _won(validation)
    reason = (
        f"in the time-shifted validation (trained on features up to "
        f"{validation['features_end']}, scored at {validation['scored_at']} against the "
        f"revenue up to {cut}) the combined ranking's top {TOP_SHARE:.0%} captured "
        f"{validation['combined']:.2%} of the revenue against {validation['btyd']:.2%} for "
        f"the BTYD ranking, and did better in {validation['bootstrap_share_better']:.0%} of "
        f"{BOOTSTRAP_REPLICATES} bootstrap resamples of the customers "
        f"({'at least' if won else 'fewer than'} the {REQUIRED_CONFIDENCE:.0%} required)"
    )
    if won and combined is not None:
        return _Scored(frame, btyd_value, combined, combined, "combined", reason, details)
    return _Scored(frame, btyd_value, btyd_value, combined, "btyd", reason, details)


def training_window(features: pa.Table, *, cut: datetime.date, horizon_days: float) -> int:
    """The frames' window length (days) of the ranking of ``features`` at ``cut``: the
    horizon, or a third of the history when that is shorter (at least 1)."""
    return max(_window(None, cut=cut, horizon_days=horizon_days, features=features)[1], 1)


def _window(
    tx: ir.Table | None,
    *,
    cut: datetime.date,
    horizon_days: float,
    features: pa.Table | None,
) -> tuple[int, int]:
    """The days of history before ``cut`` and the training window ``L`` (days): the
    horizon, or a third of the history when that is shorter."""
    if features is not None:
        first = first_day(features)
    elif tx is not None:
        first = first_purchase_day(tx, cut)
    else:
        raise ValueError("the history is read from the features or the transactions")
    history = 0 if first is None else (cut - first).days
    return history, int(min(horizon_days, history // 3))


def _won(validation: dict[str, Any]) -> bool:
    """Whether the combined ranking beat the BTYD one often enough in the validation."""
    return bool(validation["bootstrap_share_better"] >= REQUIRED_CONFIDENCE)


def _validate(
    earlier: Frame,
    later: Frame,
    names: tuple[str, ...],
    window: int,
    later_inputs: FloatArray | None = None,
) -> dict[str, Any]:
    """Train on the earlier split, score the later one, compare with its BTYD ranking
    (``later_inputs``: the later split's :meth:`~Frame.rounded_inputs`, when built)."""
    if later.target is None or later.btyd is None:
        raise ValueError("the later split needs a target and BTYD values to be validated on")
    revenue = later.target
    combined = fit_and_predict(earlier, later, names, window, apply_inputs=later_inputs)
    btyd = later.btyd.value(window)
    # each ranking sorted once, for its capture and its bootstrap ranks
    orders = (descending(combined), descending(btyd))
    better = bootstrap_better(combined, btyd, revenue, top_count(later.n, TOP_SHARE), orders)
    return {
        "method": "time-shifted",
        "customers": later.n,
        "combined": captured_share(combined, revenue, TOP_SHARE, orders[0]),
        "btyd": captured_share(btyd, revenue, TOP_SHARE, orders[1]),
        "historic_spend": captured_share(later.historic_spend, revenue, TOP_SHARE),
        "bootstrap_share_better": better / BOOTSTRAP_REPLICATES,
    }


def _unusable(frame: Frame, name: str) -> str:
    """Why ``frame`` cannot train or validate a model ('' when it can)."""
    if frame.n < MIN_CUSTOMERS:
        return f"the {name} split has {frame.n} customers (fewer than {MIN_CUSTOMERS})"
    if frame.btyd is None:
        return f"the BTYD models could not be fitted on the {name} split"
    if frame.target is None or not float(np.sum(frame.target)) > 0.0:
        return f"the {name} split has no revenue in its target window"
    return ""


def _check_share(share: float) -> None:
    if not 0.0 < share <= 1.0:
        raise ConfigError(f"top_share must be in (0, 1], got {share!r}; e.g. 0.2 for 20 %.")


def _check_columns(tx: ir.Table) -> None:
    missing = [name for name in ("customer_id", "timestamp", "amount") if name not in tx.columns]
    if missing:
        raise ColumnMappingError(
            f"the transactions lack {', '.join(missing)}; map the source columns to the "
            "canonical names (see docs/CONTRACTS.md) before ranking customers.",
            column=missing[0],
        )
