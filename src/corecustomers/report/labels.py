"""The report's bilingual label table, for other parts of the product (the service's pages).

One table holds every label in English and Simplified Chinese side by side (tiers, ABC
classes, contact channels, tier migration ...), so a page and a report name a thing the
same way. Keys are the report's own, e.g. ``"tier.strategic"``, ``"abc.A"``,
``"channel.visit"``, ``"mig.won"``.

Examples
--------
>>> label("zh", "abc.A"), label("en", "channel.visit")
('重点客户', 'Visit')
>>> label("en", "no.such.key") is None
True
"""

from __future__ import annotations

from corecustomers.report._labels import TEXT
from corecustomers.units import Lang

__all__ = ["Lang", "label", "language_of"]


def label(lang: Lang, key: str) -> str | None:
    """The label ``key`` in ``lang``, or ``None`` when the table has no such key."""
    pair = TEXT.get(key)
    if pair is None:
        return None
    return pair[0] if lang == "en" else pair[1]


def language_of(code: str) -> Lang:
    """The report language of a page's language code (``zh-hans``, ``zh-CN`` → ``"zh"``)."""
    return "zh" if code.lower().startswith("zh") else "en"
