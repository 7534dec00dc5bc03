"""Care days: the dates of Chinese lunar festivals and Western holidays for any year.

Lunar festivals fall on a day of the Chinese lunar calendar; their Gregorian dates come
from the maintained ``lunar-python`` package (6tail's 寿星万年历 algorithm, computed rather
than tabulated, so any year works). Western holidays are fixed days or "the n-th weekday
of a month".

Examples
--------
>>> festival_dates(2025)["spring_festival"]
datetime.date(2025, 1, 29)
>>> festival_dates(2025)["mid_autumn"]
datetime.date(2025, 10, 6)
>>> festival_dates(2025)["mothers_day"]
datetime.date(2025, 5, 11)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["OCCASIONS", "Occasion", "festival_dates", "occasions_between"]


@dataclass(frozen=True)
class Occasion:
    code: str
    name_en: str
    name_zh: str
    #: ``lunar`` (month, day of the lunar year), ``fixed`` (month, day), ``nth`` (month,
    #: weekday 0=Monday, n-th), or ``birthday`` (the customer's own day).
    rule: str
    args: tuple[int, ...] = ()


OCCASIONS: dict[str, Occasion] = {
    o.code: o
    for o in (
        Occasion("birthday", "Birthday", "生日", "birthday"),
        Occasion("spring_festival", "Spring Festival", "春节", "lunar", (1, 1)),
        Occasion("lantern", "Lantern Festival", "元宵节", "lunar", (1, 15)),
        Occasion("dragon_boat", "Dragon Boat Festival", "端午节", "lunar", (5, 5)),
        Occasion("qixi", "Qixi Festival", "七夕", "lunar", (7, 7)),
        Occasion("mid_autumn", "Mid-Autumn Festival", "中秋节", "lunar", (8, 15)),
        Occasion("double_ninth", "Double Ninth Festival", "重阳节", "lunar", (9, 9)),
        Occasion("new_year", "New Year's Day", "元旦", "fixed", (1, 1)),
        Occasion("valentines", "Valentine's Day", "情人节", "fixed", (2, 14)),
        Occasion("womens_day", "International Women's Day", "妇女节", "fixed", (3, 8)),
        Occasion("mothers_day", "Mother's Day", "母亲节", "nth", (5, 6, 2)),
        Occasion("fathers_day", "Father's Day", "父亲节", "nth", (6, 6, 3)),
        Occasion("national_day", "National Day", "国庆节", "fixed", (10, 1)),
        Occasion("thanksgiving", "Thanksgiving", "感恩节", "nth", (11, 3, 4)),
        Occasion("christmas", "Christmas", "圣诞节", "fixed", (12, 25)),
    )
}


def _lunar(year: int, month: int, day: int) -> dt.date:
    from lunar_python import Lunar

    solar = Lunar.fromYmd(year, month, day).getSolar()
    return dt.date(solar.getYear(), solar.getMonth(), solar.getDay())


def _nth(year: int, month: int, weekday: int, n: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


@lru_cache(maxsize=256)
def festival_dates(year: int) -> dict[str, dt.date]:
    """The Gregorian date of every festival of the lunar or Gregorian ``year``.

    A lunar festival of lunar year ``year`` (春节 of 2025 is 29 January 2025); all fall in
    the Gregorian year of the same number, as every festival here comes after 春节.
    """
    found: dict[str, dt.date] = {}
    for occasion in OCCASIONS.values():
        if occasion.rule == "lunar":
            found[occasion.code] = _lunar(year, *occasion.args)
        elif occasion.rule == "fixed":
            found[occasion.code] = dt.date(year, *occasion.args)
        elif occasion.rule == "nth":
            found[occasion.code] = _nth(year, *occasion.args)
    return found


def occasions_between(
    start: dt.date, end: dt.date, codes: set[str] | None = None
) -> list[tuple[str, dt.date]]:
    """The festivals (not birthdays) from ``start`` to ``end`` inclusive, by date."""
    found = []
    for year in range(start.year, end.year + 1):
        for code, day in festival_dates(year).items():
            if start <= day <= end and (codes is None or code in codes):
                found.append((code, day))
    return sorted(found, key=lambda pair: (pair[1], pair[0]))
