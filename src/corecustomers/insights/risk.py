"""Churn risk (流失风险): the calibrated probability of no purchase in the next N days.

P(alive) says whether a customer is probably still a customer; an account manager needs
something sharper: how likely it is that *this* customer buys nothing in the next
``window_days`` (``[alerts] risk_window_days``, default 90), on a scale where 0.7 means
seven in ten. :func:`churn_risk` learns it from the same data, shifted back in time, as
the core ranking does (:mod:`corecustomers.insights.ranking`), so that no label lies
after the day scored.

The time-shifted procedure
--------------------------
With the cut ``c`` (the calibration end, else the as-of day) and ``N = window_days``
(the frames at each cut: :mod:`corecustomers.insights._risk_frames`):

1. **Training** at ``a = c - 2N``: the features of every customer who bought by ``a``
   and the label *no purchase in* ``(a, b]``. A gradient-boosted classifier
   (scikit-learn's ``HistGradientBoostingClassifier``, fixed hyper-parameters,
   ``random_state=0``, fitted on one thread) learns the label; above
   :data:`TRAINING_SAMPLE` (200,000) customers it, and the logistic regression beside
   it, learn from that many drawn uniformly with a fixed seed (the training AUC is
   theirs), as the core ranking's model does.
2. **Choice, calibration and validation** at ``b = c - N``, a split the classifier
   never saw, whose label is *no purchase in* ``(b, c]``: the default score is whichever
   of the classifier, ``1 - P(alive)`` and days since the last purchase ranks best (AUC)
   the split's core customers (its top 20 % by predicted value) whom an alert could reach
   (idle and past their usual gap: the population the alert list is drawn from) --
   ``1 - P(alive)`` unless another beats it in at least 95 % of paired bootstrap
   resamples of those customers, as the core ranking keeps the BTYD ranking unless the
   combined one wins; Platt scaling (a logistic regression of the label on that score) makes it a
   probability. The alert
   threshold (:func:`corecustomers.insights.alert_evaluation.choose_alerting`) is chosen
   on this split too.
3. **Scoring** at ``c``: the same classifier and calibration score the customers at
   ``c``, with the analysis' own features and fitted models (nothing is fitted twice at
   ``c``; the BTYD models at ``a`` and ``b`` are fitted once each, of the analysis' kind
   and penalty). Only the chosen score is computed at ``c``.

Above 300,000 customers the splits at ``a`` and ``b`` hold a sample of that many
(:mod:`corecustomers.insights.shifted`); the customers scored at ``c`` are all of them.

The classifier is not refitted on the split at ``b``: its calibration would then rest on
the data it learnt from.

Inputs (:data:`RISK_FEATURES`, at each cut): P(alive) and its change since ``N`` days
earlier (the same fitted model applied to each customer's summary then), expected
purchases in the next ``N`` days, the rhythm (days since the last purchase, the mean gap
between purchase days, their ratio, the gaps' coefficient of variation), the spend trend
(net spend in the last ``N`` days and the ``N`` before, their ratio, the slope over the
last quarters), ``frequency, recency, T, monetary_value``, tenure, the share of returns
and, with a ``product`` column, the breadth (distinct products).

Fallback
--------
When the history before ``c`` is too short (fewer than :data:`MIN_CUSTOMERS` customers
at ``a`` or ``b``, fewer than :data:`MIN_CLASS` customers of either label, or a BTYD model
that cannot be fitted there) the risk is ``1 - P(alive)`` and the result's ``reason``
says so; without any fitted model there is no risk score (``method = "none"``).

The result is deterministic: the same transactions, in any row order, give the same
scores (features are rounded to six significant digits before the classifier, so float
noise from parallel sums cannot flip a split).
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.insights._frames import Frame
from corecustomers.insights._risk_frames import (
    RISK_BEHAVIOUR,
    RiskFrame,
    UnfitError,
    active_in,
    align_to,
    bought_by,
    labelled,
    risk_frame,
)
from corecustomers.insights._risk_scores import (
    fit_classifier,
    fit_linear,
    labels_of,
    log_value,
    logit,
    platt,
)
from corecustomers.insights.fitted import FittedValue
from corecustomers.insights.shifted import ShiftedRows
from corecustomers.machine import cpus
from corecustomers.units import TimeUnit

__all__ = [
    "DEFAULT_WINDOW_DAYS",
    "MIN_CLASS",
    "MIN_CUSTOMERS",
    "MIN_JUDGED",
    "RISK_FEATURES",
    "TRAINING_SAMPLE",
    "ChurnRisk",
    "RiskFrame",
    "active_in",
    "auc",
    "churn_risk",
]

log = logging.getLogger(__name__)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

DEFAULT_WINDOW_DAYS: Final = 90
"""Days ahead whose (absence of) purchases the risk is about."""

MIN_CUSTOMERS: Final = 200
"""Fewer customers than this at a shifted cut and no classifier is trained."""

MIN_CLASS: Final = 20
"""Fewer customers than this with either label at a shifted cut and none is trained."""

TRAINING_SAMPLE: Final = 200_000
"""The classifier and the logistic regression learn from at most this many customers of
the training split, drawn uniformly at random (fixed seed) when there are more, as the
core ranking's model does: their few-leaf trees and 13 weights are learnt as well from
200,000 customers as from millions, at a fraction of the time."""

MIN_JUDGED: Final = 10
"""Fewer alertable core customers than this of either outcome at the validation cut and
the score is judged on all its core customers."""

RISK_FEATURES: Final = (
    "p_alive",
    "p_alive_change",
    "expected_purchases",
    "days_since_last_purchase",
    "mean_gap_days",
    "overdue",
    "gap_cv",
    "spend_recent",
    "spend_previous",
    "spend_change",
    "spend_trend",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "tenure_days",
    "returns_share",
)
"""Inputs of the classifier, in order (plus ``n_products`` with a product column)."""

Method = Literal["model", "p_alive", "none"]


@dataclass(frozen=True)
class ChurnRisk:
    """Per-customer churn risk and how it was made (see :func:`churn_risk`).

    Attributes
    ----------
    customer_id
        The customers, in the order of ``risk`` (the order of the ``customer_id`` given).
    risk
        Calibrated probability of no purchase in the next ``window_days``; NaN with
        ``method == "none"``.
    method
        ``"model"`` (the calibrated classifier), ``"p_alive"`` (``1 - P(alive)``, the
        fallback) or ``"none"`` (no fitted model).
    reason
        Why, in English.
    window_days
        ``N``.
    p_alive_change
        P(alive) now minus ``N`` days earlier, per customer (NaN when unknown).
    validation
        The frame at ``b`` with its calibrated scores, for the choice of the alert
        threshold and method; None without a trained model.
    validation_risk
        The calibrated scores of ``validation``'s customers.
    alertable
        The gates the scores were judged with (the ``alertable`` given), or None.
    validation_alertable
        Which of ``validation``'s customers ``alertable`` names (None without either):
        the alert threshold's choice reads them instead of working them out again.
    details
        JSON-ready figures (dates, customers, AUC, average precision, calibration).
    """

    customer_id: pa.Array
    risk: FloatArray
    method: Method
    reason: str
    window_days: int
    p_alive_change: FloatArray
    validation: RiskFrame | None = None
    validation_risk: FloatArray | None = None
    details: dict[str, Any] = field(default_factory=dict)
    alertable: Callable[[RiskFrame], BoolArray] | None = None
    validation_alertable: BoolArray | None = None

    def to_dict(self) -> dict[str, Any]:
        """Method, reason, window and validation figures, JSON-ready."""
        return {
            "method": self.method,
            "reason": self.reason,
            "window_days": self.window_days,
            **self.details,
        }


def churn_risk(
    tx: ir.Table,
    *,
    features: pa.Table,
    fitted: FittedValue | None,
    behaviour: pa.Table,
    cut: datetime.date,
    window_days: int = DEFAULT_WINDOW_DAYS,
    time_unit: TimeUnit = "week",
    score: str = "auto",
    alertable: Callable[[RiskFrame], BoolArray] | None = None,
    shifted: ShiftedRows | None = None,
    frame: Frame | None = None,
) -> ChurnRisk:
    """The calibrated churn risk of the customers of ``features`` at ``cut``.

    Parameters
    ----------
    tx
        Canonical transactions (``docs/CONTRACTS.md``).
    features
        The analysis' per-customer features at ``cut`` (one row per customer).
    fitted
        The analysis' fitted models at ``cut`` (aligned with ``features``), or None.
    behaviour
        :func:`~corecustomers.insights.behaviour.customer_behaviour` at ``cut``,
        materialised.
    cut
        The day scored (the calibration end when there is one).
    window_days
        ``N``: the risk is that of no purchase in the next ``N`` days.
    time_unit
        The unit of ``recency`` and ``T``.
    score
        ``auto`` (default): of the classifier, ``1 - P(alive)`` and days since the last
        purchase, the one whose AUC among the validation split's core customers (its
        top 20 % by predicted value) who could be alerted (``alertable``) is highest --
        ``1 - P(alive)`` unless another beats it in :data:`WIN_SHARE` of
        :data:`BOOTSTRAP_DRAWS` paired bootstrap resamples; or one of ``model``,
        ``p_alive``, ``recency``.
        Whichever it is, it is calibrated on the validation split.
    alertable
        Which of a split's customers an alert may go to (the alert list's idle and
        overdue gates: :func:`corecustomers.insights.alert_evaluation.alertable`). The
        alerts are drawn from these core customers only, so the score is judged on
        them: among all core customers a score also earns its AUC by ranking those who
        bought last week below those idle for months, which no alert needs. None, or
        fewer than :data:`MIN_JUDGED` of either outcome among them: all core customers.
    shifted
        The rows the splits at ``a`` and ``b`` read (a sample's:
        :func:`~corecustomers.insights.shifted.shifted_rows`); None: ``tx``.
    frame
        The frame at ``cut`` when it is built beside the core ranking's
        (:func:`~corecustomers.insights.at_cut.frames_at`: ``window_days`` long, with the
        idle days before it, from ``features``, ``fitted`` and ``behaviour``); None: built
        here.

    Returns
    -------
    ChurnRisk
    """
    ids = features.column("customer_id").combine_chunks().cast(pa.string())
    n = len(ids)
    if fitted is None:
        return ChurnRisk(
            ids,
            np.full(n, np.nan),
            "none",
            "no lifetime-value model was fitted, so there is no churn risk; the alerts use "
            "the previous rule set",
            window_days,
            np.full(n, np.nan),
        )
    has_product = "product" in tx.columns
    step = datetime.timedelta(days=window_days)
    b = cut - step
    a = b - step

    rows = tx if shifted is None else shifted.transactions
    sampled = shifted is not None and shifted.customers is not None

    def split(at: datetime.date, before: RiskFrame | None) -> RiskFrame:
        # the shifted fits start from the analysis' own (as the core ranking's do): a
        # short history whose likelihood rises along a ridge is not followed towards
        # the boundary
        return risk_frame(
            rows,
            cut=at,
            window_days=window_days,
            time_unit=time_unit,
            has_product=has_product,
            new_models=fitted.new_models,
            before=None if before is None else before.summary(),
            start=fitted,
            # the training frame's behaviour is read only for the risk's inputs; the
            # validation frame's also by the alert rules
            behaviour_columns=RISK_BEHAVIOUR if before is None else None,
        )

    def at_cut(earlier: RiskFrame | None) -> RiskFrame:
        return risk_frame(
            tx,
            cut=cut,
            window_days=window_days,
            time_unit=time_unit,
            has_product=has_product,
            new_models=fitted.new_models,
            features=features,
            fitted=fitted,
            behaviour=behaviour,
            base=frame,
            # a sample's validation split lacks most customers: their summary a window
            # earlier is then read from all the rows
            before=None if earlier is None or sampled else earlier.summary(),
        )

    def fallback(problem: str) -> ChurnRisk:
        now = at_cut(None)
        return ChurnRisk(
            ids,
            1.0 - fitted.p_alive,
            "p_alive",
            f"{problem}; the churn risk is 1 - P(alive)",
            window_days,
            now.inputs["p_alive_change"][align_to(ids, now.customer_id)],
            details={"validation": None},
        )

    first = pc.min(features.column("first_purchase")).as_py()
    first_day = first.date() if isinstance(first, datetime.datetime) else first
    if first_day is None or (cut - first_day).days < 2 * window_days + 14:
        return fallback(
            f"the history before {cut} is shorter than two risk windows of {window_days} "
            "days and two weeks, too short for a time-shifted training and calibration"
        )
    try:
        train = split(a, None)
        check = split(b, train)
    except UnfitError as exc:
        return fallback(str(exc))
    names = RISK_FEATURES + (("n_products",) if has_product else ())
    sample = _training_sample(train.n)
    # the training split's labels need only the calibration split: the classifier is
    # fitted from them on a thread of its own (one OpenMP thread, as always: the same
    # model) while the frame at the cut, the linear model and the other candidates are
    # built here (10M rows: its 5 s of one core, which the steps beside have left idle)
    bought = bought_by(train, check)
    fitting = _Fitting(train, bought, names, sample)
    try:
        now = at_cut(check)
        back = align_to(ids, now.customer_id)
        change = now.inputs["p_alive_change"][back]
        # the labels from the next frame's days since the last purchase; from the
        # transactions only when that frame lacks some of the customers (features that are
        # not all the customers at the cut)
        later = bought, bought_by(check, now)
        if later[0] is None or later[1] is None:
            labels = active_in(tx, [(a, b), (b, cut)])
            train = labelled(train, labels, "w0")
            check = labelled(check, labels, "w1")
        else:
            train = labelled(train, later[0])
            check = labelled(check, later[1])
        for name, split_frame in (("training", train), ("calibration", check)):
            problem = _unusable(split_frame, name)
            if problem:
                return fallback(problem)
        linear = fit_linear(train, sample)
        inactive = labels_of(check.inactive)
        idle_check = np.log1p(np.maximum(check.inputs["days_since_last_purchase"], 0.0))
        idle_now = np.log1p(np.maximum(now.inputs["days_since_last_purchase"], 0.0))
        linear_check = logit(linear(check))
        p_alive_check = logit(1.0 - check.btyd.p_alive)
        core = _top(check.btyd.value(365.0), CORE_SHARE)
        gated = None if alertable is None else alertable(check)
        # the classifier's turn comes last: what runs here meanwhile is done
        classifier, raw_train = fitting.result(train)
        # each candidate's score at the validation cut, and a function giving it at the cut
        # scored: only the chosen one is computed there
        candidates: dict[str, tuple[FloatArray, Callable[[], FloatArray]]] = {
            # the classifier's score with the idle days beside it (trees cannot rank
            # customers idle longer than anyone at the training cut, a logistic layer can)
            # and the predicted value (so that the risk is right for valuable customers too,
            # not only on average over the many small ones)
            "model": (
                np.column_stack([logit(classifier(check)), idle_check, log_value(check)]),
                lambda: np.column_stack([logit(classifier(now)), idle_now, log_value(now)]),
            ),
            "linear": (linear_check, lambda: logit(linear(now))),
            "p_alive": (p_alive_check, lambda: logit(1.0 - now.btyd.p_alive)),
            "recency": (idle_check, lambda: idle_now),
        }
        judged = core if gated is None else core & gated
        smaller = min(int((judged & inactive).sum()), int((judged & ~inactive).sum()))
        if smaller < MIN_JUDGED:
            judged, on = core, "core customers"
        else:
            on = "core customers who could be alerted (idle and past their usual gap)"
        scaled = {name: platt(before, inactive) for name, (before, _) in candidates.items()}
        calibrations = {name: apply for name, (apply, _) in scaled.items()}
        validated = {name: calibrated for name, (_, calibrated) in scaled.items()}
        figures = {
            name: {
                "auc": _auc(score, inactive),
                "auc_core": _auc(score[core], inactive[core]),
                "auc_judged": _auc(score[judged], inactive[judged]),
            }
            for name, score in validated.items()
        }
        if score in candidates:
            chosen = score
            why = f"the score is set in [alerts] (risk_score = {score!r})"
        else:
            wins = _bootstrap_wins(
                {name: values[judged] for name, values in validated.items()},
                inactive[judged],
                against=DEFAULT_SCORE,
            )
            for name, share in wins.items():
                figures[name]["beats_p_alive"] = share
            clear = [c for c in candidates if wins.get(c, 0.0) >= WIN_SHARE]
            base_auc = figures[DEFAULT_SCORE]["auc_judged"] or 0.0
            if clear:
                chosen = max(clear, key=lambda c: figures[c]["auc_judged"] or 0.0)
                why = (
                    f"on the validation split's {on}, {_SCORE_NAMES[chosen]} ranked best (AUC "
                    f"{figures[chosen]['auc_judged'] or 0:.3f}) and beat 1 - P(alive) (AUC "
                    f"{base_auc:.3f}) in {wins[chosen]:.0%} of {BOOTSTRAP_DRAWS} bootstrap "
                    f"resamples ({WIN_SHARE:.0%} needed)"
                )
            else:
                chosen = DEFAULT_SCORE
                rival = max(wins, key=lambda c: figures[c]["auc_judged"] or 0.0)
                why = (
                    f"on the validation split's {on}, no other score clearly beat 1 - P(alive) "
                    f"(AUC {base_auc:.3f}): the best, {_SCORE_NAMES[rival]} (AUC "
                    f"{figures[rival]['auc_judged'] or 0:.3f}), beat it in {wins[rival]:.0%} of "
                    f"{BOOTSTRAP_DRAWS} bootstrap resamples ({WIN_SHARE:.0%} needed)"
                )
        risk_check = validated[chosen]
        risk_now = calibrations[chosen](candidates[chosen][1]())[back]
        details = {
            "score": chosen,
            "validation": {
                "method": "time-shifted",
                "trained_at": a.isoformat(),
                "trained_on": [a.isoformat(), b.isoformat()],
                "calibrated_at": b.isoformat(),
                "calibrated_on": [b.isoformat(), cut.isoformat()],
                "shifted_sample": None if shifted is None else shifted.customers,
                "training_customers": train.n,
                "training_sample": len(sample),
                "customers": check.n,
                "core_customers": int(core.sum()),
                "judged_on": on,
                "judged_customers": int(judged.sum()),
                "inactive_share": float(np.mean(inactive)),
                "training_auc": _auc(raw_train, labels_of(train.inactive)[sample]),
                "scores": figures,
                "features": list(names),
            },
        }
        reason = (
            f"{_SCORE_NAMES[chosen]}, calibrated by Platt scaling on the customers at "
            f"{b} (no purchase in the next {window_days} days; the classifier was trained on "
            f"those at {a}): {why}"
        )
        return ChurnRisk(
            ids,
            risk_now,
            "model",
            reason,
            window_days,
            change,
            check,
            risk_check,
            details,
            alertable,
            gated,
        )
    finally:
        fitting.close()


_Classifier = tuple[Callable[[RiskFrame], FloatArray], FloatArray]
"""A fitted classifier's scoring function and its scores on its training sample."""


