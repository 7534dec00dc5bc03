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
   (:mod:`scipy.sparse`).
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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import scipy.sparse as sp
from numpy.typing import NDArray

from corecustomers.data.connect import is_duckdb
from corecustomers.data.features import materialize
from corecustomers.data.window import day_of, rows_up_to
from corecustomers.errors import ColumnMappingError, ConfigError
from corecustomers.units import check_dates

__all__ = [
    "BLOCK_ENTRIES",
    "DEFAULT_NEIGHBOURS",
    "DEFAULT_SHRINKAGE",
    "SEPARATOR",
    "Similarity",
    "evaluate_recommendations",
    "recommend",
]

log = logging.getLogger(__name__)

Similarity = Literal["cosine", "lift"]
"""How two products' co-occurrence is turned into a similarity (module docstring)."""

SEPARATOR: Final = "|"
"""Joins the products of ``recommended_products``."""

DEFAULT_SHRINKAGE: Final = 10.0
"""Co-occurrence count at which a similarity is shrunk to half its raw value."""

DEFAULT_NEIGHBOURS: Final = 50
"""Most similar products each product keeps."""

#: The customer x product pairs are aggregated on DuckDB in this many parts, customers
#: split by a hash of their id: at 1M customers (7.8M pairs) one aggregation's hash table
#: took about 1 GB at once.
_PAIR_PARTS: Final = 4

BLOCK_ENTRIES: Final = 4_000_000
"""Dense cells (float64) computed at once: about 32 MB per block."""

IntArray = NDArray[np.int64]
CodeArray = NDArray[np.int32]
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
    history = _History.from_pairs(_pairs(_checked(tx, item), item=item, start=None, end=as_of))
    model = _ItemSimilarity.fit(
        history.liked, method=similarity, shrinkage=shrinkage, neighbours=neighbours
    )
    rows = np.arange(history.n_customers, dtype=np.int64)
    chosen = _recommend_rows(model, history, rows, k)
    return pa.table(
        {
            "customer_id": history.customers,
            "recommended_products": _joined(chosen, history.products),
        }
    )


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
    ks = tuple(k)
    if not ks or len(set(ks)) != len(ks):
        raise ConfigError(f"k must be one or more distinct list lengths, got {k!r}.")
    for length in ks:
        _check_k(length)
    _check_params(similarity, shrinkage, neighbours)
    check_dates(end, split_date)
    if split_date >= end:
        raise ConfigError(
            f"end ({end}) must be after split_date ({split_date}): the holdout runs from "
            "split_date to end."
        )
    # one scan: the pairs up to the split and those of the holdout, told apart by a flag
    both = _pairs(_checked(tx, item), item=item, start=None, end=end, split=split_date)
    later = both.column("after_split")
    holdout = both.filter(later).drop_columns(["after_split"])
    history = _History.from_pairs(both.filter(pc.invert(later)).drop_columns(["after_split"]))
    del both, later  # the pairs before the split live on only as codes in ``history``
    rows, new = _new_purchases(history, holdout)
    model = _ItemSimilarity.fit(
        history.liked, method=similarity, shrinkage=shrinkage, neighbours=neighbours
    )
    longest = max(ks)
    hits = _hits(_recommend_rows(model, history, rows, longest), new, ks)
    baseline = _hits(_recommend_rows(None, history, rows, longest), new, ks)
    n = len(rows)
    return {
        **{f"hit_rate_at_{length}": _rate(hits[length], n) for length in ks},
        "baseline": {f"hit_rate_at_{length}": _rate(baseline[length], n) for length in ks},
        "customers_evaluated": n,
        "split_date": split_date.isoformat(),
        "end": end.isoformat(),
        "item": item,
        "similarity": similarity,
        "shrinkage": float(shrinkage),
        "neighbours": neighbours,
        "products": history.n_products,
    }


# -- incidence --------------------------------------------------------------------------


def _checked(tx: ir.Table, item: str) -> ir.Table:
    missing = [c for c in ("customer_id", "timestamp", "amount", item) if c not in tx.columns]
    if missing:
        raise ColumnMappingError(
            f"the transactions lack {', '.join(missing)}; recommendations need the "
            f"customer, time, amount and a {item!r} column (map one with the column "
            "mapping, see docs/CONTRACTS.md).",
            column=missing[0],
        )
    return tx


