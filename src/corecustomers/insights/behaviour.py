"""Behaviour per customer as lazy Ibis expressions: rhythm, spend trend, breadth, returns.

:func:`customer_behaviour` reads the canonical transactions (``docs/CONTRACTS.md``) and
describes how each customer buys, up to an as-of day, in terms an account manager reads
directly and the early warnings (:mod:`corecustomers.insights.alerts`) and the combined
ranking use as inputs:

* **purchase rhythm** -- the mean and the spread of the gaps between purchase days, the
  day the next purchase is due, and how overdue the customer is against their own rhythm;
* **spend trend** -- net spend in consecutive 90-day windows ending on the as-of day and
  the least-squares slope through them;
* **breadth** -- distinct products and categories bought, when those columns exist;
* **returns** -- the share of gross purchases that came back.

The conventions are those of :func:`corecustomers.data.features.customer_features`: a
*purchase day* is a calendar day of the naive ``timestamp`` with at least one row with
``amount >= 0`` (zero-value orders included); a row with ``amount < 0`` is a return, netted
into the spend of its day, and never a purchase by itself; customers with only returns up
to the as-of day have no row.

Nothing runs until the expression is executed (on DuckDB, but for a small query of the
values of the breadth columns while it is built), so the same code compiles to DuckDB,
Spark and PostgreSQL. The plan is one aggregation of the transactions per customer and, for the
spread of the gaps (which needs consecutive purchase days), a lag over the purchase rows
in day order (:func:`_gap_spread`), joined back on ``customer_id``. On DuckDB the breadth
is counted within that aggregation from integer codes of the values instead of by
distinct counts (:func:`_with_codes`). On the 10M-row benchmark (1M customers, 2
cores, load 1.2-1.5) the query took 7.2-7.3 s with distinct counts and distinct days and
takes 4.4-4.6 s (5.4-6.0 s, under more load, with the codes alone); on one thread 12.9 ->
8.7 s, every column of every customer the same bits. On two threads DuckDB combines a
customer's partial sums in no fixed order, so some ``gap_std_days`` differ in the last
bit between runs: 0-30 of the million between two runs of the distinct days, about 65
(relative difference at most 3.5e-16) between those and the lag over the rows.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Callable, Mapping
from typing import Final

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ibis.common.exceptions import IbisError
from numpy.typing import NDArray

from corecustomers.data.connect import is_duckdb
from corecustomers.data.window import day_of, rows_up_to
from corecustomers.errors import ColumnMappingError, ConfigError
from corecustomers.units import check_dates

__all__ = [
    "BEHAVIOUR_COLUMNS",
    "BREADTH_COLUMNS",
    "MIX_COLUMNS",
    "WINDOW_DAYS",
    "customer_behaviour",
    "customer_mix",
    "mix_table",
    "trend_weights",
]

WINDOW_DAYS: Final = 90
"""Length of one spend window in days (about a quarter)."""

TRAILING_YEAR_DAYS: Final = 365
"""Length of the trailing window of ``spend_last_365d`` in days."""

BEHAVIOUR_COLUMNS: Final = (
    "customer_id",
    "n_purchase_days",
    "days_since_last_purchase",
    "mean_gap_days",
    "gap_std_days",
    "expected_next_purchase",
    "overdue_ratio",
    "spend_last_90d",
    "spend_prev_90d",
    "spend_trend",
    "spend_last_365d",
    "gross_spend",
    "return_share",
)
"""Columns of :func:`customer_behaviour`, in order, before the breadth columns."""

BREADTH_COLUMNS: Final = (("product", "n_products"), ("category", "n_categories"))
"""Optional transaction column and the breadth column counted from it, in output order."""

_REQUIRED: Final = ("customer_id", "timestamp", "amount")


MIX_COLUMNS: Final = (
    ("product", "top_products"),
    ("category", "top_categories"),
    ("channel", "top_channels"),
)
"""Source column → output column of :func:`customer_mix`."""

WIDE_MIX_VALUES: Final = 16
"""On DuckDB, :func:`mix_table` ranks a column with at most this many distinct purchased
values from one aggregation per customer (a spend per value) instead of
:func:`customer_mix`'s aggregation per customer and value and its window."""


def customer_mix(tx: ir.Table, *, as_of: datetime.date, column: str, k: int = 3) -> ir.Table:
    """Each customer's top ``k`` values of ``column`` by purchase spend, with their shares.

    What the profile shows as the purchase pattern ("mostly 热拿铁, 45 % of spend; then …").
    Only purchases count (``amount >= 0``, up to ``as_of``); a share is the value's part of
    the customer's purchase spend, null when that spend is zero; ties break by the value.

    Returns
    -------
    ibis.Table
        Long form: ``customer_id``, ``value`` (string), ``spend``, ``share`` (float64),
        ``rank`` (1 = the largest), at most ``k`` rows a customer.

    Examples
    --------
    >>> import datetime, ibis
    >>> tx = ibis.memtable({
    ...     "customer_id": ["a", "a", "a"], "amount": [30.0, 10.0, -5.0],
    ...     "timestamp": [datetime.datetime(2024, 1, d) for d in (1, 2, 3)],
    ...     "product": ["tea", "cake", "tea"]})
    >>> out = customer_mix(tx, as_of=datetime.date(2024, 1, 31), column="product")
    >>> out.order_by("rank").execute()[["value", "share", "rank"]].values.tolist()
    [['tea', 0.75, 1], ['cake', 0.25, 2]]
    """
    if column not in tx.columns:
        raise ColumnMappingError(
            f"the transactions have no {column!r} column to describe the purchase mix",
            column=column,
        )
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    rows = _rows(_checked(tx), as_of=as_of, extra=(column,))
    bought = rows.mutate(value=rows[column]).filter(lambda t: (t.amount >= 0) & t.value.notnull())
    per_value = bought.group_by(["customer_id", "value"]).aggregate(spend=bought.amount.sum())
    return _ranked(per_value, k)


