"""customer_mix: each customer's top products, categories or channels with spend shares."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict

import ibis
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corecustomers.errors import ColumnMappingError
from corecustomers.insights.mix import customer_mix, mix_table

AS_OF = dt.date(2024, 3, 31)


def _tx(rows: list[tuple[str, float, int, str]]) -> ibis.Table:
    return ibis.memtable(
        {
            "customer_id": [r[0] for r in rows],
            "amount": [r[1] for r in rows],
            "timestamp": [dt.datetime(2024, 1, 1) + dt.timedelta(days=r[2]) for r in rows],
            "channel": [r[3] for r in rows],
        }
    )


def _reference(
    rows: list[tuple[str, float, int, str]], k: int
) -> dict[str, list[tuple[str, float | None]]]:
    """Plain Python: purchases up to AS_OF, spend per value, top k by spend then value."""
    spend: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for customer, amount, day, channel in rows:
        if amount >= 0 and (dt.date(2024, 1, 1) + dt.timedelta(days=day)) <= AS_OF:
            spend[customer][channel] += amount
    out = {}
    for customer, values in spend.items():
        total = sum(values.values())
        ranked = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        out[customer] = [(v, s / total if total > 0 else None) for v, s in ranked]
    return out


def _mix(
    rows: list[tuple[str, float, int, str]], k: int
) -> dict[str, list[tuple[str, float | None]]]:
    table = customer_mix(_tx(rows), as_of=AS_OF, column="channel", k=k).to_pyarrow()
    out: dict[str, list[tuple[str, float | None, int]]] = defaultdict(list)
    for row in table.to_pylist():
        out[row["customer_id"]].append((row["value"], row["share"], row["rank"]))
    return {
        c: [(v, s) for v, s, _ in sorted(items, key=lambda x: x[2])] for c, items in out.items()
    }


def test_shares_of_purchase_spend_returns_and_later_rows_left_out() -> None:
    rows = [
        ("a", 60.0, 0, "app"),
        ("a", 20.0, 1, "store"),
        ("a", 20.0, 2, "web"),
        ("a", -50.0, 3, "app"),  # a return is not a purchase
        ("a", 999.0, 120, "web"),  # after the as-of day
        ("b", 0.0, 5, "store"),  # zero-value orders count, but have no share
    ]
    mix = _mix(rows, k=2)
    assert [value for value, _ in mix["a"]] == ["app", "store"]
    assert [share for _, share in mix["a"]] == pytest.approx([0.6, 0.2])
    assert mix["b"] == [("store", None)]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["c1", "c2", "c3"]),
            st.floats(min_value=-20, max_value=100, allow_nan=False).map(lambda x: round(x, 2)),
            st.integers(min_value=0, max_value=150),
            st.sampled_from(["app", "store", "web", "微信"]),
        ),
        min_size=1,
        max_size=40,
    ),
    st.integers(min_value=1, max_value=3),
)
def test_equals_a_plain_python_reference(rows: list[tuple[str, float, int, str]], k: int) -> None:
    got, want = _mix(rows, k), _reference(rows, k)
    assert set(got) == set(want)
    for customer, items in want.items():
        assert [v for v, _ in got[customer]] == [v for v, _ in items]
        for (_, share), (_, expected) in zip(got[customer], items, strict=True):
            assert share == (None if expected is None else pytest.approx(expected))


def test_missing_column_names_it() -> None:
    tx = _tx([("a", 1.0, 0, "app")]).drop("channel")
    with pytest.raises(ColumnMappingError, match="channel"):
        customer_mix(tx, as_of=AS_OF, column="channel")


def test_mix_table_holds_each_distinct_text_once() -> None:
    rows = [
        ("a", 30.0, 0, "app"),
        ("a", 10.0, 1, "store"),
        ("b", 5.0, 2, "app"),
        ("c", 7.0, 3, "app"),  # the same text as b's: one dictionary entry
        ("d", -3.0, 4, "app"),  # only a return: no mix
    ]
    table = mix_table(_tx(rows), as_of=AS_OF)
    column = table.column("top_channels").combine_chunks()
    assert pa.types.is_dictionary(column.type)
    assert len(column.dictionary) == 2
    texts = dict(zip(table.column("customer_id").to_pylist(), column.to_pylist(), strict=True))
    assert texts == {
        "a": json.dumps([{"value": "app", "share": 0.75}, {"value": "store", "share": 0.25}]),
        "b": json.dumps([{"value": "app", "share": 1.0}]),
        "c": json.dumps([{"value": "app", "share": 1.0}]),
    }
    # aligning the column with another table copies indices only: the texts are shared
    taken = column.take(pa.array([2, 1, 0]))
    assert taken.dictionary.buffers()[-1].address == column.dictionary.buffers()[-1].address


def _mix_texts(rows: list[tuple[str, float, int, str]]) -> dict[str, str | None]:
    """The texts of ``top_channels`` by customer, after checking that the column's
    dictionary holds each distinct text once."""
    table = mix_table(_tx(rows), as_of=AS_OF)
    dictionary = table.column("top_channels").combine_chunks().dictionary.to_pylist()
    assert len(set(dictionary)) == len(dictionary)
    texts = table.column("top_channels").cast(pa.string()).to_pylist()
    return dict(zip(table.column("customer_id").to_pylist(), texts, strict=True))


def _json_reference(rows: list[tuple[str, float, int, str]]) -> dict[str, str]:
    """What the column-wise texts must equal: ``json.dumps`` of the rows, one customer
    at a time, with the shares rounded to 4 decimals by ``round``."""
    return {
        customer: json.dumps(
            [
                {"value": value, "share": None if share is None else round(share, 4)}
                for value, share in items
            ],
            ensure_ascii=False,
        )
        for customer, items in _reference(rows, k=3).items()
    }


AWKWARD = ['say "hi"', "back\\slash", "热拿铁", "tab\there", "new\nline", "é", "\x01", "a", "b"]


def test_mix_json_equals_json_dumps_on_awkward_values_shares_and_ties() -> None:
    rows = [
        *((c, 1.0, 0, v) for c, v in zip("abcdefghi", AWKWARD, strict=True)),  # share 1.0
        ("j", 5.0, 0, "b"),  # a tie: broken by the value, "a" first
        ("j", 5.0, 1, "a"),
        ("j", 5.0, 2, "热拿铁"),
        ("k", 1.0, 0, "a"),  # 1 / 20000 = 5e-05: half a unit of the 4th decimal
        ("k", 19999.0, 0, "b"),
        ("kk", 1.0, 0, "a"),  # k's shares again: the same text, held once
        ("kk", 19999.0, 0, "b"),
        ("l", 1.0, 0, "a"),  # 1/8 = 0.125 and 3/8 = 0.375: exact, kept as is
        ("l", 3.0, 0, "b"),
        ("l", 4.0, 0, "c"),
        ("m", 3.0, 0, "a"),  # 3 / 20000 = 0.00015: another half
        ("m", 19997.0, 0, "b"),
        ("n", 0.0, 0, 'say "hi"'),  # no purchase spend: a null share
        ("n", 0.0, 1, "热拿铁"),
        ("o", 1.0, 0, "a"),  # 1/3 and 2/3: rounded
        ("o", 2.0, 0, "b"),
    ]
    assert _mix_texts(rows) == _json_reference(rows)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["c1", "c2", "c3", "客户"]),
            st.integers(min_value=-5, max_value=40).map(float),  # exact sums
            st.integers(min_value=0, max_value=150),
            st.sampled_from(AWKWARD),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_mix_json_equals_json_dumps_of_a_plain_python_reference(
    rows: list[tuple[str, float, int, str]],
) -> None:
    assert _mix_texts(rows) == _json_reference(rows)


def test_mix_columns_aligned_on_the_customers_of_any_column() -> None:
    """A customer without a product has a null ``top_products`` and keeps its channels;
    the customers come sorted whichever column they appear in."""
    tx = ibis.memtable(
        {
            "customer_id": ["b", "c", "a", "a"],
            "amount": [5.0, 2.0, 3.0, 1.0],
            "timestamp": [dt.datetime(2024, 1, 1)] * 4,
            "product": ["tea", None, "cake", "tea"],
            "channel": ["app", "web", "store", "store"],
        }
    )
    table = mix_table(tx, as_of=AS_OF)
    assert table.column_names == ["customer_id", "top_products", "top_channels"]
    assert table.column("customer_id").to_pylist() == ["a", "b", "c"]
    assert table.column("top_products").to_pylist() == [
        json.dumps([{"value": "cake", "share": 0.75}, {"value": "tea", "share": 0.25}]),
        json.dumps([{"value": "tea", "share": 1.0}]),
        None,
    ]
    assert table.column("top_channels").to_pylist() == [
        json.dumps([{"value": "store", "share": 1.0}]),
        json.dumps([{"value": "app", "share": 1.0}]),
        json.dumps([{"value": "web", "share": 1.0}]),
    ]
