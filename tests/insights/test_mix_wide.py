"""mix_table on DuckDB ranks the columns with few values (categories, channels) from one
aggregation per customer: the same texts, byte for byte, as :func:`customer_mix`'s
aggregation per customer and value and its window, ties, returns, nulls and shares at
half of the fourth decimal included."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from corecustomers.insights.mix import WIDE_MIX_VALUES, customer_mix, mix_table

AS_OF = dt.date(2024, 3, 31)

#: Spends whose shares lie at half of the fourth decimal (0.9 / 32 = 0.028125): which
#: of the neighbours they print as depends on the last bit of the total, i.e. on the
#: order in which the customer's spends are added up.
HALVES: tuple[tuple[float, ...], ...] = (
    (3.3, 0.9, 6.6, 21.2),
    (3.3, 0.6, 4.4, 19.8, 3.9),
    (2.2, 2.1, 1.2, 8.8, 6.3, 11.4),
    (0.9, 0.2, 15.4, 2.2, 13.3),
    (19.8, 1.2, 4.4, 0.8, 0.6, 5.2),
    (0.2, 2.7, 1.4, 2.7, 0.6, 24.4),
)
NAMES = ("app", "store", "web", "ß", "新品", "Zed", "éclair")


def _rows() -> dict[str, list[Any]]:
    day = dt.datetime(2024, 1, 10)
    rows: list[tuple[str, float | None, dt.datetime, str | None, str | None]] = []
    for i, spends in enumerate(HALVES):
        for spend, name in zip(spends, NAMES, strict=False):
            rows.append((f"half{i}", spend, day, name, "app"))
    rows += [
        # equal spends: ranked by value
        ("tie", 1.0, day, "web", "app"),
        ("tie", 1.0, day, "app", "store"),
        ("tie", 2.0, day, "store", "web"),
        # returns and rows after the as-of day are not purchases
        ("ret", 30.0, day, "app", "app"),
        ("ret", -50.0, day, "web", "web"),
        ("ret", 10.0, day, "store", None),
        ("ret", 99.0, dt.datetime(2024, 4, 1), "web", "web"),
        ("only_returns", -5.0, day, "app", "app"),
        ("zero", 0.0, day, "app", "web"),  # zero-value orders: a value without a share
        ("zero", 0.0, day, "store", "web"),
        ("no_category", 5.0, day, None, "store"),
        ("null_amount", None, day, "app", "app"),
    ]
    # many rows per customer and value: each spend a sum of several rows in row order
    rng = np.random.default_rng(7)
    for c in range(400):
        for _ in range(int(rng.integers(1, 25))):
            amount = float(
                np.round(rng.choice([0.1, 0.2, 0.3, 0.7, 1.1, 19.99]) * rng.integers(1, 9), 2)
            )
            name = NAMES[int(rng.integers(0, len(NAMES)))]
            channel = NAMES[int(rng.integers(0, 3))]
            rows.append(
                (f"r{c:03d}", amount if rng.random() > 0.1 else -amount, day, name, channel)
            )
    columns = ("customer_id", "amount", "timestamp", "category", "channel")
    return {name: [row[i] for row in rows] for i, name in enumerate(columns)}


@pytest.fixture(scope="module")
def con() -> Iterator[Any]:
    """A connection of its own on one thread: DuckDB's sums are then in row order."""
    backend = ibis.duckdb.connect()
    backend.raw_sql("SET threads = 1")
    yield backend
    backend.disconnect()


@pytest.fixture(scope="module")
def tx(con: Any) -> Any:
    return con.create_table("mix_wide", pa.table(_rows()), temp=True)


def _window_texts(con: Any, tx: Any, column: str) -> dict[str, str]:
    """The texts from :func:`customer_mix` (DuckDB's aggregation and window)."""
    mix = customer_mix(tx, as_of=AS_OF, column=column).to_pyarrow()
    items: dict[str, list[tuple[int, str, float | None]]] = {}
    for row in mix.to_pylist():
        items.setdefault(row["customer_id"], []).append((row["rank"], row["value"], row["share"]))
    return {
        customer: json.dumps(
            [
                {"value": value, "share": None if share is None else round(share, 4)}
                for _, value, share in sorted(ranked)
            ],
            ensure_ascii=False,
        )
        for customer, ranked in items.items()
    }


def _texts(table: pa.Table, column: str) -> dict[str, str]:
    texts = table.column(column).cast(pa.string()).to_pylist()
    ids = table.column("customer_id").to_pylist()
    return {c: t for c, t in zip(ids, texts, strict=True) if t is not None}


