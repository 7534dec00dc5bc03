"""Influence (影响力, 积极推荐): who brings in other customers, and how much they spend.

A customer who recommends others is worth more than their own purchases. When the source
maps a ``referred_by`` column (the id of the customer who referred this one),
:func:`referrals` counts, lazily and on the engine holding the transactions, the customers
each referrer brought in and the revenue those customers produced; :func:`influence`
turns that into one row per scored customer with an ``influence_score`` in ``[0, 1]`` that
a tier policy can use like any other score.

Conventions
-----------
* A customer's referrer is the ``referred_by`` of their earliest row that has one (ties in
  time: the smallest id), so inconsistent sources still credit exactly one referrer.
  Self-referrals are ignored.
* A referred customer counts once they have bought (at least one row with
  ``amount >= 0``) up to the as-of day; their *revenue* is their net spend up to that day,
  returns included.
* The ``influence_score`` of a referrer is the share of all referrers whose referred
  revenue is at most theirs (tie-aware: equal revenue, equal score; the best referrer
  scores 1); a customer who referred nobody scores 0.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, Final

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.data.window import rows_up_to
from corecustomers.errors import ColumnMappingError, InputError
from corecustomers.units import check_dates

__all__ = ["INFLUENCE_COLUMNS", "REFERRAL_COLUMNS", "influence", "referrals"]

REFERRAL_COLUMNS: Final = ("customer_id", "referral_count", "referred_revenue")
"""Columns of :func:`referrals`, in order."""

INFLUENCE_COLUMNS: Final = (*REFERRAL_COLUMNS, "influence_score")
"""Columns of :func:`influence`, in order."""

_REQUIRED: Final = ("customer_id", "timestamp", "amount", "referred_by")


def referrals(tx: ir.Table, *, as_of: datetime.date) -> ir.Table:
    """Count each referrer's referred customers and their revenue, lazily.

    Parameters
    ----------
    tx
        Canonical transactions with a ``referred_by`` column (string, nullable: the id of
        the customer who referred the row's customer), on any Ibis backend.
    as_of
        Last day observed (inclusive). Transactions after it are ignored.

    Returns
    -------
    ibis.expr.types.Table
        An unexecuted expression with one row per referrer who brought in at least one
        customer who bought, in no particular order:

        ``customer_id`` (string)
            The referrer (who need not have bought anything).
        ``referral_count`` (int64)
            Referred customers with at least one purchase up to ``as_of``.
        ``referred_revenue`` (float64)
            Their net spend up to ``as_of``.

    Raises
    ------
    ColumnMappingError
        If ``tx`` lacks ``referred_by`` or a canonical column.
    ConfigError
        If ``as_of`` is not a :class:`datetime.date`.

    Examples
    --------
    >>> import datetime
    >>> import ibis
    >>> tx = ibis.memtable(
    ...     {
    ...         "customer_id": ["ann", "bob", "bob", "cat", "dan"],
    ...         "timestamp": [datetime.datetime(2024, 1, d) for d in (1, 2, 9, 3, 4)],
    ...         "amount": [50.0, 20.0, 30.0, 15.0, -5.0],
    ...         "referred_by": [None, "ann", "ann", "ann", "ann"],
    ...     }
    ... )
    >>> expr = referrals(tx, as_of=datetime.date(2024, 1, 31))
    >>> expr.to_pyarrow().to_pylist()  # dan never bought: not counted
    [{'customer_id': 'ann', 'referral_count': 2, 'referred_revenue': 65.0}]
    """
    check_dates(as_of, None)
    missing = [name for name in _REQUIRED if name not in tx.columns]
    if missing:
        raise ColumnMappingError(
            f"the transactions lack {', '.join(missing)}; map the source column that "
            f"holds the referring customer's id to 'referred_by' (see docs/CONTRACTS.md) "
            f"to compute influence.",
            column=missing[0],
        )
    tx = rows_up_to(tx, as_of)
    rows = tx.select(
        customer_id=tx["customer_id"].cast("string"),
        timestamp=tx["timestamp"],
        amount=tx["amount"].cast("float64"),
        referred_by=tx["referred_by"].cast("string"),
    )

    referred = rows.filter(rows.referred_by.notnull() & (rows.referred_by != rows.customer_id))
    first = ibis.window(
        group_by=referred.customer_id, order_by=[referred.timestamp, referred.referred_by]
    )
    numbered = referred.mutate(k=ibis.row_number().over(first))
    links = numbered.filter(numbered.k == 0).select(
        referred_id="customer_id", referrer="referred_by"
    )
    spend = rows.group_by(spender="customer_id").aggregate(
        revenue=rows.amount.sum(), purchases=rows.amount.count(where=rows.amount >= 0)
    )
    joined = links.join(spend, links.referred_id == spend.spender)
    joined = joined.filter(joined.purchases > 0)
    per_referrer = joined.group_by(customer_id=joined.referrer).aggregate(
        referral_count=joined.referred_id.count(), referred_revenue=joined.revenue.sum()
    )
    return per_referrer.select(
        customer_id=per_referrer.customer_id,
        referral_count=per_referrer.referral_count.cast("int64"),
        referred_revenue=per_referrer.referred_revenue.cast("float64"),
    )


def influence(customers: pa.Table | Sequence[str], referral_table: pa.Table) -> pa.Table:
    """Give every customer their referral figures and an ``influence_score``.

    Parameters
    ----------
    customers
        The scored customers (a table with ``customer_id``) or a sequence of ids.
    referral_table
        :func:`referrals`, materialised.

    Returns
    -------
    pyarrow.Table
        One row per customer, in the given order, with :data:`INFLUENCE_COLUMNS`:
        ``referral_count`` (int64) and ``referred_revenue`` (float64), 0 for customers
        who referred nobody, and ``influence_score`` (float64): the share of all
        referrers in ``referral_table`` with referred revenue at most this customer's,
        in ``(0, 1]`` (ties equal; the best is 1), and 0 for customers who referred
        nobody. Referrers who are not among ``customers`` still count in the shares.

    Raises
    ------
    InputError
        If ``referral_table`` lacks a column or repeats a referrer, or a value is missing.

    Examples
    --------
    >>> import pyarrow as pa
    >>> table = pa.table({
    ...     "customer_id": ["ann", "eve", "joe"],
    ...     "referral_count": [2, 1, 3],
    ...     "referred_revenue": [65.0, 10.0, 65.0],
    ... })
    >>> out = influence(["ann", "bob", "eve", "joe"], table)
    >>> out.column("influence_score").to_pylist()
    [1.0, 0.0, 0.3333333333333333, 1.0]
    >>> out.column("referral_count").to_pylist()
    [2, 0, 1, 3]
    """
    missing = [c for c in REFERRAL_COLUMNS if c not in referral_table.column_names]
    if missing:
        raise InputError(
            f"the referral table lacks {', '.join(missing)}; compute it with "
            f"corecustomers.insights.influence.referrals.",
            column=missing[0],
        )
    ref_ids = referral_table["customer_id"].cast(pa.string())
    counts = referral_table["referral_count"].cast(pa.int64())
    revenue = referral_table["referred_revenue"].cast(pa.float64())
    for name, column in (
        ("customer_id", ref_ids),
        ("referral_count", counts),
        ("referred_revenue", revenue),
    ):
        if column.null_count:
            raise InputError("the referral table has missing values", column=name)
    if pc.count_distinct(ref_ids).as_py() != len(ref_ids):
        raise InputError("the referral table repeats a referrer", column="customer_id")

    if isinstance(customers, pa.Table):
        if "customer_id" not in customers.column_names:
            raise InputError("the customers table has no customer_id", column="customer_id")
        ids = customers["customer_id"].cast(pa.string())
    else:
        ids = pa.chunked_array([pa.array(list(customers), pa.string())])

    rev = np.asarray(revenue.to_numpy(), dtype=np.float64)
    ordered = np.sort(rev)
    shares = np.searchsorted(ordered, rev, side="right") / max(len(rev), 1)

    where = pc.index_in(ids, value_set=ref_ids.combine_chunks())
    found = np.asarray(pc.fill_null(where, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    known = found >= 0
    pick = np.where(known, found, 0)
    count_values = np.asarray(counts.to_numpy(), dtype=np.int64)
    n = len(found)

    def gather(values: NDArray[Any], empty: float) -> NDArray[Any]:
        if not len(values):
            return np.full(n, empty)
        return np.where(known, values[pick], empty)

    return pa.table(
        {
            "customer_id": ids,
            "referral_count": pa.array(gather(count_values, 0).astype(np.int64), pa.int64()),
            "referred_revenue": pa.array(gather(rev, 0.0), pa.float64()),
            "influence_score": pa.array(gather(shares, 0.0), pa.float64()),
        }
    )
