"""The customers the time-shifted steps learn from: all of them, or a sample of many.

The core ranking (:mod:`corecustomers.insights.ranking`) and the churn risk
(:mod:`corecustomers.insights.risk`) learn from the transactions shifted back in time: at
two earlier cuts each, the features of every customer who had bought by then, a fit of
the BTYD models, a gradient-boosted model and its validation. What they learn is a
handful of parameters and a model of a few hundred trees; the gradient-boosted models
already learn from at most 200,000 customers. Computing those frames for every customer
of a large base costs most of an analysis (on a million customers, about two thirds of
the core ranking's and the churn risk's time) and adds nothing a large sample does not
give.

So above :data:`SHIFTED_CUSTOMERS` customers at the cut, the shifted frames are built
from the rows of a uniform sample of that many of them (drawn with the fixed seed
:data:`SAMPLE_SEED` from the customers in ``customer_id`` order, so the same customers
in any row order and on any engine), kept once for both steps (:func:`shifted_rows`).
Everything at the cut itself -- the features, models and predictions of every customer,
the scores and the tiers -- is computed for all customers as before; only the shifted
training and validation read the sample, and their figures (validation capture, AUCs,
customers counted) describe it, as the summary says (``shifted_sample``). With fewer
customers nothing changes.

Examples
--------
>>> import datetime
>>> import ibis
>>> import pyarrow as pa
>>> tx = ibis.memtable(
...     {
...         "customer_id": ["a", "b", "c", "c"],
...         "timestamp": [datetime.datetime(2024, 1, d) for d in (1, 2, 3, 4)],
...         "amount": [1.0, 2.0, 3.0, 4.0],
...     }
... )
>>> ids = pa.array(["a", "b", "c"])
>>> shifted_rows(tx, ids, folder=None).customers is None
True
>>> sample = shifted_rows(tx, ids, folder=None, limit=2)
>>> sample.customers, sorted(set(sample.transactions.to_pyarrow()["customer_id"].to_pylist()))
(2, ['b', 'c'])
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corecustomers.data.connect import keep_rows
from corecustomers.ids import increasing

__all__ = [
    "SAMPLE_SEED",
    "SHIFTED_COLUMNS",
    "SHIFTED_CUSTOMERS",
    "ShiftedRows",
    "shifted_rows",
]

SHIFTED_CUSTOMERS: Final = 300_000
"""Above this many customers at the cut, the shifted frames read a sample of this many."""

#: The columns of the sample's rows that the shifted frames read (the features, the
#: activity, the churn risk's behaviour and labels), where the transactions have them.
SHIFTED_COLUMNS: Final = ("customer_id", "timestamp", "amount", "order_id", "product")

SAMPLE_SEED: Final = 0
"""Seed of the sample's draw, so that runs repeat exactly."""


@dataclass(frozen=True)
class ShiftedRows:
    """The rows the shifted frames read, and the size of the sample they are of (None:
    the rows of all customers)."""

    transactions: ir.Table
    customers: int | None = None


def shifted_rows(
    tx: ir.Table,
    customer_ids: pa.Array | pa.ChunkedArray,
    *,
    folder: Path | None,
    limit: int = SHIFTED_CUSTOMERS,
) -> ShiftedRows:
    """The rows of ``tx`` the shifted frames read: all of them when ``customer_ids`` (the
    customers at the cut) are at most ``limit``, else those of a uniform sample of
    ``limit`` of them, kept in ``folder`` (:func:`~corecustomers.data.connect.keep_rows`;
    None: not kept, each query filters the rows again)."""
    n = len(customer_ids)
    if n <= limit:
        return ShiftedRows(tx)
    ids = customer_ids.cast(pa.string())
    ordered = ids if increasing(ids) else ids.take(pc.sort_indices(ids))  # the analysis': sorted
    rng = np.random.default_rng(SAMPLE_SEED)
    chosen = ordered.take(pa.array(np.sort(rng.choice(n, limit, replace=False))))
    if isinstance(chosen, pa.ChunkedArray):
        chosen = chosen.combine_chunks()
    sample = ibis.memtable(pa.table({"customer_id": chosen}))
    customer = tx["customer_id"]
    if not customer.type().is_string():
        customer = customer.cast("string")
    rows = tx.filter(customer.isin(sample["customer_id"]))
    if folder is None:
        return ShiftedRows(rows, limit)
    # kept with the columns the shifted frames read: the rest (categories, channels,
    # stores, quantities, row numbers) are a quarter of the keeping's cost and none of them
    # is read (10M rows, a sample of 300,000 customers: the sample's rows kept in 2.6 ->
    # 1.9 CPU-s)
    kept = rows.select(*[name for name in SHIFTED_COLUMNS if name in rows.columns])
    return ShiftedRows(keep_rows(kept, folder, name="shifted"), limit)
