"""Synthetic transactions from the processes the BTYD models assume, at any scale.

NumPy + Arrow (no pandas); identical for identical arguments. The realistic bilingual demo
is :mod:`corecustomers.data.demo`.

:func:`generate_transactions` / :func:`write_transactions`
    Customers drawn from the processes the BTYD models assume, for tests of the models and
    for benchmarks at any size (1M customers give about 10M rows in about 20 s on two
    cores; the Parquet writer streams blocks, so memory stays flat). Each customer

    * makes a first purchase at a time drawn uniformly over ``[start, end]`` (staggered
      cohorts, as the models assume: the first purchase starts the clock);
    * then buys as a Poisson process with rate :math:`\\lambda \\sim \\text{Gamma}(r,
      \\alpha)` (Ehrenberg's NBD);
    * and drops out either after any purchase with probability :math:`p \\sim
      \\text{Beta}(a, b)` (BG/NBD: Fader, Hardie & Lee 2005, *Marketing Science* 24(2),
      section 3) or at an exponential time with rate :math:`\\mu \\sim \\text{Gamma}(s,
      \\beta)` (Pareto/NBD: Schmittlein, Morrison & Colombo 1987);
    * spends :math:`z \\sim \\text{Gamma}(p_z, \\nu)` per purchase with :math:`\\nu \\sim
      \\text{Gamma}(q, \\gamma)` (gamma-gamma: Fader, Hardie & Lee 2005b, "RFM and CLV",
      section 3);
    * returns about ``return_share`` of its purchases a few days later (negative amounts).

    Rates are per **day**. Rows are in time order within each block of
    :data:`BLOCK_CUSTOMERS` customers, not across blocks.

Examples
--------
>>> import datetime
>>> from corecustomers.data.simulator import generate_transactions
>>> tx = generate_transactions(
...     1_000, start=datetime.date(2023, 1, 1), end=datetime.date(2023, 12, 31), seed=1
... )
>>> tx.column_names[:4]
['customer_id', 'order_id', 'timestamp', 'amount']
>>> tx.equals(
...     generate_transactions(
...         1_000, start=datetime.date(2023, 1, 1), end=datetime.date(2023, 12, 31), seed=1
...     )
... )
True
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from corecustomers.data._sampling import (
    CHANNELS,
    DEFAULT_END,
    DEFAULT_START,
    US_PER_DAY,
    Floats,
    Ints,
    check_count,
    check_period,
    everyday,
    fixed_width,
    last_microsecond,
    microseconds,
    random_stream,
    seconds_of_day,
    segments,
)
from corecustomers.data.atomic import replacing
from corecustomers.errors import ConfigError

__all__ = [
    "BLOCK_CUSTOMERS",
    "TRANSACTION_SCHEMA",
    "BTYDParams",
    "generate_transactions",
    "iter_transactions",
    "write_transactions",
]

Dropout = Literal["beta_geometric", "exponential"]

BLOCK_CUSTOMERS: Final = 100_000
"""Customers simulated together; each block has its own random stream, so memory is
bounded by one block and the output does not depend on how it is consumed."""

TRANSACTION_SCHEMA: Final = pa.schema(
    [
        ("customer_id", pa.string()),
        ("order_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("amount", pa.float64()),
        ("quantity", pa.float64()),
        ("product", pa.string()),
        ("category", pa.string()),
        ("channel", pa.string()),
        ("store", pa.string()),
    ]
)
"""Schema of :func:`generate_transactions` (canonical names, ``docs/CONTRACTS.md``)."""

# --------------------------------------------------------------------------------------
# The BTYD simulator
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BTYDParams:
    """Parameters of the simulated population (rates per **day**).

    Attributes
    ----------
    dropout
        ``"beta_geometric"`` (BG/NBD: after any purchase the customer leaves with
        probability :math:`p \\sim \\text{Beta}(a, b)`) or ``"exponential"`` (Pareto/NBD:
        lifetime :math:`\\sim \\text{Exp}(\\mu)`, :math:`\\mu \\sim \\text{Gamma}(s, \\beta)`).
    r, alpha
        Shape and rate of the gamma distribution of purchase rates (mean ``r / alpha``).
    a, b
        Beta parameters of the dropout probability (BG/NBD).
    s, beta
        Shape and rate of the gamma distribution of dropout rates (Pareto/NBD).
    p, q, gamma
        Gamma-gamma spend: each purchase is Gamma(p, nu) with nu ~ Gamma(q, gamma); mean
        spend ``p * gamma / (q - 1)``.
    """

    dropout: Dropout = "beta_geometric"
    r: float = 0.8
    alpha: float = 20.0
    a: float = 0.7
    b: float = 6.0
    s: float = 0.6
    beta: float = 60.0
    p: float = 6.0
    q: float = 4.0
    gamma: float = 40.0


def _btyd_block(
    rng: np.random.Generator, n: int, days: int, params: BTYDParams
) -> tuple[Ints, Floats]:
    """Owner and time (days after start, continuous) of every purchase of ``n`` customers.

    Given ``m ~ Poisson(lambda H)`` events of a Poisson process on ``[0, H]``, the first
    ``x`` of them are at ``H * (E_1 + ... + E_k) / (E_1 + ... + E_{m+1})``, ``k <= x``,
    with unit exponentials ``E``; the tail ``E_{x+1} + ... + E_{m+1}`` is one
    Gamma(m - x + 1) draw, so only the purchases that happen are drawn.
    """
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    first = rng.uniform(0.0, days, n)
    horizon = days - first
    if params.dropout == "beta_geometric":
        drop = np.clip(rng.beta(params.a, params.b, n), 1e-12, 1.0)
        events = rng.poisson(lam * horizon)
        repeats = np.minimum(rng.geometric(drop) - 1, events)
        tail = rng.standard_gamma((events - repeats + 1).astype(np.float64))
    elif params.dropout == "exponential":
        mu = np.maximum(rng.gamma(params.s, 1.0 / params.beta, n), 1e-300)
        horizon = np.minimum(horizon, rng.standard_exponential(n) / mu)
        repeats = rng.poisson(lam * horizon)
        tail = rng.standard_exponential(n)
    else:
        raise ConfigError(
            f"dropout must be 'beta_geometric' or 'exponential', got {params.dropout!r}"
        )
    repeats = repeats.astype(np.int64)
    owner, rank = segments(repeats)
    gaps = rng.standard_exponential(len(owner))
    within = np.cumsum(gaps)
    within -= np.concatenate(([0.0], within))[(np.arange(len(owner)) - rank)]
    total = np.bincount(owner, weights=gaps, minlength=n) + tail
    times = first[owner] + horizon[owner] * within / total[owner]
    return np.concatenate((np.arange(n, dtype=np.int64), owner)), np.concatenate((first, times))


def iter_transactions(
    n_customers: int,
    *,
    start: _dt.date = DEFAULT_START,
    end: _dt.date = DEFAULT_END,
    seed: int = 0,
    params: BTYDParams | None = None,
    return_share: float = 0.02,
    n_stores: int = 50,
) -> Iterator[pa.RecordBatch]:
    """Simulate transactions block by block; see :func:`generate_transactions`.

    Yields one :class:`pyarrow.RecordBatch` per :data:`BLOCK_CUSTOMERS` customers, with
    :data:`TRANSACTION_SCHEMA`, in time order within the batch.
    """
    n_customers = check_count(n_customers)
    days = check_period(start, end)
    params = params or BTYDParams()
    if not 0 <= return_share < 0.5:
        raise ConfigError(f"return_share must be in [0, 0.5), got {return_share}")
    if n_stores < 1:
        raise ConfigError(f"n_stores must be at least 1, got {n_stores}")
    names, cats, _, _ = everyday("en")
    zipf = 1.0 / np.arange(1, len(names) + 1) ** 0.8
    weights = zipf[random_stream(seed, 2**31).permutation(len(names))]
    product_cdf = np.cumsum(weights) / weights.sum()
    product_names, category_names = pa.array(names), pa.array(cats)
    channel_names = pa.array(list(CHANNELS["en"]))
    store_names = pa.array([f"Store {i + 1:03d}" for i in range(n_stores)] + ["Online"])
    id_width = max(8, len(str(n_customers)))
    last = last_microsecond(end)
    order_no = 0
    for block, first in enumerate(range(0, n_customers, BLOCK_CUSTOMERS)):
        n = min(BLOCK_CUSTOMERS, n_customers - first)
        rng = random_stream(seed, block)
        owner, t = _btyd_block(rng, n, days, params)
        rows = len(owner)
        day = np.minimum(t.astype(np.int64), days - 1)
        nu = rng.gamma(params.q, 1.0 / params.gamma, n)
        amount = np.round(rng.standard_gamma(params.p, rows) / nu[owner], 2)
        quantity = 1.0 + rng.poisson(0.5, rows)
        product = np.searchsorted(product_cdf, rng.random(rows), side="right")
        home_channel = np.searchsorted([0.55, 0.8], rng.random(n), side="right")
        channel = np.where(rng.random(rows) < 0.8, home_channel[owner], rng.integers(0, 3, rows))
        home_store = rng.integers(0, n_stores, n)
        store = np.where(
            rng.random(rows) < 0.85, home_store[owner], rng.integers(0, n_stores, rows)
        )
        store = np.where(channel == 1, n_stores, store)
        ts = microseconds(start, day, seconds_of_day(rng, rows))

        # Returns: a later row giving back all or part of an earlier purchase.
        back = np.flatnonzero(rng.random(rows) < return_share / (1.0 - return_share))
        delay = (rng.exponential(6.0, len(back)) * US_PER_DAY).astype(np.int64)
        part = np.where(rng.random(len(back)) < 0.7, 1.0, rng.uniform(0.2, 0.9, len(back)))
        ts = np.concatenate((ts, np.minimum(ts[back] + delay, last)))
        amount = np.concatenate((amount, -np.round(amount[back] * part, 2)))
        quantity = np.concatenate((quantity, -quantity[back]))
        order = np.argsort(ts, kind="stable")
        ts, amount, quantity = ts[order], amount[order], quantity[order]
        source = np.concatenate((np.arange(rows), back))[order]  # the purchase of each row
        customers = fixed_width("C", np.arange(first + 1, first + n + 1), id_width)
        yield pa.RecordBatch.from_arrays(
            [
                customers.take(pa.array(owner[source])),
                fixed_width("O", np.arange(order_no, order_no + len(ts)), 11),
                pa.array(ts, type=pa.timestamp("us")),
                pa.array(amount),
                pa.array(quantity),
                product_names.take(pa.array(product[source])),
                category_names.take(pa.array(product[source])),
                channel_names.take(pa.array(channel[source])),
                store_names.take(pa.array(store[source])),
            ],
            schema=TRANSACTION_SCHEMA,
        )
        order_no += len(ts)


def generate_transactions(
    n_customers: int,
    *,
    start: _dt.date = DEFAULT_START,
    end: _dt.date = DEFAULT_END,
    seed: int = 0,
    params: BTYDParams | None = None,
    return_share: float = 0.02,
    n_stores: int = 50,
) -> pa.Table:
    """Simulate the transactions of ``n_customers`` customers from a BTYD process.

    Parameters
    ----------
    n_customers
        Customers to simulate; each buys at least once. With the default parameters and
        period there are about ten rows per customer.
    start, end
        First and last day (inclusive). First purchases are spread uniformly over them.
    seed
        Random seed; the same arguments always give the same table.
    params
        The population (:class:`BTYDParams`); its defaults when None.
    return_share
        Share of the rows that are returns (negative ``amount`` and ``quantity``), each a
        copy of an earlier purchase of the same customer a few days later.
    n_stores
        Physical stores; online rows have the store ``"Online"``.

    Returns
    -------
    pyarrow.Table
        :data:`TRANSACTION_SCHEMA`: ``customer_id`` (``C00000001``...), ``order_id``
        (unique, ``O00000000000``...), ``timestamp`` (with a time of day), ``amount``,
        ``quantity``, ``product``, ``category``, ``channel``, ``store``.

    See Also
    --------
    write_transactions : the same rows streamed to Parquet in bounded memory.

    Examples
    --------
    >>> tx = generate_transactions(2_000, seed=3)
    >>> tx.num_rows > 2_000
    True
    >>> len(set(tx["customer_id"].to_pylist()))
    2000
    """
    batches = iter_transactions(
        n_customers,
        start=start,
        end=end,
        seed=seed,
        params=params,
        return_share=return_share,
        n_stores=n_stores,
    )
    return pa.Table.from_batches(list(batches), schema=TRANSACTION_SCHEMA)


def write_transactions(
    path: str | Path,
    n_customers: int,
    *,
    start: _dt.date = DEFAULT_START,
    end: _dt.date = DEFAULT_END,
    seed: int = 0,
    params: BTYDParams | None = None,
    return_share: float = 0.02,
    compression: str = "snappy",
) -> int:
    """Stream :func:`generate_transactions` to Parquet, one row group per block.

    Memory stays at about one block (:data:`BLOCK_CUSTOMERS` customers) whatever
    ``n_customers`` is; the file appears only once complete.

    Returns
    -------
    int
        Rows written.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_transactions(pathlib.Path(tmp) / "tx.parquet", 100, seed=1) > 100
    True
    """
    path = Path(path)
    rows = 0
    batches = iter_transactions(
        n_customers, start=start, end=end, seed=seed, params=params, return_share=return_share
    )
    # Dictionary pages only pay for the low-cardinality columns; ids would fall back.
    low = ["product", "category", "channel", "store"]
    with (
        replacing(path, prefix=f".{path.name}.", mode=0o644) as tmp,
        pq.ParquetWriter(
            tmp, TRANSACTION_SCHEMA, compression=compression, use_dictionary=low
        ) as writer,
    ):
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows
