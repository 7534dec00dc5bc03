"""The settings of the account team's day, with their defaults (changed on the Settings page).

Stored as ``ServiceSetting`` rows; a key without a row has the default below.
"""

from __future__ import annotations

from typing import Any

from corecustomers.web.customers.models import ServiceSetting
from corecustomers.web.work.calendar import CALENDARS, Calendar

__all__ = ["DEFAULTS", "setting", "sla_calendar", "sla_days"]

DEFAULTS: dict[str, Any] = {
    # working days to act on an alert, by tier ("*": any other tier)
    "alert_sla_days": {"strategic": 2, "key": 5, "*": 10},
    # "days" (plain calendar days), "weekends" or "cn" (China's holidays and 调休)
    "sla_calendar": "days",
    # the outcomes an interaction can record
    "interaction_outcomes": [
        "reached",
        "not_reachable",
        "retained",
        "at_risk",
        "lost",
        "follow_up_needed",
    ],
    # outcomes that close the alert the interaction answers
    "closing_outcomes": ["reached", "retained", "lost"],
    # days after a complaint or service request by which the owner follows up
    "follow_up_days": 3,
    # contact cadence in days by tier: a customer not contacted for longer is due
    "contact_cadence_days": {"strategic": 30, "key": 90},
    # birthdays this many days ahead appear in My work
    "birthday_days_ahead": 14,
    # at most this many open alerts in one account manager's queue (the rest wait)
    "max_open_alerts": 20,
    # at most this many customers owned by one person (bulk assignment and hand-over)
    "max_book_size": 200,
}


def setting(key: str) -> Any:
    """The value of ``key``: its stored row, else the default (read once per request)."""
    return ServiceSetting.stored(key, DEFAULTS[key])


def sla_days(tier: str) -> int:
    table = setting("alert_sla_days")
    return int(table.get(tier, table.get("*", 10)))


def sla_calendar() -> Calendar:
    value = str(setting("sla_calendar"))
    if value not in CALENDARS:
        raise ValueError(f"sla_calendar {value!r}: set it to one of {', '.join(CALENDARS)}")
    return value  # type: ignore[return-value]