def _ranked(per_value: ir.Table, k: int) -> ir.Table:
    """:func:`customer_mix` from the spend per ``customer_id`` and ``value``."""
    total = per_value.spend.sum().over(group_by=per_value.customer_id)
    rank = ibis.row_number().over(
        group_by=per_value.customer_id, order_by=[ibis.desc(per_value.spend), per_value.value]
    )
    ranked = per_value.mutate(
        share=ibis.ifelse(total > 0, per_value.spend / total, ibis.null("float64")),
        rank=(rank + 1).cast("int64"),
    )
    return ranked.filter(ranked["rank"] <= k).select(
        "customer_id", "value", "spend", "share", "rank"
    )


def mix_table(
    tx: ir.Table,
    *,
    as_of: datetime.date,
    k: int = 3,
    spends: Mapping[str, pa.Table] | None = None,
) -> pa.Table:
    """The purchase mix of every customer as JSON columns, for the columns ``tx`` has.

    One column per :data:`MIX_COLUMNS` entry whose source column exists (``top_products``,
    ``top_categories``, ``top_channels``), each a JSON list of ``{"value", "share"}`` in rank
    order; customers with no purchase of a known value have null. Executes the expressions.

    ``spends`` may give, for a source column, what :func:`customer_mix` aggregates first:
    each customer's purchase spend on each value up to ``as_of`` (an Arrow table of
    ``customer_id``, ``value``, ``spend``, one row per pair with a purchase, in any
    order; the ids and values strings or dictionary-encoded strings), already read with
    other figures. The ranking and the shares are then computed from it, by ``tx``'s
    engine, without aggregating the transactions again; when both columns are
    dictionary-encoded with sorted names (the recommendations' pairs), by their integer
    codes, which rank as the names do (7.8M pairs of 1M customers: 5.5-5.6 -> 3.0-3.3
    CPU-s, the same texts).

    On DuckDB, the columns read from ``tx`` with at most :data:`WIDE_MIX_VALUES`
    distinct purchased values (categories and channels, typically) are ranked from one
    aggregation of the transactions per customer, with a spend per value, instead of
    one aggregation per customer and value and a window for each column (the same
    texts); on 10M rows the categories and channels took 7.7-8.9 CPU-s that
    way and take 5.9-6.2 CPU-s this way.

    The texts are dictionary-encoded (``dictionary<int32, string>``): each distinct text
    is held once, and a ``take`` of the column (aligning it with another table) copies
    only the indices and shares the texts; cast to ``string`` for the plain column.

    Examples
    --------
    >>> import datetime, ibis
    >>> tx = ibis.memtable({"customer_id": ["a", "a"], "amount": [30.0, 10.0],
    ...     "timestamp": [datetime.datetime(2024, 1, 1)] * 2, "channel": ["app", "store"]})
    >>> mix_table(tx, as_of=datetime.date(2024, 1, 31)).column("top_channels")[0].as_py()
    '[{"value": "app", "share": 0.75}, {"value": "store", "share": 0.25}]'
    """
    present = [(source, out) for source, out in MIX_COLUMNS if source in tx.columns]
    given = spends or {}
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    wide: dict[str, tuple[pa.Array, pa.DictionaryArray]] = {}
    if is_duckdb(tx.get_backend()):
        aggregated = [source for source, _ in present if source not in given]
        wide = _wide_mix(tx, as_of=as_of, sources=aggregated, k=k) if aggregated else {}
    columns: dict[str, tuple[pa.Array, pa.DictionaryArray]] = {}
    for source, out in present:
        if source in wide:
            columns[out] = wide[source]
            continue
        names: tuple[pa.Array, pa.Array] | None = None
        if source in given:
            spent, names = _coded(given[source].select(["customer_id", "value", "spend"]))
            mix = _ranked(ibis.memtable(spent), k)
        else:
            mix = customer_mix(tx, as_of=as_of, column=source, k=k)
        long = mix.order_by(["customer_id", "rank"]).select("customer_id", "value", "share")
        result = tx.get_backend().to_pyarrow(long)
        columns[out] = _mix_json(result if names is None else _named(result, *names))
    data: dict[str, pa.Array] = {"customer_id": _aligned_ids(columns)}
    for out, (owners, texts) in columns.items():
        same = owners.equals(data["customer_id"])
        data[out] = (
            texts if same else texts.take(pc.index_in(data["customer_id"], value_set=owners))
        )
    text = pa.dictionary(pa.int32(), pa.string())
    schema = pa.schema([("customer_id", pa.string()), *((out, text) for out in columns)])
    return pa.table(data, schema=schema)


