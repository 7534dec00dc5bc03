"""Next-best products per customer from purchase history (个性化推荐).

An item-to-item recommender (Sarwar, Karypis, Konstan & Riedl 2001, "Item-based
collaborative filtering recommendation algorithms", *WWW '01*; Deshpande & Karypis 2004,
"Item-based top-N recommendation algorithms", *ACM TOIS* 22(1)) and a popularity
baseline, with a holdout evaluation of both.

How it works
------------
1. **Incidence.** One Ibis aggregation turns the transactions up to ``as_of`` into
   (customer, product) pairs -- the only data that comes into Python. A pair is *bought*
   when the customer has a purchase row (``amount >= 0``) of the product, and *liked*
   when, in addition, the returns of it are less than what was paid for it (a product
   bought and fully returned is not evidence of taste, but it is not recommended again
   either). The liked pairs form a sparse customers x products 0/1 matrix ``R``
   (:mod:`scipy.sparse`). The aggregation gives each pair's purchases and taste on or
   before each of the days asked for (``as_of``; the split and the end of a holdout), so
   :func:`recommend_and_evaluate` reads the transactions once for both results (the
   reading and the coding of the pairs: :mod:`corecustomers.insights._recommend_pairs`).
2. **Similarity.** The co-occurrence counts ``C = R^T R`` (customers who liked both
   products) give, for products ``i != j`` liked by ``n_i`` and ``n_j`` of the ``N``
   customers,

   * ``"cosine"``: ``s_ij = C_ij / sqrt(n_i n_j)``;
   * ``"lift"``: ``s_ij = C_ij N / (n_i n_j)``,

   each shrunk towards 0 by ``C_ij / (C_ij + shrinkage)`` so that a pair seen together by
   one or two customers does not count as much as one seen by hundreds (the shrinkage of
   Koren & Bell, "Advances in collaborative filtering", *Recommender Systems Handbook*
   2011, section 4.2). Each product keeps only its ``neighbours`` most similar products
   (Deshpande & Karypis 2004, section 4.1).
3. **Scores.** A customer's score for a product is the sum of its similarities to the
   products the customer liked; the products the customer ever bought are excluded; the
   ``k`` best are recommended. Ties -- including the products with score 0, which fill
   the list of a customer with little history -- are broken by popularity, then by name.

The popularity baseline recommends the ``k`` products bought by the most customers that
the customer has not bought.

Memory: only the bought pairs, the sparse ``R`` and the pruned similarity matrix (at most
``neighbours`` entries per product) are held; the co-occurrence counts and the scores are
computed in blocks of about :data:`BLOCK_ENTRIES` dense cells, so 100,000 customers x
5,000 products need a few hundred megabytes at most, never ``customers x products``.

Output format: ``recommended_products`` is one string per customer, the products best
first, joined by ``"|"`` (:data:`SEPARATOR`) so that the column can be written to CSV and
Excel like every other output column; split it with ``str.split("|")``. A product name
containing ``"|"`` would be ambiguous there; map such names before recommending.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from numpy.typing import NDArray

from corecustomers.errors import ConfigError
from corecustomers.insights._recommend_pairs import (
    Bought,
    History,
    Pairs,
    checked_transactions,
    purchase_pairs,
)
from corecustomers.units import check_dates

__all__ = [
    "BLOCK_ENTRIES",
    "DEFAULT_NEIGHBOURS",
    "DEFAULT_SHRINKAGE",
    "SEPARATOR",
    "BoughtPairs",
    "PurchasePairs",
    "Similarity",
    "evaluate_recommendations",
    "purchase_pairs",
    "recommend",
    "recommend_and_evaluate",
]

PurchasePairs = Pairs
"""The (customer, item) pairs the recommendations are learnt from (:func:`purchase_pairs`)."""

BoughtPairs = Bought
"""The pairs bought on or before the detail day, with their purchase spend and first
purchase day (:meth:`PurchasePairs.bought_on`)."""

log = logging.getLogger(__name__)

Similarity = Literal["cosine", "lift"]
"""How two products' co-occurrence is turned into a similarity (module docstring)."""

