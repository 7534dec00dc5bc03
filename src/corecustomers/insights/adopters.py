"""Earliest adopters (最早的客户): customers who repeatedly buy new products first.

The seeds name the customers who take up a new product first among those who matter
beyond their own spend: they set the trend others follow. With a ``product`` column in the
transactions, :func:`early_adopters` finds them, lazily (window functions, no pandas), on
the engine that holds the data.

The rules
---------
* A product's *launch* is its first sale (the first day any customer bought it) up to the
  as-of day (:func:`product_launches`).
* **Unknown launches are left out.** A product first sold within ``launch_buffer_days``
  (default 30) of the first day of the data was most likely on sale before the data
  begins, so its buyers cannot be called early: only products whose first sale is *more*
  than ``launch_buffer_days`` after the data start are *new products*.
* A customer bought a new product **early** when, on the day they first bought it, fewer
  than ``first_share`` (default 10 %) of the product's buyers had bought it on an earlier
  day -- so the launch-day buyers always are, and buyers tied on a day share the verdict
  -- **or** when that day is at most ``within_days`` (default 30) after the launch.
* ``early_adopter_count`` is the number of new products bought early;
  ``early_adopter_score`` is ``early_adopter_count / (new_products + 1)``: the share of the
  customer's new products bought early, with one pseudo-product not bought early added,
  so that ten out of ten (0.91) scores above one out of one (0.50) and the score is 0
  for customers who bought no new product early; ``early_adopter`` flags customers early
  on at least ``min_products`` (default 2) new products -- *repeatedly* early.

Purchases are rows with ``amount >= 0`` and a non-null product, as everywhere in
corecustomers; a return never makes anyone an adopter. The share rule is evaluated in
integers (``first_share`` as a fraction ``p / q``: earlier buyers ``* q < p *`` buyers), so
every backend draws the same line.
"""

from __future__ import annotations

import datetime
import math
from fractions import Fraction
from typing import Final

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from corecustomers.data.window import day_of, rows_up_to
from corecustomers.errors import ColumnMappingError, ConfigError
from corecustomers.units import check_dates

__all__ = [
    "ADOPTER_COLUMNS",
    "LAUNCH_COLUMNS",
    "adopters_from_first_purchases",
    "early_adopters",
    "first_day_of_data",
    "product_launches",
]

LAUNCH_COLUMNS: Final = ("product", "first_sale", "n_buyers", "new_product")
"""Columns of :func:`product_launches`, in order."""

ADOPTER_COLUMNS: Final = (
    "customer_id",
    "new_products",
    "early_adopter_count",
    "early_adopter_score",
    "early_adopter",
)
"""Columns of :func:`early_adopters`, in order."""

_REQUIRED: Final = ("customer_id", "timestamp", "amount", "product")


def product_launches(
    tx: ir.Table, *, as_of: datetime.date, launch_buffer_days: int = 30
) -> ir.Table:
    """Each product's first sale, buyers, and whether its launch is in the data, lazily.

    Parameters
    ----------
    tx
        Canonical transactions with a ``product`` column, on any Ibis backend.
    as_of
        Last day observed (inclusive). Transactions after it are ignored.
    launch_buffer_days
        Products first sold at most this many days after the first day of the data are
        not new products (their launch is unknown). At least 0; default 30.

    Returns
    -------
    ibis.expr.types.Table
        One row per product bought up to ``as_of``, in no particular order:

        ``product`` (string)
            The product.
        ``first_sale`` (date)
            The first day anyone bought it.
        ``n_buyers`` (int64)
            Distinct customers who bought it.
        ``new_product`` (bool)
            ``first_sale`` is more than ``launch_buffer_days`` after the first day of the
            data (the first transaction of any kind up to ``as_of``).

    Raises
    ------
    ColumnMappingError
        If ``tx`` lacks ``product`` or a canonical column.
    ConfigError
        If ``as_of`` is not a date or ``launch_buffer_days`` is negative.

    Examples
    --------
    >>> import datetime
    >>> import ibis
    >>> tx = ibis.memtable(
    ...     {
    ...         "customer_id": ["a", "b", "a", "c"],
    ...         "timestamp": [datetime.datetime(2024, m, 1) for m in (1, 1, 3, 3)],
    ...         "amount": [5.0, 6.0, 7.0, 8.0],
    ...         "product": ["tea", "tea", "matcha", "matcha"],
    ...     }
    ... )
    >>> expr = product_launches(tx, as_of=datetime.date(2024, 6, 30)).order_by("product")
    >>> [(r["product"], r["n_buyers"], r["new_product"]) for r in expr.to_pyarrow().to_pylist()]
    [('matcha', 2, True), ('tea', 2, False)]
    """
    buffer = _check_days(launch_buffer_days, "launch_buffer_days")
    rows, start = _purchases(tx, as_of=as_of)
    launches = rows.group_by("product").aggregate(
        first_sale=rows.day.min(), n_buyers=rows.customer_id.nunique()
    )
    return launches.select(
        product=launches["product"],
        first_sale=launches.first_sale,
        n_buyers=launches.n_buyers.cast("int64"),
        new_product=launches.first_sale.delta(start, unit="day") > buffer,
    )


