"""Early warnings (流失预警): core customers at risk, ranked by the value at stake.

A core customer is about to be lost long before the books show it: they stop coming at
their usual pace, they spend less each quarter, the model's probability that they are
still active drops, or they say they are unhappy. :func:`early_warnings` checks every core
customer against four rules and flags those that trip at least one, each with machine
codes and a sentence in English and Chinese, and ranks the flagged ones by what the
business stands to lose. The rules and their sentences are
:mod:`corecustomers.insights.alert_reasons`; the thresholds and the ``[alerts]`` settings
are :mod:`corecustomers.insights.alert_settings` (both re-exported here).

The rules (thresholds in :class:`AlertThresholds`)
--------------------------------------------------
``p_alive_drop``
    P(alive) fell by more than ``p_alive_drop`` (default 0.20, in probability points)
    between the previous snapshot and now. Needs ``p_alive`` in the scored customers and a
    previous snapshot (``customer_id, p_alive``); skipped otherwise.
``overdue``
    Days since the last purchase above ``overdue_ratio`` (default 2.0) times the usual gap
    between purchase days. The usual gap is the customer's own mean gap
    (``overdue_ratio`` of :func:`~corecustomers.insights.behaviour.customer_behaviour`)
    when they have at least ``min_purchase_days`` (default 3) purchase days, so that their
    rhythm rests on at least two gaps. A customer with a shorter history has no rhythm of
    their own yet; with ``typical_gap_fallback`` (the default) they are held to the
    *typical* gap instead -- the median mean gap of all the customers of the behaviour
    table who do have ``min_purchase_days`` -- because a core customer who bought once
    and stayed away twice as long as regulars take between purchases is the first to be
    lost (on the CDNOW sample, 84 % of such one-time core buyers did not return).
``spend_decline``
    ``spend_trend`` (the slope of net spend over the last 90-day windows) negative *and*
    the last 90 days' net spend below ``spend_drop_share`` (default 0.50) of the previous
    90 days', which must be positive.
``satisfaction_drop``
    Satisfaction fell by at least ``satisfaction_drop`` (default 1.0, in the survey's
    points) between two survey tables (``customer_id, satisfaction``). A hook for the
    service's surveys; skipped when either table is absent.

Who is core
-----------
:func:`core_customers`: customers whose ``tier`` is one of the core tiers (default
``strategic`` and ``key``) when the table has a ``tier`` column, otherwise those in ABC
class A (重点客户).

Value at stake
--------------
``clv`` when the scored customers have it (predicted future value is what a loss costs),
otherwise -- and for any customer whose ``clv`` is missing -- the net spend of the trailing
twelve months (``spend_last_365d`` of the behaviour table). Negative values count as 0.

Measuring the list
------------------
An alert list is worth having only if the customers on it really are less likely to come
back. :func:`evaluate_alerts` compares, over a holdout period after the as-of day, the
activity of alerted core customers with that of the other core customers.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.errors import ConfigError, InputError
from corecustomers.insights.alert_reasons import (
    REASON_CODES,
    BoolArray,
    FloatArray,
    Phrases,
    behaviour_arrays,
    customer_ids,
    floats,
    known,
    overdue_reason,
    p_alive_drop_reason,
    reason_columns,
    rhythm,
    rhythm_reason,
    risk_reason,
    satisfaction_drop_reason,
    spend_decline_reason,
)
from corecustomers.insights.alert_settings import (
    ALERT_METHODS,
    AlertMethod,
    AlertSettings,
    AlertThresholds,
)

__all__ = [
    "ALERT_COLUMNS",
    "ALERT_METHODS",
    "CORE_TIERS",
    "MIN_P_ALIVE",
    "REASON_CODES",
    "AlertMethod",
    "AlertSettings",
    "AlertThresholds",
    "alert_budget",
    "alert_eligible",
    "core_customers",
    "early_warnings",
    "evaluate_alerts",
    "pick",
]

logger = logging.getLogger(__name__)

CORE_TIERS: Final = ("strategic", "key")
"""Tiers whose customers are core by default (战略客户, 重点客户)."""

ALERT_COLUMNS: Final = (
    "customer_id",
    "core",
    "alert",
    "alert_reason",
    "alert_reason_en",
    "alert_reason_zh",
    "value_at_stake",
    "alert_rank",
    "churn_risk",
)
"""Columns of :func:`early_warnings`, in order."""

MIN_P_ALIVE: Final = 0.05
"""Floor of P(alive) in the value at stake ``clv / P(alive)``."""


def alert_eligible(
    behaviour: pa.Table,
    customer_id: Sequence[str],
    *,
    thresholds: AlertThresholds,
    min_idle_days: int,
    min_overdue_ratio: float,
) -> BoolArray:
    """Which of ``customer_id`` may be alerted: idle at least ``min_idle_days`` and at
    least ``min_overdue_ratio`` times their usual gap (as :func:`early_warnings` decides).
    """
    ids = pa.array([str(i) for i in customer_id], pa.string())
    beh = behaviour_arrays(behaviour, ids, thresholds.min_purchase_days)
    r = rhythm(beh, thresholds)
    return ~(known(r.idle, np.inf) < min_idle_days) & ~(known(r.ratio) < min_overdue_ratio)


def alert_budget(n_core: int, max_share_of_core: float) -> int:
    """Most alerts allowed for ``n_core`` core customers: the share, rounded down.

    >>> alert_budget(922, 0.10), alert_budget(9, 0.10)
    (92, 0)
    """
    return math.floor(max_share_of_core * n_core + 1e-9)


def pick(
    candidates: BoolArray,
    keys: Sequence[FloatArray],
    ids: Sequence[str] | NDArray[np.object_] | pa.Array,
    limit: int | None,
) -> BoolArray:
    """The first ``limit`` candidates by ``keys`` (each descending, NaN last), then id.

    Nothing depends on the row order: equal keys are broken by ``customer_id``.

    >>> import numpy as np
    >>> pick(np.array([True, True, True]), [np.array([1.0, 3.0, 3.0])], ["a", "c", "b"], 2)
    array([False,  True,  True])
    """
    flags = np.asarray(candidates, dtype=bool)
    at = np.flatnonzero(flags)
    if limit is None or len(at) <= limit:
        return flags.copy()
    chosen = (
        ids.take(pa.array(at)).cast(pa.string())
        if isinstance(ids, pa.Array)
        else pa.array([str(i) for i in np.asarray(ids, dtype=object)[at]], pa.string())
    )
    id_rank = np.asarray(pc.rank(chosen, "ascending"), dtype=np.int64)
    columns: list[NDArray[Any]] = [id_rank]
    for key in reversed(keys):
        values = np.asarray(key, dtype=np.float64)[at]
        columns.append(np.where(np.isnan(values), np.inf, -values))
    order = at[np.lexsort(columns)]
    out = np.zeros(len(flags), dtype=bool)
    out[order[: max(limit, 0)]] = True
    return out


def core_customers(scored: pa.Table, *, core_tiers: Sequence[str] = CORE_TIERS) -> BoolArray:
    """Return which scored customers are core.

    Parameters
    ----------
    scored
        The scored customers (``docs/CONTRACTS.md``), with a ``tier`` or an ``abc_class``
        column.
    core_tiers
        The tiers that count as core when ``scored`` has a ``tier`` column.

    Returns
    -------
    numpy.ndarray of bool
        One flag per row of ``scored``: ``tier`` in ``core_tiers`` when there is a tier
        column, else ``abc_class == "A"``. Missing values are not core.

    Raises
    ------
    InputError
        If ``scored`` has neither ``tier`` nor ``abc_class``.

    Examples
    --------
    >>> import pyarrow as pa
    >>> core_customers(pa.table({"abc_class": ["A", "B", None]})).tolist()
    [True, False, False]
    >>> scored = pa.table({"tier": ["key", "ordinary"], "abc_class": ["B", "A"]})
    >>> core_customers(scored).tolist()
    [True, False]
    """
    if "tier" in scored.column_names:
        flags = pc.is_in(scored["tier"].cast(pa.string()), value_set=pa.array(list(core_tiers)))
    elif "abc_class" in scored.column_names:
        flags = pc.equal(scored["abc_class"].cast(pa.string()), "A")
    else:
        raise InputError(
            "the scored customers have neither a 'tier' nor an 'abc_class' column; run the "
            "tiers or the ABC classification first, so that the core customers are known.",
            column="tier",
        )
    return np.asarray(pc.fill_null(flags, False).to_numpy(zero_copy_only=False), dtype=bool)


def early_warnings(
    scored: pa.Table,
    behaviour: pa.Table,
    *,
    previous: pa.Table | None = None,
    satisfaction: pa.Table | None = None,
    previous_satisfaction: pa.Table | None = None,
    thresholds: AlertThresholds | None = None,
    core_tiers: Sequence[str] = CORE_TIERS,
    risk: FloatArray | None = None,
    method: AlertMethod = "rules",
    min_risk: float | None = None,
    max_share_of_core: float | None = None,
    min_idle_days: int = 0,
    min_overdue_ratio: float = 0.0,
    risk_window_days: int = 90,
    value_if_kept: bool = False,
) -> pa.Table:
    """Flag the core customers at risk, with reasons, ranked by the value at stake.

    By default (``method="rules"``, no budget) every core customer for whom a rule trips
    is alerted, as before the churn risk existed. The analysis passes the calibrated
    ``risk`` and its settings (:class:`AlertSettings`): with ``method="risk"`` a core
    customer needs ``risk >= min_risk`` first; ``"p_alive"`` and ``"recency"`` take the
    core customers by lowest P(alive) or longest idle; then the list is ordered (by the
    value at stake for ``risk`` and ``rules``) and cut at ``max_share_of_core`` of the
    core customers (:func:`alert_budget`). Customers who bought fewer than
    ``min_idle_days`` ago, or whose days since the last purchase are below
    ``min_overdue_ratio`` times their usual gap (their own, or the typical one: see the
    overdue rule), are never alerted: they are on their usual pace. The reason names the
    risk (when given) and the signals that tripped -- or, when none did, the customer's
    rhythm.

    With ``value_if_kept`` (what the analysis uses) the value at stake is the value the
    customer brings *if they stay*, ``clv / P(alive)`` (P(alive) floored at
    :data:`MIN_P_ALIVE`): the CLV itself is already discounted by the risk of losing
    them, so ordering at-risk customers by it would put those the model believes are
    still active first.

    Parameters
    ----------
    scored
        The scored customers (``docs/CONTRACTS.md``): ``customer_id``, ``tier`` or
        ``abc_class``, and optionally ``p_alive`` and ``clv``.
    behaviour
        :func:`~corecustomers.insights.behaviour.customer_behaviour`, materialised, at the
        same as-of day. Customers missing from it trip no rhythm or spend rule.
    previous
        The previous snapshot, ``customer_id, p_alive``; without it (or without
        ``p_alive`` in ``scored``) the ``p_alive_drop`` rule is skipped.
    satisfaction, previous_satisfaction
        Survey results now and before, each ``customer_id, satisfaction``; the
        ``satisfaction_drop`` rule runs only when both are given.
    thresholds
        The rule thresholds; :class:`AlertThresholds` defaults when ``None``.
    core_tiers
        The tiers that are core (:func:`core_customers`).

    Returns
    -------
    pyarrow.Table
        One row per row of ``scored``, in its order, with the columns

        ``customer_id`` (string)
            The customer.
        ``core`` (bool)
            Whether the customer is core; only core customers are alerted.
        ``alert`` (bool)
            A core customer for whom at least one rule tripped.
        ``alert_reason`` (string)
            The codes of the rules that tripped (:data:`REASON_CODES` order), joined by
            ``","``; null without an alert.
        ``alert_reason_en``, ``alert_reason_zh`` (string)
            The same as a sentence with the values that crossed each threshold; null
            without an alert.
        ``value_at_stake`` (float64)
            ``clv`` (or, when absent, the trailing twelve months' net spend), at least 0.
        ``alert_rank`` (int64)
            1 for the alerted customer with the most value at stake, then 2, ...
            (ties by ``customer_id``); null without an alert.
        ``churn_risk`` (float64)
            ``risk`` as given; null without it.

    Raises
    ------
    InputError
        If a table lacks a column it needs or repeats a customer.

    Examples
    --------
    >>> import pyarrow as pa
    >>> scored = pa.table({
    ...     "customer_id": ["a", "b", "c"],
    ...     "abc_class": ["A", "A", "C"],
    ...     "p_alive": [0.40, 0.95, 0.10],
    ...     "clv": [800.0, 1200.0, 5.0],
    ... })
    >>> behaviour = pa.table({
    ...     "customer_id": ["a", "b", "c"],
    ...     "n_purchase_days": [6, 9, 1],
    ...     "days_since_last_purchase": [90, 7, 200],
    ...     "mean_gap_days": [30.0, 14.0, None],
    ...     "overdue_ratio": [3.0, 0.5, None],
    ...     "spend_last_90d": [40.0, 300.0, 0.0],
    ...     "spend_prev_90d": [200.0, 280.0, 0.0],
    ...     "spend_trend": [-50.0, 10.0, -1.0],
    ...     "spend_last_365d": [500.0, 1100.0, 5.0],
    ... })
    >>> previous = pa.table({"customer_id": ["a", "b"], "p_alive": [0.90, 0.97]})
    >>> out = early_warnings(scored, behaviour, previous=previous)
    >>> out.column("alert").to_pylist(), out.column("alert_rank").to_pylist()
    ([True, False, False], [1, None, None])
    >>> out.column("alert_reason")[0].as_py()
    'p_alive_drop,overdue,spend_decline'
    >>> print(out.column("alert_reason_en")[0].as_py())
    At risk: probability of being active fell from 0.90 to 0.40; 90 days since the last \
purchase, 3.0 times the usual gap of 30 days; net spend in the last 90 days 40.00, 20 % of \
the previous 90 days (200.00), and falling.
    >>> print(out.column("alert_reason_zh")[0].as_py())
    流失预警：活跃概率从0.90降至0.40；距上次购买已90天，是平常购买间隔（30天）的3.0倍；近90天净消费\
40.00，仅为前90天（200.00）的20%，呈下降趋势。
    """
    limits = AlertThresholds() if thresholds is None else thresholds
    ids = customer_ids(scored, "scored customers")
    core = core_customers(scored, core_tiers=core_tiers)
    n = len(ids)
    beh = behaviour_arrays(behaviour, ids, limits.min_purchase_days)

    reasons: dict[str, Phrases] = {}
    if previous is not None and "p_alive" in scored.column_names:
        reasons["p_alive_drop"] = p_alive_drop_reason(scored, ids, previous, limits)
    elif previous is None:
        logger.info("no previous snapshot: the p_alive_drop alert rule is skipped")
    else:
        logger.info("the scored customers have no p_alive: the p_alive_drop rule is skipped")
    r = rhythm(beh, limits)
    reasons["overdue"] = overdue_reason(r)
    reasons["spend_decline"] = spend_decline_reason(beh, limits)
    if satisfaction is not None and previous_satisfaction is not None:
        reasons["satisfaction_drop"] = satisfaction_drop_reason(
            ids, satisfaction, previous_satisfaction, limits
        )
    elif satisfaction is not None or previous_satisfaction is not None:
        logger.info("only one satisfaction survey: the satisfaction_drop rule is skipped")

    tripped = np.logical_or.reduce(
        [reasons[c].hit for c in REASON_CODES if c in reasons], initial=False
    ) & np.ones(n, dtype=bool)
    stake = _value_at_stake(scored, beh["spend_last_365d"], value_if_kept)
    eligible = ~(known(r.idle, np.inf) < min_idle_days) & ~(known(r.ratio) < min_overdue_ratio)
    risk_known = None if risk is None else np.asarray(risk, dtype=np.float64)
    if risk_known is not None and len(risk_known) != n:
        raise InputError(
            f"risk must have one value per scored customer ({n}), got {len(risk_known)}"
        )
    budget = None if max_share_of_core is None else alert_budget(int(core.sum()), max_share_of_core)
    if method == "risk":
        if risk_known is None or min_risk is None:
            raise ConfigError("the 'risk' alert method needs the churn risk and min_risk")
        candidates = core & eligible & (known(risk_known, -1.0) >= min_risk)
        alert = pick(candidates, [stake], ids, budget)
    elif method == "p_alive":
        if "p_alive" not in scored.column_names:
            raise InputError("the 'p_alive' alert method needs p_alive", column="p_alive")
        p_alive = floats(scored["p_alive"], np.arange(n))
        alert = pick(core & eligible, [1.0 - p_alive, stake], ids, budget)
    elif method == "recency":
        alert = pick(core & eligible, [r.idle, stake], ids, budget)
    else:
        alert = pick(core & eligible & tripped, [stake], ids, budget)
    order: list[str] = [c for c in REASON_CODES if c in reasons]
    if risk_known is not None:
        reasons["churn_risk"] = risk_reason(risk_known, risk_window_days)
        order.insert(0, "churn_risk")
    # when no rule tripped, the reason names the customer's rhythm instead
    reasons["recency"] = rhythm_reason(alert & ~tripped & ~np.isnan(r.idle), r)
    order.append("recency")
    codes, en, zh = reason_columns(alert, reasons, order)
    return pa.table(
        {
            "customer_id": ids,
            "core": pa.array(core, pa.bool_()),
            "alert": pa.array(alert, pa.bool_()),
            "alert_reason": pa.array(codes, pa.string()),
            "alert_reason_en": pa.array(en, pa.string()),
            "alert_reason_zh": pa.array(zh, pa.string()),
            "value_at_stake": pa.array(stake, pa.float64()),
            "alert_rank": _ranks(alert, stake, ids),
            "churn_risk": pa.array(
                np.zeros(n) if risk_known is None else np.nan_to_num(risk_known),
                pa.float64(),
                mask=np.ones(n, dtype=bool) if risk_known is None else np.isnan(risk_known),
            ),
        }
    )


def evaluate_alerts(alerted: Any, core: Any, holdout_purchases: Any) -> dict[str, Any]:
    """Compare the holdout activity of alerted and non-alerted core customers.

    Parameters
    ----------
    alerted
        One flag per customer: on the alert list at the as-of day.
    core
        One flag per customer: core at the as-of day. Only core customers are compared.
    holdout_purchases
        Purchases (e.g. purchase days, ``frequency_holdout``) of each customer in a
        holdout period after the as-of day; a customer with at least one is *active*.
        Booleans are accepted (active or not).

    Returns
    -------
    dict
        JSON-ready (plain ``int``, ``float`` or ``None``):

        ``n_core``, ``n_alerted``, ``n_not_alerted``
            Core customers, alerted and not.
        ``alerted_active_rate``, ``not_alerted_active_rate``
            Share of each group with at least one holdout purchase.
        ``alerted_mean_purchases``, ``not_alerted_mean_purchases``
            Mean holdout purchases of each group.
        ``precision``
            Share of alerted core customers with no holdout purchase (the alert was
            right), ``1 - alerted_active_rate``.
        ``base_inactive_rate``
            Share of all core customers with no holdout purchase: the precision of
            alerting core customers at random.
        ``lift``
            ``precision / base_inactive_rate``.
        ``active_rate_ratio``
            ``alerted_active_rate / not_alerted_active_rate``: below 1 when the alerted
            customers are indeed less active.

        A figure whose group is empty (or whose denominator is 0) is ``None``.

    Raises
    ------
    InputError
        If the arrays differ in length or a count is negative or missing.

    Examples
    --------
    >>> report = evaluate_alerts(
    ...     alerted=[True, True, False, False, False, True],
    ...     core=[True, True, True, True, False, False],
    ...     holdout_purchases=[0, 1, 2, 3, 0, 0],
    ... )
    >>> report["alerted_active_rate"], report["not_alerted_active_rate"]
    (0.5, 1.0)
    >>> report["precision"], report["base_inactive_rate"], report["lift"]
    (0.5, 0.25, 2.0)
    """
    flags = _flags(alerted, "alerted")
    is_core = _flags(core, "core")
    counts = np.asarray(holdout_purchases, dtype=np.float64)
    if counts.ndim != 1 or not (len(flags) == len(is_core) == len(counts)):
        raise InputError(
            f"alerted, core and holdout_purchases must be one value per customer, got "
            f"lengths {len(flags)}, {len(is_core)} and {counts.size}."
        )
    if not np.isfinite(counts).all() or (counts < 0).any():
        raise InputError(
            "holdout_purchases must be non-negative counts with no missing values; fill "
            "customers without holdout purchases with 0.",
            column="holdout_purchases",
        )
    active = counts > 0
    in_alert = is_core & flags
    not_alert = is_core & ~flags

    def mean(values: NDArray[Any], mask: BoolArray) -> float | None:
        return float(values[mask].mean()) if mask.any() else None

    alerted_active = mean(active, in_alert)
    other_active = mean(active, not_alert)
    core_active = mean(active, is_core)
    precision = None if alerted_active is None else 1.0 - alerted_active
    base = None if core_active is None else 1.0 - core_active
    return {
        "n_core": int(is_core.sum()),
        "n_alerted": int(in_alert.sum()),
        "n_not_alerted": int(not_alert.sum()),
        "alerted_active_rate": alerted_active,
        "not_alerted_active_rate": other_active,
        "alerted_mean_purchases": mean(counts, in_alert),
        "not_alerted_mean_purchases": mean(counts, not_alert),
        "precision": precision,
        "base_inactive_rate": base,
        "lift": _ratio(precision, base),
        "active_rate_ratio": _ratio(alerted_active, other_active),
    }


# --- helpers ---------------------------------------------------------------------------


def _value_at_stake(scored: pa.Table, trailing_year: FloatArray, if_kept: bool) -> FloatArray:
    stake = known(trailing_year, 0.0)
    if "clv" in scored.column_names:
        clv = floats(scored["clv"], np.arange(scored.num_rows))
        if if_kept and "p_alive" in scored.column_names:
            alive = floats(scored["p_alive"], np.arange(scored.num_rows))
            clv = clv / np.clip(known(alive, 1.0), MIN_P_ALIVE, 1.0)
        stake = np.where(np.isnan(clv), stake, clv)
    return np.maximum(stake, 0.0)


def _ranks(alert: BoolArray, stake: FloatArray, ids: pa.StringArray) -> pa.Array:
    """1, 2, ... over the alerted customers by value at stake (desc), then id; else null."""
    flagged = np.flatnonzero(alert)
    keys = pa.table(
        {
            "stake": pa.array(-stake[flagged], pa.float64()),
            "id": ids.take(pa.array(flagged)),
        }
    )
    order = flagged[pc.sort_indices(keys, [("stake", "ascending"), ("id", "ascending")])]
    ranks = np.zeros(len(alert), dtype=np.int64)
    ranks[order] = np.arange(1, len(order) + 1)
    return pa.array(ranks, pa.int64(), mask=~np.asarray(alert, dtype=bool))


def _flags(values: Any, name: str) -> BoolArray:
    if isinstance(values, pa.ChunkedArray | pa.Array):
        values = pc.fill_null(values, False).to_numpy(zero_copy_only=False)
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InputError(f"expected one flag per customer, got shape {arr.shape}", column=name)
    return arr.astype(bool)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator
