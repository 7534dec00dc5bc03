"""The input contract the report reads, and tolerant readers for it.

``summary`` comes from ``summary.json`` and may lack optional keys, or hold ``None`` where a
value is unknown; the readers here turn anything unexpected into "nothing to show" rather
than an exception. The customers table must have :data:`REQUIRED_COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corecustomers.errors import InputError
from corecustomers.report._labels import Words
from corecustomers.report._numbers import as_float

#: Columns of the customers table the report reads (see ``docs/CONTRACTS.md``).
REQUIRED_COLUMNS: Final = (
    "customer_id",
    "frequency",
    "monetary_value",
    "total_spend",
    "days_since_last_purchase",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "abc_class",
)

_UNITS: Final = frozenset({"day", "week", "month", "year"})


def check_columns(customers: pa.Table) -> None:
    """Raise :class:`~corecustomers.errors.InputError` naming the columns that are missing."""
    missing = [name for name in REQUIRED_COLUMNS if name not in customers.column_names]
    if missing:
        raise InputError(
            f"the customers table lacks the column(s) {', '.join(missing)}; pass the scored "
            "customers table that the analysis produces (see docs/CONTRACTS.md)",
            column=missing[0],
        )


def mapping(value: object) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def rows(value: object) -> list[Mapping[str, Any]]:
    """The mappings in ``value`` if it is a list of them, else an empty list."""
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        return []
    return [row for row in value if isinstance(row, Mapping)]


def unit(summary: Mapping[str, Any], words: Words) -> str:
    """The time unit's name in the report language (``"week"`` -> ``"周"``)."""
    name = str(summary.get("time_unit") or "week")
    return words(f"unit.{name}") if name in _UNITS else name


def floats(table: pa.Table, name: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    """A column as float64 with NaN for nulls; may be a read-only view of Arrow memory."""
    column = pc.cast(table.column(name), pa.float64())
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def share(part: object, whole: object) -> float | None:
    """``part / whole``, or ``None`` when either is missing or ``whole`` is zero."""
    a, b = as_float(part), as_float(whole)
    return None if a is None or b is None or b == 0 else a / b
