"""mix_table with spends already aggregated (``spends=``, as the side steps pass the
recommendations' pairs): the same columns as aggregating the transactions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from corecustomers.data.demo import generate_demo
from corecustomers.errors import ConfigError
from corecustomers.insights.mix import mix_table
from corecustomers.insights.recommend import purchase_pairs

AS_OF = dt.date(2024, 12, 31)


def _plain(table: pa.Table) -> pa.Table:
    return pa.table({name: table.column(name).cast(pa.string()) for name in table.column_names})


def _spends(tx: Any, as_of: dt.date, *, dictionary: bool, shuffle: int | None) -> pa.Table:
    bought = purchase_pairs(tx, days=(as_of, AS_OF), detail=as_of).bought_on()
    table = bought.value_spends()
    if not dictionary:
        table = _plain(table.select(["customer_id", "value"])).append_column(
            "spend", table.column("spend")
        )
    if shuffle is not None:
        order = np.random.default_rng(shuffle).permutation(table.num_rows)
        table = table.take(pa.array(order))
    return table


@pytest.fixture(scope="module")
def tx(duckdb_con: Any) -> Any:
    demo = generate_demo(n_customers=2000, seed=3, bad_rows=False)
    rows = demo.select(["customer_id", "timestamp", "amount", "product", "channel"])
    # cents that tie and halves of a share's fourth decimal: 1.00 + 1.00 + 2.00 ...
    extra = pa.table(
        {
            "customer_id": ["tie", "tie", "tie", "客户", "客户", "zero", "zero"],
            "timestamp": pa.array(
                [dt.datetime(2024, 5, 1)] * 7, rows.schema.field("timestamp").type
            ),
            "amount": [1.0, 1.0, 2.0, 0.35, 0.65, 0.0, 0.0],
            "product": ["b", "a", "c", "新品", "ß", "x", "y"],
            "channel": ["app"] * 7,
        },
        schema=rows.schema,
    )
    return duckdb_con.create_table(
        "mix_given_spends", pa.concat_tables([rows, extra]), temp=True, overwrite=True
    )


@pytest.mark.parametrize(("dictionary", "shuffle"), [(True, None), (True, 1), (False, 2)])
@pytest.mark.parametrize("as_of", [AS_OF, dt.date(2024, 6, 30)])
def test_given_spends_give_the_same_mix(
    tx: Any, as_of: dt.date, dictionary: bool, shuffle: int | None
) -> None:
    spends = {"product": _spends(tx, as_of, dictionary=dictionary, shuffle=shuffle)}
    got = mix_table(tx, as_of=as_of, spends=spends)
    expected = mix_table(tx, as_of=as_of)
    assert got.column_names == ["customer_id", "top_products", "top_channels"]
    assert got.num_rows > 1000
    assert _plain(got).equals(_plain(expected))
    ties = pc.index(got.column("customer_id"), "tie").as_py()
    assert got.column("top_products")[ties].as_py() == (
        '[{"value": "c", "share": 0.5}, {"value": "a", "share": 0.25}, '
        '{"value": "b", "share": 0.25}]'
    )


def test_given_spends_check_k(tx: Any) -> None:
    spends = {"product": _spends(tx, AS_OF, dictionary=True, shuffle=None)}
    with pytest.raises(ConfigError, match="k must be"):
        mix_table(tx, as_of=AS_OF, k=0, spends=spends)