SEPARATOR: Final = "|"
"""Joins the products of ``recommended_products``."""

DEFAULT_SHRINKAGE: Final = 10.0
"""Co-occurrence count at which a similarity is shrunk to half its raw value."""

DEFAULT_NEIGHBOURS: Final = 50
"""Most similar products each product keeps."""

BLOCK_ENTRIES: Final = 4_000_000
"""Dense cells (float64) computed at once: about 32 MB per block."""

#: Lists up to this long are chosen one product at a time (``argmax`` over every row,
#: whose first maximum is exactly the tie-break); longer ones with one partition per row.
#: At 1M customers x 163 products, 5 argmax passes took 0.5 s against 1.4 s for one
#: ``argpartition``.
_ARGMAX_LISTS: Final = 16

#: The similarity matrix is used dense when at least this share of it is filled: the
#: scores of a block of customers are then one sparse x dense product, without the
#: sparse x sparse product's two passes and its conversion to dense. Measured (50
#: neighbours, 8 products per customer): dense 7x faster at 163 products, 2x at 800 (a
#: sixteenth filled), slower beyond.
_DENSE_SHARE: Final = 1 / 16

#: How many times more an operation of the sparse co-occurrence product costs than one
#: of its dense form (:func:`_co_occurrences`); measured 15.7 at 1M customers.
_DENSE_GRAM: Final = 16

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]


# -- public functions -------------------------------------------------------------------


def recommend(
    tx: ir.Table,
    *,
    as_of: datetime.date,
    k: int = 10,
    similarity: Similarity = "cosine",
    shrinkage: float = DEFAULT_SHRINKAGE,
    neighbours: int = DEFAULT_NEIGHBOURS,
    item: str = "product",
    pairs: PurchasePairs | None = None,
) -> pa.Table:
    """The ``k`` next-best products of every customer, from the purchases up to ``as_of``.

    Parameters
    ----------
    tx
        Canonical transactions (``docs/CONTRACTS.md``) with an ``item`` column, on any
        Ibis backend.
    as_of
        Last day (inclusive) whose transactions are used.
    k
        Products per customer (positive).
    similarity
        ``"cosine"`` or ``"lift"`` (see the module docstring).
    shrinkage
        Co-occurrence count at which a similarity is halved (non-negative; 0 = none).
    neighbours
        Most similar products each product keeps (positive).
    item
        The column recommended: ``"product"``, or e.g. ``"category"``.
    pairs
        ``tx``'s pairs of ``item`` already read with :func:`purchase_pairs` at (at
        least) ``as_of``: used instead of reading ``tx`` again.

    Returns
    -------
    pyarrow.Table
        One row per customer with a purchase up to ``as_of``, ordered by ``customer_id``:
        ``customer_id`` (string) and ``recommended_products`` (string: up to ``k``
        products, best first, joined by ``"|"``; fewer when the customer has bought
        nearly every product, ``""`` when every one).

    Raises
    ------
    ColumnMappingError
        If ``tx`` lacks ``customer_id``, ``timestamp``, ``amount`` or ``item``.
    ConfigError
        If ``as_of`` is not a ``datetime.date`` or a parameter is out of range.

    Examples
    --------
    >>> import datetime
    >>> import ibis
    >>> rows = [("ann", "tea"), ("ann", "cake"), ("bob", "tea"), ("bob", "cake"),
    ...         ("cat", "tea"), ("cat", "soup"), ("dan", "soup"), ("dan", "bread"),
    ...         ("eve", "soup"), ("eve", "bread"), ("fay", "cake")]
    >>> tx = ibis.memtable(
    ...     {
    ...         "customer_id": [c for c, _ in rows],
    ...         "timestamp": [datetime.datetime(2024, 5, 1)] * len(rows),
    ...         "amount": [3.0] * len(rows),
    ...         "product": [p for _, p in rows],
    ...     }
    ... )
    >>> recs = recommend(tx, as_of=datetime.date(2024, 5, 31), k=2, shrinkage=0)
    >>> dict(zip(*recs.to_pydict().values()))["fay"]
    'tea|soup'
    """
    _check_k(k)
    _check_params(similarity, shrinkage, neighbours)
    check_dates(as_of, None)
    pairs = _pairs_at(pairs, tx, item=item, days=(as_of,))
    history = pairs.history(as_of)
    del pairs
    model = _ItemSimilarity.fit(
        history.liked, method=similarity, shrinkage=shrinkage, neighbours=neighbours
    )
    return _recommendations(model, history, k)