def _coded(spends: pa.Table) -> tuple[pa.Table, tuple[pa.Array, pa.Array] | None]:
    """``spends`` with the customers and values as their int32 codes, and the names
    (customers, values), when both columns are dictionary-encoded with one sorted
    dictionary of distinct names each (as the recommendations' pairs hand them over);
    else ``spends`` as it is and None.

    Codes in name order rank and partition as the names do (DuckDB compares strings by
    their bytes, the order of the sorted dictionaries), so the window gives the same
    ranks and sums the same spends in the same order; it only hashes and sorts integers
    instead of strings (7.8M pairs of 1M customers: see :func:`mix_table`).
    """
    codes: dict[str, pa.Array] = {}
    names: list[pa.Array] = []
    for name in ("customer_id", "value"):
        column = spends.column(name)
        if not pa.types.is_dictionary(column.type) or column.num_chunks != 1:
            return spends, None
        chunk = column.chunk(0)
        dictionary = chunk.dictionary.cast(pa.string())
        n = len(dictionary)
        ordered = n < 2 or pc.all(pc.less(dictionary.slice(0, n - 1), dictionary.slice(1))).as_py()
        if not ordered or dictionary.null_count:
            return spends, None
        codes[name] = chunk.indices.cast(pa.int32())
        names.append(dictionary)
    table = pa.table({**codes, "spend": spends.column("spend")})
    return table, (names[0], names[1])


def _named(long: pa.Table, customers: pa.Array, values: pa.Array) -> pa.Table:
    """``long`` (``customer_id``, ``value``: codes; ``share``) with the names again."""
    customer = long.column("customer_id").combine_chunks()
    value = long.column("value").combine_chunks()
    return pa.table(
        {
            "customer_id": customers.take(customer),
            "value": pa.DictionaryArray.from_arrays(value, values),
            "share": long.column("share"),
        }
    )


def _aligned_ids(columns: dict[str, tuple[pa.Array, pa.DictionaryArray]]) -> pa.Array:
    """The customers of any mix column, sorted: the union of the columns' owners.

    Usually every customer with a purchase has all the columns, so the owners are the
    same array (already sorted by the query); it is taken as it is when it is so and
    strictly increasing, without hashing and sorting the ids of every column.
    """
    owners = [ids for ids, _ in columns.values()]
    first = owners[0] if owners else pa.array([], pa.string())
    if all(first.equals(other) for other in owners[1:]) and first.null_count == 0:
        n = len(first)
        if n < 2 or pc.all(pc.less(first.slice(0, n - 1), first.slice(1))).as_py():
            return first
    ids = pa.chunked_array(owners, pa.string()).unique()
    return ids.take(pc.sort_indices(ids)) if len(ids) else pa.array([], pa.string())


_OPEN_FIRST, _OPEN_NEXT, _MIDDLE, _CLOSE, _CLOSE_LAST = range(5)
_PUNCTUATION: Final = ('[{"value": ', ', {"value": ', ', "share": ', "}", "}]")
"""The text around the values and shares of a mix, indexed by the constants above."""


