"""ABC classes and the concentration of value (Pareto 80/20, Lorenz curve, Gini).

ABC classification (ABC分类法)
----------------------------
Customers are sorted by value, largest first, and classed by the cumulative share of the
total value held by the customers *before* them:

* **A** (key customers, 重点客户) while that share is below ``a`` (0.80): the customer
  whose value carries the cumulative share across ``a`` is still A -- A is the smallest
  group of top customers that together reach ``a``;
* **B** (important customers, 重要客户) while it is below ``b`` (0.95), likewise;
* **C** (ordinary customers, 普通客户) for the rest, and always for customers with zero or
  negative value (net returners): they contribute nothing, so they are left out of the
  total and of the cumulation.

Ties: customers with the same value are one group and get one class, the class of the
group's first place; if a threshold is crossed inside the group, the whole group takes the
better class. So the class never depends on the row order, and A can hold a little more
than ``a``. Shares within a relative 1e-12 of a threshold count as reaching it (absorbing
floating-point rounding, so that 80 of 100 is exactly 0.80). The value can be any money
column: revenue (``total_spend``), margin, or a predicted lifetime value.

Concentration
-------------
:func:`concentration` measures how much of the value the top customers hold. Negative
values (net returners) are counted as customers with value 0: a Lorenz curve and a Gini
coefficient are defined for non-negative shares only. The Lorenz curve ``L(x)`` is the
share of the value held by the poorest fraction ``x`` of customers, linear between
customers, from (0, 0) to (1, 1); the Gini coefficient is ``1 - 2 * (area under L)``,
which for sorted values ``x_1 <= ... <= x_n`` equals
``sum_i (2 i - n - 1) x_i / (n * sum_i x_i)``: 0 when everyone is equal, ``1 - 1/n``
when one customer holds everything. The top 1 %, 10 % and 20 % shares are read from the
same piecewise-linear curve, so a fractional customer counts pro rata.
"""

from __future__ import annotations

import math
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from corecustomers.errors import ConfigError
from corecustomers.segments._arrays import FloatArray, as_float_array, check_same_length

__all__ = ["ABC_CLASSES", "ABC_LABELS", "abc_classes", "concentration"]

ABC_CLASSES: Final = ("A", "B", "C")
"""The class codes, best first."""

ABC_LABELS: Final[dict[str, dict[str, str]]] = {
    "en": {"A": "Key customers", "B": "Important customers", "C": "Ordinary customers"},
    "zh": {"A": "重点客户", "B": "重要客户", "C": "普通客户"},
}
"""Labels of the classes by language."""

_TIE_TOLERANCE: Final = 1e-12
_DIGITS: Final = 12
"""Shares are rounded to 12 decimals: stable JSON, far below any visible difference."""
_LORENZ_POINTS: Final = 101
_TOP_SHARES: Final = (
    ("top_1pct_share", 0.01),
    ("top_10pct_share", 0.10),
    ("top_20pct_share", 0.20),
)


def _check_thresholds(a: float, b: float) -> tuple[float, float]:
    for name, x in (("a", a), ("b", b)):
        if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x):
            raise ConfigError(f"ABC threshold {name} must be a number, got {x!r}")
    if not 0.0 < a < b <= 1.0:
        raise ConfigError(
            f"ABC thresholds must satisfy 0 < a < b <= 1 (shares of the total value), "
            f"got a={a}, b={b}"
        )
    return float(a), float(b)


def _values(value: Any, customer_ids: Any) -> FloatArray:
    if customer_ids is None:
        return as_float_array(value, "value")
    ids = np.asarray(customer_ids)
    values = as_float_array(value, "value", ids=ids)
    check_same_length(value=values, customer_ids=ids)
    return values


def abc_classes(
    value: Any, *, a: float = 0.80, b: float = 0.95, customer_ids: Any = None
) -> NDArray[np.str_]:
    """Class each customer A, B or C by the cumulative share of value, largest first.

    Parameters
    ----------
    value
        One value per customer (revenue, margin, ...); no missing values.
    a, b
        Cumulative-share thresholds of A and of A + B, ``0 < a < b <= 1``.
    customer_ids
        Optional, one per customer; only used to name the customer in an error message.
        The classes never depend on ids or on the row order.

    Returns
    -------
    numpy.ndarray of str
        ``"A"``, ``"B"`` or ``"C"`` per customer, in the input order.

    Raises
    ------
    ConfigError
        If the thresholds are not ``0 < a < b <= 1``.
    InputError
        If a value is missing or infinite, or the lengths differ.

    Examples
    --------
    >>> abc_classes([50, 30, 10, 6, 4]).tolist()  # 50 + 30 reaches 80 %: A; 96 % with 6
    ['A', 'A', 'B', 'B', 'C']
    >>> abc_classes([70, 20, 20, -5, 0]).tolist()  # the tied 20s are classed together
    ['A', 'A', 'A', 'C', 'C']
    """
    lo, hi = _check_thresholds(a, b)
    values = _values(value, customer_ids)
    classes = np.full(len(values), "C", dtype="<U1")
    positive = values > 0
    if not positive.any():
        return classes
    distinct, inverse, counts = np.unique(
        -values[positive], return_inverse=True, return_counts=True
    )
    group_totals = -distinct * counts  # largest value first
    before = np.cumsum(group_totals) - group_totals
    total = float(np.sum(group_totals))
    share_before = before / total
    group_class = np.where(
        share_before < lo * (1 - _TIE_TOLERANCE),
        "A",
        np.where(share_before < hi * (1 - _TIE_TOLERANCE), "B", "C"),
    )
    classes[positive] = group_class[inverse.reshape(-1)]
    return classes


