"""Synthetic transactions: a BTYD simulator at scale, and a realistic bilingual demo.

Two generators, both NumPy + Arrow (no pandas), both identical for identical arguments:

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

:func:`generate_demo` / :func:`write_demo_csv`
    A coffee-and-bakery chain over three years: a small core of heavy regulars who bring
    most of the revenue, regulars, occasional buyers and many one-time buyers; seasonal
    peaks (Chinese New Year, 618, Mid-Autumn, Double 11, Christmas) and busier weekends;
    habitual times of day; a catalogue of about 200 products of which some launch during
    the period (so the earliest adopters can be found); member ids, Chinese and English
    names, referrals; and a few deliberately bad rows. :func:`write_demo_csv` writes it the
    way a Chinese point-of-sale export looks: Chinese headers, UTF-8 with BOM, mixed date
    and money formats.

Examples
--------
>>> import datetime
>>> from corecustomers.data.synthetic import generate_transactions
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

import csv
import datetime as _dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from numpy.typing import NDArray

from corecustomers.errors import ConfigError

__all__ = [
    "BLOCK_CUSTOMERS",
    "DEMO_COLUMNS",
    "DEMO_CSV_HEADERS",
    "QUALITY_ISSUES",
    "TRANSACTION_SCHEMA",
    "BTYDParams",
    "generate_demo",
    "generate_transactions",
    "iter_transactions",
    "write_demo_csv",
    "write_transactions",
]

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]
Labels = Literal["zh", "en"]
Dropout = Literal["beta_geometric", "exponential"]

DEFAULT_START: Final = _dt.date(2022, 1, 1)
DEFAULT_END: Final = _dt.date(2024, 12, 31)

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

DEMO_COLUMNS: Final = (
    "customer_id",
    "customer_name",
    "order_id",
    "timestamp",
    "amount",
    "quantity",
    "product",
    "category",
    "channel",
    "store",
    "referred_by",
    "quality_issue",
)
"""Columns of :func:`generate_demo`, in order."""

DEMO_CSV_HEADERS: Final = {
    "customer_id": "会员号",
    "customer_name": "姓名",
    "order_id": "订单号",
    "timestamp": "下单时间",
    "amount": "实付金额",
    "quantity": "数量",
    "product": "商品",
    "category": "品类",
    "channel": "渠道",
    "store": "门店",
    "referred_by": "推荐人",
}
"""The demo CSV's Chinese header for each column it writes (``quality_issue`` is not)."""

QUALITY_ISSUES: Final = (
    "missing_customer_id",
    "unparseable_date",
    "non_numeric_amount",
    "duplicate_order_id",
)
"""The deliberate faults of the demo, named like the validation's quarantine reasons."""

_US_PER_DAY: Final = 86_400_000_000
_EPOCH: Final = _dt.date(1970, 1, 1)

# Share of purchases per hour of the day (a cafe: breakfast, lunch, afternoon tea, dinner).
_HOURLY: Final = np.array(
    [0, 0, 0, 0, 0, 0, 1, 5, 10, 10, 7, 7, 11, 10, 8, 9, 7, 6, 5, 4, 3, 2, 1, 0], dtype=float
)


# --------------------------------------------------------------------------------------
# The catalogue: (category zh, category en, weight), items (zh, en, price), variants.
# --------------------------------------------------------------------------------------

# Category "zh/en", weight, items "zh/en/price|...", variants "zh/en/extra|..." and
# whether the variant follows the item name (coffee beans) rather than preceding it.
_CATALOGUE: Final = (
    (
        "咖啡/Coffee",
        0.34,
        "美式/Americano/22|拿铁/Latte/28|卡布奇诺/Cappuccino/28|馥芮白/Flat White/30|"
        "摩卡/Mocha/32|焦糖玛奇朵/Caramel Macchiato/33|澳白/Piccolo/26|冷萃/Cold Brew/30",
        "热/Hot/0|冰/Iced/2|燕麦/Oat/5",
        False,
    ),
    (
        "茶饮/Tea",
        0.18,
        "乌龙奶茶/Oolong Milk Tea/22|茉莉绿茶/Jasmine Green Tea/18|柠檬红茶/Lemon Black Tea/18|"
        "抹茶拿铁/Matcha Latte/28|桃桃乌龙/Peach Oolong/24|杨枝甘露/Mango Pomelo Sago/26|"
        "芝士莓莓/Cheese Berry Tea/28|伯爵奶茶/Earl Grey Milk Tea/24|热可可/Hot Chocolate/24|"
        "椰子水/Coconut Water/16",
        "中杯/Regular/0|大杯/Large/4",
        False,
    ),
    (
        "烘焙/Bakery",
        0.19,
        "可颂/Croissant/14|贝果/Bagel/12|吐司/Toast/16|司康/Scone/13|玛芬/Muffin/14|"
        "欧包/Sourdough/18|丹麦/Danish/16",
        "原味/Plain/0|巧克力/Chocolate/3|抹茶/Matcha/3|芝士/Cheese/4|蓝莓/Blueberry/3|"
        "红豆/Red Bean/2",
        False,
    ),
    (
        "甜点/Desserts",
        0.09,
        "蛋糕/Cake/32|慕斯/Mousse/34|芝士蛋糕/Cheesecake/36|布丁/Pudding/18|提拉米苏/Tiramisu/38",
        "经典/Classic/0|草莓/Strawberry/4|芒果/Mango/4|巧克力/Chocolate/3|抹茶/Matcha/3",
        False,
    ),
    (
        "轻食/Light Meals",
        0.14,
        "三明治/Sandwich/28|沙拉/Salad/36|意面/Pasta/42|卷饼/Wrap/30|饭团/Rice Ball/16|"
        "贝果堡/Bagel Burger/32",
        "鸡肉/Chicken/0|金枪鱼/Tuna/3|牛肉/Beef/6|蔬菜/Veggie/-2|三文鱼/Salmon/8",
        False,
    ),
    (
        "咖啡豆/Coffee Beans",
        0.04,
        "云南/Yunnan/68|埃塞俄比亚/Ethiopia/98|哥伦比亚/Colombia/88|巴西/Brazil/78|"
        "危地马拉/Guatemala/92",
        "咖啡豆250g/Beans 250g/0|咖啡豆500g/Beans 500g/60|挂耳10包/Drip Bags x10/-10",
        True,
    ),
    (
        "周边/Merchandise",
        0.02,
        "马克杯/Mug/68|保温杯/Tumbler/128|帆布袋/Tote Bag/48|随行杯/Travel Cup/98|"
        "手冲壶/Pour-over Kettle/198|滤杯/Dripper/88|咖啡礼品卡/Gift Card/200",
        "//0",
        True,
    ),
)

