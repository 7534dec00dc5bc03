"""Is the alert list right? The choice of its method and threshold, and its measurement.

Two moments, one set of measures:

* **Before the list exists** -- :func:`choose_alerting` uses the time-shifted
  validation split of the churn risk (:mod:`corecustomers.insights.risk`: the customers
  ``N`` days before the cut, whose next ``N`` days are known) to choose the risk an alert
  needs (the smallest of :data:`RISK_GRID` at which the list -- high risk first, then by
  value at stake, cut at the budget -- is at least as precise as the best baseline of
  the same size; the baselines are 1 - P(alive), days since the last purchase and the
  previous rule set). The list is the risk list whenever there is a churn risk (the
  previous rule set without one); which score the risk is -- the classifier,
  1 - P(alive) or days since the last purchase -- is chosen before, by
  :func:`~corecustomers.insights.risk.churn_risk`, on the customers :func:`alertable`
  names. The core customers of that split are its top :data:`CORE_SHARE` by predicted
  value.
* **After the holdout** -- :func:`evaluate_alert_list` compares the run's list with the
  baselines at the same list size on what really happened (inactive = no purchase in
  the holdout), and :func:`calibration_table` / :func:`value_calibration` show whether
  the risk and the value models' numbers can be taken at their word.

Every figure is JSON-ready (plain ``int``, ``float`` or ``None``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from corecustomers.insights.alerts import (
    MIN_P_ALIVE,
    AlertMethod,
    AlertSettings,
    alert_budget,
    alert_eligible,
    early_warnings,
    pick,
)
from corecustomers.insights.risk import ChurnRisk, RiskFrame, auc

__all__ = [
    "CORE_SHARE",
    "RISK_GRID",
    "AlertChoice",
    "alertable",
    "average_precision",
    "calibration_table",
    "choose_alerting",
    "evaluate_alert_list",
    "list_figures",
    "value_calibration",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

CORE_SHARE: Final = 0.2
"""Share of the validation split's customers (by predicted value) taken as its core."""

RISK_GRID: Final = tuple(round(0.5 + 0.05 * k, 2) for k in range(10))
"""The thresholds tried on the validation split: 0.50, 0.55, ..., 0.95."""

BASELINES: Final = ("p_alive", "recency", "rules")
"""The baselines every list is compared with."""


@dataclass(frozen=True)
class AlertChoice:
    """The alert method and threshold, and the validation figures behind them."""

    method: AlertMethod
    min_risk: float | None
    reason: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "min_risk": self.min_risk,
            "reason": self.reason,
            **self.details,
        }


def average_precision(score: Any, positive: Any) -> float | None:
    """Average precision of ``score`` for ``positive``: the mean, over the positives, of
    the precision of the list down to their score. Customers with equal scores enter
    the list together (as in scikit-learn's ``average_precision_score``), so the figure
    does not depend on the customers' order: days since the last purchase ties
    thousands of them.

    >>> average_precision([0.9, 0.8, 0.1], [True, False, True])
    0.8333333333333333
    >>> average_precision([0.5, 0.5, 0.1], [True, False, True])  # the tie: 1/2, then 2/3
    0.5833333333333333
    """
    s = np.asarray(score, dtype=np.float64)
    y = np.asarray(positive, dtype=bool)
    ok = ~np.isnan(s)
    s, y = s[ok], y[ok]
    if not y.any():
        return None
    order = np.argsort(-s, kind="stable")
    s, hits = s[order], y[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    # each customer takes the precision at the last customer of its score
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True))
    block_end = last[np.searchsorted(last, np.arange(len(s)))]
    return float(precision[block_end][hits].mean())


def list_figures(
    listed: BoolArray, core: BoolArray, inactive: BoolArray, stake: FloatArray
) -> dict[str, Any]:
    """Precision, recall and value coverage of a list among the core customers."""
    on = listed & core
    lost = core & inactive
    n = int(on.sum())
    lost_value = float(np.sum(stake[lost]))
    return {
        "n": n,
        "precision": float(inactive[on].mean()) if n else None,
        "recall": float((on & inactive).sum() / lost.sum()) if lost.any() else None,
        "value_coverage": float(np.sum(stake[on & inactive]) / lost_value)
        if lost_value > 0
        else None,
    }


