"""Record consent, its withdrawal and the do-not-contact flag: history first, then the answer.

Each change appends a :class:`ConsentEvent` (or :class:`DoNotContactEvent`) with its
evidence and moves the current :class:`Consent` row to it, in one transaction with an
audit entry. The checks that PIPL asks for are made here, once:

* marketing and sensitive personal data are granted only on the ``consent`` basis (a
  separate consent -- never bundled with the contract);
* ``sensitive_data`` is recorded for channel ``any``; every other purpose for a channel.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from corecustomers.web.audit.log import record
from corecustomers.web.contact.models import (
    CONTACT_CHANNELS,
    CONTACT_PURPOSES,
    Consent,
    ConsentEvent,
    ConsentStatus,
    ContactProfile,
    DoNotContactEvent,
    LawfulBasis,
)
from corecustomers.web.customers.models import Customer

__all__ = [
    "ConsentChange",
    "ConsentInputError",
    "current_consents",
    "record_consents",
    "set_do_not_contact",
]


class ConsentInputError(ValueError):
    """A field of a consent change is invalid; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class ConsentChange:
    purpose: str
    channel: str
    status: str
    lawful_basis: str = "consent"
    source: str = "web"
    wording_version: str = ""
    evidence: str = ""
    at: dt.datetime | None = None


def validate(change: ConsentChange) -> None:
    if change.purpose not in (*CONTACT_PURPOSES, "sensitive_data"):
        raise ConsentInputError(
            "purpose", f"purpose is one of {', '.join(CONTACT_PURPOSES)}, sensitive_data"
        )
    if change.purpose == "sensitive_data":
        if change.channel != "any":
            raise ConsentInputError("channel", "sensitive_data consent is for channel 'any'")
    elif change.channel not in CONTACT_CHANNELS:
        raise ConsentInputError("channel", f"channel is one of {', '.join(CONTACT_CHANNELS)}")
    if change.status not in ConsentStatus.values:
        raise ConsentInputError("status", f"status is one of {', '.join(ConsentStatus.values)}")
    if change.lawful_basis not in LawfulBasis.values:
        raise ConsentInputError(
            "lawful_basis", f"lawful_basis is one of {', '.join(LawfulBasis.values)}"
        )
    if (
        change.status == "granted"
        and change.purpose in {"marketing", "sensitive_data"}
        and change.lawful_basis != "consent"
    ):
        raise ConsentInputError(
            "lawful_basis",
            f"{change.purpose} needs the customer's separate consent (lawful_basis 'consent', "
            "PIPL art. 14 and 29)",
        )
    if not change.source.strip() or len(change.source) > 40:
        raise ConsentInputError("source", "say where the answer came from (at most 40 characters)")
    if len(change.wording_version) > 40:
        raise ConsentInputError("wording_version", "at most 40 characters")
    if len(change.evidence) > 500:
        raise ConsentInputError("evidence", "at most 500 characters")
    if change.at is not None:
        if timezone.is_naive(change.at):
            raise ConsentInputError(
                "at", "give the time with its time zone, e.g. 2026-03-01T10:00:00+08:00"
            )
        if change.at > timezone.now() + dt.timedelta(minutes=5):
            raise ConsentInputError("at", "a consent cannot be given in the future")


def record_consents(
    customer: Customer, changes: Iterable[ConsentChange], *, user: Any = None
) -> list[ConsentEvent]:
    """Append each change to the history and make it the current answer (audited)."""
    changes = list(changes)
    for change in changes:
        validate(change)
    name = getattr(user, "username", "") if user is not None else ""
    who = user if user is not None and getattr(user, "is_authenticated", False) else None
    events = []
    with transaction.atomic():
        for change in changes:
            at = change.at or timezone.now()
            event = ConsentEvent.objects.create(
                customer=customer,
                purpose=change.purpose,
                channel=change.channel,
                status=change.status,
                lawful_basis=change.lawful_basis,
                source=change.source.strip(),
                wording_version=change.wording_version,
                evidence=change.evidence,
                at=at,
                recorded_by=who,
                recorded_by_name=name,
            )
            before = Consent.objects.filter(
                customer=customer, purpose=change.purpose, channel=change.channel
            ).first()
            Consent.objects.update_or_create(
                customer=customer,
                purpose=change.purpose,
                channel=change.channel,
                defaults={
                    "status": change.status,
                    "lawful_basis": change.lawful_basis,
                    "since": at,
                    "event": event,
                },
            )
            record(
                "consent",
                object_type="consent",
                object_key=event.pk,
                customer_key=customer.pk,
                before={"status": before.status} if before else None,
                after={
                    "purpose": change.purpose,
                    "channel": change.channel,
                    "status": change.status,
                    "lawful_basis": change.lawful_basis,
                    "source": change.source,
                    "wording_version": change.wording_version,
                },
                user=who,
            )
            events.append(event)
    return events


def set_do_not_contact(
    customer: Customer, *, active: bool, reason: str, source: str = "web", user: Any = None
) -> DoNotContactEvent:
    """Set or lift the do-not-contact flag (history kept, audited)."""
    if active and not reason.strip():
        raise ConsentInputError("reason", "say why the customer is not to be contacted")
    if len(reason) > 300:
        raise ConsentInputError("reason", "at most 300 characters")
    who = user if user is not None and getattr(user, "is_authenticated", False) else None
    with transaction.atomic():
        now = timezone.now()
        event = DoNotContactEvent.objects.create(
            customer=customer,
            active=active,
            reason=reason.strip(),
            source=source,
            at=now,
            recorded_by=who,
            recorded_by_name=getattr(who, "username", "") if who else "",
        )
        ContactProfile.objects.update_or_create(
            customer=customer,
            defaults={"do_not_contact": active, "reason": reason.strip(), "since": now},
        )
        record(
            "do_not_contact",
            object_type="contact_profile",
            object_key=customer.pk,
            customer_key=customer.pk,
            after={"active": active, "reason": reason.strip(), "source": source},
            user=who,
        )
    return event


def current_consents(customer: Customer) -> dict[tuple[str, str], Consent]:
    """The current answers of ``customer`` by (purpose, channel)."""
    rows = Consent.objects.filter(customer=customer).select_related("event")
    return {(row.purpose, row.channel): row for row in rows}
