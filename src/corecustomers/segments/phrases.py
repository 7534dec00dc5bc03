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

import json
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

__all__ = ["concat", "fixed", "general", "grouped", "join_present", "json_values", "scatter"]

StrArray = NDArray[np.str_]


def fixed(values: NDArray[Any], digits: int) -> StrArray:
    """``f"{x:.{digits}f}"`` of every value."""
    return _formatted(np.asarray(values, dtype=np.float64), digits, commas=False)


def general(values: NDArray[Any]) -> StrArray:
    """``f"{x:g}"`` of every value."""
    return np.char.mod("%g", np.asarray(values, dtype=np.float64))


def grouped(values: NDArray[Any], digits: int) -> StrArray:
    """``f"{x:,.{digits}f}"`` of every value: thousands separated by commas."""
    return _formatted(np.asarray(values, dtype=np.float64), digits, commas=True)


#: Largest magnitude (times 10^digits) formatted in integers; beyond, Python formats.
_EXACT_LIMIT: Final = 2.0**52


def _formatted(x: NDArray[np.float64], digits: int, *, commas: bool) -> StrArray:
    """Fixed-point text of ``x`` with ``digits`` decimals, as Python's format writes it.

    The value times ``10**digits`` is rounded half to even in NumPy, which is Python's
    rounding of the exact binary value except where that product is within rounding
    error of a half: those values, the non-finite ones and the very large ones are
    formatted by Python itself; the integers are written by Arrow's kernels.
    """
    spec = f",.{digits}f" if commas else f".{digits}f"
    scale = 10.0**digits
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = np.abs(x) * scale
        half = np.abs(scaled - np.floor(scaled) - 0.5)
        easy = np.isfinite(scaled) & (scaled < _EXACT_LIMIT) & (half > 1e-6 + scaled * 1e-12)
    out = np.empty(len(x), dtype=object)
    for i in np.flatnonzero(~easy).tolist():
        out[i] = format(float(x[i]), spec)
    at = np.flatnonzero(easy)
    if len(at):
        units = np.rint(scaled[at]).astype(np.int64)
        power = 10**digits
        whole = _thousands(units // power) if commas else _integers(units // power)
        parts: list[pa.Array | str] = [
            pa.array(np.where(np.signbit(x[at]), "-", ""), pa.string()),
            whole,
        ]
        if digits:
            frac = pc.utf8_lpad(_integers(units % power), width=digits, padding="0")
            parts += [".", frac]
        text = pc.binary_join_element_wise(*parts, "")
        out[at] = text.to_numpy(zero_copy_only=False)
    return out.astype(str)


def _integers(values: NDArray[np.int64]) -> pa.Array:
    return pc.cast(pa.array(values, pa.int64()), pa.string())


def _thousands(values: NDArray[np.int64]) -> pa.Array:
    """Non-negative integers with commas between groups of three digits."""
    text = _integers(values)
    n_groups = np.ones(len(values), dtype=np.int64)
    rest = values // 1000
    while rest.any():
        n_groups += rest > 0
        rest //= 1000
    out = text
    for count in np.unique(n_groups[n_groups > 1]).tolist():
        pick = np.flatnonzero(n_groups == count)
        v = values[pick]
        pieces: list[pa.Array] = [_integers(v // 1000 ** (count - 1))]
        for j in range(count - 2, -1, -1):
            group = _integers((v // 1000**j) % 1000)
            pieces.append(pc.utf8_lpad(group, width=3, padding="0"))
        joined = pc.binary_join_element_wise(*pieces, ",")
        mask = np.zeros(len(values), dtype=bool)
        mask[pick] = True
        out = pc.replace_with_mask(out, pa.array(mask), joined)
    return out


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


def json_values(values: NDArray[Any], valid: NDArray[np.bool_]) -> pa.Array:
    """Each value as JSON (``null`` where not valid or not finite), as ``json.dumps``
    and ``repr`` write it; numbers column-wise through Arrow's shortest round-trip text,
    which is Python's ``repr`` from 1e-4 up to 1e15 where it has no exponent (elsewhere,
    ``repr`` itself)."""
    n = len(values)
    if values.dtype.kind == "b":
        out = np.where(values, "true", "false").astype(object)
        out[~valid] = "null"
        return pa.array(out, pa.string())
    if values.dtype.kind != "f":
        texts = np.full(n, "null", dtype=object)
        cache: dict[Any, str] = {}
        for i in np.flatnonzero(valid).tolist():
            v = values[i]
            if v not in cache:
                cache[v] = json.dumps(v, ensure_ascii=False)
            texts[i] = cache[v]
        return pa.array(texts, pa.string())
    x = np.asarray(values, dtype=np.float64)
    ok = np.asarray(valid, dtype=bool) & np.isfinite(x)
    size = np.abs(x)
    fast = ok & (((size >= 1e-4) & (size < 1e15)) | (x == 0))
    arrow = pc.cast(pa.array(np.where(fast, x, 0.0)), pa.string())
    # Arrow writes some 17-digit numbers with an exponent where repr does not
    fast &= ~np.asarray(pc.match_substring(arrow, "e").to_numpy(zero_copy_only=False))
    plain = pc.invert(pc.match_substring(arrow, "."))
    text = pc.if_else(plain, pc.binary_join_element_wise(arrow, ".0", ""), arrow)
    out = np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
    out[~ok] = "null"
    for i in np.flatnonzero(ok & ~fast).tolist():
        out[i] = repr(float(x[i]))
    return pa.array(out, pa.string())
