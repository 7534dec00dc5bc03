"""A plain-Python reference of ``corecustomers.data.features.customer_features``.

Dicts and loops only -- no Ibis, no pandas -- written straight from the conventions in the
docstring of ``customer_features`` (and lifetimes' ``summary_data_from_transaction_data``
/ ``calibration_and_holdout_data`` with ``freq="D"``), so that the Ibis expressions on every
backend can be checked against something simple enough to read at a glance.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Written out here rather than imported, so the reference does not share the code it checks.
DAYS_PER_UNIT = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}

FLOAT_COLUMNS = (
    "recency",
    "T",
    "monetary_value",
    "total_spend",
    "returns_amount",
    "monetary_value_holdout",
    "duration_holdout",
)


@dataclass
class _Day:
    spend: float = 0.0
    returns: float = 0.0
    bought: bool = False
    order_ids: set[str] = field(default_factory=set)
    rows_without_order: int = 0
    amounts: list[float] = field(default_factory=list)

    @property
    def orders(self) -> int:
        return len(self.order_ids) + self.rows_without_order


def reference_features(
    rows: Iterable[Mapping[str, Any]],
    *,
    as_of: datetime.date,
    calibration_end: datetime.date | None = None,
    time_unit: str = "week",
) -> dict[str, dict[str, Any]]:
    """Features per customer id, from rows with the canonical transaction columns."""
    unit = DAYS_PER_UNIT[time_unit]
    end = as_of if calibration_end is None else calibration_end

    days: dict[str, dict[datetime.date, _Day]] = {}
    for row in rows:
        day = row["timestamp"].date()
        if day > as_of:
            continue
        amount = float(row["amount"])
        entry = days.setdefault(row["customer_id"], {}).setdefault(day, _Day())
        entry.amounts.append(amount)
        if amount < 0:
            entry.returns += -amount
        else:
            entry.bought = True
            order_id = row.get("order_id")
            if order_id is None:
                entry.rows_without_order += 1
            else:
                entry.order_ids.add(order_id)

    out: dict[str, dict[str, Any]] = {}
    for customer, by_day in days.items():
        for entry in by_day.values():
            entry.spend = math.fsum(entry.amounts)
        calibration = sorted(d for d in by_day if d <= end)
        bought = [d for d in calibration if by_day[d].bought]
        if not bought:
            continue  # no purchase up to the end: not a customer yet
        first, last = bought[0], bought[-1]
        repeats = bought[1:]
        features: dict[str, Any] = {
            "frequency": len(repeats),
            "recency": (last - first).days / unit,
            "T": (end - first).days / unit,
            "monetary_value": (
                math.fsum(by_day[d].spend for d in repeats) / len(repeats) if repeats else 0.0
            ),
            "first_purchase": first,
            "last_purchase": last,
            "total_spend": math.fsum(by_day[d].spend for d in calibration),
            "returns_amount": math.fsum(by_day[d].returns for d in calibration),
            "n_orders": sum(by_day[d].orders for d in bought),
            "n_periods": len(bought),
            "tenure_days": (end - first).days,
            "days_since_last_purchase": (end - last).days,
        }
        if calibration_end is not None:
            holdout = sorted(d for d in by_day if d > end and by_day[d].bought)
            features["frequency_holdout"] = len(holdout)
            features["monetary_value_holdout"] = (
                math.fsum(by_day[d].spend for d in holdout) / len(holdout) if holdout else 0.0
            )
            features["duration_holdout"] = (as_of - calibration_end).days / unit
        out[customer] = features
    return out


def by_customer(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Key materialised feature rows (e.g. ``pyarrow.Table.to_pylist()``) by customer id."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        values = dict(row)
        customer = values.pop("customer_id")
        assert customer not in out, f"customer {customer!r} appears twice"
        out[customer] = values
    return out


def mismatches(
    actual: Mapping[str, Mapping[str, Any]],
    expected: Mapping[str, Mapping[str, Any]],
    *,
    rel: float = 1e-12,
    abs_: float = 1e-9,
) -> list[str]:
    """Describe every difference between two ``{customer: {column: value}}`` mappings.

    Integers, dates and the set of customers must be equal; floats equal within ``rel``
    relative or ``abs_`` absolute tolerance (sums may run in a different order).
    """
    problems: list[str] = []
    if set(actual) != set(expected):
        problems.append(
            f"customers differ: missing {sorted(set(expected) - set(actual))}, "
            f"unexpected {sorted(set(actual) - set(expected))}"
        )
    for customer in sorted(set(actual) & set(expected)):
        got, want = actual[customer], expected[customer]
        if set(got) != set(want):
            problems.append(f"{customer}: columns {sorted(got)} != {sorted(want)}")
            continue
        for column, value in want.items():
            other = got[column]
            if column in FLOAT_COLUMNS:
                ok = isinstance(other, float) and math.isclose(
                    other, value, rel_tol=rel, abs_tol=abs_
                )
            else:
                ok = type(other) is type(value) and other == value
            if not ok:
                problems.append(f"{customer}.{column}: got {other!r}, expected {value!r}")
    return problems
