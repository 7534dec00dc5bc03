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

from corecustomers.data.window import day_of, rows_up_to
from corecustomers.errors import ColumnMappingError, ConfigError
from corecustomers.units import check_dates

__all__ = ["ADOPTER_COLUMNS", "LAUNCH_COLUMNS", "early_adopters", "product_launches"]

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
    share = Fraction(first_share).limit_denominator(1_000_000)

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