def early_adopters(
    tx: ir.Table,
    *,
    as_of: datetime.date,
    first_share: float = 0.10,
    within_days: int = 30,
    launch_buffer_days: int = 30,
    min_products: int = 2,
) -> ir.Table:
    """Count, score and flag the customers who buy new products early, lazily.

    Parameters
    ----------
    tx
        Canonical transactions with a ``product`` column, on any Ibis backend.
    as_of
        Last day observed (inclusive). Transactions after it are ignored.
    first_share
        A buyer is early when fewer than this share of the product's buyers bought it on
        an earlier day; in ``(0, 1]``, default 0.10.
    within_days
        A buyer is also early when they first bought the product at most this many days
        after its launch; at least 0, default 30 (0: only the launch day).
    launch_buffer_days
        Products first sold within this many days of the data start are not new
        (:func:`product_launches`); at least 0, default 30.
    min_products
        New products a customer must have bought early to be flagged; at least 1,
        default 2.

    Returns
    -------
    ibis.expr.types.Table
        One row per customer who bought at least one product up to ``as_of``, in no
        particular order:

        ``customer_id`` (string)
            The customer.
        ``new_products`` (int64)
            New products (launch in the data) the customer bought.
        ``early_adopter_count`` (int64)
            Of those, the ones bought early.
        ``early_adopter_score`` (float64)
            ``early_adopter_count / (new_products + 1)``, in ``[0, 1)``.
        ``early_adopter`` (bool)
            ``early_adopter_count >= min_products``.

    Raises
    ------
    ColumnMappingError
        If ``tx`` lacks ``product`` or a canonical column.
    ConfigError
        If a setting is out of range.

    Examples
    --------
    >>> import datetime
    >>> import ibis
    >>> day = lambda m, d: datetime.datetime(2024, m, d, 12)
    >>> tx = ibis.memtable(
    ...     {
    ...         "customer_id": ["old", "ivy", "bob", "ivy", "bob", "ivy", "cal"],
    ...         "timestamp": [day(1, 1), day(3, 1), day(5, 20), day(4, 1), day(4, 2),
    ...                       day(1, 5), day(1, 6)],
    ...         "amount": [1.0, 9.0, 9.0, 9.0, 9.0, 3.0, 3.0],
    ...         "product": ["bread", "pen", "pen", "ink", "ink", "bread", "bread"],
    ...     }
    ... )
    >>> expr = early_adopters(tx, as_of=datetime.date(2024, 6, 30)).order_by("customer_id")
    >>> for row in expr.to_pyarrow().to_pylist():
    ...     print(row)  # bread was on sale from the start: not a new product
    {'customer_id': 'bob', 'new_products': 2, 'early_adopter_count': 1, \
'early_adopter_score': 0.3333333333333333, 'early_adopter': False}
    {'customer_id': 'cal', 'new_products': 0, 'early_adopter_count': 0, \
'early_adopter_score': 0.0, 'early_adopter': False}
    {'customer_id': 'ivy', 'new_products': 2, 'early_adopter_count': 2, \
'early_adopter_score': 0.6666666666666666, 'early_adopter': True}
    {'customer_id': 'old', 'new_products': 0, 'early_adopter_count': 0, \
'early_adopter_score': 0.0, 'early_adopter': False}
    """
    share, within, buffer = _checked_rules(
        first_share, within_days, launch_buffer_days, min_products
    )
    rows, start = _purchases(tx, as_of=as_of)
    bought = rows.group_by("customer_id", "product").aggregate(first_day=rows.day.min())
    per_product = ibis.window(group_by=bought["product"])
    in_order = ibis.window(group_by=bought["product"], order_by=bought.first_day)
    bought = bought.mutate(
        launch=bought.first_day.min().over(per_product),
        n_buyers=bought.customer_id.count().over(per_product),
        # RANK() - 1: the buyers who first bought it on a strictly earlier day
        earlier=ibis.rank().over(in_order),
    )
    new = bought.launch.delta(start, unit="day") > buffer
    first_buyers = (
        bought.earlier.cast("int64") * share.denominator
        < bought.n_buyers.cast("int64") * share.numerator
    )
    soon = bought.first_day.delta(bought.launch, unit="day") <= within
    # flags as columns first: the data start is a scalar subquery, which a projection
    # may hold but an aggregate's filter may not
    flagged = bought.mutate(is_new=new, is_early=new & (first_buyers | soon))
    agg = flagged.group_by("customer_id").aggregate(
        new_products=flagged.is_new.sum(),
        early_adopter_count=flagged.is_early.sum(),
    )
    count = agg.early_adopter_count.cast("int64")
    return agg.select(
        customer_id=agg.customer_id,
        new_products=agg.new_products.cast("int64"),
        early_adopter_count=count,
        early_adopter_score=(count.cast("float64") / (agg.new_products + 1).cast("float64")).cast(
            "float64"
        ),
        early_adopter=count >= min_products,
    )


