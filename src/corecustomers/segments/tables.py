"""Summary tables of segments and ABC classes for the report and ``summary.json``.

Each row is a plain dict (JSON-serialisable): the group, its label, the number of
customers, their value (``revenue``: the sum of the value column given, net of returns)
and the two shares. A share of the value is None when the total value is not positive
(there is nothing to share out); a share of customers is None when there are none.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from corecustomers.errors import InputError
from corecustomers.segments._arrays import FloatArray, as_float_array, check_same_length
from corecustomers.segments.abc import ABC_CLASSES, ABC_LABELS
from corecustomers.segments.schemes import (
    CN8,
    NAMED,
    Lang,
    Scheme,
    get_scheme,
    normalise_lang,
)

__all__ = ["abc_table", "segment_table"]


def _strings(values: Any, name: str) -> np.ndarray[Any, np.dtype[np.str_]]:
    if hasattr(values, "to_pylist"):
        values = values.to_pylist()
    arr = np.asarray(values, dtype=np.str_)
    if arr.ndim != 1:
        raise InputError(f"expected a one-dimensional array, got shape {arr.shape}", column=name)
    return arr


def _row(
    key: str, name: str, label: str, mask: np.ndarray[Any, Any], value: FloatArray, total: float
) -> dict[str, Any]:
    n = len(value)
    customers = int(mask.sum())
    revenue = math.fsum(value[mask].tolist())
    return {
        key: name,
        "label": label,
        "customers": customers,
        "revenue": revenue,
        "share_customers": customers / n if n else None,
        "share_revenue": revenue / total if total > 0 else None,
    }


def _order(codes: np.ndarray[Any, Any], value: FloatArray) -> list[str]:
    present = sorted(set(codes.tolist()))
    for scheme in (NAMED, CN8):
        if set(present) <= set(scheme.codes):
            return [c for c in scheme.codes if c in present]
    by_value = {c: math.fsum(value[codes == c].tolist()) for c in present}
    return sorted(present, key=lambda c: (-by_value[c], c))


def segment_table(
    codes: Any,
    labels: Any,
    value: Any,
    *,
    scheme: str | Scheme | Mapping[str, Any] | None = None,
    lang: Lang = "en",
) -> list[dict[str, Any]]:
    """Customers and value per segment, in the scheme's order.

    Parameters
    ----------
    codes, labels
        The segment code and label of each customer (from
        :func:`~corecustomers.segments.assign_segments`).
    value
        The value of each customer (``total_spend``, margin, ...).
    scheme
        The scheme the codes come from. Given, the table has one row per segment of the
        scheme, in its order, empty segments included (their label in ``lang``). Without
        it, one row per segment present: in the order of the built-in scheme (``named``
        or ``cn8``) when the codes are all from one, else by value, largest first.
    lang
        Label language for empty segments when ``scheme`` is given.

    Returns
    -------
    list of dict
        ``{"segment", "label", "customers", "revenue", "share_customers",
        "share_revenue"}`` per segment.

    Raises
    ------
    InputError
        If the lengths differ or a code is not a segment of ``scheme``.

    Examples
    --------
    >>> rows = segment_table(["Lost", "Champions", "Lost"], ["Lost", "Champions", "Lost"],
    ...                      [10.0, 70.0, 20.0])
    >>> [(r["segment"], r["customers"], r["share_revenue"]) for r in rows]
    [('Champions', 1, 0.7), ('Lost', 2, 0.3)]
    """
    code_arr = _strings(codes, "codes")
    label_arr = _strings(labels, "labels")
    values = as_float_array(value, "value")
    check_same_length(codes=code_arr, labels=label_arr, value=values)
    total = math.fsum(values.tolist())
    if scheme is None:
        order = _order(code_arr, values)
        fallback = dict.fromkeys(order, "")
    else:
        resolved = get_scheme(scheme)
        unknown = sorted(set(code_arr.tolist()) - set(resolved.codes))
        if unknown:
            raise InputError(
                f"segment code(s) {unknown} are not segments of scheme {resolved.name!r} "
                f"({', '.join(resolved.codes)}); pass the scheme the codes were assigned with"
            )
        order = list(resolved.codes)
        fallback = dict(zip(order, resolved.labels(lang), strict=True))
    rows = []
    for code in order:
        mask = code_arr == code
        label = str(label_arr[mask][0]) if mask.any() else fallback[code]
        rows.append(_row("segment", code, label, mask, values, total))
    return rows


def abc_table(classes: Any, value: Any, *, lang: Lang = "en") -> list[dict[str, Any]]:
    """Customers and value per ABC class, A first; all three classes always listed.

    Parameters
    ----------
    classes
        ``"A"``, ``"B"`` or ``"C"`` per customer (from
        :func:`~corecustomers.segments.abc_classes`).
    value
        The value the classes were computed on (or any other per-customer value).
    lang
        Label language: ``"en"`` (Key / Important / Ordinary customers) or ``"zh"``
        (重点客户 / 重要客户 / 普通客户).

    Returns
    -------
    list of dict
        ``{"class", "label", "customers", "revenue", "share_customers",
        "share_revenue"}`` for A, B and C.

    Examples
    --------
    >>> rows = abc_table(["A", "C", "B", "A"], [60.0, 5.0, 15.0, 20.0], lang="zh")
    >>> [(r["class"], r["label"], r["customers"], r["share_revenue"]) for r in rows]
    [('A', '重点客户', 2, 0.8), ('B', '重要客户', 1, 0.15), ('C', '普通客户', 1, 0.05)]
    """
    class_arr = _strings(classes, "classes")
    values = as_float_array(value, "value")
    check_same_length(classes=class_arr, value=values)
    unknown = sorted(set(class_arr.tolist()) - set(ABC_CLASSES))
    if unknown:
        raise InputError(f"ABC classes must be A, B or C; got {unknown}", column="classes")
    labels = ABC_LABELS[normalise_lang(lang)]
    total = math.fsum(values.tolist())
    return [
        _row("class", name, labels[name], class_arr == name, values, total) for name in ABC_CLASSES
    ]
