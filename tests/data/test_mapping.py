"""Column mapping from English and Chinese headers, with overrides."""

from __future__ import annotations

import pytest

from corecustomers.data.mapping import map_columns
from corecustomers.errors import ColumnMappingError


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["customer_id", "date", "amount"], ("customer_id", "date", "amount")),
        (["Customer ID", "Order Date", "Sales"], ("Customer ID", "Order Date", "Sales")),
        (["客户编号", "交易日期", "金额"], ("客户编号", "交易日期", "金额")),
        (["会员号", "下单时间", "实付金额", "订单号"], ("会员号", "下单时间", "实付金额")),
        (
            ["CustomerID", "InvoiceDate", "Revenue", "InvoiceNo"],
            ("CustomerID", "InvoiceDate", "Revenue"),
        ),
    ],
)
def test_detects_common_headers(headers: list[str], expected: tuple[str, str, str]) -> None:
    m = map_columns(headers)
    assert (m["customer_id"], m["timestamp"], m["amount"]) == expected


def test_specific_header_wins_over_generic() -> None:
    m = map_columns(["日期", "会员号", "金额", "实付金额"])
    assert m["amount"] == "实付金额"


def test_optional_fields_detected() -> None:
    m = map_columns(
        ["会员号", "下单时间", "实付金额", "订单号", "商品", "品类", "渠道", "门店", "数量"]
    )
    assert m.describe() == {
        "customer_id": "会员号",
        "timestamp": "下单时间",
        "amount": "实付金额",
        "order_id": "订单号",
        "quantity": "数量",
        "product": "商品",
        "category": "品类",
        "channel": "渠道",
        "store": "门店",
    }


def test_explicit_by_name_or_position() -> None:
    m = map_columns(
        ["1", "2", "3", "4", "5"], {"customer_id": "1", "timestamp": "3", "amount": "5"}
    )
    assert (m["customer_id"], m["timestamp"], m["amount"]) == ("1", "3", "5")
    m = map_columns(
        ["id", "when", "paid"], {"customer_id": "2", "timestamp": "1", "amount": "paid"}
    )
    assert (m["customer_id"], m["timestamp"]) == ("when", "id")


def test_missing_required_names_columns_and_flag() -> None:
    with pytest.raises(ColumnMappingError) as info:
        map_columns(["who", "when", "amount"], source="x.csv")
    text = str(info.value)
    assert "x.csv" in text and "customer_id" in text and "--customer-col" in text and "who" in text


def test_unknown_explicit_column() -> None:
    with pytest.raises(ColumnMappingError, match="no column 'nope'"):
        map_columns(["a", "b", "c"], {"customer_id": "nope"})
