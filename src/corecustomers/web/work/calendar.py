"""Working days for SLAs: plain days, weekends off, or China's official calendar.

The ``cn`` calendar takes public holidays and the make-up working days (调休, weekend days
that are working days) from the maintained ``chinesecalendar`` package, which knows the
years the State Council has published; for a year it does not know yet, weekends are the
days off and :func:`add_working_days` says so in its ``note``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

__all__ = ["CALENDARS", "Deadline", "add_working_days", "is_working_day"]

Calendar = Literal["days", "weekends", "cn"]
CALENDARS: tuple[Calendar, ...] = ("days", "weekends", "cn")


@dataclass(frozen=True)
class Deadline:
    at: dt.datetime
    note: str = ""


def is_working_day(day: dt.date, calendar: Calendar) -> tuple[bool, str]:
    """Whether ``day`` is a working day in ``calendar``, and a note when it had to guess."""
    if calendar == "days":
        return True, ""
    if calendar == "cn":
        import chinese_calendar

        try:
            return bool(chinese_calendar.is_workday(day)), ""
        except NotImplementedError:
            note = (
                f"China's official holidays for {day.year} are not known to the installed "
                "chinesecalendar package; weekends were taken as the days off"
            )
            return day.weekday() < 5, note
    if calendar == "weekends":
        return day.weekday() < 5, ""
    raise ValueError(f"unknown calendar {calendar!r}; one of {', '.join(CALENDARS)}")


def add_working_days(start: dt.datetime, days: int, calendar: Calendar) -> Deadline:
    """The moment ``days`` working days after ``start`` (same time of day).

    A start on a day off counts from the next working day. Zero days is ``start`` itself.

    Examples
    --------
    >>> import datetime as dt
    >>> friday = dt.datetime(2024, 3, 1, 10, 0)
    >>> add_working_days(friday, 1, "weekends").at
    datetime.datetime(2024, 3, 4, 10, 0)
    >>> add_working_days(friday, 1, "days").at
    datetime.datetime(2024, 3, 2, 10, 0)
    """
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    notes: set[str] = set()
    current = start
    remaining = days
    while remaining > 0:
        current += dt.timedelta(days=1)
        working, note = is_working_day(current.date(), calendar)
        if note:
            notes.add(note)
        if working:
            remaining -= 1
    return Deadline(current, "; ".join(sorted(notes)))
