"""RFM scores: recency, frequency and monetary value as tie-aware quantile scores.

Every customer gets three whole-number scores from 1 to ``bins`` (5 by default; 3 to 10
allowed). A higher score is always better:

**R** (recency, 最近一次消费)
    from ``days_since_last_purchase``: the fewer days since the last purchase, the higher.
**F** (frequency, 消费频率)
    from the number of purchase periods, ``frequency + 1`` (``frequency`` counts the
    *repeat* purchase periods, as in the BTYD literature). One-time buyers
    (``frequency == 0``) get F = 1, and the repeat buyers share F = 2 .. ``bins`` by
    quantiles of their repeat counts among the repeat buyers alone. Scoring everyone
    together would let the one-time buyers -- half of the customers in the CDNOW sample --
    fill the lowest quantiles with one tied value and collapse the scale to two or three
    scores. So F = 1 means exactly "bought once".
**M** (monetary, 消费金额)
    from the total net spend (``total_spend``) by default, or from the mean spend per
    purchase period, ``total_spend / (frequency + 1)``, with ``monetary="mean"``. The
    BTYD column ``monetary_value`` is not used: it averages the repeat purchases only and
    is 0 for every one-time buyer.

How a score is computed
-----------------------
A score places a customer's value in the distribution of all the values by the
*mid-distribution function* (the midrank, minus one half, over the number of customers):

.. code-block:: text

    p = (customers with a lower value + half the customers with the same value) / n
    score = floor(bins * p) + 1

computed exactly in integers. So:

* **ties**: customers with the same value always get the same score, whatever the row
  order. Nothing depends on a row's position or on a tie-breaker.
* **monotone**: a better value never gets a lower score.
* **even**: when the values are distinct, each score holds ``n / bins`` customers give
  or take one, and all scores are used once there are at least ``bins`` customers.
* **honest when there are few distinct values**: a group of identical values is never
  split to fill a score. With fewer distinct values than ``bins``, some scores stay
  empty, and each tied group takes the score of the middle of its share of the
  distribution. If everyone has the same value, everyone gets the middle score,
  ``bins // 2 + 1`` (3 of 5), neither the best nor the worst. If 90 % share one value and
  10 % a higher one, they get 3 and 5, and scores 1, 2 and 4 are unused.

The same rule scores the repeat buyers for F, on ``bins - 1`` levels shifted up by one.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
import pyarrow as pa

from corecustomers.errors import ConfigError, InputError
from corecustomers.segments._arrays import (
    FloatArray,
    IntArray,
    as_float_array,
    check_bins,
    check_same_length,
    table_column,
)

__all__ = ["Monetary", "RFMScores", "monetary_values", "quantile_scores", "rfm_scores", "rfm_table"]

Monetary = Literal["total", "mean"]
"""What M scores: ``"total"`` net spend or ``"mean"`` spend per purchase period."""


class RFMScores(NamedTuple):
    """The three score arrays of :func:`rfm_scores`; unpacks as ``r, f, m``."""

    r: IntArray
    """Recency score: higher is more recent."""
    f: IntArray
    """Frequency score: 1 for one-time buyers, 2..bins for repeat buyers."""
    m: IntArray
    """Monetary score: higher is more spend."""


def _midrank_scores(values: FloatArray, levels: int) -> IntArray:
    """Score ``values`` on ``1..levels`` by ``floor(levels * p) + 1``, p the mid-distribution."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    counts = counts.astype(np.int64)
    below = np.cumsum(counts) - counts
    per_value = (levels * (2 * below + counts)) // (2 * n) + 1
    return per_value[inverse.reshape(-1)].astype(np.int64)


def quantile_scores(values: Any, *, bins: int = 5) -> IntArray:
    """Score values from 1 to ``bins`` by tie-aware quantiles; a higher value scores higher.

    Parameters
    ----------
    values
        One number per customer (any 1-D array-like); no missing or infinite values.
    bins
        Number of score levels, 3 to 10.

    Returns
    -------
    numpy.ndarray of int64
        ``floor(bins * p) + 1`` where ``p`` is the share of customers with a lower value plus
        half the share with the same value. Equal values get equal scores.

    Raises
    ------
    ConfigError
        If ``bins`` is not a whole number from 3 to 10.
    InputError
        If ``values`` is not 1-D or holds missing or infinite values.

    Examples
    --------
    >>> quantile_scores([10, 20, 30, 40, 50]).tolist()
    [1, 2, 3, 4, 5]
    >>> quantile_scores([7, 7, 7, 7]).tolist()  # no spread to show: the middle score
    [3, 3, 3, 3]
    >>> quantile_scores([1, 1, 1, 1, 1, 1, 1, 1, 1, 9]).tolist()
    [3, 3, 3, 3, 3, 3, 3, 3, 3, 5]
    """
    levels = check_bins(bins)
    return _midrank_scores(as_float_array(values, "values"), levels)