def adopters_from_first_purchases(
    customers: pa.Array,
    customer: NDArray[np.int32],
    product: NDArray[np.int32],
    first_day: NDArray[np.int32],
    *,
    data_start: datetime.date | None,
    first_share: float = 0.10,
    within_days: int = 30,
    launch_buffer_days: int = 30,
    min_products: int = 2,
) -> pa.Table:
    """:func:`early_adopters`' table, from each customer's first purchase of each product.

    The same rules on pairs already aggregated: ``customer`` and ``product`` code one
    (customer, product) pair per entry (``customer`` into ``customers``, sorted and
    distinct; ``product`` any code of the product), ``first_day`` is the pair's first
    purchase day up to the as-of day (days since 1970-01-01), and ``data_start`` is the
    first day of the data up to it (the first transaction of any kind:
    :func:`first_day_of_data`; None only without pairs). Computed in NumPy
    (a sort of the pairs by product and day), with the same integer share rule.

    Returns
    -------
    pyarrow.Table
        :data:`ADOPTER_COLUMNS`, one row per customer with a pair, ordered by
        ``customer_id``: what ``early_adopters(tx, ...)`` gives for the transactions
        the pairs come from, in that order.

    Examples
    --------
    >>> import datetime
    >>> import numpy as np
    >>> import pyarrow as pa
    >>> day = lambda m, d: (datetime.date(2024, m, d) - datetime.date(1970, 1, 1)).days
    >>> table = adopters_from_first_purchases(
    ...     pa.array(["bob", "ivy"]),
    ...     np.array([0, 0, 1, 1], dtype=np.int32),
    ...     np.array([0, 1, 0, 1], dtype=np.int32),  # pen, ink
    ...     np.array([day(5, 20), day(4, 2), day(3, 1), day(4, 1)], dtype=np.int32),
    ...     data_start=datetime.date(2024, 1, 1),
    ... )
    >>> table.column("early_adopter_count").to_pylist(), table.column("early_adopter").to_pylist()
    ([1, 2], [False, True])
    """
    share, within, buffer = _checked_rules(
        first_share, within_days, launch_buffer_days, min_products
    )
    n_customers = len(customers)
    owner = np.asarray(customer, dtype=np.int64)
    day = np.asarray(first_day, dtype=np.int64)
    item = np.asarray(product, dtype=np.int64)
    launch, n_buyers, earlier = _launches_and_ranks(item, day)
    start = 0 if data_start is None else (data_start - _EPOCH).days
    if data_start is None and len(day):
        raise ConfigError("data_start is needed to tell the new products from the others")
    new = launch - start > buffer
    first_buyers = earlier * share.denominator < n_buyers * share.numerator
    soon = day - launch <= within
    early = new & (first_buyers | soon)
    new_products = np.bincount(owner[new], minlength=n_customers)
    count = np.bincount(owner[early], minlength=n_customers)
    present = np.flatnonzero(np.bincount(owner, minlength=n_customers))
    new_products, count = new_products[present].astype(np.int64), count[present].astype(np.int64)
    return pa.table(
        {
            "customer_id": customers.take(pa.array(present)).cast(pa.string()),
            "new_products": new_products,
            "early_adopter_count": count,
            "early_adopter_score": count.astype(np.float64) / (new_products + 1).astype(np.float64),
            "early_adopter": count >= min_products,
        }
    )


