"""The profile's consent panel: its data read here (restricted), never in the template."""

from __future__ import annotations

from typing import Any

from django import template

from corecustomers.web.contact.models import (
    CONTACT_CHANNELS,
    CONTACT_PURPOSES,
    Channel,
    Consent,
    ConsentEvent,
    ContactProfile,
    Purpose,
)
from corecustomers.web.contact.views import ConsentForm
from corecustomers.web.customers.queries import sees_personal_data
from corecustomers.web.pages.present import page_lang

register = template.Library()


@register.inclusion_tag("contact/_consents.html", takes_context=True)
def consent_panel(context: template.Context, p: Any) -> dict[str, Any]:
    """Consents by purpose × channel, do-not-contact and the latest history of ``p``.

    ``p`` is the profile record built for the page's user: the user may see the customer,
    and ``p.can_change`` says whether they may change it (no scope check of its own).
    """
    user = context.get("user")
    if user is None or not sees_personal_data(user):
        return {"show": False}
    customer = p.internal_key
    current = {
        (c.purpose, c.channel): c
        for c in Consent.objects.restrict(user, "view").filter(customer_id=customer)
    }
    rows = []
    for purpose in (*CONTACT_PURPOSES, "sensitive_data"):
        channels = ("any",) if purpose == "sensitive_data" else CONTACT_CHANNELS
        cells = []
        for channel in channels:
            found = current.get((purpose, channel))
            cells.append({"status": found.status if found else "", "channel": channel})
        rows.append({"purpose": purpose, "label": Purpose(purpose).label, "cells": cells})
    profile = ContactProfile.objects.filter(customer_id=customer).first()
    history = list(
        ConsentEvent.objects.restrict(user, "view")
        .filter(customer_id=customer)
        .order_by("-at", "-pk")[:10]
    )
    return {
        "show": True,
        "key": p.key,
        "rows": rows,
        "channels": [(c, Channel(c).label) for c in CONTACT_CHANNELS],
        "dnc": profile.do_not_contact if profile else False,
        "dnc_reason": profile.reason if profile else "",
        "history": history,
        "can_change": p.can_change,
        "form": ConsentForm(prefix="consent", initial={"source": "web", "lawful_basis": "consent"}),
        "zh": page_lang() == "zh",
        "csrf_token": context.get("csrf_token"),
    }