class _Fitting:
    """The classifier of the training split, fitted on a thread of its own from the start.

    Started when the training split's labels are known from the calibration split
    (``bought``: :func:`~corecustomers.insights._risk_frames.bought_by`), the split is
    usable and the process has more than one CPU; otherwise, or when the split the
    risk is finally trained on is labelled otherwise (from the transactions), it is
    fitted by :meth:`result` on the calling thread. The fit is the same either way:
    :func:`~corecustomers.insights._risk_scores.fit_classifier` sets its OpenMP thread
    count on the thread it runs on. :meth:`close` waits for a fit still running (a
    fallback that needs no classifier).
    """

    def __init__(
        self,
        train: RiskFrame,
        bought: BoolArray | None,
        names: tuple[str, ...],
        sample: NDArray[np.intp],
    ) -> None:
        self._names, self._sample = names, sample
        self._pool: ThreadPoolExecutor | None = None
        self._started: tuple[BoolArray, Future[_Classifier]] | None = None
        if bought is None or cpus() < 2:
            return
        early = labelled(train, bought)
        if _unusable(early, "training"):
            return
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="corecustomers-risk")
        future = self._pool.submit(fit_classifier, early, names, sample)
        self._started = labels_of(early.inactive), future

    def result(self, train: RiskFrame) -> _Classifier:
        """The classifier fitted on ``train`` (labelled) and its scores on the sample."""
        if self._started is not None:
            labels, future = self._started
            if np.array_equal(labels_of(train.inactive), labels):
                return future.result()
        return fit_classifier(train, self._names, self._sample)

    def close(self) -> None:
        """Wait for the thread, if one was started."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)


_SCORE_NAMES: Final = {
    "model": "the gradient-boosted classifier",
    "linear": "the logistic regression",
    "p_alive": "1 - P(alive)",
    "recency": "days since the last purchase",
}

CORE_SHARE: Final = 0.2
"""Share of a validation split's customers, by predicted value, taken as its core."""

