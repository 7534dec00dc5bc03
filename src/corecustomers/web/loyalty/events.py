"""Clubs and events (客户俱乐部, 专属活动): invitations, RSVP, attendance, gifts.

An event invites the members in its creator's scope whose engine tier, member level or RFM
segment is among those named. Attendance and gifts are recorded as interactions of kind
``event`` and ``gift`` through the work app's public :func:`log_interaction`, so they are
on the customer's timeline like any visit.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from corecustomers.errors import CoreCustomersError
from corecustomers.web.audit.log import record
from corecustomers.web.customers.models import Customer
from corecustomers.web.loyalty.models import Account, Event, Gift, Invitation
from corecustomers.web.work.interactions import log_interaction

__all__ = [
    "EventError",
    "GiftGiven",
    "attend",
    "counts",
    "create_event",
    "give_gift",
    "invitations_of",
    "rsvp",
    "visible",
]

ORGANISERS = {"admin", "manager"}


class EventError(CoreCustomersError):
    """An event change that cannot be made; ``field`` names the bad field (None: not allowed)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _organiser(user: Any) -> bool:
    return bool(user.is_superuser or getattr(user, "role", "") in ORGANISERS)


def visible(user: Any) -> QuerySet[Event]:
    """Events a user sees: organisers all; others those inviting a member in their scope."""
    if _organiser(user) or getattr(user, "role", "") == "analyst":
        return Event.objects.all()
    mine = Invitation.objects.restrict(user, "view").values("event_id")
    return Event.objects.filter(pk__in=mine)


def counts(user: Any, event: Event) -> dict[str, int]:
    rows = Invitation.objects.restrict(user, "view").filter(event=event)
    got = rows.aggregate(
        invited=Count("pk"),
        attending=Count("pk", filter=Q(rsvp="yes")),
        attended=Count("pk", filter=Q(attended=True)),
    )
    return {name: int(got[name] or 0) for name in ("invited", "attending", "attended")}


def create_event(
    user: Any,
    *,
    name: str,
    starts: dt.datetime,
    capacity: int,
    cost: float | Decimal = 0,
    tiers: list[str] | None = None,
    levels: list[str] | None = None,
    segments: list[str] | None = None,
) -> Event:
    """Create an event and invite the matching members the organiser may reach."""
    if not _organiser(user):
        raise EventError("only a manager or an administrator organises events")
    if not name.strip() or "\x00" in name:
        raise EventError("name: give the event a name", "name")
    if capacity < 1:
        raise EventError("capacity: at least 1 place", "capacity")
    tiers, levels, segments = list(tiers or []), list(levels or []), list(segments or [])
    match = Q(pk__in=[])
    if tiers:
        match |= Q(state__tier__in=tiers)
    if levels:
        match |= Q(loyalty__level__code__in=levels) | Q(loyalty__manual_level__code__in=levels)
    if segments:
        match |= Q(state__rfm_segment__in=segments)
    with transaction.atomic():
        event = Event.objects.create(
            name=name.strip(),
            starts=starts,
            capacity=capacity,
            cost=Decimal(str(cost)),
            invite_tiers=tiers,
            invite_levels=levels,
            invite_segments=segments,
            created_by=user,
        )
        ids = Customer.objects.restrict(user, "change").filter(match).values_list("pk", flat=True)
        Invitation.objects.bulk_create(
            [Invitation(event=event, customer_id=pk) for pk in ids.distinct()], batch_size=2000
        )
        record(
            "create",
            object_type="event",
            object_key=event.pk,
            after={"name": event.name, "invited": Invitation.objects.filter(event=event).count()},
            user=user,
        )
    return event


def _invitation(user: Any, event_id: int, customer: Customer) -> Invitation:
    found = (
        Invitation.objects.restrict(user, "change")
        .select_for_update()
        .filter(event_id=event_id, customer=customer)
        .first()
    )
    if found is None:
        raise EventError("this customer is not invited to that event", "event")
    return found


def rsvp(user: Any, event_id: int, customer: Customer, answer: str) -> Invitation:
    """Record a member's answer; a yes beyond the event's capacity is refused."""
    if answer not in {"yes", "no"}:
        raise EventError("answer: yes or no", "answer")
    with transaction.atomic():
        event = Event.objects.select_for_update().get(pk=event_id)  # one answer at a time
        invitation = _invitation(user, event_id, customer)
        if answer == "yes" and invitation.rsvp != "yes":
            taken = Invitation.objects.filter(event=event, rsvp="yes").count()
            if taken >= event.capacity:
                raise EventError(f"the event is full ({event.capacity} places)", "answer")
        invitation.rsvp = answer
        invitation.save(update_fields=["rsvp"])
        record(
            "rsvp",
            object_type="event",
            object_key=event.pk,
            customer_key=customer.pk,
            after={"rsvp": answer},
            user=user,
        )
    return invitation


def attend(user: Any, event_id: int, customer: Customer) -> Invitation:
    """Mark a member as having come; logged once as an interaction of kind ``event``."""
    with transaction.atomic():
        invitation = _invitation(user, event_id, customer)
        if invitation.attended:
            return invitation
        event = invitation.event
        interaction = log_interaction(
            user, customer, kind="event", notes=event.name, at=min(event.starts, timezone.now())
        )
        invitation.attended, invitation.interaction_id = True, interaction.pk
        if invitation.rsvp == "invited":
            invitation.rsvp = "yes"
        invitation.save(update_fields=["attended", "interaction_id", "rsvp"])
    return invitation


@dataclass(frozen=True)
class GiftGiven:
    """A gift given: what is left in stock, the timeline's interaction, the member's level."""

    gift_id: int
    name: str
    stock: int
    interaction_id: int
    level: str | None


def give_gift(user: Any, gift_id: int, customer: Customer, reason: str = "") -> GiftGiven:
    """Give a gift from stock as a member benefit: logged as an interaction of kind ``gift``
    (on the timeline) and audited with the member's level and the reason."""
    if not Customer.objects.restrict(user, "change").filter(pk=customer.pk).exists():
        raise EventError("you may not change this customer")
    if "\x00" in reason:
        raise EventError("reason: NUL characters are not allowed", "reason")
    with transaction.atomic():
        gift = Gift.objects.select_for_update().filter(pk=gift_id).first()
        if gift is None:
            raise EventError("no such gift", "gift")
        if gift.stock <= 0:
            raise EventError(f"{gift.name} is out of stock", "gift")
        gift.stock -= 1
        gift.save(update_fields=["stock"])
        notes = f"{gift.name} ({gift.cost})" + (f": {reason.strip()}" if reason.strip() else "")
        interaction = log_interaction(user, customer, kind="gift", notes=notes[:2000])
        account = (
            Account.objects.select_related("level", "manual_level")
            .filter(customer=customer)
            .first()
        )
        level = None
        if account is not None:
            level = account.manual_level if account.manual_level_id else account.level
        record(
            "gift",
            object_type="customer",
            object_key=customer.pk,
            customer_key=customer.pk,
            message=reason.strip()[:500],
            after={
                "gift": gift.pk,
                "name": gift.name,
                "cost": str(gift.cost),
                "level": level.code if level else None,
                "interaction": interaction.pk,
            },
            user=user,
        )
    return GiftGiven(gift.pk, gift.name, gift.stock, interaction.pk, level.code if level else None)


def invitations_of(user: Any, customer: Customer) -> list[Invitation]:
    """The member's invitations the user may see, soonest event first (the profile panel)."""
    return list(
        Invitation.objects.restrict(user, "view")
        .filter(customer=customer)
        .select_related("event")
        .order_by("event__starts")[:10]
    )