# Drinks launched during the period ("zh/en/price/category index/launch as a share of the
# period"); each comes hot and iced.
_LAUNCHES: Final = (
    "生椰拿铁/Coconut Latte/29/0/0.12|橙C美式/Orange Americano/25/0/0.18|"
    "荔枝乌龙/Lychee Oolong/25/1/0.24|桂花拿铁/Osmanthus Latte/30/0/0.30|"
    "芋泥波波/Taro Boba/24/1/0.36|酱香拿铁/Baijiu Latte/32/0/0.42|"
    "开心果拿铁/Pistachio Latte/32/0/0.50|黑糖珍珠/Brown Sugar Boba/22/1/0.56|"
    "栗子拿铁/Chestnut Latte/31/0/0.63|陈皮拿铁/Tangerine Peel Latte/30/0/0.70|"
    "玫瑰拿铁/Rose Latte/31/0/0.77|薄荷摩卡/Mint Mocha/33/0/0.84"
)
_LAUNCH_SIZES: Final = "热/Hot/0|冰/Iced/2"

# Gift boxes per festival ("zh/en/price"), sold in the weeks before it.
_GIFTS: Final = {
    "new_year": "福运新年礼盒/Fortune New Year Box/298|团圆新年礼盒/Reunion New Year Box/398|"
    "尊享新年礼盒/Deluxe New Year Box/598",
    "mid_autumn": "经典月饼礼盒/Classic Mooncake Box/268|流心月饼礼盒/Custard Mooncake Box/328|"
    "臻选月饼礼盒/Premium Mooncake Box/498",
    "dragon_boat": "端午粽子礼盒/Zongzi Box/198|端午臻选礼盒/Dragon Boat Deluxe Box/298",
    "christmas": "圣诞礼盒/Christmas Box/168|圣诞臻选礼盒/Christmas Deluxe Box/268",
}
_GIFT_CATEGORY: Final = "礼盒/Gift Boxes"

_CNY: Final = (
    "2018-02-16 2019-02-05 2020-01-25 2021-02-12 2022-02-01 2023-01-22 2024-02-10 "
    "2025-01-29 2026-02-17 2027-02-06 2028-01-26 2029-02-13 2030-02-03"
)
_MID_AUTUMN: Final = (
    "2018-09-24 2019-09-13 2020-10-01 2021-09-21 2022-09-10 2023-09-29 2024-09-17 "
    "2025-10-06 2026-09-25 2027-09-15 2028-10-03 2029-09-22 2030-09-12"
)
_DRAGON_BOAT: Final = (
    "2018-06-18 2019-06-07 2020-06-25 2021-06-14 2022-06-03 2023-06-22 2024-06-10 "
    "2025-05-31 2026-06-19 2027-06-09 2028-05-28 2029-06-16 2030-06-05"
)


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(sep))


_STORES_ZH: Final = _words(
    "上海徐汇店 上海静安店 上海浦东店 北京三里屯店 北京国贸店 杭州西湖店 "
    "深圳南山店 广州天河店 成都太古里店 南京新街口店 苏州园区店 武汉光谷店"
)
_STORES_EN: Final = _words(
    "Shanghai Xuhui|Shanghai Jing'an|Shanghai Pudong|Beijing Sanlitun|Beijing Guomao|"
    "Hangzhou West Lake|Shenzhen Nanshan|Guangzhou Tianhe|Chengdu Taikoo Li|"
    "Nanjing Xinjiekou|Suzhou Industrial Park|Wuhan Optics Valley",
    "|",
)
_ONLINE_STORE: Final = {"zh": "线上旗舰店", "en": "Online flagship"}
_CHANNELS: Final = {"zh": ("门店", "线上", "小程序"), "en": ("store", "online", "app")}

