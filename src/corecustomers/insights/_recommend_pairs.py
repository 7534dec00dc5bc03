"""The (customer, item) pairs of the recommendations, read once and coded once.

The private half of :mod:`corecustomers.insights.recommend` (whose docstring describes
the method): step 1, the incidence. One Ibis aggregation turns the transactions into the
(customer, item) pairs bought up to the last of a few days, with each pair's purchases and
taste on or before each day; the customers and items are coded once (sorted, by one
hashing pass), and each day's :class:`History` -- customers, products ordered by
popularity and the sparse customers x products matrices -- and the new purchases of a
holdout are taken from those pairs without reading the transactions again.

Kept apart because it is the only part of the recommender that talks to the backend (the
Ibis aggregation) and handles the ids and names; the
similarity and the scoring in :mod:`~corecustomers.insights.recommend` see only the coded
sparse matrices.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from numpy.typing import NDArray

from corecustomers.data.features import materialize
from corecustomers.data.window import day_of, rows_up_to
from corecustomers.errors import ColumnMappingError, ConfigError
from corecustomers.units import check_dates

__all__ = ["Bought", "History", "Pairs", "checked_transactions", "purchase_pairs"]


IntArray = NDArray[np.int64]
CodeArray = NDArray[np.int32]


def checked_transactions(tx: ir.Table, item: str) -> ir.Table:
    """``tx``, once it is known to have the columns the recommendations read.

    Raises :class:`~corecustomers.errors.ColumnMappingError` naming the first missing one.
    """
    missing = [c for c in ("customer_id", "timestamp", "amount", item) if c not in tx.columns]
    if missing:
        raise ColumnMappingError(
            f"the transactions lack {', '.join(missing)}; recommendations need the "
            f"customer, time, amount and a {item!r} column (map one with the column "
            "mapping, see docs/CONTRACTS.md).",
            column=missing[0],
        )
    return tx


def _pair_table(
    tx: ir.Table, *, item: str, days: tuple[datetime.date, ...], detail: int | None
) -> pa.Table:
    """(customer, item) and, for each of ``days`` (sorted), ``purchases_<i>`` and
    ``liked_<i>`` on or before day ``i``, for the pairs bought up to the last day,
    materialised; with ``detail`` (an index into ``days``) also the pair's ``spend``
    (the sum of its purchase rows) and ``first_day`` (its first purchase day) on or
    before that day.

    ``item`` is null for customers whose purchases carry no item: they are customers
    all the same.
    """
    # one aggregation of every row. It was split in two by a hash of the customer id
    # (each half's hash table holding half the pairs: at 1M customers, 7.8M pairs, one
    # table takes about 1 GB at once), but each half scanned every row and hashed every
    # id: 10M rows, one engine thread, 6.4-7.2 CPU-s in two parts against 4.7-4.9 in
    # one. The extra memory comes early in an analysis, beside the features and the
    # fits: analyze on 10M rows peaked at 3.56 GB either way, at the end of its steps
    # side by side
    return materialize(
        _aggregated_pairs(rows_up_to(tx, days[-1]), item=item, days=days, detail=detail)
    )


def _aggregated_pairs(
    tx: ir.Table, *, item: str, days: tuple[datetime.date, ...], detail: int | None
) -> ir.Table:
    customer = tx["customer_id"]
    if not customer.type().is_string():
        customer = customer.cast("string")
    product = tx[item]
    if not product.type().is_string():
        product = product.cast("string")
    amount = tx["amount"].cast("float64")
    bought = amount >= 0
    returned = ~bought
    sums: dict[str, ir.Value] = {}
    for i, day in enumerate(days):
        if i == len(days) - 1:  # every row is on or before the last day
            on_day, back_on_day = bought, returned
        else:
            within = day_of(tx) <= ibis.literal(day, type="date")
            on_day, back_on_day = bought & within, returned & within
        sums[f"purchases_{i}"] = amount.count(where=on_day)
        sums[f"paid_{i}"] = amount.sum(where=on_day)
        sums[f"returned_{i}"] = (-amount).sum(where=back_on_day)
        if i == detail:
            sums["first_day"] = day_of(tx).min(where=on_day)
    agg = tx.group_by(customer_id=customer, item=product).aggregate(**sums)
    last = len(days) - 1
    agg = agg.filter(agg[f"purchases_{last}"] > 0)
    columns: dict[str, ir.Value] = {}
    for i in range(len(days)):
        paid, back = agg[f"paid_{i}"], agg[f"returned_{i}"]
        columns[f"purchases_{i}"] = agg[f"purchases_{i}"].cast("int32")
        columns[f"liked_{i}"] = back.isnull() | (back < paid) | (paid.fill_null(0.0) == 0)
    if detail is not None:
        columns["spend"] = agg[f"paid_{detail}"]
        columns["first_day"] = agg["first_day"]
    return agg.select("customer_id", "item", **columns)


@dataclass(frozen=True)
class Pairs:
    """The (customer, item) pairs bought up to the last of a few days, read in one
    aggregation and coded once: each day's :class:`History` and the new purchases of a
    holdout between two of the days come from them without reading ``tx`` again.

    Customers are coded in ``customer_id`` order, items in name order; a pair's item
    code is -1 when the customer's purchases carry no item.

    Read with a ``detail`` day (one of ``days``), the pairs also hold each pair's
    purchase spend and first purchase day on or before it (:meth:`bought_on`): what the
    purchase mix of the item and its earliest adopters are drawn from, without
    aggregating the transactions by customer and item again.
    """

    days: tuple[datetime.date, ...]  # sorted, distinct
    customers: pa.Array
    items: pa.Array
    owner: CodeArray
    item: CodeArray
    purchases: NDArray[np.int32]  # (days, pairs): purchase rows on or before each day
    liked: NDArray[np.bool_]  # (days, pairs)
    detail: datetime.date | None = None
    spend: NDArray[np.float64] | None = None  # (pairs,): purchase spend up to ``detail``
    first_day: NDArray[np.int32] | None = None  # (pairs,): days since 1970-01-01

    @classmethod
    def read(
        cls,
        tx: ir.Table,
        *,
        item: str,
        days: Sequence[datetime.date],
        detail: datetime.date | None = None,
    ) -> Pairs:
        sorted_days = tuple(sorted(set(days)))
        at = None if detail is None else sorted_days.index(detail)
        table = _pair_table(tx, item=item, days=sorted_days, detail=at)
        customers, owner = _sorted_codes(table.column("customer_id"))
        items, item_code = _sorted_codes(table.column("item"))
        count = range(len(sorted_days))
        purchases = np.stack([_numbers(table.column(f"purchases_{i}"), np.int32) for i in count])
        liked = np.stack([_numbers(table.column(f"liked_{i}"), np.bool_) for i in count])
        if at is None:
            return cls(sorted_days, customers, items, owner, item_code, purchases, liked)
        spend = _numbers(pc.fill_null(table.column("spend"), 0.0), np.float64)
        first = table.column("first_day").cast(pa.date32()).cast(pa.int32())
        first_day = _numbers(pc.fill_null(first, 0), np.int32)
        return cls(
            sorted_days,
            customers,
            items,
            owner,
            item_code,
            purchases,
            liked,
            detail,
            spend,
            first_day,
        )

    def bought_on(self) -> Bought:
        """The pairs with a purchase of an item on or before the ``detail`` day, with
        their purchase spend and first purchase day then (a customer without an id,
        which accepted transactions never have, is left out)."""
        if self.detail is None or self.spend is None or self.first_day is None:
            raise ValueError("the pairs were read without a detail day")
        kept = (self.purchases[self.days.index(self.detail)] > 0) & (self.item >= 0)
        kept &= self.owner >= 0
        return Bought(
            customers=self.customers,
            items=self.items,
            owner=self.owner[kept],
            item=self.item[kept],
            spend=self.spend[kept],
            first_day=self.first_day[kept],
        )

    def history(self, day: datetime.date) -> History:
        """The customers, products and matrices of the pairs bought on or before ``day``."""
        bought = self.purchases[self.days.index(day)] > 0
        present = np.zeros(len(self.customers), dtype=bool)
        present[self.owner[bought]] = True
        customer_code = np.cumsum(present, dtype=np.int64) - 1
        customer_code[~present] = -1
        with_item = bought & (self.item >= 0)
        names = self.item[with_item]
        # products by popularity (distinct buyers), then by name (their code)
        buyers = np.bincount(names, minlength=len(self.items))
        order = np.lexsort((np.arange(len(buyers)), -buyers))[: np.count_nonzero(buyers)]
        product_code = np.full(len(buyers), -1, dtype=np.int64)
        product_code[order] = np.arange(len(order))
        rows = customer_code[self.owner[with_item]].astype(np.int32)
        cols = product_code[names].astype(np.int32)
        liked = self.liked[self.days.index(day)][with_item]
        shape = (int(np.count_nonzero(present)), len(order))
        return History(
            customers=self.customers.filter(pa.array(present)),
            products=self.items.take(pa.array(order, type=pa.int64())),
            bought=_incidence(rows, cols, shape),
            liked=_incidence(rows[liked], cols[liked], shape),
            customer_code=customer_code,
            product_code=product_code,
        )

    def new_purchases(
        self, history: History, *, split_date: datetime.date, end: datetime.date
    ) -> tuple[IntArray, sp.csr_array]:
        """Rows of the evaluated customers and, per row, their new holdout products.

        ``history`` is :meth:`history` at ``split_date``. Returns the customer codes
        (sorted) of those who bought before the split and bought a product they had not
        bought before in ``(split_date, end]``, and a sparse 0/1 matrix (one row per
        evaluated customer) of their new products that existed before the split.
        """
        before = self.purchases[self.days.index(split_date)]
        # new to the customer: bought in the holdout, never before; a product unknown
        # before the split is new to every customer
        new = (self.purchases[self.days.index(end)] > before) & (before == 0) & (self.item >= 0)
        customer = history.customer_code[self.owner[new]]
        product = history.product_code[self.item[new]]
        known = customer >= 0
        customer, product = customer[known], product[known]
        rows = np.unique(customer)
        recommendable = product >= 0
        matrix = sp.csr_array(
            (
                np.ones(int(recommendable.sum())),
                (np.searchsorted(rows, customer[recommendable]), product[recommendable]),
            ),
            shape=(len(rows), history.n_products),
        )
        return rows, matrix


@dataclass(frozen=True)
class Bought:
    """The (customer, item) pairs bought on or before a day: codes into ``customers``
    and ``items`` (both sorted), each pair's purchase spend and first purchase day
    (days since 1970-01-01)."""

    customers: pa.Array
    items: pa.Array
    owner: CodeArray
    item: CodeArray
    spend: NDArray[np.float64]
    first_day: NDArray[np.int32]

    def value_spends(self) -> pa.Table:
        """``customer_id``, ``value`` (the item; both dictionary-encoded) and ``spend``
        of each pair: the spends :func:`~corecustomers.insights.mix.mix_table`
        takes for the item's column."""
        return pa.table(
            {
                "customer_id": pa.DictionaryArray.from_arrays(self.owner, self.customers),
                "value": pa.DictionaryArray.from_arrays(self.item, self.items),
                "spend": self.spend,
            }
        )


