"""Map a source's columns onto the canonical transaction fields.

Required: ``customer_id``, ``timestamp``, ``amount``. Optional: ``order_id``,
``quantity``, ``product``, ``category``, ``channel``, ``store``, ``margin``,
``referred_by``. Headers are recognised in English and Chinese (``客户编号``, ``会员号``,
``交易日期``, ``下单时间``, ``金额``, ``实付金额`` …); an explicit choice (flag or config
file) always wins and may name a column by its header or by its 1-based position.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from corecustomers.errors import ColumnMappingError

__all__ = ["FIELDS", "OPTIONAL_FIELDS", "REQUIRED_FIELDS", "ColumnMapping", "map_columns"]

REQUIRED_FIELDS = ("customer_id", "timestamp", "amount")
OPTIONAL_FIELDS = (
    "order_id",
    "quantity",
    "product",
    "category",
    "channel",
    "store",
    "margin",
    "referred_by",
)
FIELDS = REQUIRED_FIELDS + OPTIONAL_FIELDS

# Known headers per field, most specific first. Compared after _normalise().
SYNONYMS: dict[str, tuple[str, ...]] = {
    "customer_id": (
        "customer_id",
        "customerid",
        "customer_no",
        "customer_number",
        "customer_code",
        "cust_id",
        "custid",
        "client_id",
        "clientid",
        "member_id",
        "memberid",
        "member_no",
        "membership_id",
        "user_id",
        "userid",
        "buyer_id",
        "account_id",
        "accountid",
        "customer",
        "client",
        "member",
        "user",
        "buyer",
        "account",
        "客户编号",
        "客户id",
        "客户号",
        "客户代码",
        "客户编码",
        "会员号",
        "会员编号",
        "会员id",
        "会员卡号",
        "卡号",
        "用户id",
        "用户编号",
        "顾客编号",
        "顾客id",
        "买家id",
        "客户",
        "会员",
        "顾客",
        "用户",
    ),
    "timestamp": (
        "timestamp",
        "transaction_date",
        "transaction_time",
        "order_date",
        "orderdate",
        "order_time",
        "invoice_date",
        "invoicedate",
        "purchase_date",
        "purchase_time",
        "sale_date",
        "date_time",
        "datetime",
        "created_at",
        "paid_at",
        "date",
        "time",
        "交易日期",
        "交易时间",
        "下单时间",
        "下单日期",
        "订单日期",
        "订单时间",
        "购买日期",
        "购买时间",
        "消费日期",
        "消费时间",
        "支付时间",
        "付款时间",
        "成交时间",
        "销售日期",
        "日期",
        "时间",
    ),
    "amount": (
        "amount",
        "order_amount",
        "transaction_amount",
        "sales_amount",
        "net_amount",
        "total_amount",
        "paid_amount",
        "payment_amount",
        "revenue",
        "sales",
        "spend",
        "monetary",
        "value",
        "total",
        "payment",
        "price_total",
        "line_total",
        "实付金额",
        "实收金额",
        "支付金额",
        "交易金额",
        "消费金额",
        "订单金额",
        "销售金额",
        "销售额",
        "付款金额",
        "应付金额",
        "金额",
        "总价",
        "合计",
    ),
    "order_id": (
        "order_id",
        "orderid",
        "order_no",
        "order_number",
        "invoice_no",
        "invoiceno",
        "invoice_id",
        "invoice",
        "transaction_id",
        "txn_id",
        "receipt_no",
        "order",
        "订单号",
        "订单编号",
        "订单id",
        "交易号",
        "交易编号",
        "流水号",
        "单号",
        "小票号",
    ),
    "quantity": ("quantity", "qty", "units", "number_of_items", "数量", "件数", "购买数量"),
    "product": (
        "product",
        "product_id",
        "product_name",
        "sku",
        "item",
        "item_id",
        "stockcode",
        "stock_code",
        "商品",
        "商品名称",
        "商品编号",
        "商品id",
        "产品",
        "产品名称",
        "菜品",
    ),
    "category": ("category", "product_category", "品类", "类别", "分类", "商品类别"),
    "channel": ("channel", "sales_channel", "渠道", "销售渠道"),
    "store": ("store", "store_id", "shop", "branch", "outlet", "门店", "店铺", "分店"),
    "margin": ("margin", "gross_margin", "profit", "gross_profit", "毛利", "利润", "毛利额"),
    "referred_by": ("referred_by", "referrer", "referrer_id", "推荐人", "推荐人编号"),
}


def _normalise(header: str) -> str:
    text = header.strip().lstrip("\ufeff").lower()
    text = re.sub(r"[\s\-./()（）]+", "_", text)
    return text.strip("_")


@dataclass(frozen=True)
class ColumnMapping:
    """Which source column feeds each canonical field (absent optional fields omitted)."""

    columns: Mapping[str, str]
    detected: frozenset[str] = field(default_factory=frozenset)

    def __getitem__(self, name: str) -> str:
        return self.columns[name]

    def get(self, name: str) -> str | None:
        """The source column for ``name``, or None when not mapped."""
        return self.columns.get(name)

    def describe(self) -> dict[str, str]:
        """The mapping as ``{field: column}`` for summary.json."""
        return dict(self.columns)


def _resolve(explicit: str, available: Sequence[str], source: str, name: str) -> str:
    if explicit in available:
        return explicit
    for column in available:
        if _normalise(column) == _normalise(explicit):
            return column
    if explicit.isdigit() and 1 <= int(explicit) <= len(available):
        return available[int(explicit) - 1]
    raise ColumnMappingError(
        f"there is no column {explicit!r} for {name} (columns: {', '.join(available)}). "
        f"Give a header or a 1-based position, e.g. --{name.replace('_id', '').replace('_', '-')}"
        "-col 1",
        file=source,
        column=explicit,
    )


def map_columns(
    available: Sequence[str],
    explicit: Mapping[str, str | None] | None = None,
    *,
    source: str = "",
) -> ColumnMapping:
    """Decide the source column of each canonical field.

    Parameters
    ----------
    available
        The source's column names, in order.
    explicit
        Choices from flags or the config file: ``{"customer_id": "会员号", "amount": "5"}``.
    source
        The source's name, for messages.

    Raises
    ------
    ColumnMappingError
        When a required field is neither given nor recognisable (the message lists the
        columns and the flag to use), or when one column is given for two fields.

    Examples
    --------
    >>> map_columns(["会员号", "下单时间", "实付金额"]).describe()
    {'customer_id': '会员号', 'timestamp': '下单时间', 'amount': '实付金额'}
    """
    chosen: dict[str, str] = {}
    asked: dict[str, str] = {k: v for k, v in (explicit or {}).items() if v}
    unknown = set(asked) - set(FIELDS)
    if unknown:
        raise ColumnMappingError(
            f"unknown field(s) {', '.join(sorted(unknown))} in the column mapping; "
            f"known fields: {', '.join(FIELDS)}"
        )
    for name, value in asked.items():
        chosen[name] = _resolve(value, available, source, name)
    roles: dict[str, list[str]] = {}
    for name, column in chosen.items():
        roles.setdefault(column, []).append(name)
    for column, names in roles.items():
        if len(names) > 1:
            raise ColumnMappingError(
                f"column {column!r} is given for {' and '.join(names)}; each field needs "
                "its own column. Check the --*-col flags and [columns] in corecustomers.toml",
                file=source or None,
                column=column,
            )
    taken = set(chosen.values())
    detected: set[str] = set()
    normalised = {c: _normalise(c) for c in available}
    for name in FIELDS:
        if name in chosen:
            continue
        for synonym in SYNONYMS[name]:
            hit = next((c for c in available if c not in taken and normalised[c] == synonym), None)
            if hit is not None:
                chosen[name] = hit
                taken.add(hit)
                detected.add(name)
                break
    missing = [f for f in REQUIRED_FIELDS if f not in chosen]
    given = {column: name for name, column in chosen.items() if name in asked}
    for name in missing:
        clash = next((c for c in available if c in given and normalised[c] in SYNONYMS[name]), None)
        if clash is not None:
            raise ColumnMappingError(
                f"column {clash!r} is given for {given[clash]}, but its header names "
                f"{name}; each field needs its own column. Check the --*-col flags and "
                "[columns] in corecustomers.toml",
                file=source or None,
                column=clash,
            )
    if missing:
        flags = {
            "customer_id": "--customer-col",
            "timestamp": "--date-col",
            "amount": "--amount-col",
        }
        hint = " ".join(f"{flags[m]} COLUMN" for m in missing)
        raise ColumnMappingError(
            f"cannot tell which column holds {', '.join(missing)} "
            f"(columns: {', '.join(available)}). Name them: {hint} "
            "(a header or a 1-based position), or under [columns] in corecustomers.toml",
            file=source or None,
        )
    ordered = {name: chosen[name] for name in FIELDS if name in chosen}
    return ColumnMapping(columns=ordered, detected=frozenset(detected))
