"""The churn risk's candidate scores, fitted on the training split and applied to a frame.

The private half of :mod:`corecustomers.insights.risk` (whose docstring describes the
procedure): the gradient-boosted classifier, the logistic regression on transformed
inputs, the value input beside them, and Platt scaling, which calibrates the chosen
score on the validation split.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from corecustomers.insights._risk_frames import RiskFrame, significant
from corecustomers.insights._tree_scores import tree_scores
from corecustomers.machine import cpus, thread_limit

__all__ = [
    "GBM_PARAMS",
    "LINEAR",
    "fit_classifier",
    "fit_linear",
    "labels_of",
    "linear_inputs",
    "log_value",
    "logit",
    "platt",
]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Hyper-parameters of the classifier; fixed, so that runs are reproducible.
GBM_PARAMS: Final[dict[str, Any]] = {
    "learning_rate": 0.05,
    "max_iter": 150,
    "max_leaf_nodes": 7,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": 0,
}


def fit_classifier(
    train: RiskFrame, names: tuple[str, ...], sample: NDArray[np.intp]
) -> tuple[Callable[[RiskFrame], FloatArray], FloatArray]:
    """The classifier fitted on ``train``'s ``sample``: a function scoring a frame, and
    its scores on the sample (for the training AUC)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X = significant(np.column_stack([train.inputs[name][sample] for name in names]))
    # an input missing for every training customer (a change over a window that begins
    # before the data: the first months of a history) carries nothing, and
    # scikit-learn 1.9 cannot bin a column without a value: it is left out
    keep = ~np.all(np.isnan(X), axis=0)
    model = HistGradientBoostingClassifier(**GBM_PARAMS)
    # the fit on one thread: the threaded sums of gradients depend on the thread count
    with thread_limit(1, "openmp"):
        model.fit(X[:, keep], labels_of(train.inactive)[sample].astype(np.int64))

    def predict(frame: RiskFrame, X: FloatArray | None = None) -> FloatArray:
        X = frame.matrix(names) if X is None else X
        # each row is scored on its own, so threads give the same figures; they pay off
        # only on large frames
        threads = 1 if len(X) < _THREADED_FROM else cpus()
        return tree_scores(model, X[:, keep], threads)

    return predict, predict(train, X)


_THREADED_FROM: Final = 100_000
"""Below this many customers the classifier predicts on one thread."""


def log_value(frame: RiskFrame) -> FloatArray:
    """``log(1 + predicted revenue of the next year)`` at the frame's cut."""
    return np.log1p(np.maximum(np.nan_to_num(frame.btyd.value(365.0)), 0.0))


def linear_inputs(frame: RiskFrame, rows: NDArray[np.intp] | None = None) -> FloatArray:
    """Transformed inputs of the logistic regression: logs and logits, gaps filled; of
    the customers at ``rows`` only, when given (each row is transformed on its own).

    Unlike trees, a linear model extrapolates: a customer idle longer than anyone at the
    training cut still gets a higher risk.
    """
    x = frame.inputs if rows is None else {name: frame.inputs[name][rows] for name in LINEAR}

    def log1p(name: str) -> FloatArray:
        return np.log1p(np.maximum(np.nan_to_num(x[name], nan=0.0), 0.0))

    overdue = x["overdue"]
    change = x["spend_change"]
    columns = [
        log1p("days_since_last_purchase"),
        logit(x["p_alive"]),
        np.nan_to_num(x["p_alive_change"], nan=0.0),
        log1p("expected_purchases"),
        np.where(np.isfinite(overdue), np.log1p(np.maximum(np.nan_to_num(overdue), 0.0)), 0.0),
        np.isfinite(overdue).astype(np.float64),
        np.clip(np.nan_to_num(x["gap_cv"], nan=0.0), 0.0, 5.0),
        np.where(np.isfinite(change), np.log1p(np.clip(np.nan_to_num(change), 0.0, 100.0)), 0.0),
        log1p("frequency"),
        log1p("T"),
        log1p("monetary_value"),
        log1p("tenure_days"),
        np.clip(np.nan_to_num(x["returns_share"], nan=0.0), 0.0, 1.0),
    ]
    return significant(np.column_stack(columns))