def evaluate_recommendations(
    tx: ir.Table,
    *,
    split_date: datetime.date,
    end: datetime.date,
    k: Sequence[int] = (5, 10),
    similarity: Similarity = "cosine",
    shrinkage: float = DEFAULT_SHRINKAGE,
    neighbours: int = DEFAULT_NEIGHBOURS,
    item: str = "product",
) -> dict[str, Any]:
    """Hit rates at ``k`` of the recommender and of the popularity baseline on a holdout.

    Both recommenders learn from the purchases up to ``split_date``. The customers
    evaluated are those who bought on or before ``split_date`` and who, in
    ``(split_date, end]``, bought at least one product (``item``) they had not bought
    before. A customer is a *hit at k* when at least one of those new products is among
    their top ``k`` recommendations; the hit rate is the share of evaluated customers who
    are hits. New products that did not exist before ``split_date`` count as new
    purchases too, although no recommender can know them.

    Parameters
    ----------
    tx
        Canonical transactions with an ``item`` column.
    split_date
        Last day (inclusive) of the history the recommenders learn from.
    end
        Last day (inclusive) of the holdout; after ``split_date``.
    k
        List lengths evaluated (positive, distinct).
    similarity, shrinkage, neighbours, item
        As in :func:`recommend`.

    Returns
    -------
    dict
        JSON-ready: ``hit_rate_at_<k>`` for each ``k`` (the co-occurrence recommender;
        ``None`` when no customer can be evaluated), ``baseline`` with the same keys for
        the popularity recommender, ``customers_evaluated``, and the settings
        (``split_date``, ``end``, ``item``, ``similarity``, ``shrinkage``,
        ``neighbours``, ``products`` -- distinct products before ``split_date``).

    Raises
    ------
    ColumnMappingError
        If ``tx`` lacks a needed column.
    ConfigError
        If the dates are not ``datetime.date`` values with ``split_date < end``, or a
        parameter is out of range.

    Examples
    --------
    >>> import datetime
    >>> import ibis
    >>> day = datetime.datetime(2024, 5, 1)
    >>> later = datetime.datetime(2024, 6, 1)
    >>> rows = [("ann", "tea", day), ("ann", "cake", day), ("bob", "tea", day),
    ...         ("bob", "cake", day), ("cat", "soup", day), ("dan", "soup", day),
    ...         ("fay", "cake", day), ("fay", "tea", later)]
    >>> tx = ibis.memtable(
    ...     {
    ...         "customer_id": [c for c, _, _ in rows],
    ...         "timestamp": [t for _, _, t in rows],
    ...         "amount": [3.0] * len(rows),
    ...         "product": [p for _, p, _ in rows],
    ...     }
    ... )
    >>> result = evaluate_recommendations(
    ...     tx, split_date=datetime.date(2024, 5, 31), end=datetime.date(2024, 6, 30), k=(1,)
    ... )
    >>> result["hit_rate_at_1"], result["baseline"], result["customers_evaluated"]
    (1.0, {'hit_rate_at_1': 0.0}, 1)
    """
    ks = _checked_lengths(k)
    _check_params(similarity, shrinkage, neighbours)
    _check_holdout(split_date, end)
    pairs = Pairs.read(checked_transactions(tx, item), item=item, days=(split_date, end))
    history = pairs.history(split_date)
    model = _ItemSimilarity.fit(
        history.liked, method=similarity, shrinkage=shrinkage, neighbours=neighbours
    )
    hits = _evaluation(model, history, pairs, split_date=split_date, end=end, ks=ks)
    return hits.result(
        split_date=split_date,
        end=end,
        item=item,
        similarity=similarity,
        shrinkage=shrinkage,
        neighbours=neighbours,
    )


