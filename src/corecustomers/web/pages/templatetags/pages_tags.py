"""Template tags of the pages: numbers in the business's format, tier badges.

``fmt`` (a :class:`~corecustomers.report.charts.NumberFormat`) and ``tiers``
(:class:`~corecustomers.web.pages.present.Tiers`) come from the view's context, so every
page writes money, shares and tiers the one way the report does.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from corecustomers.report.charts import NumberFormat

register = template.Library()

_PLAIN = NumberFormat("")


def _fmt(context: template.Context) -> NumberFormat:
    fmt = context.get("fmt")
    return fmt if isinstance(fmt, NumberFormat) else _PLAIN


@register.simple_tag(takes_context=True)
def money(context: template.Context, value: Any) -> str:
    """``¥1,234,568`` (no decimals from 10,000 up)."""
    return _fmt(context).money(value)


@register.simple_tag(takes_context=True)
def pct(context: template.Context, value: Any) -> str:
    """A share in [0, 1] with one decimal: ``80.1%``."""
    return _fmt(context).percent(value)


@register.simple_tag(takes_context=True)
def count(context: template.Context, value: Any) -> str:
    """A count with separators: ``12,345``."""
    return _fmt(context).integer(value)


@register.simple_tag(takes_context=True)
def decimal(context: template.Context, value: Any, places: int = 2) -> str:
    return _fmt(context).decimal(value, places)


@register.simple_tag(takes_context=True)
def tier_badge(context: template.Context, code: Any) -> SafeString | str:
    """The tier as a badge with its label (colour is never the only signal)."""
    tiers = context.get("tiers")
    style = tiers.style(str(code)) if tiers is not None and code else None
    if style is None:
        return "–"
    return format_html(
        '<span class="badge badge-{}" data-tier="{}">{}</span>', style.tone, style.code, style.label
    )


@register.simple_tag(takes_context=True)
def tier_label(context: template.Context, code: Any) -> str:
    """The tier's label in the page's language (the code when the analysis has none)."""
    tiers = context.get("tiers")
    return tiers.label(str(code)) if tiers is not None and code else ""


@register.simple_tag
def alert_marker(alert: bool) -> SafeString | str:
    """A marker with text for a customer with an open alert."""
    if not alert:
        return ""
    return format_html(
        '<span class="alert-mark" title="{}"><span aria-hidden="true">▲</span> {}</span>',
        _("Open alert"),
        _("Alert"),
    )


@register.simple_tag(takes_context=True)
def query_with(context: template.Context, **changes: Any) -> str:
    """The current query string with ``changes`` applied (empty values removed)."""
    request = context.get("request")
    params = request.GET.copy() if request is not None else None
    if params is None:
        return ""
    for key, value in changes.items():
        if value in (None, ""):
            params.pop(key, None)
        else:
            params[key] = str(value)
    encoded = params.urlencode()
    return "?" + encoded if encoded else "?"
