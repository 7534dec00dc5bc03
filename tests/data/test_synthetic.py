"""Synthetic data: determinism, shape, the shares the docs promise, and the demo's faults."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from corecustomers.data.demo import (
    DEMO_COLUMNS,
    DEMO_CSV_HEADERS,
    QUALITY_ISSUES,
    generate_demo,
    write_demo_csv,
)
from corecustomers.data.simulator import (
    TRANSACTION_SCHEMA,
    BTYDParams,
    generate_transactions,
    write_transactions,
)
from corecustomers.errors import ConfigError

START = dt.date(2022, 1, 1)
END = dt.date(2024, 12, 31)
CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def transactions() -> pa.Table:
    return generate_transactions(20_000, start=START, end=END, seed=11)


@pytest.fixture(scope="module")
def demo() -> pa.Table:
    """The demo at its default size, as ``corecustomers demo`` makes it."""
    return generate_demo(seed=7)


def _share(mask: pa.ChunkedArray) -> float:
    return float(pc.mean(mask.cast(pa.float64())).as_py())


# --------------------------------------------------------------------------------------
# generate_transactions / write_transactions
# --------------------------------------------------------------------------------------


def test_transactions_are_identical_for_a_seed_and_differ_across_seeds() -> None:
    first = generate_transactions(3_000, seed=5)
    assert first.equals(generate_transactions(3_000, seed=5))
    assert not first.equals(generate_transactions(3_000, seed=6))


def test_transactions_schema_and_ids(transactions: pa.Table) -> None:
    assert transactions.schema == TRANSACTION_SCHEMA
    assert transactions.num_rows == pc.count_distinct(transactions["order_id"]).as_py()
    assert pc.count_distinct(transactions["customer_id"]).as_py() == 20_000
    for name in transactions.column_names:
        assert transactions[name].null_count == 0, name


def test_transactions_have_about_ten_rows_per_customer(transactions: pa.Table) -> None:
    assert 8.5 < transactions.num_rows / 20_000 < 11.5


def test_pareto_dropout_gives_a_comparable_population() -> None:
    tx = generate_transactions(5_000, seed=2, params=BTYDParams(dropout="exponential"))
    assert 7.5 < tx.num_rows / 5_000 < 12.5


def test_returns_are_about_two_percent_and_negative(transactions: pa.Table) -> None:
    returns = pc.less(transactions["amount"], 0)
    assert 0.017 < _share(returns) < 0.023
    back = transactions.filter(returns)
    assert pc.all(pc.less(back["quantity"], 0)).as_py()
    bought = transactions.filter(pc.invert(returns))
    assert pc.min(bought["amount"]).as_py() > 0


def test_timestamps_lie_in_the_period_and_have_times_of_day(transactions: pa.Table) -> None:
    ts = transactions["timestamp"]
    assert pc.min(ts).as_py() >= dt.datetime.combine(START, dt.time())
    assert pc.max(ts).as_py() < dt.datetime.combine(END + dt.timedelta(days=1), dt.time())
    hours = pc.hour(ts).to_numpy()
    assert len(np.unique(hours)) > 10
    assert np.mean((hours >= 7) & (hours <= 20)) > 0.9


def test_first_purchases_are_staggered_over_the_period(transactions: pa.Table) -> None:
    first = transactions.group_by("customer_id").aggregate([("timestamp", "min")])
    days = (pc.day_of_year(first["timestamp_min"]).to_numpy() - 1) + 365 * (
        pc.year(first["timestamp_min"]).to_numpy() - START.year
    )
    counts, _ = np.histogram(days, bins=6, range=(0, 1096))
    assert counts.min() > 0.7 * counts.mean()


def test_write_transactions_streams_the_same_rows(tmp_path: Path) -> None:
    path = tmp_path / "tx.parquet"
    rows = write_transactions(path, 1_500, seed=4)
    table = pq.read_table(path)
    assert rows == table.num_rows
    assert table.equals(generate_transactions(1_500, seed=4))
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"start": END, "end": START},
        {"start": dt.datetime(2024, 1, 1)},
        {"params": BTYDParams(dropout="weibull")},  # type: ignore[arg-type]
        {"return_share": 0.7},
    ],
)
def test_transactions_reject_bad_arguments(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        generate_transactions(10, **kwargs)  # type: ignore[arg-type]


def test_negative_customer_count_is_refused() -> None:
    with pytest.raises(ConfigError, match="negative"):
        generate_transactions(-1)
    assert generate_transactions(0).num_rows == 0


# --------------------------------------------------------------------------------------
# generate_demo
# --------------------------------------------------------------------------------------


def test_demo_is_identical_for_a_seed() -> None:
    first = generate_demo(n_customers=1_500, seed=3)
    assert first.equals(generate_demo(n_customers=1_500, seed=3))
    assert not first.equals(generate_demo(n_customers=1_500, seed=4))


def test_demo_has_about_300k_rows_over_three_years(demo: pa.Table) -> None:
    assert demo.column_names == list(DEMO_COLUMNS)
    assert 250_000 < demo.num_rows < 350_000
    assert pc.min(demo["timestamp"]).as_py().date() == START
    assert pc.max(demo["timestamp"]).as_py().date() == END
    assert demo.schema.field("timestamp").type == pa.timestamp("us")
    assert demo.schema.field("amount").type == pa.float64()
    assert re.fullmatch(r"M\d{7}", demo["customer_id"][0].as_py())
    assert re.fullmatch(r"SO\d{13}", demo["order_id"][0].as_py())


def test_demo_bad_rows_are_rare_each_has_one_named_fault(demo: pa.Table) -> None:
    issue = demo["quality_issue"]
    counts = {v["values"]: v["counts"] for v in pc.value_counts(issue.drop_null()).to_pylist()}
    assert set(counts) == set(QUALITY_ISSUES)
    assert 0.0005 < issue.drop_null().length() / demo.num_rows < 0.002

    def flagged(name: str) -> np.ndarray:
        return pc.equal(issue, name).fill_null(False).to_numpy()

    assert np.array_equal(pc.is_null(demo["customer_id"]).to_numpy(), flagged(QUALITY_ISSUES[0]))
    assert np.array_equal(pc.is_null(demo["timestamp"]).to_numpy(), flagged(QUALITY_ISSUES[1]))
    assert np.array_equal(pc.is_null(demo["amount"]).to_numpy(), flagged(QUALITY_ISSUES[2]))
    # A repeated export: a later row with the same order id as an earlier, good row.
    order_ids = demo["order_id"].to_pylist()
    seen: dict[str, int] = {}
    repeats = np.zeros(demo.num_rows, dtype=bool)
    for i, order_id in enumerate(order_ids):
        if order_id in seen:
            repeats[i] = True
            assert demo.slice(seen[order_id], 1)["quality_issue"][0].as_py() is None
        seen.setdefault(order_id, i)
    assert np.array_equal(repeats, flagged(QUALITY_ISSUES[3]))


def test_clean_demo_and_transactions_have_no_bad_rows(transactions: pa.Table) -> None:
    clean = generate_demo(n_customers=1_000, seed=1, bad_rows=False)
    assert clean["quality_issue"].null_count == clean.num_rows
    assert pc.count_distinct(clean["order_id"]).as_py() == clean.num_rows
    for name in ("customer_id", "timestamp", "amount"):
        assert clean[name].null_count == 0
    assert "quality_issue" not in transactions.column_names


def test_demo_names_are_about_30_percent_chinese(demo: pa.Table) -> None:
    people = demo.select(["customer_id", "customer_name"]).drop_null()
    names = pc.unique(people["customer_name"]).to_pylist()
    per_customer = dict(
        zip(people["customer_id"].to_pylist(), people["customer_name"].to_pylist(), strict=True)
    )
    chinese = [bool(CJK.search(name)) for name in per_customer.values()]
    assert 0.27 < np.mean(chinese) < 0.33
    assert len(per_customer) == 20_000
    assert any(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", n) for n in names)
    assert any(re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z]+", n) for n in names)


def test_demo_revenue_is_concentrated_with_many_one_time_buyers(demo: pa.Table) -> None:
    good = demo.filter(pc.is_null(demo["quality_issue"]))
    per = good.group_by("customer_id").aggregate([("amount", "sum"), ("order_id", "count")])
    revenue = np.sort(per["amount_sum"].to_numpy())[::-1]
    top5 = revenue[: len(revenue) // 20].sum() / revenue.sum()
    top20 = revenue[: len(revenue) // 5].sum() / revenue.sum()
    assert top5 > 0.4
    assert 0.7 < top20 < 0.95
    assert np.mean(per["order_id_count"].to_numpy() == 1) > 0.3
    refunds = _share(pc.less(good["amount"], 0))
    assert 0.005 < refunds < 0.02


def test_demo_has_seasonal_peaks(demo: pa.Table) -> None:
    good = demo.filter(pc.is_valid(demo["timestamp"]))
    day = pc.cast(pc.cast(good["timestamp"], pa.timestamp("s")), pa.int64()).to_numpy() // 86_400
    counts = np.bincount(day - day.min())
    # The days before Double 11 2023 are busier than the same span a month earlier.
    eleven = (dt.date(2023, 11, 11) - START).days
    assert counts[eleven - 3 : eleven + 1].sum() > 1.15 * counts[eleven - 33 : eleven - 29].sum()
    gifts = good.filter(pc.equal(good["category"], "礼盒"))
    months = set(pc.month(gifts["timestamp"]).to_pylist())
    assert months <= {1, 2, 5, 6, 8, 9, 10, 11, 12}


def test_demo_catalogue_has_launches_found_only_after_they_launch(demo: pa.Table) -> None:
    good = demo.filter(pc.is_valid(demo["timestamp"]))
    per = good.group_by("product").aggregate([("timestamp", "min")])
    assert 180 <= per.num_rows <= 220
    first_seen = dict(
        zip(per["product"].to_pylist(), per["timestamp_min"].to_pylist(), strict=True)
    )
    # The coconut latte launches 12 % into the period, the mint mocha 84 % into it.
    assert first_seen["冰生椰拿铁"].date() > START + dt.timedelta(days=120)
    assert first_seen["热薄荷摩卡"].date() > START + dt.timedelta(days=900)
    assert len(pc.unique(good["category"])) == 8
    assert set(pc.unique(good["channel"]).to_pylist()) == {"门店", "线上", "小程序"}


def test_demo_referrers_are_earlier_members(demo: pa.Table) -> None:
    good = demo.filter(pc.is_valid(demo["customer_id"]))
    first = good.group_by("customer_id").aggregate([("timestamp", "min"), ("referred_by", "max")])
    joined = dict(
        zip(first["customer_id"].to_pylist(), first["timestamp_min"].to_pylist(), strict=True)
    )
    referred = first.filter(pc.is_valid(first["referred_by_max"]))
    assert 0.06 < referred.num_rows / first.num_rows < 0.14
    for who, by, when in zip(
        referred["customer_id"].to_pylist(),
        referred["referred_by_max"].to_pylist(),
        referred["timestamp_min"].to_pylist(),
        strict=True,
    ):
        assert by != who
        assert joined[by] is None or when is None or joined[by] <= when + dt.timedelta(days=1)


def test_demo_in_english_labels() -> None:
    demo = generate_demo(n_customers=500, seed=2, labels="en")
    assert set(pc.unique(demo["channel"]).to_pylist()) <= {"store", "online", "app"}
    assert not any(CJK.search(c) for c in pc.unique(demo["category"]).to_pylist())
    with pytest.raises(ConfigError):
        generate_demo(n_customers=10, labels="fr")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# write_demo_csv
# --------------------------------------------------------------------------------------


def test_demo_csv_is_a_chinese_excel_export(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    rows = write_demo_csv(path, n_customers=3_000, seed=9)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in raw
    with path.open(encoding="utf-8-sig", newline="") as handle:
        records = list(csv.reader(handle))
    assert records[0] == list(DEMO_CSV_HEADERS.values())
    assert records[0][:5] == ["会员号", "姓名", "订单号", "下单时间", "实付金额"]
    body = records[1:]
    assert len(body) == rows
    times = [r[3] for r in body]
    amounts = [r[4] for r in body]
    iso = sum(bool(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", t)) for t in times)
    slash = sum(bool(re.fullmatch(r"\d{4}/\d{1,2}/\d{1,2}", t)) for t in times)
    chinese = sum(bool(re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", t)) for t in times)
    assert iso > 0.8 * rows and slash > 0.05 * rows and chinese > 0.02 * rows
    assert any(re.fullmatch(r"-?¥\d{1,3}(,\d{3})+\.\d{2}", a) for a in amounts)
    assert sum(a.startswith(("¥", "-¥")) for a in amounts) > 0.1 * rows
    assert sum(bool(re.fullmatch(r"-?\d+\.\d{2}", a)) for a in amounts) > 0.7 * rows
    assert any(r[0] == "" and r[1] == "" for r in body)


def test_demo_csv_bad_text_matches_the_table(tmp_path: Path) -> None:
    path = tmp_path / "demo.csv"
    write_demo_csv(path, n_customers=2_000, seed=5, start=dt.date(2023, 1, 1))
    table = generate_demo(n_customers=2_000, seed=5, start=dt.date(2023, 1, 1))
    with path.open(encoding="utf-8-sig", newline="") as handle:
        body = list(csv.reader(handle))[1:]
    issues = table["quality_issue"].to_pylist()
    assert len(body) == len(issues)
    for row, issue in zip(body, issues, strict=True):
        readable_date = _readable_date(row[3])
        readable_amount = _readable_amount(row[4])
        assert readable_date == (issue != "unparseable_date"), row
        assert readable_amount == (issue != "non_numeric_amount"), row
        assert (row[0] == "") == (issue == "missing_customer_id"), row


def _readable_date(text: str) -> bool:
    for form in ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d", "%Y年%m月%d日"):
        try:
            dt.datetime.strptime(text, form)
        except ValueError:
            continue
        return True
    return False


def _readable_amount(text: str) -> bool:
    try:
        float(text.replace("¥", "").replace(",", ""))
    except ValueError:
        return False
    return True


def test_demo_csv_is_byte_identical_for_a_seed(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_demo_csv(a, n_customers=800, seed=1)
    write_demo_csv(b, n_customers=800, seed=1)
    assert a.read_bytes() == b.read_bytes()