def _pairs(
    tx: ir.Table,
    *,
    item: str,
    start: datetime.date | None,
    end: datetime.date,
    split: datetime.date | None = None,
) -> pa.Table:
    """(customer, item, liked) for the purchases in ``(start, end]``, materialised.

    ``item`` is null for customers whose purchases carry no item: they are customers
    all the same. With ``split``, the pairs of ``(start, split]`` and of ``(split, end]``
    are kept apart (a pair can be in both), told by the column ``after_split``.
    """
    tx = rows_up_to(tx, end)
    if start is not None:
        tx = tx.filter(day_of(tx) > ibis.literal(start, type="date"))
    if not is_duckdb(tx.get_backend()):
        return materialize(_aggregated_pairs(tx, item=item, split=split))
    # one part of the customers at a time (by a hash of the id): each part's hash table
    # holds a quarter of the pairs, so DuckDB's peak and what it keeps afterwards shrink
    parts = _PAIR_PARTS
    remainder = tx["customer_id"].cast("string").hash() % parts  # negative for some
    part_of = (remainder + parts) % parts
    return pa.concat_tables(
        materialize(_aggregated_pairs(tx.filter(part_of == i), item=item, split=split))
        for i in range(parts)
    )


def _aggregated_pairs(tx: ir.Table, *, item: str, split: datetime.date | None) -> ir.Table:
    customer = tx["customer_id"]
    if not customer.type().is_string():
        customer = customer.cast("string")
    product = tx[item]
    if not product.type().is_string():
        product = product.cast("string")
    amount = tx["amount"].cast("float64")
    bought = amount >= 0
    keys = {"customer_id": customer, "item": product}
    if split is not None:
        keys["after_split"] = day_of(tx) > ibis.literal(split, type="date")
    agg = tx.group_by(**keys).aggregate(
        purchases=amount.count(where=bought),
        paid=amount.sum(where=bought),
        returned=(-amount).sum(where=~bought),
    )
    agg = agg.filter(agg.purchases > 0)
    liked = agg.returned.isnull() | (agg.returned < agg.paid) | (agg.paid.fill_null(0.0) == 0)
    extra = ["after_split"] if split is not None else []
    return agg.select("customer_id", "item", *extra, liked=liked)


@dataclass(frozen=True)
class _History:
    """Customers, products and the customer x product matrices, coded consistently.

    Customers are coded in ``customer_id`` order; products by popularity (distinct
    customers who bought them), most popular first, then by name, so that code order
    breaks ties between equal scores.
    """

    customers: pa.Array
    products: pa.Array
    bought: sp.csr_array
    liked: sp.csr_array

    @property
    def n_customers(self) -> int:
        return len(self.customers)

    @property
    def n_products(self) -> int:
        return len(self.products)

    @classmethod
    def from_pairs(cls, pairs: pa.Table) -> _History:
        # Memory (1M customers, 7.8M pairs): no copy of the string columns (codes come from
        # ``index_in`` against the distinct values), int32 codes, and each intermediate
        # dropped as soon as it is used.
        customers, owner = _sorted_codes(pairs.column("customer_id"), None)
        item = pairs.column("item")
        liked_column = pairs.column("liked")
        if item.null_count:  # customers without an item are customers all the same
            valid = pc.is_valid(item)
            owner = owner[np.asarray(valid.to_numpy(zero_copy_only=False), dtype=bool)]
            item = item.filter(valid)
            liked_column = liked_column.filter(valid)
        products, product_code = _sorted_codes(item, "popularity")
        del item
        liked = np.asarray(liked_column.to_numpy(zero_copy_only=False), dtype=bool)
        shape = (len(customers), len(products))
        bought = _incidence(owner, product_code, shape)
        liked_matrix = _incidence(owner[liked], product_code[liked], shape)
        return cls(customers, products, bought, liked_matrix)


