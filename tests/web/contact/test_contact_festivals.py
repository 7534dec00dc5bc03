"""Care days: 春节 and 中秋 for 2024–2035 (and the other lunar festivals) match a second,
independent lunar calendar (``lunardate``'s tables); Western holidays by their rules."""

from __future__ import annotations

import datetime as dt

import lunardate
import pytest

from corecustomers.web.contact.festivals import festival_dates, occasions_between

LUNAR = {
    "spring_festival": (1, 1),
    "lantern": (1, 15),
    "dragon_boat": (5, 5),
    "qixi": (7, 7),
    "mid_autumn": (8, 15),
    "double_ninth": (9, 9),
}


@pytest.mark.parametrize("year", range(2024, 2036))
def test_lunar_festivals_match_an_independent_lunar_calendar(year: int) -> None:
    ours = festival_dates(year)
    for code, (month, day) in LUNAR.items():
        assert ours[code] == lunardate.LunarDate(year, month, day).to_solar_date(), (year, code)


def test_known_dates_and_western_rules() -> None:
    # published dates: 春节 2024-02-10, 2025-01-29, 2026-02-17; 中秋 2024-09-17, 2026-09-25
    assert festival_dates(2024)["spring_festival"] == dt.date(2024, 2, 10)
    assert festival_dates(2026)["spring_festival"] == dt.date(2026, 2, 17)
    assert festival_dates(2024)["mid_autumn"] == dt.date(2024, 9, 17)
    assert festival_dates(2026)["mid_autumn"] == dt.date(2026, 9, 25)
    d = festival_dates(2026)
    assert d["mothers_day"] == dt.date(2026, 5, 10)  # the second Sunday of May
    assert d["thanksgiving"] == dt.date(2026, 11, 26)  # the fourth Thursday of November
    assert d["christmas"] == dt.date(2026, 12, 25)
    # far years work too (computed, not tabulated)
    assert festival_dates(2100)["spring_festival"].year == 2100


def test_occasions_between_spans_a_new_year() -> None:
    found = occasions_between(dt.date(2026, 12, 20), dt.date(2027, 1, 5), {"christmas", "new_year"})
    assert found == [("christmas", dt.date(2026, 12, 25)), ("new_year", dt.date(2027, 1, 1))]
