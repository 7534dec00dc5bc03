"""Referrals on DuckDB, Spark and PostgreSQL against a plain reference; the influence score."""

from __future__ import annotations

import datetime
import doctest
import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pytest

from corecustomers.errors import ColumnMappingError, InputError
from corecustomers.insights.influence import (
    INFLUENCE_COLUMNS,
    REFERRAL_COLUMNS,
    influence,
    referrals,
)

TS = datetime.datetime
AS_OF = datetime.date(2024, 6, 30)

SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("timestamp", pa.timestamp("us")),
        ("amount", pa.float64()),
        ("referred_by", pa.string()),
    ]
)

Row = tuple[str, datetime.datetime, float, str | None]

EDGE_CASES: list[Row] = [
    # ann refers bob (two rows) and cat; dan only returned something: not counted
    ("ann", TS(2024, 1, 1, 9), 50.0, None),
    ("bob", TS(2024, 1, 2, 9), 20.0, "ann"),
    ("bob", TS(2024, 2, 2, 9), 30.0, "ann"),
    ("cat", TS(2024, 1, 3, 9), 15.0, "ann"),
    ("dan", TS(2024, 1, 4, 9), -5.0, "ann"),
    # a self-referral is ignored
    ("eve", TS(2024, 1, 5, 9), 10.0, "eve"),
    # inconsistent referrers: the earliest row wins; a tie in time goes to the smaller id
    ("fay", TS(2024, 1, 7, 9), 40.0, "ann"),
    ("fay", TS(2024, 1, 6, 9), 1.0, "joe"),
    ("gus", TS(2024, 1, 8, 9), 7.0, "zed"),
    ("gus", TS(2024, 1, 8, 9), 8.0, "amy"),
    # after as_of: ignored (hal has no purchase by then; ivy's referrer appears only after)
    ("hal", TS(2024, 7, 1, 0), 99.0, "ann"),
    ("ivy", TS(2024, 3, 1, 9), 12.0, None),
    ("ivy", TS(2024, 7, 2, 9), 13.0, "joe"),
    # a referrer named on a later row; the earlier rows without one still count as revenue
    ("jon", TS(2024, 2, 1, 9), 5.0, None),
    ("jon", TS(2024, 4, 1, 9), 6.0, "ann"),
    # returns are netted into the referred revenue; a zero-value order is a purchase
    ("kim", TS(2024, 2, 1, 9), 100.0, "joe"),
    ("kim", TS(2024, 2, 9, 9), -30.0, "joe"),
    ("lee", TS(2024, 6, 30, 23, 59, 59), 0.0, "amy"),
    # non-ASCII ids
    ("客户-2", TS(2024, 5, 1, 9), 88.0, "客户-1"),
]

BACKENDS = [
    pytest.param("duckdb", id="duckdb"),
    pytest.param("pyspark", id="pyspark", marks=pytest.mark.spark),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]

_names = itertools.count()


def reference_referrals(
    rows: Sequence[Mapping[str, Any]], *, as_of: datetime.date
) -> dict[str, dict[str, Any]]:
    """Per referrer: referred buyers and their net spend, from plain dicts."""
    seen = [r for r in rows if r["timestamp"].date() <= as_of]
    referrer: dict[str, str] = {}
    for r in sorted(seen, key=lambda r: (r["timestamp"], r["referred_by"] or "")):
        who, by = r["customer_id"], r["referred_by"]
        if by is not None and by != who and who not in referrer:
            referrer[who] = by
    revenue: dict[str, float] = defaultdict(float)
    bought: set[str] = set()
    for r in seen:
        revenue[r["customer_id"]] += r["amount"]
        if r["amount"] >= 0:
            bought.add(r["customer_id"])
    out: dict[str, dict[str, Any]] = {}
    for who, by in referrer.items():
        if who in bought:
            entry = out.setdefault(by, {"referral_count": 0, "referred_revenue": 0.0})
            entry["referral_count"] += 1
            entry["referred_revenue"] += revenue[who]
    return out


Loader = Callable[[pa.Table], ir.Table]


@pytest.fixture(scope="module", params=BACKENDS)
def load(request: pytest.FixtureRequest) -> Iterator[Loader]:
    backend: str = request.param
    con = request.getfixturevalue(f"{'spark' if backend == 'pyspark' else backend}_con")
    created: list[str] = []

    def _load(data: pa.Table) -> ir.Table:
        name = f"cc_influence_tx_{next(_names)}"
        created.append(name)
        if backend == "pyspark":
            session = request.getfixturevalue("spark_session")
            session.createDataFrame(data).createOrReplaceTempView(name)
            return con.table(name)
        return con.create_table(name, data, temp=True, overwrite=True)

    yield _load
    for name in created:
        if backend == "pyspark":
            request.getfixturevalue("spark_session").catalog.dropTempView(name)
        else:
            con.drop_table(name, force=True)