_EPOCH: Final = datetime.date(1970, 1, 1)

#: :func:`_launches_and_ranks` counts the buyers of each (product, day) in a dense
#: products x days histogram when it has at most this many cells (or as many as there
#: are pairs), else it sorts the pairs by product and day.
_HISTOGRAM_CELLS: Final = 1 << 24


def _launches_and_ranks(
    item: NDArray[np.int64], day: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """For each (customer, product) pair with its product ``item`` and first purchase
    ``day``: the product's launch (its first day), its number of buyers (pairs), and
    the buyers who first bought it on a strictly earlier day (``RANK() - 1`` by day).

    In a histogram of the pairs by product and day (no sort) when it is small: the
    earlier buyers are the pairs before the pair's cell in the product's row.
    """
    n = len(item)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty
    n_items = int(item.max()) + 1
    first = int(day.min())
    span = int(day.max()) - first + 1
    launch_of = np.full(n_items, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(launch_of, item, day)
    n_buyers = np.bincount(item, minlength=n_items)[item]
    if n_items * span <= max(_HISTOGRAM_CELLS, n):
        cell = item * span + (day - first)
        hist = np.bincount(cell, minlength=n_items * span)
        before = np.cumsum(hist) - hist  # pairs in the cells before each, row-major
        earlier = before[cell] - before[item * span]
        return launch_of[item], n_buyers, earlier
    # by product, then by day: a buyer's earlier buyers are those before the first
    # pair of their (product, day) run
    order = np.lexsort((day, item))
    item_s, day_s = item[order], day[order]
    index = np.arange(n, dtype=np.int64)
    new_item = np.ones(n, dtype=bool)
    new_item[1:] = item_s[1:] != item_s[:-1]
    new_run = new_item.copy()
    new_run[1:] |= day_s[1:] != day_s[:-1]
    item_start = np.maximum.accumulate(np.where(new_item, index, 0))
    run_start = np.maximum.accumulate(np.where(new_run, index, 0))
    earlier = np.empty(n, dtype=np.int64)
    earlier[order] = run_start - item_start
    return launch_of[item], n_buyers, earlier


def first_day_of_data(tx: ir.Table, *, as_of: datetime.date) -> ir.DateScalar:
    """The first day of the data up to ``as_of`` (any transaction), lazily: the day
    :func:`product_launches` measures the launch buffer from."""
    check_dates(as_of, None)
    if "timestamp" not in tx.columns:
        raise ColumnMappingError("the transactions lack timestamp", column="timestamp")
    tx = rows_up_to(tx, as_of)
    return day_of(tx).min()


def _checked_rules(
    first_share: object, within_days: object, launch_buffer_days: object, min_products: object
) -> tuple[Fraction, int, int]:
    """The share rule as a fraction, ``within_days`` and ``launch_buffer_days``, once
    every setting is known to be in range."""
    if (
        isinstance(first_share, bool)
        or not isinstance(first_share, int | float)
        or not math.isfinite(first_share)
        or not 0.0 < first_share <= 1.0
    ):
        raise ConfigError(f"first_share must be a share in (0, 1], got {first_share!r}.")
    within = _check_days(within_days, "within_days")
    buffer = _check_days(launch_buffer_days, "launch_buffer_days")
    if isinstance(min_products, bool) or not isinstance(min_products, int) or min_products < 1:
        raise ConfigError(f"min_products must be an integer of at least 1, got {min_products!r}.")
    return Fraction(first_share).limit_denominator(1_000_000), within, buffer


def _check_days(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{name} must be a whole number of days, at least 0, got {value!r}.")
    return value


def _purchases(tx: ir.Table, *, as_of: datetime.date) -> tuple[ir.Table, ir.DateScalar]:
    """Purchase rows with a product up to ``as_of``, and the first day of the data."""
    check_dates(as_of, None)
    missing = [name for name in _REQUIRED if name not in tx.columns]
    if missing:
        raise ColumnMappingError(
            f"the transactions lack {', '.join(missing)}; map the source's product column "
            f"to 'product' (see docs/CONTRACTS.md) to find early adopters.",
            column=missing[0],
        )
    tx = rows_up_to(tx, as_of)
    rows = tx.select(
        customer_id=tx["customer_id"].cast("string"),
        product=tx["product"].cast("string"),
        day=day_of(tx),
        amount=tx["amount"].cast("float64"),
    )
    start = rows.day.min()
    purchases = rows.filter((rows.amount >= 0) & rows["product"].notnull())
    return purchases, start