@dataclass(frozen=True)
class History:
    """Customers, products and the customer x product matrices, coded consistently.

    Customers are coded in ``customer_id`` order; products by popularity (distinct
    customers who bought them), most popular first, then by name, so that code order
    breaks ties between equal scores. ``customer_code`` and ``product_code`` map the
    codes of the :class:`Pairs` it comes from to these (-1: not in this history).
    """

    customers: pa.Array
    products: pa.Array
    bought: sp.csr_array
    liked: sp.csr_array
    customer_code: IntArray
    product_code: IntArray

    @property
    def n_customers(self) -> int:
        return len(self.customers)

    @property
    def n_products(self) -> int:
        return len(self.products)


def _incidence(rows: CodeArray, cols: CodeArray, shape: tuple[int, int]) -> sp.csr_array:
    """0/1 (float64) customers x products matrix with ones at the (distinct) pairs."""
    return sp.csr_array((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=shape)


def _sorted_codes(values: pa.ChunkedArray) -> tuple[pa.Array, CodeArray]:
    """Distinct non-null ``values`` sorted, and each value's int32 code in that order
    (-1 for null).

    One hashing pass (the chunks of a dictionary-encoded ``ChunkedArray`` share one
    dictionary) and a sort of the distinct values only: at 7.8M pairs of 1M customers
    about half the time of ``unique`` and ``index_in``, two hashing passes.
    """
    encoded = values.dictionary_encode()
    chunks = encoded.chunks
    if not chunks:
        return pa.array([], type=values.type), np.zeros(0, dtype=np.int32)
    dictionary = chunks[0].dictionary
    if any(len(chunk.dictionary) != len(dictionary) for chunk in chunks):
        chunks = [values.combine_chunks().dictionary_encode()]  # not shared: one chunk
        dictionary = chunks[0].dictionary
    by_name = np.asarray(pc.sort_indices(dictionary).to_numpy(), dtype=np.int64)
    code = np.empty(len(dictionary) + 1, dtype=np.int32)  # the last one: null
    code[by_name] = np.arange(len(dictionary), dtype=np.int32)
    code[-1] = -1
    indices = np.concatenate(
        [_numbers(pc.fill_null(chunk.indices, -1), np.int64) for chunk in chunks]
    )
    return dictionary.take(pa.array(by_name)), code[indices]


def _numbers(column: pa.Array | pa.ChunkedArray, dtype: type[np.generic]) -> Any:
    """``column`` (without nulls) as a NumPy array of ``dtype``."""
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=dtype)