def recommend_and_evaluate(
    tx: ir.Table,
    *,
    as_of: datetime.date,
    split_date: datetime.date,
    end: datetime.date,
    k: int = 10,
    evaluation_k: Sequence[int] = (5, 10),
    similarity: Similarity = "cosine",
    shrinkage: float = DEFAULT_SHRINKAGE,
    neighbours: int = DEFAULT_NEIGHBOURS,
    item: str = "product",
    pairs: PurchasePairs | None = None,
) -> tuple[pa.Table, dict[str, Any]]:
    """:func:`recommend` and :func:`evaluate_recommendations` from one read of ``tx``.

    The same two results as ``recommend(tx, as_of=as_of, k=k, ...)`` and
    ``evaluate_recommendations(tx, split_date=split_date, end=end, k=evaluation_k, ...)``,
    for about the work of one: the transactions are aggregated once into (customer,
    item) pairs with their purchases on or before each of the three days, and coded
    once; each history is then taken from those pairs. When ``as_of`` is
    ``split_date`` the recommender is also learnt only once.

    Parameters
    ----------
    tx
        Canonical transactions with an ``item`` column.
    as_of, k
        As in :func:`recommend`.
    split_date, end
        As in :func:`evaluate_recommendations`.
    evaluation_k
        The list lengths evaluated: :func:`evaluate_recommendations`' ``k``.
    similarity, shrinkage, neighbours, item
        As in :func:`recommend`; both results use them.
    pairs
        ``tx``'s pairs of ``item`` already read with :func:`purchase_pairs` at (at
        least) ``as_of``, ``split_date`` and ``end``: used instead of reading ``tx``.

    Returns
    -------
    tuple
        :func:`recommend`'s table and :func:`evaluate_recommendations`' dict.

    Raises
    ------
    ColumnMappingError
        If ``tx`` lacks a needed column.
    ConfigError
        As :func:`recommend` and :func:`evaluate_recommendations` raise it.

    Examples
    --------
    >>> import datetime
    >>> import ibis
    >>> day = datetime.datetime(2024, 5, 1)
    >>> later = datetime.datetime(2024, 6, 1)
    >>> rows = [("ann", "tea", day), ("ann", "cake", day), ("bob", "tea", day),
    ...         ("bob", "cake", day), ("cat", "soup", day), ("dan", "soup", day),
    ...         ("fay", "cake", day), ("fay", "tea", later)]
    >>> tx = ibis.memtable(
    ...     {
    ...         "customer_id": [c for c, _, _ in rows],
    ...         "timestamp": [t for _, _, t in rows],
    ...         "amount": [3.0] * len(rows),
    ...         "product": [p for _, p, _ in rows],
    ...     }
    ... )
    >>> recs, result = recommend_and_evaluate(
    ...     tx,
    ...     as_of=datetime.date(2024, 6, 30),
    ...     split_date=datetime.date(2024, 5, 31),
    ...     end=datetime.date(2024, 6, 30),
    ...     k=1,
    ...     evaluation_k=(1,),
    ... )
    >>> recs.num_rows, result["hit_rate_at_1"], result["customers_evaluated"]
    (5, 1.0, 1)
    """
    _check_k(k)
    ks = _checked_lengths(evaluation_k)
    _check_params(similarity, shrinkage, neighbours)
    check_dates(as_of, None)
    _check_holdout(split_date, end)
    pairs = _pairs_at(pairs, tx, item=item, days=(as_of, split_date, end))
    history = pairs.history(as_of)
    model = _ItemSimilarity.fit(
        history.liked, method=similarity, shrinkage=shrinkage, neighbours=neighbours
    )
    recommendations = _recommendations(model, history, k)
    if split_date != as_of:  # the as-of history and model are dropped before the next
        del history, model
        history = pairs.history(split_date)
        model = _ItemSimilarity.fit(
            history.liked, method=similarity, shrinkage=shrinkage, neighbours=neighbours
        )
    hits = _evaluation(model, history, pairs, split_date=split_date, end=end, ks=ks)
    evaluation = hits.result(
        split_date=split_date,
        end=end,
        item=item,
        similarity=similarity,
        shrinkage=shrinkage,
        neighbours=neighbours,
    )
    return recommendations, evaluation