@pytest.mark.parametrize("column", ["category", "channel"])
def test_the_same_texts_as_the_window(con: Any, tx: Any, column: str) -> None:
    got = _texts(mix_table(tx, as_of=AS_OF), f"top_{column.replace('y', 'ie')}s")
    expected = _window_texts(con, tx, column)
    assert got == expected
    assert len(got) > 400
    assert "only_returns" not in got and "null_amount" not in got


def test_ties_zeros_and_returns() -> None:
    table = mix_table(ibis.memtable(_rows()), as_of=AS_OF)
    texts = _texts(table, "top_categories")
    assert texts["tie"] == (
        '[{"value": "store", "share": 0.5}, {"value": "app", "share": 0.25}, '
        '{"value": "web", "share": 0.25}]'
    )
    assert texts["ret"] == '[{"value": "app", "share": 0.75}, {"value": "store", "share": 0.25}]'
    assert texts["zero"] == '[{"value": "app", "share": null}, {"value": "store", "share": null}]'
    assert "no_category" not in texts
    assert _texts(table, "top_channels")["no_category"] == '[{"value": "store", "share": 1.0}]'
    assert set(table.column("customer_id").to_pylist()) >= {"no_category", "tie", "ret", "zero"}


def test_halves_depend_on_the_order_of_the_sum(con: Any, tx: Any) -> None:
    """The half-way shares above print differently with the total added up in another
    order (ascending here), so the texts' equality checks the order of the sum."""

    def total(spends: list[float]) -> float:
        out = 0.0
        for spend in spends:
            out += spend
        return out

    flips = 0
    for spends in HALVES:
        top = sorted(spends, reverse=True)[:3]
        rank_order, ascending = total(sorted(spends, reverse=True)), total(sorted(spends))
        flips += any(round(s / rank_order, 4) != round(s / ascending, 4) for s in top)
    assert flips >= 2
    got = _texts(mix_table(tx, as_of=AS_OF), "top_categories")
    assert all(got[f"half{i}"] == _window_texts(con, tx, "category")[f"half{i}"] for i in range(6))


def test_many_values_keep_the_window(con: Any) -> None:
    """A column with more distinct values than WIDE_MIX_VALUES goes through
    customer_mix itself: the same texts."""
    n = WIDE_MIX_VALUES + 4
    rng = np.random.default_rng(3)
    size = 3000
    data = {
        "customer_id": [f"c{int(i):03d}" for i in rng.integers(0, 300, size)],
        "amount": np.round(rng.random(size) * 50 - 5, 2),
        "timestamp": [dt.datetime(2024, 2, 1)] * size,
        "channel": [f"v{int(i):02d}" for i in rng.integers(0, n, size)],
    }
    tx = con.create_table("mix_wide_many", pa.table(data), temp=True)
    got = _texts(mix_table(tx, as_of=AS_OF), "top_channels")
    assert got == _window_texts(con, tx, "channel")


def _encoded(column: pa.ChunkedArray, *, sorted_names: bool) -> pa.DictionaryArray:
    if not sorted_names:
        return column.combine_chunks().dictionary_encode()
    names = pc.unique(column).sort()
    return pa.DictionaryArray.from_arrays(pc.index_in(column, value_set=names), names)


@pytest.mark.parametrize(
    ("encoding", "shuffle"), [("sorted", None), ("sorted", 4), ("unsorted", None), ("plain", 5)]
)
def test_given_spends_give_the_window_texts(
    con: Any, tx: Any, encoding: str, shuffle: int | None
) -> None:
    """Spends handed over (as the recommendations' pairs are: dictionary-encoded with
    sorted names, ranked by their codes; else by the names): the texts of
    customer_mix's window, the half-way shares included."""
    spent = customer_mix(tx, as_of=AS_OF, column="category", k=1000).to_pyarrow()
    spends = spent.select(["customer_id", "value", "spend"])
    if encoding != "plain":
        sorted_names = encoding == "sorted"
        spends = pa.table(
            {
                "customer_id": _encoded(spends.column("customer_id"), sorted_names=sorted_names),
                "value": _encoded(spends.column("value"), sorted_names=sorted_names),
                "spend": spends.column("spend"),
            }
        )
    if shuffle is not None:
        order = np.random.default_rng(shuffle).permutation(spends.num_rows)
        spends = spends.take(pa.array(order))
    got = mix_table(tx.drop("channel"), as_of=AS_OF, spends={"category": spends})
    assert _texts(got, "top_categories") == _window_texts(con, tx, "category")
