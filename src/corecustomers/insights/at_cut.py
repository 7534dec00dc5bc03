"""The customers at the analysis' cut, read once for the core ranking and the churn risk.

Both steps start from a frame of every customer at the cut: the analysis' features and
fitted models in customer-id order, with the spend and purchase days of the last two
windows before the cut (the ranking's window is its training window, the risk's its risk
window). Built apart, each frame cost one aggregation of every row and one sort of the
customers (10M rows, 1M customers: about 3-4 s of the calling thread each, at the end of
the analysis where the second core has nothing else to do). :func:`frames_at` builds both
from one aggregation and one sort, and the steps take them (``frame=`` of
:func:`~corecustomers.insights.ranking.rank_customers` and
:func:`~corecustomers.insights.risk.churn_risk`); each is the frame the step would build
itself, value for value.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import ibis.expr.types as ir
import pyarrow as pa

from corecustomers.insights._frames import Frame, frames_at_cut
from corecustomers.insights.fitted import FittedValue
from corecustomers.insights.ranking import training_window
from corecustomers.units import TimeUnit

__all__ = ["AtCut", "activity_windows", "frames_at"]


@dataclass(frozen=True)
class AtCut:
    """The frame at the cut of the core ranking (its training window, the holdout as its
    target) and of the churn risk (its risk window, with the idle days before it)."""

    ranking: Frame
    risk: Frame


def frames_at(
    tx: ir.Table,
    *,
    features: pa.Table,
    fitted: FittedValue,
    breadth: pa.Table | None,
    cut: datetime.date,
    holdout_end: datetime.date | None,
    time_unit: TimeUnit,
    risk_window_days: int,
    activity: pa.Table | None = None,
) -> AtCut:
    """Both frames at ``cut`` from one aggregation of ``tx`` and one sort of ``features``.

    ``features`` and ``fitted`` are the analysis' features and fitted models at ``cut``,
    ``breadth`` its behaviour there (for the distinct products), ``holdout_end`` the end of
    the ranking's holdout (None without one), ``risk_window_days`` the churn risk's window.
    ``activity``: that aggregation read already with the behaviour, for the windows of
    :func:`activity_windows` (used when they are the frames' windows; see
    :func:`~corecustomers.insights._frames.frames_at_cut`).
    """
    window = training_window(features, cut=cut, horizon_days=fitted.horizon_days)
    frames = frames_at_cut(
        tx,
        cut=cut,
        target_end=holdout_end,
        windows=(window, risk_window_days),
        time_unit=time_unit,
        has_product="product" in tx.columns,
        features=features,
        fitted=fitted,
        breadth=breadth,
        idle_before=(risk_window_days,),
        activity=activity,
    )
    return AtCut(ranking=frames[window], risk=frames[risk_window_days])


def activity_windows(
    *, horizon_days: float, risk_window_days: int, history_days: int | None = None
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The windows of :func:`frames_at`'s aggregation (and those with the idle days
    before them), known before the features: the ranking's training window is the CLV
    horizon (``horizon_days``, as :attr:`FittedValue.horizon_days` gives it) or a third
    of the days of history before the cut (``history_days``: from the first day of the
    data, which is that of the first purchase unless the data open with returns; then
    the frames read their own window).

    >>> activity_windows(horizon_days=365.25, risk_window_days=90)
    ((365, 90), (90,))
    >>> activity_windows(horizon_days=365.25, risk_window_days=90, history_days=700)
    ((233, 90), (90,))
    """
    days = horizon_days if history_days is None else min(horizon_days, history_days // 3)
    return (max(int(days), 1), risk_window_days), (risk_window_days,)
