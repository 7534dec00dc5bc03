"""The one definition of "the transactions up to a date" and of a transaction's day.

Every step of an analysis (features, behaviour, influence, adopters, the ranking,
recommendations) looks at the rows on or before a cut date. A row belongs to the day of
its ``timestamp`` in the business's time (the readers already shifted it there); a row at
23:59:59.999999 is in, one at 00:00 the next day is out.

For a timestamp column the comparison is the raw timestamp against the next midnight
rather than a cast of every row to a date: the same rows, and cheaper on every backend
(DuckDB can use its min/max statistics; no per-row cast). Date columns are compared as
they are.

Examples
--------
>>> import datetime
>>> import ibis
>>> tx = ibis.memtable(
...     {
...         "customer_id": ["a", "a", "b"],
...         "timestamp": [
...             datetime.datetime(2024, 1, 31, 23, 59, 59),
...             datetime.datetime(2024, 2, 1, 0, 0, 0),
...             datetime.datetime(2024, 1, 2, 8, 0, 0),
...         ],
...         "amount": [1.0, 2.0, 3.0],
...     }
... )
>>> kept = rows_up_to(tx, datetime.date(2024, 1, 31))
>>> sorted(kept.amount.to_pyarrow().to_pylist())
[1.0, 3.0]
>>> sorted(d.isoformat() for d in kept.select(day=day_of(kept)).day.to_pyarrow().to_pylist())
['2024-01-02', '2024-01-31']
>>> rows_after(tx, datetime.date(2024, 1, 31)).amount.to_pyarrow().to_pylist()
[2.0]
"""

from __future__ import annotations

import datetime

import ibis
import ibis.expr.types as ir

__all__ = ["day_of", "rows_after", "rows_up_to"]


def rows_up_to(tx: ir.Table, as_of: datetime.date, *, column: str = "timestamp") -> ir.Table:
    """The rows of ``tx`` whose ``column`` (a timestamp or a date; by default the
    transactions' ``timestamp``) falls on or before the day ``as_of``."""
    return tx.filter(_on_or_before(tx[column], as_of))


def rows_after(tx: ir.Table, as_of: datetime.date, *, column: str = "timestamp") -> ir.Table:
    """The rows of ``tx`` whose ``column`` falls after the day ``as_of``: the complement
    of :func:`rows_up_to` (a row without a value is in neither)."""
    return tx.filter(~_on_or_before(tx[column], as_of))


def _on_or_before(ts: ir.Value, as_of: datetime.date) -> ir.BooleanValue:
    if ts.type().is_date():
        return ts <= ibis.literal(as_of, type="date")
    next_midnight = datetime.datetime.combine(as_of + datetime.timedelta(days=1), datetime.time())
    return ts < ibis.literal(next_midnight, type=ts.type())


def day_of(tx: ir.Table) -> ir.Value:
    """The day of each row of ``tx``: its ``timestamp`` as a date."""
    ts = tx["timestamp"]
    return ts if ts.type().is_date() else ts.date()