def _frequency_scores(frequency: FloatArray, bins: int) -> IntArray:
    """F: 1 for one-time buyers, 2..bins by midrank quantiles among the repeat buyers."""
    scores = np.ones(len(frequency), dtype=np.int64)
    repeat = frequency > 0
    scores[repeat] = _midrank_scores(frequency[repeat], bins - 1) + 1
    return scores


def rfm_scores(
    days_since_last_purchase: Any, frequency: Any, monetary: Any, *, bins: int = 5
) -> RFMScores:
    """Score recency, frequency and monetary value from 1 to ``bins``, tie-aware.

    The rules are in the module docstring (:mod:`corecustomers.segments.rfm`): R and M
    by the mid-distribution quantile of the value, F = 1 for one-time buyers and
    2..``bins`` for repeat buyers by the quantile of their repeat count.

    Parameters
    ----------
    days_since_last_purchase
        Days from each customer's last purchase to the end of the window (>= 0 expected;
        only the order matters). Fewer days score higher.
    frequency
        Repeat purchase periods (``frequency`` of the features table), >= 0; 0 is a
        one-time buyer.
    monetary
        The spend to score (``total_spend``, or ``total_spend / (frequency + 1)`` for the
        mean per purchase period). Negative net spend is allowed and scores lowest.
    bins
        Number of score levels, 3 to 10.

    Returns
    -------
    RFMScores
        ``(r, f, m)``, int64 arrays with values in ``1..bins``.

    Raises
    ------
    ConfigError
        If ``bins`` is not a whole number from 3 to 10.
    InputError
        If an array is not 1-D, holds missing, infinite or (``frequency``) negative
        values, or the arrays differ in length.

    Examples
    --------
    >>> r, f, m = rfm_scores(
    ...     [3, 40, 200, 3, 90, 10], [0, 4, 0, 1, 2, 9], [20.0, 310.5, 12.0, 45.0, 80.0, 990.0]
    ... )
    >>> r.tolist(), f.tolist(), m.tolist()
    ([5, 3, 1, 5, 2, 3], [1, 4, 1, 2, 3, 5], [2, 4, 1, 3, 3, 5])
    """
    levels = check_bins(bins)
    days = as_float_array(days_since_last_purchase, "days_since_last_purchase")
    freq = as_float_array(frequency, "frequency")
    money = as_float_array(monetary, "monetary")
    check_same_length(days_since_last_purchase=days, frequency=freq, monetary=money)
    if (freq < 0).any():
        raise InputError(
            "frequency counts repeat purchases and cannot be negative "
            f"(smallest value {freq.min():g})",
            column="frequency",
        )
    return RFMScores(
        r=_midrank_scores(-days, levels),
        f=_frequency_scores(freq, levels),
        m=_midrank_scores(money, levels),
    )


def monetary_values(features: pa.Table, monetary: Monetary = "total") -> FloatArray:
    """Return the spend that M scores, from a features table (see :func:`rfm_table`)."""
    total = as_float_array(table_column(features, "total_spend"), "total_spend")
    if monetary == "total":
        return total
    if monetary == "mean":
        freq = as_float_array(table_column(features, "frequency"), "frequency")
        if (freq < 0).any():
            raise InputError("frequency cannot be negative", column="frequency")
        return total / (freq + 1.0)
    raise ConfigError(f'monetary must be "total" or "mean", got {monetary!r}')


def rfm_table(features: pa.Table, *, bins: int = 5, monetary: Monetary = "total") -> pa.Table:
    """Score every customer of a features table; one row per customer, in the same order.

    Parameters
    ----------
    features
        The per-customer features (``docs/CONTRACTS.md``); needs ``customer_id``,
        ``days_since_last_purchase``, ``frequency`` and ``total_spend``.
    bins
        Number of score levels, 3 to 10.
    monetary
        ``"total"`` scores M on ``total_spend``; ``"mean"`` on
        ``total_spend / (frequency + 1)``, the mean spend per purchase period.

    Returns
    -------
    pyarrow.Table
        Columns ``customer_id``, ``r_score``, ``f_score``, ``m_score`` (int64).

    Raises
    ------
    ConfigError
        If ``bins`` or ``monetary`` is invalid.
    InputError
        If a needed column is missing or holds missing values.

    Examples
    --------
    >>> import pyarrow as pa
    >>> features = pa.table({
    ...     "customer_id": ["a", "b", "c"],
    ...     "days_since_last_purchase": [1, 30, 300],
    ...     "frequency": [3, 0, 0],
    ...     "total_spend": [120.0, 15.0, 40.0],
    ... })
    >>> rfm_table(features, bins=3).to_pylist()[0]
    {'customer_id': 'a', 'r_score': 3, 'f_score': 3, 'm_score': 3}
    """
    levels = check_bins(bins)
    money = monetary_values(features, monetary)
    r, f, m = rfm_scores(
        table_column(features, "days_since_last_purchase"),
        table_column(features, "frequency"),
        money,
        bins=levels,
    )
    return pa.table(
        {
            "customer_id": table_column(features, "customer_id"),
            "r_score": pa.array(r, type=pa.int64()),
            "f_score": pa.array(f, type=pa.int64()),
            "m_score": pa.array(m, type=pa.int64()),
        }
    )