_SURNAMES: Final = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
_GIVEN: Final = _words(
    "伟 芳 娜 秀英 敏 静 丽 强 磊 军 洋 勇 艳 杰 娟 涛 明 超 秀兰 霞 平 刚 桂英 婷 雪 "
    "浩然 子涵 欣怡 梓萱 宇轩 思远 佳怡 晨 颖 斌 鑫 鹏 琳 倩 丹 玉兰 志强 建华 文博 雨桐"
)
_FIRST_EN: Final = _words(
    "Emma Olivia Ava Sophia Mia Amelia Harper Lily Grace Chloe Lucy Hannah Emily Zoe Ella "
    "James Liam Noah Oliver Elijah Lucas Henry Jack Daniel David Samuel Ethan Leo Ryan Adam"
)
_LAST_EN: Final = _words(
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Taylor Clark Walker Hall Allen "
    "Young King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter "
    "Turner Parker Evans Collins"
)


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


def _check_period(start: _dt.date, end: _dt.date) -> int:
    """Days in ``[start, end]``; refuse datetimes and reversed periods."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, _dt.date) or isinstance(value, _dt.datetime):
            raise ConfigError(f"{name} must be a datetime.date, got {value!r}")
    if end < start:
        raise ConfigError(f"end ({end}) is before start ({start}); swap them")
    return (end - start).days + 1


def _check_count(n_customers: int) -> int:
    if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer):
        raise ConfigError(f"n_customers must be an integer, got {n_customers!r}")
    if n_customers < 0:
        raise ConfigError(f"n_customers must not be negative, got {n_customers}")
    return int(n_customers)


def _rng(seed: int, *stream: int) -> np.random.Generator:
    """An independent random stream per (seed, stream...)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=stream))


def _seconds_of_day(rng: np.random.Generator, n: int) -> Ints:
    """Seconds after midnight, drawn from the cafe's hourly profile."""
    cdf = np.cumsum(_HOURLY) / _HOURLY.sum()
    hour = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), 23)
    return hour * 3600 + rng.integers(0, 3600, n)


def _microseconds(start: _dt.date, day: Ints, seconds: Ints) -> Ints:
    """Microseconds since 1970 of ``seconds`` after midnight on ``start + day``."""
    return ((start - _EPOCH).days + day) * _US_PER_DAY + seconds * 1_000_000


def _last_microsecond(end: _dt.date) -> int:
    return ((end - _EPOCH).days + 1) * _US_PER_DAY - 1_000_000


def _fixed_width(prefix: str, numbers: Ints, width: int) -> pa.StringArray:
    """``prefix`` + ``numbers`` zero-padded to ``width`` digits, built as one byte buffer."""
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    size = len(head) + width
    buf = np.empty((len(numbers), size), dtype=np.uint8)
    buf[:, : len(head)] = head
    rest = numbers.astype(np.int64, copy=True)
    for j in range(size - 1, len(head) - 1, -1):
        buf[:, j] = 48 + rest % 10
        rest //= 10
    if rest.any():
        raise ConfigError(f"numbers after {prefix!r} do not fit in {width} digits")
    offsets = np.arange(len(numbers) + 1, dtype=np.int64) * size
    wide = pa.Array.from_buffers(
        pa.large_string(), len(numbers), [None, pa.py_buffer(offsets), pa.py_buffer(buf)]
    )
    return wide.cast(pa.string())


def _segments(counts: Ints) -> tuple[Ints, Ints]:
    """Owner of each element of consecutive groups of ``counts``, and its rank in the group."""
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(len(owner), dtype=np.int64) - np.repeat(starts, counts)


def _entries(text: str) -> list[list[str]]:
    return [entry.split("/") for entry in text.split("|")]


def _label(pair: str, labels: Labels) -> str:
    zh, en = pair.split("/")
    return zh if labels == "zh" else en


