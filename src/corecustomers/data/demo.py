"""A realistic bilingual demo: a coffee-and-bakery chain's member transactions.

NumPy + Arrow (no pandas); identical for identical arguments. The BTYD simulator for
tests of the models and benchmarks at any size is :mod:`corecustomers.data.simulator`.

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
>>> from corecustomers.data.demo import generate_demo
>>> generate_demo(n_customers=200, seed=1).equals(generate_demo(n_customers=200, seed=1))
True
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corecustomers.data._sampling import (
    CATALOGUE,
    CHANNELS,
    DEFAULT_END,
    DEFAULT_START,
    EPOCH,
    US_PER_DAY,
    Bools,
    Floats,
    Ints,
    Labels,
    check_count,
    check_period,
    entries,
    everyday,
    fixed_width,
    label,
    last_microsecond,
    microseconds,
    random_stream,
    seconds_of_day,
    segments,
)
from corecustomers.data.atomic import replacing
from corecustomers.errors import ConfigError

__all__ = [
    "DEMO_COLUMNS",
    "DEMO_CSV_HEADERS",
    "QUALITY_ISSUES",
    "generate_demo",
    "write_demo_csv",
]

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
        names, cats, prices, index = everyday(labels)
        n_everyday = len(names)
        launch = [-1] * n_everyday
        for zh, en, price, cat, share in entries(_LAUNCHES):
            for size_zh, size_en, extra in entries(_LAUNCH_SIZES):
                names.append(size_zh + zh if labels == "zh" else f"{size_en} {en}")
                cats.append(label(CATALOGUE[int(cat)][0], labels))
                prices.append(float(price) + float(extra))
                index.append(int(cat))
                launch.append(int(float(share) * days))
        # Gift boxes are on sale in the three (Christmas: four) weeks before the festival.
        self.gift_season = np.full(days, -1, dtype=np.int64)
        self.gifts: list[Ints] = []
        for k, (festival, boxes) in enumerate(_GIFTS.items()):
            first = len(names)
            for zh, en, price in entries(boxes):
                names.append(zh if labels == "zh" else en)
                cats.append(label(_GIFT_CATEGORY, labels))
                prices.append(float(price))
                index.append(len(CATALOGUE))
                launch.append(-1)
            self.gifts.append(np.arange(first, len(names), dtype=np.int64))
            for d in _festivals(start, end)[festival]:
                hi = (d - start).days
                lo = max(hi - (24 if festival == "christmas" else 21), 0)
                self.gift_season[lo : max(min(hi + 1, days), 0)] = k
        self.names, self.categories, self.prices = names, cats, np.array(prices)
        self.launch = np.array(launch, dtype=np.int64)
        category = np.array(index)
        weights = np.array([c[1] for c in CATALOGUE])
        self.category_cdf = np.cumsum(weights) / weights.sum()
        # Zipf popularity in a fixed shuffled order; launched drinks sell well.
        zipf = 1.0 / np.arange(1, n_everyday + 1) ** 0.7
        popularity = np.concatenate(
            (
                zipf[random_stream(20240101).permutation(n_everyday)],
                np.full(len(names) - n_everyday, 0.5),
            )
        )
        # Per category: members (everyday first, then launches by date), cumulative
        # popularity and the sorted launch days.
        self.per_category: list[tuple[Ints, Floats, Ints]] = []
        for c in range(len(CATALOGUE)):
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
    day = ts // US_PER_DAY
    _, rank = segments(np.unique(day[fresh], return_counts=True)[1])
    days = np.unique(day)
    ymd = np.array([int(f"{EPOCH + _dt.timedelta(days=int(d)):%Y%m%d}") for d in days])
    number = np.zeros(len(ts), dtype=np.int64)
    number[fresh] = ymd[np.searchsorted(days, day[fresh])] * 100_000 + rank + 1
    number[~fresh] = number[repeat_of[~fresh]]
    refund = refund.copy()
    refund[~fresh] = refund[repeat_of[~fresh]]
    sales = fixed_width("SO", number, 13)
    return pc.if_else(pa.array(refund), fixed_width("RF", number, 13), sales)


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
    n = check_count(n_customers)
    days = check_period(start, end)
    if labels not in ("zh", "en"):
        raise ConfigError(f"labels must be 'zh' or 'en', got {labels!r}")
    rng = random_stream(seed, 0)
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
    habit = seconds_of_day(rng, n) // 3600
    home_channel = np.searchsorted([0.5, 0.7], rng.random(n), side="right")
    home_store = rng.integers(0, len(_STORES_ZH), n)

    # Purchases: a Poisson process thinned by the season, cut at the dropout.
    season = _seasonality(start, end)
    top = float(season.max())
    horizon = days - first
    owner, _ = segments(rng.poisson(rate * top * horizon))
    t = np.sort(owner + rng.random(len(owner)))  # sorted within each customer
    t = first[owner] + horizon[owner] * (t - owner)
    keep = rng.random(len(t)) * top < season[np.minimum(t.astype(np.int64), days - 1)]
    owner, t = owner[keep], t[keep]
    _, rank = segments(np.bincount(owner, minlength=n))
    keep = rank < stays[owner]
    owner = np.concatenate((np.arange(n), owner[keep]))
    day = np.minimum(np.concatenate((first, t[keep])).astype(np.int64), days - 1)
    rows = len(owner)

    hour = np.clip(habit[owner] + np.round(rng.normal(0.0, 0.8, rows)).astype(np.int64), 6, 22)
    seconds = np.where(
        rng.random(rows) < 0.6,
        hour * 3600 + rng.integers(0, 3600, rows),
        seconds_of_day(rng, rows),
    )
    ts = microseconds(start, day, seconds)
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
    ts = np.concatenate((ts, np.minimum(ts[back] + delay, last_microsecond(end))))
    refund = np.arange(len(source)) >= rows
    issue = np.full(len(source), -1, dtype=np.int64)

    # Bad rows: copies of random sales, each with one fault; a repeat keeps its time.
    if bad_rows and rows:
        n_each = max(1, round(0.001 * len(source) / len(QUALITY_ISSUES)))
        template = rng.choice(rows, min(rows, n_each * len(QUALITY_ISSUES)), replace=False)
        kinds = np.arange(len(template)) % len(QUALITY_ISSUES)
        jitter = np.where(kinds == 3, 0, rng.integers(60, 3600, len(template)) * 1_000_000)
        source = np.concatenate((source, template))
        ts = np.concatenate((ts, np.minimum(ts[template] + jitter, last_microsecond(end))))
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
    members = fixed_width("M", _member_numbers(rng, first), 7)
    referrer = _referrers(rng, first, _KINDS[kind, 6])[who]
    no_referrer = (referrer < 0) | walk_in
    channels = pa.array(list(CHANNELS[labels]))
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
    rng = random_stream(seed, 1)
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
    with replacing(path, prefix=f".{path.name}.", mode=0o644) as tmp:
        tmp.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    return n


def _money(value: float, fancy: bool) -> str:
    if not fancy:
        return f"{value:.2f}"
    return f"-¥{-value:,.2f}" if value < 0 else f"¥{value:,.2f}"
