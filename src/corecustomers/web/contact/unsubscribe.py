"""Unsubscribe links: a signed, expiring token that withdraws one consent without a login.

The token (``django.core.signing``, salted for this use, with a timestamp) names the
customer, the purpose and the channel of the message it was sent in, and the message's
deduplication key as the evidence. It stays valid for ``contact_unsubscribe_days`` days.
Using it appends a withdrawal to the consent history with ``source="unsubscribe_link"``.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from django.core import signing
from django.urls import reverse

from corecustomers.web.contact.consent import ConsentChange, record_consents
from corecustomers.web.contact.models import Consent
from corecustomers.web.contact.policy import setting
from corecustomers.web.customers.models import Customer

__all__ = ["BadTokenError", "Unsubscribe", "make_token", "read_token", "unsubscribe", "url_for"]

SALT = "corecustomers.contact.unsubscribe"


class BadTokenError(ValueError):
    """The link is not one of ours, was changed, or has expired."""


@dataclass(frozen=True)
class Unsubscribe:
    customer: Customer
    purpose: str
    channel: str
    dedup_key: str


def make_token(customer_pk: int, purpose: str, channel: str, dedup_key: str) -> str:
    return signing.dumps(
        {"c": customer_pk, "p": purpose, "ch": channel, "k": dedup_key}, salt=SALT, compress=True
    )


def url_for(
    customer_pk: int, purpose: str, channel: str, dedup_key: str, *, base: str | None = None
) -> str:
    """The link to put in a message (``base``: the service's public address, else the setting)."""
    root = (base if base is not None else str(setting("contact_public_url"))).rstrip("/")
    token = make_token(customer_pk, purpose, channel, dedup_key)
    return root + _path().replace(_PLACEHOLDER, token)


_PLACEHOLDER = "TOKEN"


@functools.cache
def _path() -> str:
    """The link's path with a placeholder (reversed once: a campaign makes thousands)."""
    return reverse("contact:unsubscribe", kwargs={"token": _PLACEHOLDER})


def read_token(token: str) -> Unsubscribe:
    max_age = dt.timedelta(days=int(setting("contact_unsubscribe_days")))
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise BadTokenError("this unsubscribe link has expired") from exc
    except signing.BadSignature as exc:
        raise BadTokenError("this unsubscribe link is not valid") from exc
    customer = Customer.objects.filter(pk=data.get("c")).first()
    if customer is None:
        raise BadTokenError("this unsubscribe link is not valid")
    return Unsubscribe(customer, str(data["p"]), str(data["ch"]), str(data.get("k", "")))


def unsubscribe(token: str) -> Unsubscribe:
    """Withdraw the consent the link names (once; a second use changes nothing)."""
    found = read_token(token)
    current = Consent.objects.filter(
        customer=found.customer, purpose=found.purpose, channel=found.channel
    ).first()
    if current is None or current.status != "withdrawn":
        record_consents(
            found.customer,
            [
                ConsentChange(
                    found.purpose,
                    found.channel,
                    "withdrawn",
                    lawful_basis=current.lawful_basis if current else "consent",
                    source="unsubscribe_link",
                    evidence=f"message {found.dedup_key}",
                )
            ],
        )
    return found