def _lorenz(sorted_values: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Exact Lorenz points (i/n, share of the i smallest) for non-negative sorted values."""
    n = len(sorted_values)
    cum = np.concatenate(([0.0], np.cumsum(sorted_values)))
    return np.arange(n + 1, dtype=np.float64) / n, cum / cum[-1]


def concentration(value: Any, frequency: Any = None) -> dict[str, Any]:
    """Measure how concentrated the value is: top shares, Gini, Lorenz curve, one-timers.

    Parameters
    ----------
    value
        One value per customer (revenue, margin, ...). Negative values count as 0.
    frequency
        Optional repeat purchases per customer; adds the one-time buyers (``frequency ==
        0``) and their share of customers and of the value.

    Returns
    -------
    dict
        JSON-serialisable (plain ints, floats, lists, None):

        ``customers``
            number of customers;
        ``revenue``
            total value, negatives counted as 0;
        ``negative_customers``
            how many customers had a negative value (counted as 0);
        ``top_1pct_share``, ``top_10pct_share``, ``top_20pct_share``
            share of the value held by the top 1 %, 10 %, 20 % of customers;
        ``gini``
            Gini coefficient in ``[0, 1 - 1/n]``;
        ``lorenz``
            ``[[x, y], ...]``, at most 101 points from ``[0.0, 0.0]`` to ``[1.0, 1.0]``: x
            the cumulative share of customers (smallest value first), y their cumulative
            share of the value; the exact curve when there are at most 100 customers,
            else read at x = 0, 0.01, ..., 1;
        ``one_time_buyers``, ``one_time_buyer_share``
            with ``frequency`` only: the number of customers with ``frequency == 0`` and
            their share of the customers;
        ``one_time_revenue``, ``one_time_revenue_share``
            with ``frequency`` only: their value and its share of the total.

        The shares, ``gini`` and ``lorenz`` are None when the total value is 0 (no
        customers, or nobody spent anything): there is no distribution to describe.

    Raises
    ------
    InputError
        If a value is missing or infinite, or the lengths differ.

    Examples
    --------
    >>> c = concentration([10, 10, 10, 70], frequency=[0, 0, 2, 5])
    >>> c["top_20pct_share"], c["gini"], c["one_time_buyer_share"], c["one_time_revenue_share"]
    (0.56, 0.45, 0.5, 0.2)
    >>> c["lorenz"]
    [[0.0, 0.0], [0.25, 0.1], [0.5, 0.2], [0.75, 0.3], [1.0, 1.0]]
    """
    raw = as_float_array(value, "value")
    n = len(raw)
    x = np.sort(np.clip(raw, 0.0, None))
    total = math.fsum(x.tolist())
    out: dict[str, Any] = {
        "customers": n,
        "revenue": total,
        "negative_customers": int((raw < 0).sum()),
    }
    if total > 0:
        lx, ly = _lorenz(x)
        # Top shares from the same curve: the top p hold 1 - L(1 - p), read from the top.
        top_x, top_y = _lorenz(x[::-1])
        for key, p in _TOP_SHARES:
            out[key] = round(float(np.interp(p, top_x, top_y)), _DIGITS)
        gini = 1.0 - float(np.sum(ly[1:] + ly[:-1])) / n
        out["gini"] = round(min(max(gini, 0.0), 1.0), _DIGITS)
        if n + 1 > _LORENZ_POINTS:
            grid = np.linspace(0.0, 1.0, _LORENZ_POINTS)
            lx, ly = grid, np.interp(grid, lx, ly)
        out["lorenz"] = np.column_stack([lx, ly]).round(_DIGITS).tolist()
    else:
        out.update({key: None for key, _ in _TOP_SHARES})
        out["gini"] = None
        out["lorenz"] = None
    if frequency is not None:
        freq = as_float_array(frequency, "frequency")
        check_same_length(value=raw, frequency=freq)
        once = freq == 0
        once_revenue = math.fsum(np.clip(raw[once], 0.0, None).tolist())
        out["one_time_buyers"] = int(once.sum())
        out["one_time_buyer_share"] = round(float(once.sum() / n), _DIGITS) if n else None
        out["one_time_revenue"] = once_revenue
        out["one_time_revenue_share"] = round(once_revenue / total, _DIGITS) if total > 0 else None
    return out