def _pairs_at(
    pairs: PurchasePairs | None, tx: ir.Table, *, item: str, days: tuple[datetime.date, ...]
) -> PurchasePairs:
    """``pairs`` when they hold ``days``, else the pairs read from ``tx``."""
    if pairs is None:
        return Pairs.read(checked_transactions(tx, item), item=item, days=days)
    missing = sorted(set(days) - set(pairs.days))
    if missing:
        raise ConfigError(
            f"the pairs given were read at {list(pairs.days)}, not at {missing}: read them "
            "with purchase_pairs at every day the recommendations use."
        )
    return pairs


def _recommendations(model: _ItemSimilarity, history: History, k: int) -> pa.Table:
    """:func:`recommend`'s table: every customer of ``history``'s ``k`` best products."""
    rows = np.arange(history.n_customers, dtype=np.int64)
    chosen = _recommend_rows(model, history, rows, k)
    return pa.table(
        {
            "customer_id": history.customers,
            "recommended_products": _joined(chosen, history.products),
        }
    )


@dataclass(frozen=True)
class _Hits:
    """Customers evaluated and, per list length, those hit by each recommender."""

    ks: tuple[int, ...]
    evaluated: int
    model: dict[int, int]
    baseline: dict[int, int]
    products: int

    def result(
        self,
        *,
        split_date: datetime.date,
        end: datetime.date,
        item: str,
        similarity: Similarity,
        shrinkage: float,
        neighbours: int,
    ) -> dict[str, Any]:
        """:func:`evaluate_recommendations`' dict (its keys in their documented order)."""
        n = self.evaluated
        return {
            **{f"hit_rate_at_{length}": _rate(self.model[length], n) for length in self.ks},
            "baseline": {
                f"hit_rate_at_{length}": _rate(self.baseline[length], n) for length in self.ks
            },
            "customers_evaluated": n,
            "split_date": split_date.isoformat(),
            "end": end.isoformat(),
            "item": item,
            "similarity": similarity,
            "shrinkage": float(shrinkage),
            "neighbours": neighbours,
            "products": self.products,
        }


def _evaluation(
    model: _ItemSimilarity,
    history: History,
    pairs: Pairs,
    *,
    split_date: datetime.date,
    end: datetime.date,
    ks: tuple[int, ...],
) -> _Hits:
    """Hits of ``model`` (learnt on ``history``, the pairs at ``split_date``) and of the
    popularity baseline among the customers with new products in ``(split_date, end]``."""
    rows, new = pairs.new_purchases(history, split_date=split_date, end=end)
    longest = max(ks)
    return _Hits(
        ks=ks,
        evaluated=len(rows),
        model=_hits(_recommend_rows(model, history, rows, longest), new, ks),
        baseline=_hits(_recommend_rows(None, history, rows, longest), new, ks),
        products=history.n_products,
    )


# -- similarity and scoring -------------------------------------------------------------