def _baseline_lists(
    k: int,
    *,
    core: BoolArray,
    p_alive: FloatArray,
    idle: FloatArray,
    stake: FloatArray,
    ids: Sequence[str] | NDArray[np.object_],
    rules: BoolArray,
) -> dict[str, BoolArray]:
    return {
        "p_alive": pick(core, [1.0 - p_alive, stake], ids, k),
        "recency": pick(core, [idle, stake], ids, k),
        "rules": pick(core & rules, [stake], ids, k),
    }


def choose_alerting(risk: ChurnRisk, settings: AlertSettings) -> AlertChoice:
    """The risk an alert needs, chosen on the time-shifted validation split.

    The list is always "risk at least the threshold, then by value at stake, cut at the
    budget"; the threshold is ``[alerts] min_risk`` when set, else the smallest of
    :data:`RISK_GRID` at which that list is right at least as often, on the validation
    split, as the best baseline of the same size (else the most precise). Without a
    churn risk the previous rule set makes the list.
    """
    if risk.method == "none":
        return AlertChoice(
            "rules", None, "no churn risk (no fitted model): the previous rule set makes the list"
        )
    frame, scores = risk.validation, risk.validation_risk
    if frame is None or scores is None or frame.inactive is None:
        t = settings.min_risk if settings.min_risk is not None else 0.5
        return AlertChoice(
            "risk",
            t,
            f"no time-shifted validation ({risk.reason}); alerts need a risk of at least {t:.2f}",
        )
    ids = _ids(frame)
    worth = frame.btyd.value(365.0)
    core = pick(np.ones(frame.n, dtype=bool), [worth], ids, math.ceil(CORE_SHARE * frame.n))
    # the value at stake, as in the analysis: the value if the customer stays
    value = worth / np.clip(frame.btyd.p_alive, MIN_P_ALIVE, 1.0)
    k = alert_budget(int(core.sum()), settings.max_share_of_core)
    inactive = frame.inactive
    idle = frame.inputs["days_since_last_purchase"]
    gate = alertable(settings)
    # the churn risk judged its scores on the same customers: their flags, not worked out
    # again, when it was given these gates (1.4 s at a million customers)
    eligible = (
        risk.validation_alertable
        if risk.validation_alertable is not None and risk.alertable == gate
        else gate(frame)
    )
    p_alive = frame.btyd.p_alive
    rules = _rule_hits(frame.behaviour, ids, core, p_alive, risk_change(frame), value, settings)
    base_at: dict[int, dict[str, BoolArray]] = {}

    def baselines(size: int) -> dict[str, BoolArray]:
        if size not in base_at:
            base_at[size] = _baseline_lists(
                size,
                core=core & eligible,
                p_alive=p_alive,
                idle=idle,
                stake=value,
                ids=ids,
                rules=rules,
            )
        return base_at[size]

    def precision(listed: BoolArray) -> float | None:
        return float(inactive[listed].mean()) if listed.any() else None

    grid: list[dict[str, Any]] = []
    for t in RISK_GRID if settings.min_risk is None else (settings.min_risk,):
        listed = pick(core & eligible & (scores >= t), [value], ids, k)
        m = int(listed.sum())
        best = max((precision(b) or 0.0) for b in baselines(m).values()) if m else None
        grid.append(
            {
                "min_risk": t,
                "alerts": m,
                "precision": precision(listed),
                "best_baseline_precision": best,
            }
        )
    filled = [g for g in grid if g["alerts"]]
    # a threshold is judged on a list of at least half the budget where one exists, not
    # on a handful of customers
    big = [g for g in filled if g["alerts"] >= max(1, k // 2)] or filled
    usable = [g for g in big if g["precision"] >= g["best_baseline_precision"] - 1e-12]
    if settings.min_risk is not None:
        row, why = grid[0], f"min_risk is set in [alerts] ({settings.min_risk:.2f})"
    elif usable:
        row = usable[0]
        why = (
            f"the smallest risk at which the validation list ({row['alerts']} alerts) was "
            f"right at least as often ({row['precision']:.0%}) as the best baseline of the "
            f"same size ({row['best_baseline_precision']:.0%})"
        )
    elif big:
        row = max(big, key=lambda g: g["precision"])
        why = (
            f"no threshold matched the best baseline on the validation split; this one "
            f"gave the most precise list ({row['precision']:.0%} against "
            f"{row['best_baseline_precision']:.0%})"
        )
    else:
        row, why = grid[0], "no core customer of the validation split reached any threshold"
    details = {
        "validation": {
            "at": frame.cut.isoformat(),
            "customers": frame.n,
            "core_customers": int(core.sum()),
            "budget": k,
            "inactive_share_core": float(inactive[core].mean()) if core.any() else None,
            "baselines_at_budget": {name: precision(lst) for name, lst in baselines(k).items()},
            "grid": grid,
        }
    }
    return AlertChoice("risk", float(row["min_risk"]), why, details)


@dataclass(frozen=True)
class Alertable:
    """Which of a risk frame's customers an alert may go to under ``settings`` (see
    :func:`alertable`). Gates of equal settings compare equal, so that
    :func:`choose_alerting` can take the flags the churn risk worked out with them."""

    settings: AlertSettings

    def __call__(self, frame: RiskFrame) -> BoolArray:
        ids = _ids(frame)
        return alert_eligible(
            _with_ids(frame.behaviour, ids),
            # an array of str reads as the sequence of ids it takes, without a list
            cast("Sequence[str]", ids),
            thresholds=self.settings.thresholds,
            min_idle_days=self.settings.min_idle_days,
            min_overdue_ratio=self.settings.min_overdue_ratio,
        )


def alertable(settings: AlertSettings) -> Callable[[RiskFrame], BoolArray]:
    """Which of a risk frame's customers an alert may go to under ``settings``: idle at
    least ``min_idle_days`` and past ``min_overdue_ratio`` times their usual gap
    (:func:`~corecustomers.insights.alerts.alert_eligible`, as the run's list decides).

    :func:`~corecustomers.insights.risk.churn_risk` judges its candidate scores on these
    customers of its validation split.
    """
    return Alertable(settings)


def risk_change(frame: Any) -> FloatArray:
    """P(alive) change of a risk frame (NaN where unknown)."""
    return np.asarray(frame.inputs["p_alive_change"], dtype=np.float64)


def _ids(frame: RiskFrame) -> NDArray[np.object_]:
    """A risk frame's customer ids as ``str`` objects, in an array: the lists and rules
    index them by position many times (a list of a million ids would be converted to an
    array at every :func:`~corecustomers.insights.alerts.pick`)."""
    return np.asarray(
        frame.customer_id.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=object
    )


def _with_ids(behaviour: pa.Table, ids: NDArray[np.object_]) -> pa.Table:
    """A risk frame's behaviour (row-aligned with its customers) with their ids."""
    return behaviour.set_column(
        behaviour.column_names.index("customer_id"), "customer_id", pa.array(ids, pa.string())
    )


def _rule_hits(
    behaviour: pa.Table,
    ids: NDArray[np.object_],
    core: BoolArray,
    p_alive: FloatArray,
    change: FloatArray,
    value: FloatArray,
    settings: AlertSettings,
) -> BoolArray:
    """The previous rule set at the validation cut (no budget), among ``core``."""
    scored = pa.table(
        {
            "customer_id": pa.array(ids, pa.string()),
            "tier": pa.array(np.where(core, "key", "ordinary"), pa.string()),
            "p_alive": pa.array(p_alive, pa.float64()),
            "clv": pa.array(value, pa.float64()),
        }
    )
    known = ~np.isnan(change)
    previous = pa.table(
        {
            "customer_id": pa.array(np.asarray(ids, dtype=object)[known], pa.string()),
            "p_alive": pa.array((p_alive - change)[known], pa.float64()),
        }
    )
    beh = _with_ids(behaviour, ids)
    out = early_warnings(
        scored, beh, previous=previous, thresholds=settings.thresholds, core_tiers=("key",)
    )
    return np.asarray(out.column("alert").to_pylist(), dtype=bool)


def evaluate_alert_list(
    *,
    ids: Sequence[str],
    alert: BoolArray,
    core: BoolArray,
    inactive: BoolArray,
    stake: FloatArray,
    risk: FloatArray,
    p_alive: FloatArray | None,
    idle: FloatArray,
    rules: BoolArray,
) -> dict[str, Any]:
    """The run's list against the baselines at the same size, on the holdout.

    ``inactive`` is one flag per customer: no purchase in the holdout. Returns the
    core customers' inactive share, the risk score's AUC and average precision among
    core customers (and the baselines' scores'), and for the list and each baseline of
    the same size its precision, recall and share of the lost core customers' value
    covered (:func:`list_figures`).
    """
    k = int((alert & core).sum())
    out: dict[str, Any] = {
        "inactive": "no purchase in the holdout",
        "core_customers": int(core.sum()),
        "core_inactive_share": float(inactive[core].mean()) if core.any() else None,
        "alerts": list_figures(alert, core, inactive, stake),
    }
    scores: dict[str, FloatArray] = {"risk": risk, "days_since_last_purchase": idle}
    if p_alive is not None:
        scores["one_minus_p_alive"] = 1.0 - p_alive
    out["ranking"] = {
        name: {
            "auc": auc(score[core], inactive[core]),
            "average_precision": average_precision(score[core], inactive[core]),
        }
        for name, score in scores.items()
    }
    baselines: dict[str, Any] = {}
    if p_alive is not None:
        baselines["p_alive"] = list_figures(
            pick(core, [1.0 - p_alive, stake], ids, k), core, inactive, stake
        )
    baselines["recency"] = list_figures(pick(core, [idle, stake], ids, k), core, inactive, stake)
    baselines["rules"] = list_figures(pick(core & rules, [stake], ids, k), core, inactive, stake)
    out["baselines"] = baselines
    best = [b["precision"] for b in baselines.values() if b["precision"] is not None]
    own = out["alerts"]["precision"]
    out["best_baseline_precision"] = max(best) if best else None
    out["at_least_best_baseline"] = (
        None if own is None or not best else bool(own >= max(best) - 1e-12)
    )
    return out


def calibration_table(predicted: Any, observed: Any, bins: int = 10) -> list[dict[str, Any]]:
    """Mean prediction and observed share in ``bins`` equal-count bins of ``predicted``.

    Customers are sorted by prediction (then position), so ties never straddle unevenly
    from run to run.

    >>> rows = calibration_table([0.1, 0.2, 0.8, 0.9], [False, False, True, True], bins=2)
    >>> [(r["predicted"], r["observed"]) for r in rows]
    [(0.15000000000000002, 0.0), (0.8500000000000001, 1.0)]
    """
    p = np.asarray(predicted, dtype=np.float64)
    y = np.asarray(observed, dtype=np.float64)
    ok = ~np.isnan(p)
    p, y = p[ok], y[ok]
    order = np.argsort(p, kind="stable")
    rows = []
    for k, part in enumerate(np.array_split(order, bins), start=1):
        if not len(part):
            continue
        rows.append(
            {
                "decile": k,
                "customers": len(part),
                "predicted": float(p[part].mean()),
                "observed": float(y[part].mean()),
            }
        )
    return rows


def value_calibration(
    *,
    p_alive: FloatArray,
    active: BoolArray,
    predicted_purchases: FloatArray,
    actual_purchases: FloatArray,
    predicted_value: FloatArray,
) -> dict[str, Any]:
    """P(alive) against holdout activity, and predicted against actual holdout purchases
    by decile of predicted value (the report's calibration charts)."""
    by_value = np.argsort(predicted_value, kind="stable")
    purchases = []
    for k, part in enumerate(np.array_split(by_value, 10), start=1):
        if not len(part):
            continue
        purchases.append(
            {
                "decile": k,
                "customers": len(part),
                "predicted": float(predicted_purchases[part].mean()),
                "actual": float(actual_purchases[part].mean()),
            }
        )
    return {
        "p_alive": calibration_table(p_alive, active),
        "purchases": purchases,
    }
