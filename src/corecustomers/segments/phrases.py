"""Sentences for many customers at once: numbers formatted and phrases joined column-wise.

The reasons and actions of an analysis are one sentence per customer; at a million
customers, building them one customer at a time in Python costs more than the models.
These helpers format whole arrays of numbers with NumPy's string operations and join
phrase columns with Arrow's ``binary_join_element_wise``, so a sentence is a template
applied to arrays. Each formatter gives exactly the text of the Python format spec it is
named after (``f"{x:.2f}"``, ``f"{x:,.2f}"``, ``f"{x:g}"``).

Examples
--------
>>> import numpy as np
>>> fixed(np.array([0.125, 2.0]), 2).tolist()
['0.12', '2.00']
>>> grouped(np.array([1234567.891, -999.999, 12.0, float("nan")]), 2).tolist()
['1,234,567.89', '-1,000.00', '12.00', 'nan']
>>> general(np.array([4.0, 3.5])).tolist()
['4', '3.5']
>>> join_present([pa.array(["a", None]), pa.array(["b", "c"])], "; ").to_pylist()
['a; b', 'c']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

__all__ = ["concat", "fixed", "general", "grouped", "join_present", "scatter"]

StrArray = NDArray[np.str_]


def fixed(values: NDArray[Any], digits: int) -> StrArray:
    """``f"{x:.{digits}f}"`` of every value."""
    return np.char.mod(f"%.{digits}f", np.asarray(values, dtype=np.float64))


def general(values: NDArray[Any]) -> StrArray:
    """``f"{x:g}"`` of every value."""
    return np.char.mod("%g", np.asarray(values, dtype=np.float64))


def grouped(values: NDArray[Any], digits: int) -> StrArray:
    """``f"{x:,.{digits}f}"`` of every value: thousands separated by commas."""
    x = np.asarray(values, dtype=np.float64)
    text = fixed(x, digits)
    out = text.astype(object)
    finite = np.isfinite(x)
    if not finite.any():
        return text
    plain = np.char.lstrip(text[finite], "-")
    negative = np.char.startswith(text[finite], "-")
    parts = np.char.partition(plain, ".")
    whole = parts[:, 0].astype(np.int64)
    head = np.char.mod("%d", whole)
    groups = np.char.str_len(head)
    body = head.astype(object)
    for size in np.unique(groups[groups > 3]).tolist():
        pick = groups == size
        n = whole[pick]
        top = (size - 1) // 3
        piece = np.char.mod("%d", n // 1000**top)
        for j in range(top - 1, -1, -1):
            piece = np.char.add(np.char.add(piece, ","), np.char.mod("%03d", (n // 1000**j) % 1000))
        body[pick] = piece
    rest = np.char.add(parts[:, 1], parts[:, 2]) if digits else parts[:, 1]
    signed = np.where(negative, "-", "").astype(object) + body.astype(object)
    out[finite] = signed + rest.astype(object)
    return out.astype(str)


def concat(*parts: StrArray | str) -> StrArray:
    """Element-wise concatenation of string arrays and constants."""
    out: Any = ""
    for part in parts:
        out = np.char.add(out, part)
    return np.asarray(out, dtype=str)


def scatter(n: int, where: NDArray[np.intp], values: StrArray) -> pa.Array:
    """A string array of length ``n``: ``values`` at ``where``, null elsewhere."""
    out = np.full(n, None, dtype=object)
    out[where] = values
    return pa.array(out, pa.string())


def join_present(columns: Sequence[pa.Array], separator: str) -> pa.Array:
    """Row by row, the non-null strings of ``columns`` joined by ``separator`` (null when
    every one is null)."""
    if not columns:
        raise ValueError("nothing to join")
    n = len(columns[0])
    if any(len(c) != n for c in columns):
        raise ValueError("the columns to join differ in length")
    present = pc.is_valid(columns[0])
    for column in columns[1:]:
        present = pc.or_(present, pc.is_valid(column))
    # Arrow's "skip" drops the rows where every value is null (pyarrow 26), so join only
    # the rows with something to join and put them back in place.
    rows = pc.indices_nonzero(present)
    joined = pc.binary_join_element_wise(
        *[c.take(rows) for c in columns], separator, null_handling="skip"
    )
    return pc.replace_with_mask(pa.nulls(n, pa.string()), present, joined.cast(pa.string()))
