"""The units every layer shares: time units and their lengths in days, and languages.

This module sits at the bottom, outside the layers of ``[tool.importlinter]`` (like
:mod:`corecustomers.errors`): it imports nothing from the package but the errors, so
``config``, ``data``, ``models``, ``segments``, ``insights``, ``service`` and the
shells can all import it. (``corecustomers.data`` could not hold it: ``models`` and
``data`` are independent siblings of the bottom layer.)

The BTYD literature measures recency, age and holdout length in a chosen time unit. The
day counts are exact integers (differences between calendar days); the unit only divides
them, so nothing is rounded. A month is the mean Gregorian month, ``365.25 / 12 =
30.4375`` days, so twelve months are one mean year.

Examples
--------
>>> days_per("month") * 12 == DAYS_IN_MEAN_YEAR
True
>>> TIME_UNITS, LANGS
(('day', 'week', 'month'), ('en', 'zh'))
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, get_args

from corecustomers.errors import ConfigError

__all__ = [
    "DAYS_IN_MEAN_MONTH",
    "DAYS_IN_MEAN_YEAR",
    "DAYS_IN_WEEK",
    "DAYS_PER_UNIT",
    "LANGS",
    "TIME_UNITS",
    "Lang",
    "Period",
    "TimeUnit",
    "check_dates",
    "check_period",
    "days_per",
]

TimeUnit = Literal["day", "week", "month"]
"""The unit in which ``recency``, ``T`` and ``duration_holdout`` are expressed."""

TIME_UNITS: Final[tuple[TimeUnit, ...]] = get_args(TimeUnit)
"""Every :data:`TimeUnit`, in order of length."""

Lang = Literal["en", "zh"]
"""The languages of the report, the labels and the reasons."""

LANGS: Final[tuple[Lang, ...]] = get_args(Lang)
"""Every :data:`Lang`."""

Period = Literal["day"]
"""The purchase period: purchases are counted at most once per period."""

DAYS_IN_WEEK: Final = 7.0
DAYS_IN_MEAN_YEAR: Final = 365.25
"""The mean Gregorian year in days."""
DAYS_IN_MEAN_MONTH: Final = DAYS_IN_MEAN_YEAR / 12
"""The mean Gregorian month in days: 30.4375."""

DAYS_PER_UNIT: Final[Mapping[str, float]] = MappingProxyType(
    {"day": 1.0, "week": DAYS_IN_WEEK, "month": DAYS_IN_MEAN_MONTH}
)
"""Length of each :data:`TimeUnit` in days."""


def days_per(time_unit: str) -> float:
    """Return the length of ``time_unit`` in days.

    Parameters
    ----------
    time_unit
        One of ``"day"``, ``"week"``, ``"month"``.

    Returns
    -------
    float
        1, 7 or 30.4375.

    Raises
    ------
    ConfigError
        If ``time_unit`` is not one of the supported units.

    Examples
    --------
    >>> days_per("week")
    7.0
    """
    try:
        return DAYS_PER_UNIT[time_unit]
    except KeyError:
        choices = ", ".join(repr(u) for u in TIME_UNITS)
        raise ConfigError(
            f"time_unit must be one of {choices}, got {time_unit!r}; set it to one of them."
        ) from None


def check_period(period: str) -> None:
    """Reject purchase periods other than the calendar day.

    Parameters
    ----------
    period
        The requested purchase period.

    Raises
    ------
    ConfigError
        If ``period`` is not ``"day"``.

    Examples
    --------
    >>> check_period("day")
    """
    if period not in get_args(Period):
        raise ConfigError(
            f"period must be 'day' (a purchase is counted once per calendar day), "
            f"got {period!r}; coarser periods are not supported yet."
        )


def check_dates(as_of: datetime.date, calibration_end: datetime.date | None) -> None:
    """Check that the observation dates are plain dates in a usable order.

    Parameters
    ----------
    as_of
        End of the observation window (inclusive).
    calibration_end
        End of the calibration window (inclusive), or ``None``.

    Raises
    ------
    ConfigError
        If a date is not a :class:`datetime.date` (a ``datetime`` is refused too, so that
        a time of day is never silently dropped) or if ``calibration_end`` is after
        ``as_of``.

    Examples
    --------
    >>> check_dates(datetime.date(1998, 6, 30), datetime.date(1997, 9, 30))
    """
    _check_day("as_of", as_of)
    if calibration_end is None:
        return
    _check_day("calibration_end", calibration_end)
    if calibration_end > as_of:
        raise ConfigError(
            f"calibration_end ({calibration_end}) is after as_of ({as_of}); the holdout "
            f"period runs from calibration_end to as_of, so choose an earlier "
            f"calibration_end."
        )


def _check_day(name: str, value: object) -> None:
    """Refuse anything but a plain :class:`datetime.date` (a ``datetime`` included)."""
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise ConfigError(
            f"{name} must be a datetime.date (a calendar day, no time), got {value!r}; "
            f"pass e.g. datetime.date(2024, 12, 31)."
        )