def _everyday(labels: Labels) -> tuple[list[str], list[str], list[float], list[int]]:
    """The everyday catalogue: product names, category names, prices, category indices."""
    names: list[str] = []
    cats: list[str] = []
    prices: list[float] = []
    index: list[int] = []
    for c, (category, _, items, variants, suffix) in enumerate(_CATALOGUE):
        for item_zh, item_en, price in _entries(items):
            for var_zh, var_en, extra in _entries(variants):
                if labels == "zh":
                    names.append(item_zh + var_zh if suffix else var_zh + item_zh)
                else:
                    names.append(f"{item_en} {var_en}" if suffix else f"{var_en} {item_en}")
                cats.append(_label(category, labels))
                prices.append(float(price) + float(extra))
                index.append(c)
    return [n.strip() for n in names], cats, prices, index


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
    owner, rank = _segments(repeats)
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
    n_customers = _check_count(n_customers)
    days = _check_period(start, end)
    params = params or BTYDParams()
    if not 0 <= return_share < 0.5:
        raise ConfigError(f"return_share must be in [0, 0.5), got {return_share}")
    if n_stores < 1:
        raise ConfigError(f"n_stores must be at least 1, got {n_stores}")
    names, cats, _, _ = _everyday("en")
    zipf = 1.0 / np.arange(1, len(names) + 1) ** 0.8
    weights = zipf[_rng(seed, 2**31).permutation(len(names))]
    product_cdf = np.cumsum(weights) / weights.sum()
    product_names, category_names = pa.array(names), pa.array(cats)
    channel_names = pa.array(list(_CHANNELS["en"]))
    store_names = pa.array([f"Store {i + 1:03d}" for i in range(n_stores)] + ["Online"])
    id_width = max(8, len(str(n_customers)))
    last = _last_microsecond(end)
    order_no = 0
    for block, first in enumerate(range(0, n_customers, BLOCK_CUSTOMERS)):
        n = min(BLOCK_CUSTOMERS, n_customers - first)
        rng = _rng(seed, block)
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
        ts = _microseconds(start, day, _seconds_of_day(rng, rows))

        # Returns: a later row giving back all or part of an earlier purchase.
        back = np.flatnonzero(rng.random(rows) < return_share / (1.0 - return_share))
        delay = (rng.exponential(6.0, len(back)) * _US_PER_DAY).astype(np.int64)
        part = np.where(rng.random(len(back)) < 0.7, 1.0, rng.uniform(0.2, 0.9, len(back)))
        ts = np.concatenate((ts, np.minimum(ts[back] + delay, last)))
        amount = np.concatenate((amount, -np.round(amount[back] * part, 2)))
        quantity = np.concatenate((quantity, -quantity[back]))
        order = np.argsort(ts, kind="stable")
        ts, amount, quantity = ts[order], amount[order], quantity[order]
        source = np.concatenate((np.arange(rows), back))[order]  # the purchase of each row
        customers = _fixed_width("C", np.arange(first + 1, first + n + 1), id_width)
        yield pa.RecordBatch.from_arrays(
            [
                customers.take(pa.array(owner[source])),
                _fixed_width("O", np.arange(order_no, order_no + len(ts)), 11),
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
    tmp = path.with_name(path.name + ".tmp")
    rows = 0
    batches = iter_transactions(
        n_customers, start=start, end=end, seed=seed, params=params, return_share=return_share
    )
    # Dictionary pages only pay for the low-cardinality columns; ids would fall back.
    low = ["product", "category", "channel", "store"]
    with pq.ParquetWriter(
        tmp, TRANSACTION_SCHEMA, compression=compression, use_dictionary=low
    ) as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    tmp.replace(path)
    return rows


# --------------------------------------------------------------------------------------
# The demo
# --------------------------------------------------------------------------------------

# Kinds of customer: share, mean purchase rate per day, gamma shape of the rate, beta
# (a, b) of the probability of leaving after each purchase, mean items per order, weight
# as a referrer.
_KINDS: Final = np.array(
    [
        [0.05, 0.2, 6.0, 1.0, 400.0, 2.2, 10.0],  # core regulars
        [0.25, 0.08, 2.0, 1.0, 40.0, 1.6, 3.0],  # regulars
        [0.35, 0.02, 2.0, 2.0, 10.0, 1.3, 1.0],  # occasional buyers
        [0.35, 0.0, 1.0, 1.0, 1.0, 1.3, 0.3],  # one-time buyers (never come back)
    ]
)
_ONE_TIME: Final = 3


def _festivals(start: _dt.date, end: _dt.date) -> dict[str, list[_dt.date]]:
    def dates(text: str) -> list[_dt.date]:
        return [_dt.date.fromisoformat(d) for d in text.split()]

    return {
        "new_year": dates(_CNY),
        "mid_autumn": dates(_MID_AUTUMN),
        "dragon_boat": dates(_DRAGON_BOAT),
        "christmas": [_dt.date(y, 12, 25) for y in range(start.year, end.year + 1)],
    }


def _seasonality(start: _dt.date, end: _dt.date) -> Floats:
    """Relative purchase rate of each day of ``[start, end]``, with mean 1.

    Busier weekends; bumps at Valentine's day, 618, Double 11, Christmas Eve and before
    Mid-Autumn, Dragon Boat and Chinese New Year (gifts); a dip in the first week of the
    New Year holiday, when people travel home.
    """
    day = np.arange(start.toordinal(), end.toordinal() + 1)
    mult = 1.0 + 0.15 * ((day + 6) % 7 >= 5)
    fests = _festivals(start, end)
    bumps = [
        (_dt.date(y, m, d), h, w)
        for y in range(start.year - 1, end.year + 2)
        for m, d, h, w in ((2, 14, 0.3, 1.5), (6, 18, 0.25, 3), (11, 11, 0.4, 3), (12, 24, 0.35, 4))
    ]
    for d in fests["new_year"]:
        bumps += [(d - _dt.timedelta(days=10), 0.3, 6), (d + _dt.timedelta(days=3), -0.4, 3)]
    bumps += [(d - _dt.timedelta(days=5), 0.35, 5) for d in fests["mid_autumn"]]
    bumps += [(d - _dt.timedelta(days=3), 0.15, 3) for d in fests["dragon_boat"]]
    for centre, height, width in bumps:
        mult += height * np.exp(-0.5 * ((day - centre.toordinal()) / width) ** 2)
    mult = np.maximum(mult, 0.3)
    return mult / mult.mean()


class _Catalogue:
    """Everyday products, launches and gift boxes, and the draw of a product per row."""

    def __init__(self, labels: Labels, start: _dt.date, end: _dt.date) -> None:
        days = (end - start).days + 1
        names, cats, prices, index = _everyday(labels)
        n_everyday = len(names)
        launch = [-1] * n_everyday
        for zh, en, price, cat, share in _entries(_LAUNCHES):
            for size_zh, size_en, extra in _entries(_LAUNCH_SIZES):
                names.append(size_zh + zh if labels == "zh" else f"{size_en} {en}")
                cats.append(_label(_CATALOGUE[int(cat)][0], labels))
                prices.append(float(price) + float(extra))
                index.append(int(cat))
                launch.append(int(float(share) * days))
        # Gift boxes are on sale in the three (Christmas: four) weeks before the festival.
        self.gift_season = np.full(days, -1, dtype=np.int64)
        self.gifts: list[Ints] = []
        for k, (festival, boxes) in enumerate(_GIFTS.items()):
            first = len(names)
            for zh, en, price in _entries(boxes):
                names.append(zh if labels == "zh" else en)
                cats.append(_label(_GIFT_CATEGORY, labels))
                prices.append(float(price))
                index.append(len(_CATALOGUE))
                launch.append(-1)
            self.gifts.append(np.arange(first, len(names), dtype=np.int64))
            for d in _festivals(start, end)[festival]:
                hi = (d - start).days
                lo = max(hi - (24 if festival == "christmas" else 21), 0)
                self.gift_season[lo : max(min(hi + 1, days), 0)] = k
        self.names, self.categories, self.prices = names, cats, np.array(prices)
        self.launch = np.array(launch, dtype=np.int64)
        category = np.array(index)
        weights = np.array([c[1] for c in _CATALOGUE])
        self.category_cdf = np.cumsum(weights) / weights.sum()
        # Zipf popularity in a fixed shuffled order; launched drinks sell well.
        zipf = 1.0 / np.arange(1, n_everyday + 1) ** 0.7
        popularity = np.concatenate(
            (zipf[_rng(20240101).permutation(n_everyday)], np.full(len(names) - n_everyday, 0.5))
        )
        # Per category: members (everyday first, then launches by date), cumulative
        # popularity and the sorted launch days.
        self.per_category: list[tuple[Ints, Floats, Ints]] = []
        for c in range(len(_CATALOGUE)):
            members = np.flatnonzero(category == c)
            members = members[np.argsort(self.launch[members], kind="stable")]
            launches = self.launch[members]
            self.per_category.append(
                (members, np.cumsum(popularity[members]), launches[launches >= 0])
            )
        launched = np.flatnonzero(self.launch >= 0)
        self.launched = launched[np.argsort(self.launch[launched], kind="stable")]

    def draw(self, rng: np.random.Generator, day: Ints, favourite: Ints, novelty: Floats) -> Ints:
        """One product per row: in a gift season sometimes a gift box; for the curious
        often a drink launched in the last 60 days; else a product of the favourite (half
        the time) or a popular category, among those launched by that day."""
        n = len(day)
        u_gift, u_new, u_pick, u_cat, u_prod = (rng.random(n) for _ in range(5))
        category = np.where(
            u_cat < 0.5,
            favourite,
            np.searchsorted(self.category_cdf, 2.0 * u_cat - 1.0, side="right"),
        )
        category = np.minimum(category, len(self.per_category) - 1)
        product = np.empty(n, dtype=np.int64)
        for c, (members, cum, launches) in enumerate(self.per_category):
            rows = np.flatnonzero(category == c)
            launched = np.searchsorted(launches, day[rows], side="right")
            available = len(members) - len(launches) + launched
            pick = np.searchsorted(cum, u_prod[rows] * cum[available - 1], side="right")
            product[rows] = members[np.minimum(pick, available - 1)]
        launch_days = self.launch[self.launched]
        lo = np.searchsorted(launch_days, day - 60, side="left")
        hi = np.searchsorted(launch_days, day, side="right")
        new = (hi > lo) & (u_new < np.minimum(0.9, 2.0 * novelty))
        pick = np.minimum(lo + (u_pick * (hi - lo)).astype(np.int64), len(self.launched) - 1)
        product[new] = self.launched[pick[new]]
        season = self.gift_season[day]
        for k, boxes in enumerate(self.gifts):
            rows = np.flatnonzero((season == k) & (u_gift < 0.12))
            product[rows] = boxes[(u_pick[rows] * len(boxes)).astype(np.int64) % len(boxes)]
        return product


def _names(rng: np.random.Generator, n: int) -> list[str]:
    """About 30 % Chinese names (姓名, surnames by frequency), the rest English ones."""
    chinese = rng.random(n) < 0.3
    weights = 1.0 / np.arange(1, len(_SURNAMES) + 1) ** 0.9
    surname = rng.choice(len(_SURNAMES), n, p=weights / weights.sum()).tolist()
    given = rng.integers(0, len(_GIVEN), n).tolist()
    first = rng.integers(0, len(_FIRST_EN), n).tolist()
    last = rng.integers(0, len(_LAST_EN), n).tolist()
    return [
        _SURNAMES[surname[i]] + _GIVEN[given[i]]
        if chinese[i]
        else f"{_FIRST_EN[first[i]]} {_LAST_EN[last[i]]}"
        for i in range(n)
    ]


def _member_numbers(rng: np.random.Generator, first: Floats) -> Ints:
    """Member numbers issued in the order members joined, with a few numbers skipped."""
    numbers = np.empty(len(first), dtype=np.int64)
    numbers[np.argsort(first, kind="stable")] = 1000 + np.cumsum(1 + rng.poisson(0.4, len(first)))
    return numbers


def _referrers(rng: np.random.Generator, first: Floats, weight: Floats) -> Ints:
    """Each member's referrer (an earlier member, chosen by ``weight``), or -1."""
    n = len(first)
    joined = np.argsort(first, kind="stable")
    cum = np.cumsum(weight[joined])
    position = np.empty(n, dtype=np.int64)
    position[joined] = np.arange(n)
    u = rng.random(n)
    referred = np.flatnonzero((rng.random(n) < 0.1) & (position >= max(1, n // 20)))
    referrer = np.full(n, -1, dtype=np.int64)
    pick = np.searchsorted(cum, u[referred] * cum[position[referred] - 1], side="right")
    referrer[referred] = joined[np.minimum(pick, position[referred] - 1)]
    return referrer


def _order_ids(ts: Ints, refund: Bools, repeat_of: Ints) -> pa.StringArray:
    """``SO`` (sale) or ``RF`` (refund) + ``yyyymmdd`` + the row's number that day.

    Rows are in time order; a row whose ``repeat_of`` is not -1 copies that row's id.
    """
    fresh = repeat_of < 0
    day = ts // _US_PER_DAY
    _, rank = _segments(np.unique(day[fresh], return_counts=True)[1])
    days = np.unique(day)
    ymd = np.array([int(f"{_EPOCH + _dt.timedelta(days=int(d)):%Y%m%d}") for d in days])
    number = np.zeros(len(ts), dtype=np.int64)
    number[fresh] = ymd[np.searchsorted(days, day[fresh])] * 100_000 + rank + 1
    number[~fresh] = number[repeat_of[~fresh]]
    refund = refund.copy()
    refund[~fresh] = refund[repeat_of[~fresh]]
    sales = _fixed_width("SO", number, 13)
    return pc.if_else(pa.array(refund), _fixed_width("RF", number, 13), sales)


def generate_demo(
    *,
    n_customers: int = 20_000,
    seed: int = 7,
    start: _dt.date = DEFAULT_START,
    end: _dt.date = DEFAULT_END,
    labels: Labels = "zh",
    bad_rows: bool = True,
) -> pa.Table:
    """A coffee-and-bakery chain's member transactions, with a few deliberately bad rows.

    With the defaults: about 300,000 rows from 20,000 members over 2022-2024.

    * **Customers who differ.** 5 % are core regulars (about two visits a week, bigger
      baskets, rarely lost) who bring most of the revenue; 20 % are regulars, 35 %
      occasional buyers and 40 % buy once. Purchase rates vary within each kind (gamma);
      after each purchase a customer may leave for good (beta-geometric, as in BG/NBD);
      first purchases are staggered (a quarter join in the programme's first 90 days);
      each customer has a habitual hour, a favourite category, a home store and channel.
    * **Seasons.** Busier weekends; peaks at Valentine's day, 618, Double 11, Christmas
      and before Chinese New Year, Dragon Boat and Mid-Autumn (gift boxes sell only in
      the weeks before their festival); a dip in the New Year holiday.
    * **Products.** About 200 products in 8 categories; 24 drinks launch during the
      period, and customers with a taste for novelty buy them first.
    * **Referrals.** About 10 % of the members were referred by an earlier member, most
      often a core regular (``referred_by`` holds the referrer's member id).
    * **Refunds.** About 1 % of the rows are refunds (negative ``amount`` and
      ``quantity``, order id ``RF…``).
    * **Bad rows** (``bad_rows=True``): about 0.1 % extra rows, each with one fault named
      in ``quality_issue`` (:data:`QUALITY_ISSUES`): a walk-in sale without member id or
      name; a sale whose date or amount is unreadable (null here;
      :func:`write_demo_csv` writes unreadable text); a repeated export of an earlier
      row (same order id, right after it).

    Parameters
    ----------
    n_customers
        Members to simulate.
    seed
        Random seed; the same arguments always give the same table.
    start, end
        First and last day (inclusive).
    labels
        Language of product, category, channel and store names: ``"zh"`` (门店, 线上,
        小程序) or ``"en"`` (store, online, app). People's names are mixed either way.
    bad_rows
        Whether to add the deliberately bad rows.

    Returns
    -------
    pyarrow.Table
        :data:`DEMO_COLUMNS` in time order: ``customer_id`` (member id ``M0001234``),
        ``customer_name``, ``order_id`` (``SO2024030500012``), ``timestamp``, ``amount``,
        ``quantity`` (float64), ``product``, ``category``, ``channel``, ``store``,
        ``referred_by`` and ``quality_issue`` (null on good rows).

    Examples
    --------
    >>> demo = generate_demo(n_customers=500, seed=1)
    >>> demo.column_names[:3]
    ['customer_id', 'customer_name', 'order_id']
    >>> sorted(demo["quality_issue"].unique().drop_null().to_pylist())
    ['duplicate_order_id', 'missing_customer_id', 'non_numeric_amount', 'unparseable_date']
    """
    n = _check_count(n_customers)
    days = _check_period(start, end)
    if labels not in ("zh", "en"):
        raise ConfigError(f"labels must be 'zh' or 'en', got {labels!r}")
    rng = _rng(seed, 0)
    catalogue = _Catalogue(labels, start, end)

    # Customers.
    kind = rng.choice(len(_KINDS), n, p=_KINDS[:, 0])
    spec = _KINDS[kind]
    early = rng.random(n) < 0.25
    first = np.where(early, rng.uniform(0, min(90, days), n), rng.uniform(0, days, n))
    rate = rng.gamma(spec[:, 2]) * spec[:, 1] / spec[:, 2]
    stays = rng.geometric(np.clip(rng.beta(spec[:, 3], spec[:, 4]), 1e-9, 1.0)) - 1
    stays[kind == _ONE_TIME] = 0
    basket = 1.0 + rng.gamma(2.0, 1.0, n) * (spec[:, 5] - 1.0) / 2.0
    novelty = rng.beta(0.6, 5.0, n)
    favourite = np.searchsorted(catalogue.category_cdf, rng.random(n), side="right")
    habit = _seconds_of_day(rng, n) // 3600
    home_channel = np.searchsorted([0.5, 0.7], rng.random(n), side="right")
    home_store = rng.integers(0, len(_STORES_ZH), n)

    # Purchases: a Poisson process thinned by the season, cut at the dropout.
    season = _seasonality(start, end)
    top = float(season.max())
    horizon = days - first
    owner, _ = _segments(rng.poisson(rate * top * horizon))
    t = np.sort(owner + rng.random(len(owner)))  # sorted within each customer
    t = first[owner] + horizon[owner] * (t - owner)
    keep = rng.random(len(t)) * top < season[np.minimum(t.astype(np.int64), days - 1)]
    owner, t = owner[keep], t[keep]
    _, rank = _segments(np.bincount(owner, minlength=n))
    keep = rank < stays[owner]
    owner = np.concatenate((np.arange(n), owner[keep]))
    day = np.minimum(np.concatenate((first, t[keep])).astype(np.int64), days - 1)
    rows = len(owner)

    hour = np.clip(habit[owner] + np.round(rng.normal(0.0, 0.8, rows)).astype(np.int64), 6, 22)
    seconds = np.where(
        rng.random(rows) < 0.6,
        hour * 3600 + rng.integers(0, 3600, rows),
        _seconds_of_day(rng, rows),
    )
    ts = _microseconds(start, day, seconds)
    channel = np.where(
        rng.random(rows) < 0.75,
        home_channel[owner],
        np.searchsorted([0.5, 0.7], rng.random(rows), side="right"),
    )
    store = np.where(rng.random(rows) < 0.85, home_store[owner], rng.integers(0, 12, rows))
    store = np.where(channel == 1, len(_STORES_ZH), store)
    product = catalogue.draw(rng, day, favourite[owner], novelty[owner])
    quantity = 1.0 + rng.poisson(basket[owner] - 1.0)
    discount = np.array([1.0, 0.9, 0.8])[np.searchsorted([0.85, 0.95], rng.random(rows))]
    amount = np.round(catalogue.prices[product] * quantity * discount, 2)

    # Refunds: about 1 % of the sales come back within three days.
    back = np.flatnonzero(rng.random(rows) < 0.01)
    delay = rng.integers(600, 3 * 86_400, len(back)) * 1_000_000
    source = np.concatenate((np.arange(rows), back))
    ts = np.concatenate((ts, np.minimum(ts[back] + delay, _last_microsecond(end))))
    refund = np.arange(len(source)) >= rows
    issue = np.full(len(source), -1, dtype=np.int64)

    # Bad rows: copies of random sales, each with one fault; a repeat keeps its time.
    if bad_rows and rows:
        n_each = max(1, round(0.001 * len(source) / len(QUALITY_ISSUES)))
        template = rng.choice(rows, min(rows, n_each * len(QUALITY_ISSUES)), replace=False)
        kinds = np.arange(len(template)) % len(QUALITY_ISSUES)
        jitter = np.where(kinds == 3, 0, rng.integers(60, 3600, len(template)) * 1_000_000)
        source = np.concatenate((source, template))
        ts = np.concatenate((ts, np.minimum(ts[template] + jitter, _last_microsecond(end))))
        refund = np.concatenate((refund, np.zeros(len(template), dtype=bool)))
        issue = np.concatenate((issue, kinds))

    order = np.argsort(ts, kind="stable")
    source, ts, refund, issue = source[order], ts[order], refund[order], issue[order]
    sale_at = np.zeros(rows, dtype=np.int64)
    clean_sale = np.flatnonzero((issue < 0) & ~refund)
    sale_at[source[clean_sale]] = clean_sale
    repeat_of = np.where(issue == 3, sale_at[source], -1)
    sign = np.where(refund, -1.0, 1.0)

    who = owner[source]
    walk_in = issue == 0
    members = _fixed_width("M", _member_numbers(rng, first), 7)
    referrer = _referrers(rng, first, _KINDS[kind, 6])[who]
    no_referrer = (referrer < 0) | walk_in
    channels = pa.array(list(_CHANNELS[labels]))
    stores = pa.array([*(_STORES_ZH if labels == "zh" else _STORES_EN), _ONLINE_STORE[labels]])
    return pa.table(
        {
            "customer_id": members.take(pa.array(who, mask=walk_in)),
            "customer_name": pa.array(_names(rng, n)).take(pa.array(who, mask=walk_in)),
            "order_id": _order_ids(ts, refund, repeat_of),
            "timestamp": pa.array(ts, type=pa.timestamp("us"), mask=issue == 1),
            "amount": pa.array(sign * amount[source], mask=issue == 2),
            "quantity": pa.array(sign * quantity[source]),
            "product": pa.array(catalogue.names).take(pa.array(product[source])),
            "category": pa.array(catalogue.categories).take(pa.array(product[source])),
            "channel": channels.take(pa.array(channel[source])),
            "store": stores.take(pa.array(store[source])),
            "referred_by": members.take(pa.array(np.maximum(referrer, 0), mask=no_referrer)),
            "quality_issue": pa.array(QUALITY_ISSUES).take(pa.array(issue, mask=issue < 0)),
        }
    )


def write_demo_csv(
    path: str | Path,
    *,
    n_customers: int = 20_000,
    seed: int = 7,
    start: _dt.date = DEFAULT_START,
    end: _dt.date = DEFAULT_END,
    labels: Labels = "zh",
) -> int:
    """Write :func:`generate_demo` as a Chinese point-of-sale export looks.

    UTF-8 with a byte-order mark (what Excel in Chinese writes and expects), CRLF line
    ends, the Chinese headers of :data:`DEMO_CSV_HEADERS` (会员号, 姓名, 订单号, 下单时间,
    实付金额, 数量, 商品, 品类, 渠道, 门店, 推荐人) and mixed formats: most times as
    ``2024-03-05 14:22:10``, some dates as ``2024/3/5`` or ``2024年3月5日``; most amounts
    as ``1234.50``, some as ``¥1,234.50``. Bad rows carry an empty member id or
    unreadable text (``2023-02-30 10:00:00``, ``待补录``, ``#VALUE!``...).

    Parameters
    ----------
    path
        The file to write (replaced if it exists; written whole or not at all).
    n_customers, seed, start, end, labels
        As for :func:`generate_demo`.

    Returns
    -------
    int
        Data rows written (without the header).

    Examples
    --------
    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = pathlib.Path(tmp) / "demo.csv"
    ...     rows = write_demo_csv(out, n_customers=200, seed=1)
    ...     text = out.read_text(encoding="utf-8-sig")
    >>> text.splitlines()[0]
    '会员号,姓名,订单号,下单时间,实付金额,数量,商品,品类,渠道,门店,推荐人'
    """
    table = generate_demo(n_customers=n_customers, seed=seed, start=start, end=end, labels=labels)
    rng = _rng(seed, 1)
    n = table.num_rows
    ts = table["timestamp"].cast(pa.timestamp("s"))
    year, month, day = (pc.cast(f(ts), pa.string()) for f in (pc.year, pc.month, pc.day))
    forms = [
        pc.strftime(ts, format="%Y-%m-%d %H:%M:%S"),
        pc.binary_join_element_wise(year, month, day, "/"),
        pc.binary_join_element_wise(year, "年", month, "月", day, "日", ""),
    ]
    form = np.searchsorted([0.85, 0.95], rng.random(n), side="right")
    fancy = (rng.random(n) < 0.2).tolist()
    bad = rng.integers(0, 5, n).tolist()
    texts = [f.to_numpy(zero_copy_only=False) for f in forms]
    times = np.choose(form, texts).tolist()
    amounts = table["amount"].to_pylist()
    bad_dates = ("2023-02-30 10:00:00", "待补录", "N/A", "0000-00-00 00:00:00", "2024-13-05")
    bad_amounts = ("#VALUE!", "待定", "N/A", "—", "abc")
    columns = {
        name: table[name].to_pylist()
        for name in DEMO_CSV_HEADERS
        if name not in ("timestamp", "amount")
    }
    columns["timestamp"] = [
        bad_dates[k] if t is None else t for t, k in zip(times, bad, strict=True)
    ]
    columns["amount"] = [
        bad_amounts[k] if a is None else _money(a, f)
        for a, f, k in zip(amounts, fancy, bad, strict=True)
    ]
    columns["quantity"] = [f"{q:.0f}" for q in columns["quantity"]]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(DEMO_CSV_HEADERS.values())
    writer.writerows(
        zip(
            *(["" if v is None else v for v in columns[name]] for name in DEMO_CSV_HEADERS),
            strict=True,
        )
    )
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    tmp.replace(path)
    return n


def _money(value: float, fancy: bool) -> str:
    if not fancy:
        return f"{value:.2f}"
    return f"-¥{-value:,.2f}" if value < 0 else f"¥{value:,.2f}"