DEFAULT_SCORE: Final = "p_alive"
"""The score kept unless another clearly ranks the judged customers better: 1 - P(alive),
the BTYD model's own (as the core ranking keeps the BTYD ranking unless the combined
one wins)."""

WIN_SHARE: Final = 0.95
"""Share of paired bootstrap resamples in which a score's AUC must exceed the default's."""

BOOTSTRAP_DRAWS: Final = 200
"""Paired bootstrap resamples of the judged customers (fixed seed: deterministic)."""


def _bootstrap_wins(
    scores: dict[str, FloatArray], positive: BoolArray, *, against: str
) -> dict[str, float]:
    r"""Per score but ``against``: the share of paired bootstrap resamples of the customers
    in which its AUC exceeds that of ``against`` (resamples without both outcomes count as
    no win). A validation split of a few hundred customers gives AUCs a few hundredths
    apart by chance; a score replaces the default only when it wins nearly always.

    Each score's values are ranked once; a resample's AUC then needs no sort: with the
    customers' tie groups in score order, twice the Mann-Whitney statistic is
    :math:`\sum_g p_g (2 n_{<g} + n_g)` over the groups' drawn positives :math:`p_g` and
    negatives :math:`n_g` (:math:`n_{<g}` those of lower groups), in whole numbers, so the
    comparisons are exactly those of :func:`_auc` on each resample (which the AUCs of a
    resample share the denominator of).
    """
    rng = np.random.default_rng(0)
    n = len(positive)
    wins = {name: 0 for name in scores if name != against}
    if any(np.isnan(values).any() for values in scores.values()):
        # a missing score drops its customers from that score's AUC only: compared one
        # resample at a time
        for _ in range(BOOTSTRAP_DRAWS):
            at = rng.integers(0, n, n)
            y = positive[at]
            base = _auc(scores[against][at], y)
            if base is None:
                continue
            for name in wins:
                value = _auc(scores[name][at], y)
                if value is not None and value > base:
                    wins[name] += 1
        return {name: count / BOOTSTRAP_DRAWS for name, count in wins.items()}
    groups = {name: np.unique(values, return_inverse=True) for name, values in scores.items()}
    for _ in range(BOOTSTRAP_DRAWS):
        at = rng.integers(0, n, n)
        y = positive[at]
        n_pos = int(np.count_nonzero(y))
        if n_pos == 0 or n_pos == n:
            continue
        drawn_pos, drawn_neg = at[y], at[~y]
        twice_u = {}
        for name, (values, group) in groups.items():
            pos = np.bincount(group[drawn_pos], minlength=len(values))
            neg = np.bincount(group[drawn_neg], minlength=len(values))
            below = np.cumsum(neg) - neg
            twice_u[name] = int(pos @ (2 * below + neg))
        for name in wins:
            if twice_u[name] > twice_u[against]:
                wins[name] += 1
    return {name: count / BOOTSTRAP_DRAWS for name, count in wins.items()}


