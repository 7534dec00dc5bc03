"""Template tags for the extension points of :mod:`corecustomers.web.pages.extensions`."""

from __future__ import annotations

from typing import Any

from django import template
from django.template.loader import get_template
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from corecustomers.web.pages.extensions import nav_entries, panels

register = template.Library()


@register.simple_tag(takes_context=True)
def extension_nav(context: template.Context) -> SafeString:
    """The apps' extra header links the logged-in user's role may see."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return mark_safe("")
    match = getattr(request, "resolver_match", None)
    here = getattr(match, "url_name", None)
    links = []
    for entry in nav_entries():
        if not entry.visible_to(getattr(user, "role", ""), user.is_superuser):
            continue
        current = here in entry.current or (match is not None and match.view_name == entry.url_name)
        links.append(
            (reverse(entry.url_name), ' aria-current="page"' if current else "", entry.label)
        )
    return format_html_join(
        "\n", '<a href="{}"{}>{}</a>', ((u, mark_safe(c), lbl) for u, c, lbl in links)
    )


@register.simple_tag(takes_context=True)
def extension_panels(context: template.Context, slot: str) -> SafeString:
    """Every app's panels for ``slot``, rendered with the page's context."""
    flat: dict[str, Any] = context.flatten()
    request = context.get("request")
    parts = [get_template(name).render(flat, request) for name in panels(slot)]
    return format_html("{}", mark_safe("".join(parts)))