def purchase_pairs(
    tx: ir.Table,
    *,
    days: Sequence[datetime.date],
    item: str = "product",
    detail: datetime.date | None = None,
) -> Pairs:
    """The (customer, ``item``) pairs of ``tx`` bought up to the last of ``days``, with
    their purchases and taste on or before each day: one aggregation of the
    transactions, for :func:`~corecustomers.insights.recommend.recommend` and
    :func:`~corecustomers.insights.recommend.recommend_and_evaluate` (``pairs=``)
    and, with a ``detail`` day (one of ``days``), for what else is drawn from the same
    pairs (:meth:`Pairs.bought_on`: each pair's purchase spend and first
    purchase day on or before it).

    Raises
    ------
    ColumnMappingError
        If ``tx`` lacks ``customer_id``, ``timestamp``, ``amount`` or ``item``.
    ConfigError
        If a day is not a ``datetime.date``, or ``detail`` is not one of ``days``.

    Examples
    --------
    >>> import datetime
    >>> import ibis
    >>> tx = ibis.memtable(
    ...     {
    ...         "customer_id": ["ann", "ann", "bob"],
    ...         "timestamp": [datetime.datetime(2024, 5, d) for d in (1, 2, 3)],
    ...         "amount": [3.0, 4.0, 5.0],
    ...         "product": ["tea", "tea", "cake"],
    ...     }
    ... )
    >>> day = datetime.date(2024, 5, 31)
    >>> bought = purchase_pairs(tx, days=(day,), detail=day).bought_on()
    >>> days = bought.first_day.astype("datetime64[D]").astype(str).tolist()
    >>> sorted(zip(bought.owner.tolist(), bought.item.tolist(), days))
    [(0, 1, '2024-05-01'), (1, 0, '2024-05-03')]
    """
    for day in days:
        check_dates(day, None)
    if not days:
        raise ConfigError("purchase_pairs needs at least one day")
    if detail is not None and detail not in days:
        raise ConfigError(f"detail ({detail}) must be one of the days {list(days)}")
    return Pairs.read(checked_transactions(tx, item), item=item, days=days, detail=detail)
