"""Pieces shared by the BTYD simulator and the demo (:mod:`~corecustomers.data.simulator`,
:mod:`~corecustomers.data.demo`): argument checks, random streams, times of day,
fixed-width ids and the everyday catalogue of a coffee-and-bakery chain.

Private to :mod:`corecustomers.data`; the names are public so that the two generators
import no ``_private`` names of each other.
"""

from __future__ import annotations

import datetime as _dt
from typing import Final, Literal

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from corecustomers.errors import ConfigError

__all__ = [
    "CATALOGUE",
    "CHANNELS",
    "DEFAULT_END",
    "DEFAULT_START",
    "EPOCH",
    "US_PER_DAY",
    "Bools",
    "Floats",
    "Ints",
    "Labels",
    "check_count",
    "check_period",
    "entries",
    "everyday",
    "fixed_width",
    "label",
    "last_microsecond",
    "microseconds",
    "random_stream",
    "seconds_of_day",
    "segments",
]

Ints = NDArray[np.int64]
Floats = NDArray[np.float64]
Bools = NDArray[np.bool_]
Labels = Literal["zh", "en"]

DEFAULT_START: Final = _dt.date(2022, 1, 1)
DEFAULT_END: Final = _dt.date(2024, 12, 31)

US_PER_DAY: Final = 86_400_000_000
EPOCH: Final = _dt.date(1970, 1, 1)

# Share of purchases per hour of the day (a cafe: breakfast, lunch, afternoon tea, dinner).
_HOURLY: Final = np.array(
    [0, 0, 0, 0, 0, 0, 1, 5, 10, 10, 7, 7, 11, 10, 8, 9, 7, 6, 5, 4, 3, 2, 1, 0], dtype=float
)


# --------------------------------------------------------------------------------------
# The catalogue: (category zh, category en, weight), items (zh, en, price), variants.
# --------------------------------------------------------------------------------------

# Category "zh/en", weight, items "zh/en/price|...", variants "zh/en/extra|..." and
# whether the variant follows the item name (coffee beans) rather than preceding it.
CATALOGUE: Final = (
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

CHANNELS: Final = {"zh": ("门店", "线上", "小程序"), "en": ("store", "online", "app")}


# --------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------


def check_period(start: _dt.date, end: _dt.date) -> int:
    """Days in ``[start, end]``; refuse datetimes and reversed periods."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, _dt.date) or isinstance(value, _dt.datetime):
            raise ConfigError(f"{name} must be a datetime.date, got {value!r}")
    if end < start:
        raise ConfigError(f"end ({end}) is before start ({start}); swap them")
    return (end - start).days + 1


def check_count(n_customers: int) -> int:
    if isinstance(n_customers, bool) or not isinstance(n_customers, int | np.integer):
        raise ConfigError(f"n_customers must be an integer, got {n_customers!r}")
    if n_customers < 0:
        raise ConfigError(f"n_customers must not be negative, got {n_customers}")
    return int(n_customers)


def random_stream(seed: int, *stream: int) -> np.random.Generator:
    """An independent random stream per (seed, stream...)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=stream))


def seconds_of_day(rng: np.random.Generator, n: int) -> Ints:
    """Seconds after midnight, drawn from the cafe's hourly profile."""
    cdf = np.cumsum(_HOURLY) / _HOURLY.sum()
    hour = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), 23)
    return hour * 3600 + rng.integers(0, 3600, n)


def microseconds(start: _dt.date, day: Ints, seconds: Ints) -> Ints:
    """Microseconds since 1970 of ``seconds`` after midnight on ``start + day``."""
    return ((start - EPOCH).days + day) * US_PER_DAY + seconds * 1_000_000


def last_microsecond(end: _dt.date) -> int:
    return ((end - EPOCH).days + 1) * US_PER_DAY - 1_000_000


def fixed_width(prefix: str, numbers: Ints, width: int) -> pa.StringArray:
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


def segments(counts: Ints) -> tuple[Ints, Ints]:
    """Owner of each element of consecutive groups of ``counts``, and its rank in the group."""
    owner = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(len(owner), dtype=np.int64) - np.repeat(starts, counts)


def entries(text: str) -> list[list[str]]:
    return [entry.split("/") for entry in text.split("|")]


def label(pair: str, labels: Labels) -> str:
    zh, en = pair.split("/")
    return zh if labels == "zh" else en


def everyday(labels: Labels) -> tuple[list[str], list[str], list[float], list[int]]:
    """The everyday catalogue: product names, category names, prices, category indices."""
    names: list[str] = []
    cats: list[str] = []
    prices: list[float] = []
    index: list[int] = []
    for c, (category, _, items, variants, suffix) in enumerate(CATALOGUE):
        for item_zh, item_en, price in entries(items):
            for var_zh, var_en, extra in entries(variants):
                if labels == "zh":
                    names.append(item_zh + var_zh if suffix else var_zh + item_zh)
                else:
                    names.append(f"{item_en} {var_en}" if suffix else f"{var_en} {item_en}")
                cats.append(label(category, labels))
                prices.append(float(price) + float(extra))
                index.append(c)
    return [n.strip() for n in names], cats, prices, index
