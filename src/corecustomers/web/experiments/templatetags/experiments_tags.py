"""Formatting of the uplift page's estimates."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def pct(value: Any) -> str:
    """A fraction as a signed per cent (``+15.2 %``); a dash for none."""
    if value is None:
        return "–"
    return f"{100 * float(value):+.1f} %"


@register.filter
def num(value: Any) -> str:
    if value is None:
        return "–"
    return f"{float(value):,.1f}"


@register.filter
def share(value: Any) -> str:
    """A share as a per cent without a sign (``10 %``)."""
    return "–" if value is None else f"{100 * float(value):.0f} %"