def _mix_json(long: pa.Table) -> tuple[pa.Array, pa.DictionaryArray]:
    """Per customer of ``long`` (ordered by customer and rank): the JSON list of its rows.

    The texts are exactly ``json.dumps([{"value": v, "share": s}, ...], ensure_ascii=False)``
    with the share rounded to 4 decimals, dictionary-encoded; they are built column-wise.
    Each distinct value and each distinct rounded share is written once by
    :func:`json.dumps`, and a customer's list is identified by the codes of its items
    (value and share), so the distinct lists are found by hashing fixed-width integer
    keys rather than texts; only the text of each distinct list is then assembled, by
    one ``take`` of the pieces (values, shares, punctuation) and one ``binary_join``.
    """
    n = long.num_rows
    if n == 0:
        empty = pa.array([], pa.string())
        return empty, pa.DictionaryArray.from_arrays(pa.array([], pa.int32()), empty)
    owners = long.column("customer_id").combine_chunks().cast(pa.string())
    changed = np.ones(n, dtype=bool)
    # compared in Arrow: no Python string per row (3 per customer)
    differs = pc.not_equal(owners.slice(1), owners.slice(0, n - 1))
    changed[1:] = np.asarray(differs.to_numpy(zero_copy_only=False), dtype=bool)
    starts = np.flatnonzero(changed)
    customer = np.cumsum(changed) - 1
    slot = np.arange(n) - starts[customer]
    values = long.column("value").combine_chunks().cast(pa.string()).dictionary_encode()
    value_codes = np.asarray(values.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
    shares = long.column("share").combine_chunks().cast(pa.float64())
    texts = _json_lists(
        customer, slot, value_codes, values.dictionary.to_pylist(), shares, len(starts)
    )
    return owners.take(pa.array(starts)), texts


def _json_lists(
    customer: NDArray[np.int64],
    slot: NDArray[np.int64],
    value_codes: NDArray[np.int64],
    values: list[str],
    shares: pa.Array,
    n_lists: int,
) -> pa.DictionaryArray:
    """:func:`_mix_json`'s texts from its items: each item's list (``customer``), place
    in it (``slot``), value (a code into ``values``) and share (null: ``null``)."""
    value_texts = [json.dumps(v, ensure_ascii=False) for v in values]
    share_codes, share_texts = _share_codes(shares, 4)
    keys = np.full((n_lists, int(slot.max()) + 1), -1, dtype=np.int64)
    keys[customer, slot] = value_codes * len(share_texts) + share_codes
    lists = pc.dictionary_encode(_fixed_width(keys))
    distinct = np.frombuffer(lists.dictionary.buffers()[1], dtype=np.int64)
    distinct = distinct[: len(lists.dictionary) * keys.shape[1]].reshape(-1, keys.shape[1])
    texts = _joined(distinct, len(share_texts), [*_PUNCTUATION, *value_texts, *share_texts])
    return pa.DictionaryArray.from_arrays(lists.indices, texts)


def _wide_mix(
    tx: ir.Table, *, as_of: datetime.date, sources: list[str], k: int
) -> dict[str, tuple[pa.Array, pa.DictionaryArray]]:
    """:func:`_mix_json` of :func:`customer_mix` for those of ``sources`` with at most
    :data:`WIDE_MIX_VALUES` distinct purchased values (the others are left out), from
    one aggregation of the rows per customer instead of one per customer and value
    and a window per column.

    One query finds the distinct values; a second sums each customer's purchases of
    each value of every such column (``SUM ... FILTER``), so each spend adds up the same
    rows in the same order as the aggregation by customer and value. The ranking
    (spend descending, then value) and the shares are then computed in NumPy, the
    customer's total added up in rank order, one value after the other: that is the
    order of DuckDB's window sum over the partition sorted for the rank (one window
    pass serves both), so the totals are its to the last bit where DuckDB runs one
    thread; on more threads, DuckDB's own sums may combine partial sums of a customer
    whose rows cross a chunk boundary, which is the run-to-run difference of its own
    results.
    """
    rows = _rows(_checked(tx), as_of=as_of, extra=tuple(sources))
    bought = rows.filter(rows.amount >= 0)
    backend = tx.get_backend()
    found = bought.aggregate(
        **{f"v{i}": bought[s].collect(distinct=True) for i, s in enumerate(sources)}
    )
    listed = backend.to_pyarrow(found).to_pylist()[0]
    # sorted as DuckDB orders strings (by code point, i.e. by their UTF-8 bytes)
    values = {s: sorted(listed[f"v{i}"] or []) for i, s in enumerate(sources)}
    values = {s: v for s, v in values.items() if 0 < len(v) <= WIDE_MIX_VALUES}
    if not values:
        return {}
    sums: dict[str, ir.Value] = {}
    for i, (source, names) in enumerate(values.items()):
        for j, name in enumerate(names):
            on = bought[source] == ibis.literal(name, type="string")
            sums[f"s{i}_{j}"] = bought.amount.sum(where=on)
    per_customer = bought.group_by("customer_id").aggregate(**sums).order_by("customer_id")
    table = backend.to_pyarrow(per_customer)
    ids = table.column("customer_id").combine_chunks()
    out: dict[str, tuple[pa.Array, pa.DictionaryArray]] = {}
    for i, (source, names) in enumerate(values.items()):
        blocks = [table.column(f"s{i}_{j}") for j in range(len(names))]
        out[source] = _ranked_wide(ids, blocks, names, k)
    return out


def _ranked_wide(
    ids: pa.Array, blocks: list[pa.ChunkedArray], names: list[str], k: int
) -> tuple[pa.Array, pa.DictionaryArray]:
    """:func:`_mix_json` of the top ``k`` of each customer of ``ids`` (sorted) from
    their spends on each of ``names`` (sorted; ``blocks[j]``: the spends on
    ``names[j]``, null where the customer bought none); customers with no spend are
    left out."""
    n, m = len(ids), len(names)
    spend = np.empty((n, m), dtype=np.float64)
    bought = np.empty((n, m), dtype=bool)
    for j, block in enumerate(blocks):
        bought[:, j] = np.asarray(block.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        spend[:, j] = np.asarray(
            pc.fill_null(block, 0.0).to_numpy(zero_copy_only=False), dtype=np.float64
        )
    # spend descending, then name (the column order; a stable sort keeps it for equal
    # spends, 0.0 and -0.0 included), the values not bought last
    order = np.argsort(np.where(bought, -spend, np.inf), axis=1, kind="stable")
    spend = np.take_along_axis(spend, order, axis=1)
    bought = np.take_along_axis(bought, order, axis=1)
    total = np.zeros(n, dtype=np.float64)
    for j in range(m):  # in rank order, one value after the other
        np.add(total, spend[:, j], out=total, where=bought[:, j])
    top = bought[:, : min(k, m)]
    customer, slot = np.nonzero(top)  # by customer, then rank
    counted = top.any(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0: a null share
        share = spend[customer, slot] / total[customer]
    shares = pa.array(share, mask=~(total[customer] > 0))
    lists = np.cumsum(counted) - 1
    texts = _json_lists(
        lists[customer],
        slot,
        order[customer, slot].astype(np.int64),
        names,
        shares,
        int(counted.sum()),
    )
    return ids.filter(pa.array(counted)), texts


def _fixed_width(keys: NDArray[np.int64]) -> pa.Array:
    """The rows of ``keys`` as fixed-width binary values (hashable by Arrow's kernels)."""
    rows, width = keys.shape
    data = pa.py_buffer(np.ascontiguousarray(keys))
    return pa.Array.from_buffers(pa.binary(8 * width), rows, [None, data])


def _joined(keys: NDArray[np.int64], n_shares: int, pieces: list[str]) -> pa.Array:
    """The JSON list of each row of item ``keys`` (``value * n_shares + share``; ``-1``
    after the last item): the texts of ``pieces`` (punctuation, values, then shares)
    taken five per item and joined per row."""
    present = keys >= 0
    counts = present.sum(axis=1)
    items = keys[present]
    slot = np.nonzero(present)[1]
    last = slot == np.repeat(counts, counts) - 1
    at = np.empty((len(items), 5), dtype=np.int64)
    at[:, 0] = np.where(slot == 0, _OPEN_FIRST, _OPEN_NEXT)
    at[:, 1] = len(_PUNCTUATION) + items // n_shares
    at[:, 2] = _MIDDLE
    at[:, 3] = len(pieces) - n_shares + items % n_shares
    at[:, 4] = np.where(last, _CLOSE_LAST, _CLOSE)
    offsets = np.zeros(len(keys) + 1, dtype=np.int32)
    np.cumsum(counts * 5, out=offsets[1:])
    atoms = pa.array(pieces, pa.string()).take(pa.array(at.ravel()))
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), atoms), "")