@dataclass(frozen=True)
class _ItemSimilarity:
    """Pruned item x item similarity matrix (row ``i``: product ``i``'s neighbours)."""

    matrix: sp.csr_array

    def scores(self, liked: sp.csr_array) -> FloatArray:
        """Dense scores of the customers ``liked`` (rows): ``liked @ matrix``.

        Both ways add each score's similarities in the order of the row's products, so
        the dense product, taken when the matrix is filled enough to be the faster
        (:data:`_DENSE_SHARE`), gives the sparse product's values to the last bit.
        """
        n_products = self.matrix.shape[0]
        if self.matrix.nnz >= _DENSE_SHARE * n_products * n_products:
            return np.asarray(liked @ self.matrix.toarray(), dtype=np.float64)
        return np.asarray(sp.csr_array(liked @ self.matrix).toarray(), dtype=np.float64)

    @classmethod
    def fit(
        cls, liked: sp.csr_array, *, method: Similarity, shrinkage: float, neighbours: int
    ) -> _ItemSimilarity:
        n_products = liked.shape[1]
        counts = np.asarray(liked.sum(axis=0), dtype=np.float64).ravel()
        n_customers = float(np.count_nonzero(np.asarray(liked.sum(axis=1)).ravel()))
        block = max(1, BLOCK_ENTRIES // max(n_products, 1))
        keep = min(neighbours, max(n_products - 1, 0))
        rows: list[IntArray] = []
        cols: list[IntArray] = []
        vals: list[FloatArray] = []
        for lo, hi, co in _co_occurrences(liked, block):
            sim = _similarity(co, counts, lo, hi, method=method, n_customers=n_customers)
            if shrinkage > 0:
                sim *= co / (co + shrinkage)
            sim[np.arange(lo, hi), np.arange(hi - lo)] = 0.0  # a product is not its own neighbour
            if keep == 0:
                continue
            top = np.argpartition(-sim, keep - 1, axis=0)[:keep]  # (keep, hi - lo)
            value = np.take_along_axis(sim, top, axis=0)
            positive = value > 0
            source = np.broadcast_to(np.arange(lo, hi), top.shape)
            rows.append(source[positive].astype(np.int64))
            cols.append(top[positive].astype(np.int64))
            vals.append(value[positive])
        matrix = sp.csr_array(
            (
                np.concatenate(vals) if vals else np.zeros(0),
                (
                    np.concatenate(rows) if rows else np.zeros(0, np.int64),
                    np.concatenate(cols) if cols else np.zeros(0, np.int64),
                ),
            ),
            shape=(n_products, n_products),
        )
        return cls(matrix)


def _co_occurrences(liked: sp.csr_array, block: int) -> Iterator[tuple[int, int, FloatArray]]:
    """``C = R^T R`` (customers who liked both products), ``block`` products at a time:
    ``(lo, hi, C[:, lo:hi])``.

    The counts are whole numbers, exact in any order of summation. When every product
    fits in one block and the customers' baskets are large for the catalogue, ``C`` is
    summed over blocks of customers as ``R_b^T`` (sparse) times ``R_b`` (dense): that
    costs ``products`` operations per liked pair against one per pair of liked products
    of a customer in the sparse product, whose each operation costs about
    :data:`_DENSE_GRAM` times more (measured at 1M customers, 163 products, 7.7M liked
    pairs: 0.68 s against 1.28 s).
    """
    n_customers, n_products = liked.shape
    if n_products == 0:
        return
    per_customer = np.diff(liked.indptr).astype(np.int64)
    work = int(per_customer @ per_customer)  # the sparse product's operations
    if block >= n_products and n_products * liked.nnz <= _DENSE_GRAM * work:
        co = np.zeros((n_products, n_products), dtype=np.float64)
        step = max(1, BLOCK_ENTRIES // n_products)
        for lo in range(0, n_customers, step):
            part = liked[lo : lo + step]
            co += part.T @ part.toarray()
        yield 0, n_products, co
        return
    columns = liked.tocsc()
    by_product = columns.T  # products x customers, CSR, sharing ``columns``' arrays
    for lo in range(0, n_products, block):
        hi = min(lo + block, n_products)
        # one block of every product: ``liked`` itself, not ``columns`` back to CSR
        right = liked if hi - lo == n_products else columns[:, lo:hi]
        yield lo, hi, np.asarray((by_product @ right).toarray(), dtype=np.float64)


def _similarity(
    co: FloatArray,
    counts: FloatArray,
    lo: int,
    hi: int,
    *,
    method: Similarity,
    n_customers: float,
) -> FloatArray:
    """Raw similarity of every product to products ``lo:hi`` from co-occurrence ``co``."""
    if method == "cosine":
        scale = np.sqrt(np.outer(counts, counts[lo:hi]))
    else:
        scale = np.outer(counts, counts[lo:hi]) / max(n_customers, 1.0)
    out = np.zeros_like(co)
    np.divide(co, scale, out=out, where=scale > 0)
    return out


@dataclass(frozen=True)
class _Lists:
    """Product codes chosen per customer, flat: row ``r``'s list is
    ``codes[offsets[r]:offsets[r + 1]]``, best first."""

    offsets: IntArray
    codes: IntArray

    @property
    def lengths(self) -> IntArray:
        return np.diff(self.offsets)


def _recommend_rows(
    model: _ItemSimilarity | None, history: History, rows: IntArray, k: int
) -> _Lists:
    """Top-``k`` product codes for the customers ``rows`` (popularity when no model)."""
    n_products = history.n_products
    if n_products == 0 or len(rows) == 0:
        return _Lists(np.zeros(len(rows) + 1, np.int64), np.zeros(0, np.int64))
    lengths: list[IntArray] = []
    codes: list[IntArray] = []
    chunk = max(1, BLOCK_ENTRIES // n_products)
    for lo in range(0, len(rows), chunk):
        part = rows[lo : lo + chunk]
        seen = history.bought[part]
        if model is None:
            # popularity: the first k unseen products lie among the first k + (most seen)
            most = int(np.diff(seen.indptr).max()) if seen.shape[0] else 0
            scores = np.zeros((seen.shape[0], min(n_products, k + most)), dtype=np.float64)
        else:
            scores = model.scores(history.liked[part])
        length, code = _top_k(scores, seen, k)
        lengths.append(length)
        codes.append(code)
    offsets = np.concatenate(([0], np.cumsum(np.concatenate(lengths)))).astype(np.int64)
    return _Lists(offsets, np.concatenate(codes))


def _top_k(scores: FloatArray, seen: sp.csr_array, k: int) -> tuple[IntArray, IntArray]:
    """Per row, the ``k`` best unseen columns: positive scores first, best first, then
    the lowest unseen columns (the most popular products) to fill the list.

    ``scores`` is a dense block (rows x its first products, non-negative), overwritten; it
    may be narrower than ``seen`` when the columns beyond cannot be chosen. Ties go to the
    lower column, exactly. Returns the number of columns chosen per row and the columns,
    row after row.
    """
    m, p = scores.shape
    key = scores  # a block of its own, changed in place
    seen_row = np.repeat(np.arange(m, dtype=np.int64), np.diff(seen.indptr))
    inside = seen.indices < p
    key[seen_row[inside], seen.indices[inside]] = -1.0  # never chosen; unseen ones are >= 0
    take = min(k, p)
    if take > _ARGMAX_LISTS:
        return _top_k_partitioned(key, take)
    # the best column of every row at a time: argmax returns the first of equal maxima
    rows = np.arange(m, dtype=np.int64)
    columns = np.empty((m, take), dtype=np.int64)
    values = np.empty((m, take), dtype=np.float64)
    for rank in range(take):
        best = key.argmax(axis=1)
        columns[:, rank] = best
        values[:, rank] = key[rows, best]
        key[rows, best] = -np.inf
    chosen = values >= 0  # a prefix of each row: the values fall along it
    return np.count_nonzero(chosen, axis=1).astype(np.int64), columns[chosen]


def _top_k_partitioned(key: FloatArray, take: int) -> tuple[IntArray, IntArray]:
    """:func:`_top_k` for long lists: the ``take``-th best value of each row is found with
    a partition, the columns above it are taken and those equal to it fill the rest in
    column order."""
    m, p = key.shape
    kth = np.partition(key, p - take, axis=1)[:, p - take][:, None]
    above = key > kth
    tied = key == kth
    need = take - above.sum(axis=1, keepdims=True)
    # every tied column is taken where there are no more of them than needed; elsewhere
    # the first ones in column order
    chosen = above | (tied & (tied.sum(axis=1, keepdims=True) <= need))
    crowded = np.flatnonzero(tied.sum(axis=1) > need[:, 0])
    if len(crowded):
        sub = tied[crowded]
        rank = np.cumsum(sub, axis=1, dtype=np.int32 if p > 32_000 else np.int16)
        chosen[crowded] |= sub & (rank <= need[crowded])
    chosen &= key >= 0
    row, col = np.nonzero(chosen)  # row-major: by row, then by column
    order = np.lexsort((col, -key[row, col], row))
    counts = np.bincount(row, minlength=m).astype(np.int64)
    return counts, col[order].astype(np.int64)


def _hits(chosen: _Lists, new: sp.csr_array, ks: tuple[int, ...]) -> dict[int, int]:
    """Customers with at least one new product among their first ``k``, for each ``k``.

    Each chosen (row, product) is looked up in the sorted keys of ``new``'s entries (a
    binary search: no sort of the chosen ones, unlike ``np.isin``).
    """
    m, p = new.shape
    row = np.repeat(np.arange(m, dtype=np.int64), chosen.lengths)
    position = np.arange(len(chosen.codes), dtype=np.int64) - chosen.offsets[row]
    if not new.has_sorted_indices:
        new = new.sorted_indices()
    new_row = np.repeat(np.arange(m, dtype=np.int64), np.diff(new.indptr))
    wanted = new_row * p + new.indices.astype(np.int64)  # ascending
    asked = row * p + chosen.codes
    found = np.minimum(np.searchsorted(wanted, asked), max(len(wanted) - 1, 0))
    hit = wanted[found] == asked if len(wanted) else np.zeros(len(asked), dtype=bool)
    # rows ascend, and positions within a row: a row's first hit is its best
    hit_row, hit_position = row[hit], position[hit]
    first = np.ones(len(hit_row), dtype=bool)
    first[1:] = hit_row[1:] != hit_row[:-1]
    best = hit_position[first]
    return {length: int(np.count_nonzero(best < length)) for length in ks}


def _joined(chosen: _Lists, products: pa.Array) -> pa.Array:
    """One ``"|"``-joined string per customer from product codes."""
    offsets = pa.array(chosen.offsets.astype(np.int32), pa.int32())
    lists = pa.ListArray.from_arrays(offsets, products.take(pa.array(chosen.codes)))
    return pc.binary_join(lists, SEPARATOR)


def _rate(hits: int, n: int) -> float | None:
    return hits / n if n else None


def _checked_lengths(k: Sequence[int]) -> tuple[int, ...]:
    ks = tuple(k)
    if not ks or len(set(ks)) != len(ks):
        raise ConfigError(f"k must be one or more distinct list lengths, got {k!r}.")
    for length in ks:
        _check_k(length)
    return ks


def _check_holdout(split_date: datetime.date, end: datetime.date) -> None:
    check_dates(end, split_date)
    if split_date >= end:
        raise ConfigError(
            f"end ({end}) must be after split_date ({split_date}): the holdout runs from "
            "split_date to end."
        )


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"k must be a positive whole number of products, got {k!r}.")


def _check_params(similarity: str, shrinkage: float, neighbours: int) -> None:
    if similarity not in get_args(Similarity):
        raise ConfigError(f"similarity must be 'cosine' or 'lift', got {similarity!r}.")
    if not shrinkage >= 0:
        raise ConfigError(f"shrinkage must be non-negative, got {shrinkage!r}.")
    if isinstance(neighbours, bool) or not isinstance(neighbours, int) or neighbours < 1:
        raise ConfigError(f"neighbours must be a positive whole number, got {neighbours!r}.")
