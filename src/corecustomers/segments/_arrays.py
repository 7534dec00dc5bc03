"""Input checks shared by the segment modules: 1-D finite arrays, equal lengths, columns.

Every public function of :mod:`corecustomers.segments` accepts anything NumPy can turn
into a one-dimensional array (lists, NumPy arrays, ``pyarrow`` arrays and chunked arrays)
and validates it here, so the messages read the same everywhere.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from corecustomers.errors import ConfigError, InputError

__all__ = [
    "MAX_BINS",
    "MIN_BINS",
    "FloatArray",
    "IntArray",
    "as_float_array",
    "check_bins",
    "check_same_length",
    "table_column",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

MIN_BINS: Final = 3
MAX_BINS: Final = 10


def as_float_array(values: Any, name: str, *, ids: NDArray[Any] | None = None) -> FloatArray:
    """Return ``values`` as a 1-D float64 array; reject missing and infinite values.

    With ``ids`` (customer ids in the same order) the message names the first bad customer
    instead of its position.
    """
    if isinstance(values, pa.ChunkedArray | pa.Array):
        if values.null_count:
            raise InputError(
                f"{values.null_count} missing value(s); fill or drop them first", column=name
            )
        values = values.to_numpy()
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(f"values must be numbers ({exc})", column=name) from exc
    if arr.ndim != 1:
        raise InputError(f"expected a one-dimensional array, got shape {arr.shape}", column=name)
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        where = (
            f"customer {ids[first]!s}"
            if ids is not None and len(ids) == len(arr)
            else f"position {first}"
        )
        raise InputError(
            f"{int(bad.sum())} missing or infinite value(s), the first at {where}; "
            "fill or drop them first",
            column=name,
        )
    return arr


def check_same_length(**arrays: NDArray[Any]) -> int:
    """Return the common length of ``arrays``; raise naming the lengths when they differ."""
    lengths = {name: len(arr) for name, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise InputError(f"the arrays must have one value per customer, but {listed}")
    return next(iter(lengths.values()), 0)


def check_bins(bins: object, what: str = "bins") -> int:
    """Return ``bins`` when it is an int in ``MIN_BINS..MAX_BINS``; raise ConfigError."""
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer):
        raise ConfigError(f"{what} must be a whole number from {MIN_BINS} to {MAX_BINS}")
    if not MIN_BINS <= int(bins) <= MAX_BINS:
        raise ConfigError(f"{what} must be from {MIN_BINS} to {MAX_BINS}, got {int(bins)}")
    return int(bins)


def table_column(table: pa.Table, name: str) -> pa.ChunkedArray:
    """Return column ``name`` of a features table; raise InputError naming what is there."""
    if name not in table.column_names:
        raise InputError(
            f"the features table has no column {name!r} (it has: "
            f"{', '.join(table.column_names)}); build it with "
            "corecustomers.data.features.customer_features",
            column=name,
        )
    return table.column(name)