def _incidence(rows: CodeArray, cols: CodeArray, shape: tuple[int, int]) -> sp.csr_array:
    """0/1 (float64) customers x products matrix with ones at the (distinct) pairs."""
    return sp.csr_array((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=shape)


def _sorted_codes(
    values: pa.ChunkedArray, key: Literal["popularity"] | None
) -> tuple[pa.Array, CodeArray]:
    """Distinct non-null ``values`` sorted (by falling count with ``"popularity"``, then by
    value) and each value's int32 code in that order."""
    dictionary = pc.unique(values)
    dictionary = dictionary.filter(pc.is_valid(dictionary))
    indices = np.asarray(
        pc.index_in(values, value_set=dictionary).combine_chunks().to_numpy(), dtype=np.int32
    )
    by_name = np.asarray(pc.sort_indices(dictionary).to_numpy(), dtype=np.int64)
    name_rank = np.empty(len(dictionary), dtype=np.int64)
    name_rank[by_name] = np.arange(len(dictionary))
    if key is None:
        order = by_name
    else:
        buyers = np.bincount(indices, minlength=len(dictionary))
        order = np.lexsort((name_rank, -buyers))
    code = np.empty(len(order), dtype=np.int32)
    code[order] = np.arange(len(order), dtype=np.int32)
    return dictionary.take(pa.array(order)), code[indices]


def _new_purchases(history: _History, holdout: pa.Table) -> tuple[IntArray, sp.csr_array]:
    """Rows of the evaluated customers and, per row, their new holdout products.

    Returns the customer codes (sorted) of those who bought before the split and bought
    a product they had not bought before in the holdout, and a sparse 0/1 matrix (one
    row per evaluated customer) of their new products that existed before the split.
    """
    holdout = holdout.filter(pc.is_valid(holdout.column("item")))
    customer_index = pc.index_in(holdout.column("customer_id"), value_set=history.customers)
    product_index = pc.index_in(holdout.column("item"), value_set=history.products)
    known_customer = pc.is_valid(customer_index)
    holdout_customer = np.asarray(
        pc.filter(customer_index, known_customer).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    product = pc.filter(product_index, known_customer)
    known_product = np.asarray(pc.is_valid(product).to_numpy(zero_copy_only=False))
    product_code = np.asarray(pc.fill_null(product, -1).to_numpy(), dtype=np.int64)
    # A product unknown before the split is new to every customer; a known one is new
    # to a customer who had not bought it.
    seen = np.zeros(len(product_code), dtype=bool)
    if known_product.any():
        seen[known_product] = (
            history.bought[holdout_customer[known_product], product_code[known_product]] > 0
        )
    new = ~seen
    rows = np.unique(holdout_customer[new])
    position = np.searchsorted(rows, holdout_customer)
    recommendable = new & known_product
    matrix = sp.csr_array(
        (
            np.ones(int(recommendable.sum())),
            (position[recommendable], product_code[recommendable]),
        ),
        shape=(len(rows), history.n_products),
    )
    return rows, matrix


# -- similarity and scoring -------------------------------------------------------------


@dataclass(frozen=True)
class _ItemSimilarity:
    """Pruned item x item similarity matrix (row ``i``: product ``i``'s neighbours)."""

    matrix: sp.csr_array

    @classmethod
    def fit(
        cls, liked: sp.csr_array, *, method: Similarity, shrinkage: float, neighbours: int
    ) -> _ItemSimilarity:
        n_products = liked.shape[1]
        counts = np.asarray(liked.sum(axis=0), dtype=np.float64).ravel()
        n_customers = float(np.count_nonzero(np.asarray(liked.sum(axis=1)).ravel()))
        columns = liked.tocsc()
        by_product = columns.T  # products x customers, CSR, sharing ``columns``' arrays
        block = max(1, BLOCK_ENTRIES // max(n_products, 1))
        keep = min(neighbours, max(n_products - 1, 0))
        rows: list[IntArray] = []
        cols: list[IntArray] = []
        vals: list[FloatArray] = []
        for lo in range(0, n_products, block):
            hi = min(lo + block, n_products)
            co = np.asarray((by_product @ columns[:, lo:hi]).toarray(), dtype=np.float64)
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
    model: _ItemSimilarity | None, history: _History, rows: IntArray, k: int
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
            scores = sp.csr_array(history.liked[part] @ model.matrix).toarray()
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
    lower column, exactly: the ``k``-th best value of each row is found with a partition,
    the columns above it are taken and those equal to it fill the rest in column order.
    Returns the number of columns chosen per row and the columns, row after row.
    """
    m, p = scores.shape
    key = scores  # a block of its own, changed in place
    seen_row = np.repeat(np.arange(m, dtype=np.int64), np.diff(seen.indptr))
    inside = seen.indices < p
    key[seen_row[inside], seen.indices[inside]] = -1.0  # never chosen; unseen ones are >= 0
    take = min(k, p)
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
    """Customers with at least one new product among their first ``k``, for each ``k``."""
    lengths = chosen.lengths
    m, p = new.shape
    row = np.repeat(np.arange(m, dtype=np.int64), lengths)
    position = np.arange(len(chosen.codes), dtype=np.int64) - chosen.offsets[row]
    new_row = np.repeat(np.arange(m, dtype=np.int64), np.diff(new.indptr))
    wanted = np.unique(new_row * p + new.indices.astype(np.int64))
    hit = np.isin(row * p + chosen.codes, wanted, assume_unique=False)
    first = np.full(m, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, row[hit], position[hit])
    return {length: int(np.count_nonzero(first < length)) for length in ks}


def _joined(chosen: _Lists, products: pa.Array) -> pa.Array:
    """One ``"|"``-joined string per customer from product codes."""
    offsets = pa.array(chosen.offsets.astype(np.int32), pa.int32())
    lists = pa.ListArray.from_arrays(offsets, products.take(pa.array(chosen.codes)))
    return pc.binary_join(lists, SEPARATOR)


def _rate(hits: int, n: int) -> float | None:
    return hits / n if n else None


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
