"""How pages write things: money, shares, counts, tier badges and labels, in the page's language.

Numbers use the report's :class:`~corecustomers.report.charts.NumberFormat` with the
business's currency from the latest analysis summary, so a page and the report write the
same figure the same way. Tier labels come from the analysis (``tier_labels()``); a tier the
analysis gave no Chinese label falls back to the report's bilingual table. Badge tones
follow the report: the best tier dark (``a``), the lowest grey (``c``), those between
light (``b``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import get_language

from corecustomers.report.charts import NumberFormat
from corecustomers.report.labels import Lang, label, language_of
from corecustomers.web.customers.models import Analysis
from corecustomers.web.customers.queries import tier_labels

__all__ = [
    "TierStyle",
    "Tiers",
    "business_currency",
    "latest_summary",
    "number_format",
    "page_lang",
    "tiers",
]


def page_lang() -> Lang:
    """The report language of the page being rendered (``"en"`` or ``"zh"``)."""
    return language_of(get_language() or "en")


def latest_summary() -> dict[str, Any]:
    """``summary.json`` of the latest imported analysis (empty when none is imported)."""
    latest = Analysis.objects.only("summary").first()
    return dict(latest.summary or {}) if latest else {}


def business_currency() -> str:
    """The currency symbol of the latest analysis (``""`` when none is imported)."""
    return str(latest_summary().get("currency") or "")


def number_format(currency: str | None = None) -> NumberFormat:
    return NumberFormat(business_currency() if currency is None else currency)


@dataclass(frozen=True)
class TierStyle:
    code: str
    label: str
    tone: str
    core: bool


@dataclass(frozen=True)
class Tiers:
    """The tiers of the latest analysis, best first, labelled in the page's language."""

    order: tuple[str, ...]
    core: frozenset[str]
    styles: Mapping[str, TierStyle]

    def style(self, code: str | None) -> TierStyle | None:
        if not code:
            return None
        return self.styles.get(code) or TierStyle(code, code, "neutral", False)

    def label(self, code: str | None) -> str:
        style = self.style(code)
        return style.label if style else ""


def tiers(lang: Lang | None = None) -> Tiers:
    """The tier table of the latest analysis for the page's language."""
    lang = lang or page_lang()
    order, core, labels = tier_labels()
    styles: dict[str, TierStyle] = {}
    for position, code in enumerate(order):
        english, chinese = labels.get(code, (code, ""))
        shown = english if lang == "en" else chinese or label("zh", f"tier.{code}") or english
        tone = "a" if position == 0 else "c" if position == len(order) - 1 else "b"
        styles[code] = TierStyle(code, shown, tone, code in core)
    return Tiers(tuple(order), frozenset(core), styles)