def _arrow(rows: Sequence[Row]) -> pa.Table:
    columns = list(zip(*rows, strict=True))
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, SCHEMA, strict=True)],
        schema=SCHEMA,
    )


def test_edge_cases_match_reference(load: Loader) -> None:
    result = referrals(load(_arrow(EDGE_CASES)), as_of=AS_OF).to_pyarrow()

    assert tuple(result.column_names) == REFERRAL_COLUMNS
    assert result.schema.field("referral_count").type == pa.int64()
    assert result.schema.field("referred_revenue").type == pa.float64()
    got = {row.pop("customer_id"): row for row in result.to_pylist()}
    expected = reference_referrals(_arrow(EDGE_CASES).to_pylist(), as_of=AS_OF)
    assert got == expected  # every sum here is exact in binary floating point
    assert expected == {
        "ann": {"referral_count": 3, "referred_revenue": 50.0 + 15.0 + 11.0},
        "joe": {"referral_count": 2, "referred_revenue": 41.0 + 70.0},
        "amy": {"referral_count": 2, "referred_revenue": 15.0 + 0.0},
        "客户-1": {"referral_count": 1, "referred_revenue": 88.0},
    }


def test_the_expression_is_lazy() -> None:
    tx = ibis.table(
        {
            "customer_id": "string",
            "timestamp": "timestamp",
            "amount": "float64",
            "referred_by": "string",
        },
        name="tx",
    )
    expr = referrals(tx, as_of=AS_OF)
    assert tuple(expr.columns) == REFERRAL_COLUMNS
    with pytest.raises(ColumnMappingError, match="referred_by"):
        referrals(tx.drop("referred_by"), as_of=AS_OF)


def test_influence_scores_every_customer() -> None:
    table = pa.table(
        {
            "customer_id": ["ann", "joe", "amy", "zed", "outsider"],
            "referral_count": [3, 2, 2, 1, 4],
            "referred_revenue": [76.0, 111.0, 15.0, 15.0, 500.0],
        }
    )
    scored = pa.table({"customer_id": ["bob", "ann", "joe", "amy", "zed"], "x": [1] * 5})
    out = influence(scored, table)

    assert tuple(out.column_names) == INFLUENCE_COLUMNS
    rows = {r["customer_id"]: r for r in out.to_pylist()}
    assert rows["bob"] == {
        "customer_id": "bob",
        "referral_count": 0,
        "referred_revenue": 0.0,
        "influence_score": 0.0,
    }
    # five referrers: amy and zed tie at the bottom (2/5), ann 3/5, joe 4/5; the outsider
    # (not a scored customer) is the best referrer and still counts in the shares
    assert {c: rows[c]["influence_score"] for c in ("amy", "zed", "ann", "joe")} == {
        "amy": 0.4,
        "zed": 0.4,
        "ann": 0.6,
        "joe": 0.8,
    }
    assert out["customer_id"].to_pylist() == scored["customer_id"].to_pylist()
    json.dumps(out.to_pylist())


def test_influence_without_any_referrals() -> None:
    empty = pa.table(
        {
            "customer_id": pa.array([], pa.string()),
            "referral_count": pa.array([], pa.int64()),
            "referred_revenue": pa.array([], pa.float64()),
        }
    )
    out = influence(["a", "b"], empty)
    assert out["influence_score"].to_pylist() == [0.0, 0.0]
    assert out["referral_count"].to_pylist() == [0, 0]


def test_influence_refuses_bad_tables() -> None:
    good: dict[str, list[Any]] = {
        "customer_id": ["a"],
        "referral_count": [1],
        "referred_revenue": [1.0],
    }
    with pytest.raises(InputError, match="referred_revenue"):
        influence(["a"], pa.table({k: v for k, v in good.items() if k != "referred_revenue"}))
    with pytest.raises(InputError, match="repeats"):
        influence(["a"], pa.table({k: v * 2 for k, v in good.items()}))
    with pytest.raises(InputError, match="customer_id"):
        influence(pa.table({"id": ["a"]}), pa.table(good))


def test_docstring_examples_run() -> None:
    import corecustomers.insights.influence as module

    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
