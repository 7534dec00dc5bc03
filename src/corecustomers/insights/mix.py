"""The purchase mix per customer: top products, categories and channels, with shares.

:func:`customer_mix` (a lazy Ibis expression on any engine) and :func:`mix_table` (the
three columns of the analysis, ranked on DuckDB where the values are few from one
aggregation per customer) describe what each customer buys, up to an as-of day, from the
same purchase rows as :func:`~corecustomers.insights.behaviour.customer_behaviour`
(:func:`~corecustomers.insights.behaviour.purchase_rows`). Split from
:mod:`corecustomers.insights.behaviour`, which had grown past ~800 lines.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Mapping
from typing import Final

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.data.connect import is_duckdb
from corecustomers.errors import ColumnMappingError, ConfigError
from corecustomers.insights.behaviour import (
    checked,
    purchase_rows,
    value_code,
    value_spend_columns,
)

__all__ = [
    "MIX_COLUMNS",
    "MIX_TOP",
    "WIDE_MIX_VALUES",
    "Ranked",
    "customer_mix",
    "mix_table",
    "ranked_spends",
    "wide_mix_values",
]


MIX_COLUMNS: Final = (
    ("product", "top_products"),
    ("category", "top_categories"),
    ("channel", "top_channels"),
)
"""Source column → output column of :func:`customer_mix`."""

MIX_TOP: Final = 3
"""How many values :func:`mix_table` lists per customer by default."""

Ranked = tuple[pa.Array, pa.DictionaryArray]
"""A mix column ranked: the customers with a list (sorted) and their JSON lists."""

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
    rows = purchase_rows(checked(tx), as_of=as_of, extra=(column,))
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
    k: int = MIX_TOP,
    spends: Mapping[str, pa.Table] | None = None,
    ranked: Mapping[str, Ranked] | None = None,
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

    ``ranked`` may give, for a source column, its column ranked already with the same
    ``k`` (:func:`ranked_spends` of the customers' spends on each value, which the
    analysis reads with their behaviour: :func:`wide_mix_values`); it is taken as it
    is.

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
    wide: dict[str, Ranked] = {s: r for s, r in (ranked or {}).items() if s in tx.columns}
    if is_duckdb(tx.get_backend()):
        aggregated = [s for s, _ in present if s not in given and s not in wide]
        if aggregated:
            wide.update(_wide_mix(tx, as_of=as_of, sources=aggregated, k=k))
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


def wide_mix_values(tx: ir.Table) -> dict[str, list[str]]:
    """On DuckDB: the mix columns of ``tx`` that :func:`mix_table` would rank from a spend
    per value, each with its distinct non-null values sorted as DuckDB orders strings
    (by their UTF-8 bytes), when there are 1 to :data:`WIDE_MIX_VALUES` of them; the
    products are left out (:func:`mix_table` ranks them from the recommendations'
    pairs). Executes one small query; elsewhere, none.

    The values of all the rows, not only of the purchases up to an as-of day: a value
    nobody bought by then has no spend and is listed by nobody, so the spends read for
    these values (:func:`~corecustomers.insights.behaviour.customer_behaviour`'s
    ``value_spends``) rank as :func:`mix_table`'s own.
    """
    sources = [s for s, _ in MIX_COLUMNS if s in tx.columns and s != "product"]
    if not sources or not is_duckdb(tx.get_backend()):
        return {}
    found = tx.aggregate(
        **{f"v{i}": tx[s].cast("string").collect(distinct=True) for i, s in enumerate(sources)}
    )
    listed = tx.get_backend().to_pyarrow(found).to_pylist()[0]
    values = {s: sorted(listed[f"v{i}"] or []) for i, s in enumerate(sources)}
    return {s: v for s, v in values.items() if 0 < len(v) <= WIDE_MIX_VALUES}


def ranked_spends(
    table: pa.Table, values: Mapping[str, list[str]], k: int = MIX_TOP
) -> dict[str, Ranked]:
    """Each column of ``values`` ranked (:func:`mix_table`'s ``ranked``) from ``table``:
    one row per customer, sorted by ``customer_id``, with the spends on each value
    (:func:`~corecustomers.insights.behaviour.value_spend_columns`, null where the
    customer bought none), as
    :func:`~corecustomers.insights.behaviour.customer_behaviour` reads them."""
    ids = table.column("customer_id").combine_chunks()
    return {
        source: _ranked_wide(
            ids,
            [table.column(c) for c in value_spend_columns(source, len(names))],
            names,
            k,
        )
        for source, names in values.items()
    }


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
    rows = purchase_rows(checked(tx), as_of=as_of, extra=tuple(sources))
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
    # each row's value as its position among the column's values, found once: the
    # filters below compare integers, not strings (the same rows, in the same order)
    coded = bought.mutate(
        **{f"_c{i}": value_code(bought[s], names) for i, (s, names) in enumerate(values.items())}
    )
    sums: dict[str, ir.Value] = {}
    for i, (source, names) in enumerate(values.items()):
        for j, name in enumerate(value_spend_columns(source, len(names))):
            sums[name] = coded.amount.sum(where=coded[f"_c{i}"] == j + 1)
    per_customer = coded.group_by("customer_id").aggregate(**sums).order_by("customer_id")
    return ranked_spends(backend.to_pyarrow(per_customer), values, k)


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