LINEAR: Final = (
    "days_since_last_purchase",
    "p_alive",
    "p_alive_change",
    "expected_purchases",
    "overdue",
    "gap_cv",
    "spend_change",
    "frequency",
    "T",
    "monetary_value",
    "tenure_days",
    "returns_share",
)
"""The inputs :func:`linear_inputs` transforms."""


def fit_linear(train: RiskFrame, sample: NDArray[np.intp]) -> Callable[[RiskFrame], FloatArray]:
    """A standardised, L2-penalised logistic regression fitted on ``train``'s ``sample``:
    a function scoring a frame."""
    from sklearn.linear_model import LogisticRegression

    X = linear_inputs(train, None if len(sample) == train.n else sample)
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    model = LogisticRegression(C=1.0, max_iter=1000)
    # one BLAS thread: L-BFGS-B's steps over 14 weights cost several times more threaded
    with thread_limit(1, "blas"):
        model.fit((X - mean) / scale, labels_of(train.inactive)[sample].astype(np.int64))

    def predict(frame: RiskFrame) -> FloatArray:
        inputs = (linear_inputs(frame) - mean) / scale
        return np.asarray(model.predict_proba(inputs)[:, 1], np.float64)

    return predict


def platt(
    score: FloatArray, inactive: BoolArray
) -> tuple[Callable[[FloatArray], FloatArray], FloatArray]:
    """Platt scaling: a logistic regression of the label on the score (one or more columns).

    Smooth and strictly monotone in each column, so that the calibrated risk keeps the
    score's order (no plateaus, unlike isotonic regression) and a threshold separates
    customers. Returns the calibration and ``score`` calibrated (from the inputs the
    fit rounded, not rounded again).
    """
    x = _columns(score)
    fill = np.nanmedian(x, axis=0)
    y = inactive.astype(np.float64)
    filled = significant(np.where(np.isnan(x), fill, x))
    w = _logistic_fit(filled, y)

    def calibrated(z: FloatArray) -> FloatArray:
        return np.asarray(1.0 / (1.0 + np.exp(-(z @ w[:-1] + w[-1]))), dtype=np.float64)

    def apply(values: FloatArray) -> FloatArray:
        z = _columns(values)
        return calibrated(significant(np.where(np.isnan(z), fill, z)))

    return apply, calibrated(filled)


def _columns(values: FloatArray) -> FloatArray:
    x = np.asarray(values, dtype=np.float64)
    return x.reshape(-1, 1) if x.ndim == 1 else x


def _logistic_fit(x: FloatArray, y: FloatArray) -> FloatArray:
    """Weights and intercept (last) of ``P(y) = 1 / (1 + exp(-(x w + b)))``, by Newton's
    method on standardised columns (a tiny ridge keeps it defined on separable data)."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    design = np.column_stack([(x - mean) / scale, np.ones(len(x))])
    w = np.zeros(design.shape[1])
    ridge = 1e-6 * np.eye(design.shape[1])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(design @ w)))
        gradient = design.T @ (y - p) - ridge @ w
        hessian = (design * (p * (1.0 - p))[:, None]).T @ design + ridge
        step = np.linalg.solve(hessian, gradient)
        w = w + step
        if np.max(np.abs(step)) < 1e-10:
            break
    slopes = w[:-1] / scale
    return np.append(slopes, w[-1] - float(slopes @ mean))


def logit(p: FloatArray) -> FloatArray:
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1.0 - 1e-6)
    return np.asarray(np.log(q / (1.0 - q)), dtype=np.float64)


def labels_of(values: BoolArray | None) -> BoolArray:
    """A frame's labels (``inactive``), which it must have."""
    if values is None:
        raise ValueError("the frame has no labels")
    return values