def _top(value: FloatArray, share: float) -> BoolArray:
    """The top ``share`` of customers by ``value`` (ties by position; ids are sorted)."""
    order = np.argsort(-np.asarray(value, dtype=np.float64), kind="stable")
    out = np.zeros(len(order), dtype=bool)
    out[order[: int(np.ceil(share * len(order) - 1e-9))]] = True
    return out


def _unusable(frame: RiskFrame, name: str) -> str:
    inactive = labels_of(frame.inactive)
    if frame.n < MIN_CUSTOMERS:
        return (
            f"the {name} split at {frame.cut} has {frame.n} customers (fewer than {MIN_CUSTOMERS})"
        )
    small = min(int(inactive.sum()), int((~inactive).sum()))
    if small < MIN_CLASS:
        return (
            f"the {name} split at {frame.cut} has only {small} customers of one outcome "
            f"(at least {MIN_CLASS} of each needed)"
        )
    return ""


def _training_sample(n: int) -> NDArray[np.intp]:
    """The training customers the models learn from: all of them up to
    :data:`TRAINING_SAMPLE`, else that many drawn uniformly without replacement (seed 0),
    in their order."""
    if n <= TRAINING_SAMPLE:
        return np.arange(n, dtype=np.intp)
    picked = np.random.default_rng(0).choice(n, TRAINING_SAMPLE, replace=False)
    return np.sort(picked).astype(np.intp)


# -- small helpers ----------------------------------------------------------------------


def _auc(score: FloatArray, positive: BoolArray) -> float | None:
    """Area under the ROC curve (ties count half); None without both outcomes."""
    ok = ~np.isnan(score)
    score, positive = score[ok], positive[ok]
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = _midranks(score)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _midranks(values: FloatArray) -> FloatArray:
    """Ranks from 1, ties sharing their mean rank (``values`` without NaN).

    The tie groups are read off the sorted values where they change: ``np.unique`` would
    sort the sorted values again (a third of an AUC's time at a million customers).
    """
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    ranks = np.empty(len(values))
    first = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    counts = np.diff(np.append(first, len(values)))
    mid = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(mid, counts)
    return ranks


def auc(score: Any, positive: Any) -> float | None:
    """Area under the ROC curve of ``score`` for ``positive`` (ties count half).

    >>> auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    0.75
    """
    return _auc(np.asarray(score, dtype=np.float64), np.asarray(positive, dtype=bool))
