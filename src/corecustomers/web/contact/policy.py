"""The settings of contact with consent, with their defaults (changed on the Contact settings page).

Stored as ``ServiceSetting`` rows under the keys below; a key without a row has the
default. Times of day are in the service's time zone (``CORECUSTOMERS_TIME_ZONE``).
"""

from __future__ import annotations

from typing import Any

from corecustomers.web.customers.models import ServiceSetting

__all__ = ["DEFAULTS", "LABELS", "label", "setting"]

DEFAULTS: dict[str, Any] = {
    # one budget per customer across all channels: at most this many contacts per calendar
    # week (Monday to Sunday) and calendar month, for the purposes named
    "contact_budget": {"week": 1, "month": 4},
    "contact_budget_purposes": ["marketing", "care", "surveys"],
    # interactions of the account team (work app) that count as contacts in the budget
    "contact_budget_interaction_kinds": ["visit", "call", "letter", "message", "email"],
    # no messages or calls in these hours but for service ones (start, end; over midnight)
    "contact_quiet_hours": {"start": "21:00", "end": "08:00"},
    "contact_quiet_channels": ["sms", "call", "app"],
    # after a complaint, no contact for these purposes for this many days
    "contact_complaint_days": 30,
    "contact_complaint_purposes": ["marketing"],
    # the language of a message when the customer's profile names none ("zh" or "en")
    "contact_default_language": "zh",
    # which adapter delivers each message channel
    "contact_adapters": {"email": "smtp", "sms": "file", "app": "file"},
    # the public address of the service, for unsubscribe links in messages
    "contact_public_url": "http://localhost:8000",
    # days an unsubscribe link keeps working
    "contact_unsubscribe_days": 180,
    # contact plans per tier: personal contacts appear in My work when due
    "contact_plans": {
        "strategic": [
            {"channel": "visit", "purpose": "service", "every_days": 90},
            {"channel": "call", "purpose": "service", "every_days": 30},
        ],
        "key": [
            {"channel": "call", "purpose": "service", "every_days": 60},
            {"channel": "email", "purpose": "marketing", "every_days": 30},
        ],
        "ordinary": [{"channel": "email", "purpose": "marketing", "every_days": 30}],
    },
    # care days: which occasions, for which tiers, through which channels (first allowed),
    # how many days ahead they appear in My work and the outbox
    "contact_care_days": {
        "birthday": {"tiers": ["*"], "channels": ["sms", "email"], "days_ahead": 14},
        "spring_festival": {
            "tiers": ["strategic", "key"],
            "channels": ["email", "sms"],
            "days_ahead": 10,
        },
        "mid_autumn": {
            "tiers": ["strategic", "key"],
            "channels": ["email", "sms"],
            "days_ahead": 10,
        },
        "dragon_boat": {"tiers": ["strategic"], "channels": ["email"], "days_ahead": 7},
        "new_year": {"tiers": ["strategic"], "channels": ["email"], "days_ahead": 7},
    },
}


def setting(key: str) -> Any:
    """The value of ``key``: its stored row, else the default (a copy, safe to change;
    read once per request)."""
    return ServiceSetting.stored(key, DEFAULTS[key])


#: Labels in both languages for what reasons and pages name (stored reasons need both).
LABELS: dict[str, tuple[str, str]] = {
    "service": ("service", "服务"),
    "marketing": ("marketing", "营销"),
    "surveys": ("surveys", "调查"),
    "care": ("care", "关怀"),
    "sensitive_data": ("sensitive personal data", "敏感个人信息"),
    "sms": ("SMS", "短信"),
    "email": ("e-mail", "电子邮件"),
    "call": ("phone call", "电话"),
    "app": ("WeChat/app message", "微信/应用消息"),
    "letter": ("letter", "信函"),
    "visit": ("visit", "拜访"),
    "any": ("any channel", "任何渠道"),
}


def label(code: str, zh: bool = False) -> str:
    pair = LABELS.get(code, (code, code))
    return pair[1] if zh else pair[0]