def _share_codes(shares: pa.Array, digits: int) -> tuple[NDArray[np.int64], list[str]]:
    """``json.dumps(round(v, digits))`` of every share (``null`` for a null one), as a
    code into a list of distinct texts.

    The shares lie in [0, 1], so their rounded texts are among ``10**digits + 1``: each is
    written once by :func:`json.dumps` (:func:`_unit_texts`) and its code is the share's
    number of units, ``v * 10**digits`` rounded half to even in NumPy. That is
    ``round``'s correctly rounded decimal except where the product is within rounding
    error of a half; those values, and the ones outside [0, 1] (with ``-0.0`` and the
    non-finite ones), go through ``json.dumps(round(v, digits))`` itself.
    """
    scale = 10**digits
    texts = [*_unit_texts(digits), "null"]
    values = np.asarray(shares.fill_null(0.0).to_numpy(zero_copy_only=False), dtype=np.float64)
    with np.errstate(invalid="ignore"):
        scaled = values * scale
        units = np.rint(scaled)
        half = np.abs(scaled - np.floor(scaled) - 0.5)
        easy = (
            (units >= 0) & (units <= scale) & ~np.signbit(values) & (half > 1e-6 + scaled * 1e-12)
        )
    missing = np.asarray(shares.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    codes = np.where(missing, scale + 1, np.where(easy, units, 0).astype(np.int64))
    hard = np.flatnonzero(~easy & ~missing)
    if len(hard):
        code_of = {text: code for code, text in enumerate(texts)}
        for i in hard.tolist():
            text = json.dumps(round(float(values[i]), digits))
            codes[i] = code_of.setdefault(text, len(texts))
            if codes[i] == len(texts):
                texts.append(text)
    return codes, texts


@functools.cache
def _unit_texts(digits: int) -> tuple[str, ...]:
    """``json.dumps(u / 10**digits)`` for ``u`` from 0 to ``10**digits``: the texts of
    ``round(v, digits)`` for every ``v`` in [0, 1] (``round`` gives the float nearest
    the decimal, and so does the correctly rounded division)."""
    scale = 10**digits
    return tuple(json.dumps(u / scale) for u in range(scale + 1))


def trend_weights(n_windows: int) -> tuple[float, ...]:
    """Return the least-squares weights that turn window spends into a slope.

    Window ``k`` (``k = 1`` the most recent) sits at ``x_k = n - k``, so time runs forward
    and a positive slope means rising spend. The ordinary least-squares slope through the
    points :math:`(x_k, y_k)` is :math:`\\sum_k w_k y_k` with
    :math:`w_k = (x_k - \\bar{x}) / \\sum_j (x_j - \\bar{x})^2`, a fixed linear combination
    of the window spends, which is how :func:`customer_behaviour` computes it inside one
    aggregation.

    Parameters
    ----------
    n_windows
        Number of windows, at least 2.

    Returns
    -------
    tuple of float
        ``w_1, ..., w_n``; window 1 is the most recent.

    Raises
    ------
    ConfigError
        If ``n_windows`` is not an integer of at least 2.

    Examples
    --------
    >>> trend_weights(4)
    (0.3, 0.1, -0.1, -0.3)
    >>> spends = (40.0, 30.0, 20.0, 10.0)  # most recent first: rising by 10 a window
    >>> round(sum(w * y for w, y in zip(trend_weights(4), spends)), 12)
    10.0
    """
    if isinstance(n_windows, bool) or not isinstance(n_windows, int) or n_windows < 2:
        raise ConfigError(
            f"n_windows must be an integer of at least 2 (a slope needs two windows), "
            f"got {n_windows!r}."
        )
    xs = [n_windows - k for k in range(1, n_windows + 1)]
    mean = sum(xs) / n_windows
    sxx = sum((x - mean) ** 2 for x in xs)
    return tuple((x - mean) / sxx for x in xs)


def customer_behaviour(tx: ir.Table, *, as_of: datetime.date, n_windows: int = 4) -> ir.Table:
    """Describe each customer's buying behaviour up to ``as_of``, lazily.

    Parameters
    ----------
    tx
        Canonical transactions (``customer_id``, ``timestamp``, ``amount``; optionally
        ``product`` and ``category``; see ``docs/CONTRACTS.md``) on any Ibis backend.
    as_of
        Last day observed (inclusive). Transactions after it are ignored.
    n_windows
        Number of consecutive 90-day windows, ending on ``as_of``, through which
        ``spend_trend`` is fitted; at least 2.

    Returns
    -------
    ibis.expr.types.Table
        An unexecuted expression with one row per customer with at least one purchase day
        up to ``as_of``, in no particular order, with the columns

        ``customer_id`` (string)
            The customer.
        ``n_purchase_days`` (int64)
            Distinct purchase days.
        ``days_since_last_purchase`` (int64)
            ``as_of`` minus the last purchase day, in days (the column of the same name in
            :func:`~corecustomers.data.features.customer_features` at the same ``as_of``).
        ``mean_gap_days`` (float64)
            Mean number of days between consecutive purchase days, ``(last - first) /
            (n_purchase_days - 1)``; null for a one-time buyer.
        ``gap_std_days`` (float64)
            Sample standard deviation of those gaps; null with fewer than two gaps (fewer
            than three purchase days).
        ``expected_next_purchase`` (date)
            Last purchase day plus the mean gap rounded to whole days (halves up); null
            for a one-time buyer.
        ``overdue_ratio`` (float64)
            Days since the last purchase day divided by ``mean_gap_days``: 1 means "due
            today", 2 means twice the usual gap has passed; null for a one-time buyer.
        ``spend_last_90d``, ``spend_prev_90d`` (float64)
            Net spend (returns subtracted) in ``(as_of - 90, as_of]`` and in
            ``(as_of - 180, as_of - 90]``; 0 when nothing was bought.
        ``spend_trend`` (float64)
            Least-squares slope of the net spend of the last ``n_windows`` 90-day windows
            against time, in money per window (:func:`trend_weights`); windows before the
            first purchase count as 0, so a new customer's trend is rising.
        ``spend_last_365d`` (float64)
            Net spend in ``(as_of - 365, as_of]``: the trailing twelve months.
        ``gross_spend`` (float64)
            Sum of the purchase rows (``amount >= 0``) up to ``as_of``.
        ``return_share`` (float64)
            Sum of the absolute returns divided by ``gross_spend``; null when
            ``gross_spend`` is 0.
        ``n_products``, ``n_categories`` (int64)
            Distinct non-null ``product`` / ``category`` values of the purchase rows; only
            when ``tx`` has that column. On DuckDB, a column with at most
            :data:`BREADTH_CODES_MAX` distinct values is counted from integer codes of
            its values, as the set bits of one bit string per customer, instead of a
            distinct count; the counts, and every other column, are the same. Its values
            are read first (one small query a column, while the expression is built) and
            written into the expression.

    Raises
    ------
    ColumnMappingError
        If ``tx`` lacks ``customer_id``, ``timestamp`` or ``amount``.
    ConfigError
        If ``as_of`` is not a :class:`datetime.date` or ``n_windows`` is below 2.

    Notes
    -----
    For purchase days :math:`d_1 < \\dots < d_m` the gaps are :math:`g_i = d_{i+1} - d_i`,
    so the mean gap telescopes to :math:`(d_m - d_1) / (m - 1)` and needs no window
    function; only ``gap_std_days`` does. The next purchase is expected at
    :math:`d_m + \\bar{g}` (rounded as ``floor(x + 0.5)``, the same on every backend) and
    ``overdue_ratio`` is :math:`(\\tau - d_m) / \\bar{g}` for the as-of day :math:`\\tau`.
    Window :math:`k = 1, \\dots, n` covers :math:`(\\tau - 90k, \\tau - 90(k - 1)]`; a
    return counts in the window of its own day.

    Examples
    --------
    >>> import datetime
    >>> import ibis
    >>> from corecustomers.insights.behaviour import customer_behaviour
    >>> tx = ibis.memtable(
    ...     {
    ...         "customer_id": ["a", "a", "a", "a", "b"],
    ...         "timestamp": [
    ...             datetime.datetime(2024, 1, 1, 9),
    ...             datetime.datetime(2024, 1, 11, 17),
    ...             datetime.datetime(2024, 1, 31, 12),
    ...             datetime.datetime(2024, 2, 2, 12),
    ...             datetime.datetime(2024, 3, 1, 8),
    ...         ],
    ...         "amount": [10.0, 20.0, 40.0, -4.0, 5.0],
    ...     }
    ... )
    >>> expr = customer_behaviour(tx, as_of=datetime.date(2024, 3, 31))
    >>> rows = expr.order_by("customer_id").to_pyarrow().to_pylist()
    >>> {k: rows[0][k] for k in ("mean_gap_days", "gap_std_days", "overdue_ratio")}
    {'mean_gap_days': 15.0, 'gap_std_days': 7.0710678118654755, 'overdue_ratio': 4.0}
    >>> rows[0]["expected_next_purchase"], rows[0]["return_share"]
    (datetime.date(2024, 2, 15), 0.05714285714285714)
    >>> rows[1]["mean_gap_days"] is None, rows[1]["spend_last_90d"]
    (True, 5.0)
    """
    check_dates(as_of, None)
    weights = trend_weights(n_windows)
    checked = _checked(tx)
    rows = _rows(checked, as_of=as_of)
    dictionaries = _breadth_dictionaries(checked)
    main = _aggregate(
        _with_codes(rows, dictionaries),
        as_of=as_of,
        weights=weights,
        n_codes={source: len(values) for source, values in dictionaries.items()},
    )
    gaps = _gap_spread(rows)
    joined = main.left_join(gaps, main.customer_id == gaps.gap_customer_id)

    # the distinct purchase days are one more than the gaps between them (every
    # customer here has a purchase day, so a row in the gaps' window), instead of a distinct
    # count in the main aggregation (10M rows: 6.9 -> 4.4 s for the query)
    n_days = joined.n_gaps.fill_null(0) + 1
    mean_gap = ibis.ifelse(
        n_days > 1,
        joined.last_purchase.delta(joined.first_purchase, unit="day").cast("float64")
        / (n_days - 1).cast("float64"),
        ibis.null("float64"),
    )
    idle_days = ibis.literal(as_of, type="date").delta(joined.last_purchase, unit="day")
    next_gap = (mean_gap + 0.5).floor().cast("int64")
    window_spend = [joined[f"spend_w{k}"].fill_null(0.0) for k in range(1, n_windows + 1)]
    trend: ir.FloatingValue = ibis.literal(0.0, type="float64")
    for w, spend in zip(weights, window_spend, strict=True):
        trend = trend + spend * w
    gross = joined.gross_spend.fill_null(0.0)

    columns: dict[str, ir.Value] = {
        "customer_id": joined.customer_id,
        "n_purchase_days": n_days.cast("int64"),
        "days_since_last_purchase": idle_days.cast("int64"),
        "mean_gap_days": mean_gap.cast("float64"),
        "gap_std_days": ibis.ifelse(
            joined.n_gaps.fill_null(0) >= 2, joined.gap_std, ibis.null("float64")
        ).cast("float64"),
        "expected_next_purchase": joined.last_purchase + next_gap.as_interval("D"),
        "overdue_ratio": (idle_days.cast("float64") / mean_gap).cast("float64"),
        "spend_last_90d": window_spend[0].cast("float64"),
        "spend_prev_90d": window_spend[1].cast("float64"),
        "spend_trend": trend.cast("float64"),
        "spend_last_365d": joined.spend_year.fill_null(0.0).cast("float64"),
        "gross_spend": gross.cast("float64"),
        "return_share": ibis.ifelse(
            gross > 0, joined.returns_amount.fill_null(0.0) / gross, ibis.null("float64")
        ).cast("float64"),
    }
    for source, name in BREADTH_COLUMNS:
        if source in rows.columns:
            columns[name] = joined[name].fill_null(0).cast("int64")
    return joined.select(**columns)


def _checked(tx: ir.Table) -> ir.Table:
    """Return ``tx`` if it has the canonical columns the behaviour needs."""
    missing = [name for name in _REQUIRED if name not in tx.columns]
    if missing:
        raise ColumnMappingError(
            f"the transactions lack {', '.join(missing)}; map the source columns to the "
            f"canonical names (see docs/CONTRACTS.md) before describing behaviour.",
            column=missing[0],
        )
    return tx


def _rows(tx: ir.Table, *, as_of: datetime.date, extra: tuple[str, ...] = ()) -> ir.Table:
    """Rows up to ``as_of`` with ``customer_id``, ``day``, ``amount``, breadth and ``extra``."""
    tx = rows_up_to(tx, as_of)
    day = day_of(tx)
    customer = tx["customer_id"]
    if not customer.type().is_string():
        customer = customer.cast("string")
    columns: dict[str, ir.Value] = {
        "customer_id": customer,
        "day": day,
        "amount": tx["amount"].cast("float64"),
    }
    for source in (*(name for name, _ in BREADTH_COLUMNS), *extra):
        if source in tx.columns:
            columns[source] = tx[source].cast("string")
    return tx.select(**columns)


def _aggregate(
    rows: ir.Table,
    *,
    as_of: datetime.date,
    weights: tuple[float, ...],
    n_codes: Mapping[str, int] | None = None,
) -> ir.Table:
    """One pass over the rows: first and last purchase day, window spends, gross,
    returns, breadth (the number of purchase days comes from :func:`_gap_spread`).

    A breadth column named in ``n_codes`` is counted from the codes :func:`_with_codes`
    added to ``rows`` (``n_codes[source]`` of them, 1 to ``n``), the others by a
    distinct count of their values."""
    bought = rows.amount >= 0
    day = rows.day

    def since(days: int) -> ir.BooleanValue:
        return day > ibis.literal(as_of - datetime.timedelta(days=days), type="date")

    metrics: dict[str, ir.Value] = {
        "first_purchase": day.min(where=bought),
        "last_purchase": day.max(where=bought),
        "spend_year": rows.amount.sum(where=since(TRAILING_YEAR_DAYS)),
        "gross_spend": rows.amount.sum(where=bought),
        "returns_amount": (-rows.amount).sum(where=rows.amount < 0),
    }
    for k in range(1, len(weights) + 1):
        in_window = since(WINDOW_DAYS * k)
        if k > 1:
            in_window = in_window & ~since(WINDOW_DAYS * (k - 1))
        metrics[f"spend_w{k}"] = rows.amount.sum(where=in_window)
    coded = n_codes or {}
    for source, name in BREADTH_COLUMNS:
        if source in coded:
            # the distinct codes are the set bits of one bit string per customer
            # (:func:`_with_codes`); null when no purchase row has a value, as 0 below
            bits = _bitstring_agg(rows[_code_column(source)], 1, coded[source], where=bought)
            metrics[name] = _bit_count(bits)
        elif source in rows.columns:
            metrics[name] = rows[source].nunique(where=bought)
    agg = rows.group_by("customer_id").aggregate(**metrics)
    return agg.filter(agg.first_purchase.notnull())


BREADTH_CODES_MAX: Final = 256
"""On DuckDB, a breadth column with at most this many distinct values is counted from
small integer codes (:func:`_with_codes`); one with more by a distinct count.

The codes are found by a search of the list of values in each row, whose cost grows
with the list: on the 10M-row benchmark, with the products split into more values, the
search (values in name order) beat the distinct count clearly at 163 values, broke even
at 489 and lost at 978 (13 s against 7-11 s, on a loaded machine). With the most
frequent values first a row's search is shorter (the benchmark's products: 40 values on
average instead of 82), so 256 values search no further than about 128 even when they
are equally frequent."""


def _bitstring_agg_signature(code: int, low: int, high: int) -> bytes:  # type: ignore[empty-body]
    """DuckDB's ``bitstring_agg``: a ``BIT`` string of ``high - low + 1`` bits, bit
    ``code - low`` set for each non-null ``code`` aggregated (null when there is none)."""


def _list_position_signature(values: list[str], value: str) -> int:  # type: ignore[empty-body]
    """DuckDB's ``list_position``: the 1-based position of ``value`` in ``values``, null
    when it is not there (a null ``value`` included, the list holding no null)."""


def _bit_count_signature(bits: bytes) -> int:  # type: ignore[empty-body]
    """DuckDB's ``bit_count`` of a ``BIT`` string: how many bits are set."""


# DuckDB's own functions, called by name (Ibis has no operation for them); made without
# the decorator syntax, whose untyped decorators would leave the functions untyped
_bitstring_agg: Callable[..., ir.Value] = ibis.udf.agg.builtin(
    _bitstring_agg_signature, name="bitstring_agg"
)
_list_position: Callable[..., ir.IntegerValue] = ibis.udf.scalar.builtin(
    _list_position_signature, name="list_position"
)
_bit_count: Callable[..., ir.IntegerValue] = ibis.udf.scalar.builtin(
    _bit_count_signature, name="bit_count"
)


def _code_column(source: str) -> str:
    return f"_{source}_code"


def _breadth_dictionaries(tx: ir.Table) -> dict[str, pa.Array]:
    """On DuckDB: each breadth column's distinct non-null values as :func:`_rows` casts
    them, the most frequent first (ties by value), when there are 1 to
    :data:`BREADTH_CODES_MAX` of them; elsewhere, and for an unbound ``tx`` (which
    cannot be read), none.

    Read from all the rows of ``tx``, not only those up to the as-of day: a value first
    seen later only has a code nobody sets, and the dictionaries, the constants embedded
    in the query, are the same at every as-of day of the same transactions (a history's
    reused SQL, :mod:`corecustomers.data.compiled`, is keyed by them too). The most
    frequent values first, because a row's code is found by a search of the list
    (:func:`_with_codes`), which stops at the value. Executes one small query a column.
    """
    sources = [source for source, _ in BREADTH_COLUMNS if source in tx.columns]
    if not sources:
        return {}
    try:
        backend = tx.get_backend()
    except IbisError:  # an unbound table: the expression stays portable and lazy
        return {}
    if not is_duckdb(backend):
        return {}
    found: dict[str, pa.Array] = {}
    for source in sources:
        values = tx.select(value=tx[source].cast("string"))
        values = values.filter(values.value.notnull())
        counted = values.group_by("value").aggregate(n_rows=values.count())
        first = counted.order_by([ibis.desc("n_rows"), "value"]).limit(BREADTH_CODES_MAX + 1)
        read = first.to_pyarrow().column("value").combine_chunks()
        if 0 < len(read) <= BREADTH_CODES_MAX:
            found[source] = read
    return found


def _with_codes(rows: ir.Table, dictionaries: Mapping[str, pa.Array]) -> ir.Table:
    """``rows`` with a column ``_<source>_code`` for each column of ``dictionaries``: the
    position of the row's value in that column's values, 1 to ``n`` (null for a null
    value).

    Why: DuckDB's distinct counts per customer (``n_products``, ``n_categories``) hash
    every (customer, value) pair of the 10M-row benchmark, 3 of the 4 s of the main
    aggregation; a bit string per customer over the values' codes, whose set bits are
    counted, gives the same counts (every non-null value has exactly one code, the
    dictionary being read from all the rows) at a fraction of that (10M rows, 163
    products, 7 categories: the figures are in the module's docstring).

    The code is a scalar of each row (a search of the constant list), not a join with
    the dictionary: a hash join emits its rows in another order than it reads them,
    and the window spends, sums of doubles, must add each customer's amounts in the
    order the distinct counts' plan does to come out to the same bits.
    """
    for source, values in dictionaries.items():
        listed = ibis.literal(values.to_pylist(), type="array<string>")
        rows = rows.mutate(**{_code_column(source): _list_position(listed, rows[source])})
    return rows


def _gap_spread(rows: ir.Table) -> ir.Table:
    """Per customer: the number of gaps between purchase days (one fewer than the
    purchase days) and their sample std.

    The lag runs over every purchase row, not over the distinct purchase days: in day
    order, the rows of a day after its first have a gap of 0 and the first row of each
    later day the gap to the day before, so the gaps above 0 are the gaps between
    consecutive purchase days, in the same order (the std adds them up in the order the
    distinct days gave). The distinct was a hash of nearly every row (10M rows: 9.7M
    purchase rows, 9.4M customer-days), 3.9 of the query's 12 CPU-s.
    """
    bought = rows.filter(rows.amount >= 0).select("customer_id", "day")
    order = ibis.window(group_by=bought.customer_id, order_by=bought.day)
    gaps = bought.mutate(gap=bought.day.delta(bought.day.lag().over(order), unit="day"))
    gap = gaps.gap.cast("float64")
    between_days = gaps.gap > 0
    return gaps.group_by(gap_customer_id=gaps.customer_id).aggregate(
        n_gaps=gap.count(where=between_days), gap_std=gap.std(how="sample", where=between_days)
    )
