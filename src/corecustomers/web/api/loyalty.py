"""The JSON API of loyalty (mounted at ``/api/v1/``; see :mod:`corecustomers.web.api.app`).

* ``GET /customers/{customer_id}/points`` -- the member's balances and level.
* ``POST /customers/{customer_id}/points`` -- earn, redeem, adjust or return, with an
  ``Idempotency-Key`` (required): the same key for the same customer answers the first
  result (``Idempotent-Replayed: true``) and changes nothing; a redemption beyond the
  available points answers 409 ``insufficient_points`` (and so does its replay).
* ``GET /customers/{customer_id}/points/entries`` -- the ledger's lines, newest first.
* ``GET /loyalty/liability`` -- the outstanding points of the members in the caller's scope.
* ``GET``/``POST /events`` -- club events (see :mod:`corecustomers.web.loyalty.events`).
* ``GET /events/{event_id}/invitations`` -- the invited members in the caller's scope;
  ``POST /events/{event_id}/rsvp`` -- a member's answer (``Idempotency-Key`` required).
* ``GET``/``PUT /customers/{customer_id}/level`` -- the member's level; a manual level
  with an end date, set or cleared with a reason (managers; audited);
  ``GET /customers/{customer_id}/level/history`` -- the level history, newest first.
* ``GET /gifts`` -- the gifts and their stock; ``POST /customers/{customer_id}/gifts`` --
  give one as a member benefit (``Idempotency-Key`` required; on the timeline, audited).

The writes outside the ledger (a gift, an RSVP) keep their key's first answer
(:class:`~corecustomers.web.loyalty.models.KeyedRequest`): a replay answers it again with
``Idempotent-Replayed: true``; the same key with a different body is a 422.

Access is decided in the query (``restrict``): a customer the caller may not see is a 404;
one they may see but not change is a 403 on a write. Every write is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from ninja import Field, Header, Query, Router, Schema
from ninja.responses import Status
from pydantic import field_validator

from corecustomers.web.access import reaches_everything
from corecustomers.web.api.customers import READ, WRITE, user_of, writer_of
from corecustomers.web.api.errors import ApiError
from corecustomers.web.api.paging import PageQuery, page_of
from corecustomers.web.audit.log import record
from corecustomers.web.customers.models import Customer
from corecustomers.web.customers.queries import find_customer, sees_personal_data
from corecustomers.web.loyalty import events, ledger, levels
from corecustomers.web.loyalty.checks import liability
from corecustomers.web.loyalty.models import (
    Account,
    Entry,
    Event,
    Gift,
    Invitation,
    KeyedRequest,
    LevelChange,
)

__all__ = ["router"]

router = Router()

#: Who may adjust points by hand (the others earn, redeem and return).
ADJUSTERS = {"admin", "manager"}


class PointsOut(Schema):
    customer_id: str
    available: int
    pending: int
    used: int
    expired: int
    owed: int = Field(..., description="points clawed back after they were spent (a debt)")
    lifetime_earned: int = Field(..., description="points earned, less those clawed back")
    level: str | None


class PointsIn(Schema):
    kind: Literal["earn", "redeem", "adjust", "return"]
    points: int | None = Field(
        None, description="whole points; adjust may be negative; return: a partial return"
    )
    order_id: str = Field("", max_length=200, description="earn: once per order; return")
    reason: str = Field("", max_length=500, description="required to adjust")


class MovementOut(Schema):
    movement_id: int
    kind: str
    status: str
    points: int
    replayed: bool
    balance: PointsOut
    detail: dict[str, Any]


class EntryOut(Schema):
    id: int
    movement_id: int
    kind: str
    account: str
    lot_id: int | None
    amount: int
    created: dt.datetime
    reason: str


class EntryListOut(Schema):
    items: list[EntryOut]
    count: int
    limit: int
    offset: int


class LiabilityOut(Schema):
    available: int
    pending: int
    outstanding: int = Field(..., description="available + pending: the programme's liability")
    owed: int
    members: int
    scope: Literal["programme", "your customers"]


def _shown_id(user: Any, customer: Customer) -> str:
    return customer.external_id if sees_personal_data(user) else customer.pseudonym


def _customer(request: HttpRequest, customer_id: str, *, change: bool = False) -> Customer:
    user = user_of(request)
    customer = find_customer(user, customer_id, "view")
    if change and not Customer.objects.restrict(user, "change").filter(pk=customer.pk).exists():
        raise ApiError(
            403, "forbidden", "you may look at this customer but not change it; ask a manager"
        )
    return customer


def _key(header: str | None) -> str:
    key = (header or "").strip()
    if not key or len(key) > 200 or "\x00" in key:
        raise ApiError(
            422,
            "invalid",
            "Idempotency-Key: send a header of 1 to 200 characters, new for each change",
            "Idempotency-Key",
        )
    return key


def _keyed(
    customer: Customer, key: str, fingerprint: str, write: Callable[[], dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """(the write's answer, replayed): the key's first answer, or ``write()`` done once."""

    def replay(first: KeyedRequest) -> tuple[dict[str, Any], bool]:
        if first.fingerprint != fingerprint:
            raise ApiError(
                422,
                "idempotency_key_reused",
                "this Idempotency-Key was used for a different request; send a new key",
                "Idempotency-Key",
            )
        return dict(first.result), True

    try:
        with transaction.atomic():
            first = (
                KeyedRequest.objects.select_for_update().filter(customer=customer, key=key).first()
            )
            if first is not None:
                return replay(first)
            result = write()
            KeyedRequest.objects.create(
                customer=customer, key=key, fingerprint=fingerprint, result=result
            )
            return result, False
    except IntegrityError:  # the same key at the same moment: the first one won
        return replay(KeyedRequest.objects.get(customer=customer, key=key))


def _points(user: Any, customer: Customer, balance: ledger.Balance) -> dict[str, Any]:
    return {
        "customer_id": _shown_id(user, customer),
        "available": balance.available,
        "pending": balance.pending,
        "used": balance.used,
        "expired": balance.expired,
        "owed": balance.owed,
        "lifetime_earned": balance.lifetime_earned,
        "level": balance.level,
    }


@router.get(
    "/customers/{customer_id:customer_id}/points",
    response={200: PointsOut, **READ},
    summary="A member's points (积分) and level",
)
def get_points(request: HttpRequest, customer_id: str) -> Any:
    user = user_of(request)
    customer = _customer(request, customer_id)
    return _points(user, customer, ledger.balance(customer))


@router.post(
    "/customers/{customer_id:customer_id}/points",
    response={201: MovementOut, **WRITE},
    summary="Earn, redeem, adjust or return points",
    description="Send `Idempotency-Key`: the same key for the same customer answers the first "
    "result (`Idempotent-Replayed: true`) and changes nothing. A redemption beyond the "
    "available points answers 409 `insufficient_points`. `adjust` needs a reason and a "
    "manager; `return` claws back an order's points (its own lots, then others soonest "
    "expiry first, the rest as a debt the next earnings settle).",
)
def post_points(
    request: HttpRequest,
    customer_id: str,
    body: PointsIn,
    response: HttpResponse,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    user = writer_of(request)
    customer = _customer(request, customer_id, change=True)
    key = _key(idempotency_key)
    for name in ("order_id", "reason"):
        if "\x00" in getattr(body, name):
            raise ApiError(422, "invalid", f"{name}: NUL characters are not allowed", name)
    if body.kind == "adjust" and not (user.is_superuser or user.role in ADJUSTERS):
        raise ApiError(403, "forbidden", "only a manager or an administrator adjusts points")
    if body.kind != "return" and body.points is None:
        raise ApiError(422, "invalid", "points: give a whole number of points", "points")
    try:
        outcome = _apply(user, customer, body, key)
    except ledger.InsufficientPointsError as exc:
        raise ApiError(409, "insufficient_points", str(exc), "points") from exc
    except ledger.IdempotencyKeyReusedError as exc:
        raise ApiError(422, exc.code, str(exc), "Idempotency-Key") from exc
    except ledger.LedgerError as exc:
        field = exc.field
        raise ApiError(409 if field == "order_id" else 422, exc.code, str(exc), field) from exc
    if outcome.replayed:
        response["Idempotent-Replayed"] = "true"
    else:
        record(
            f"points_{body.kind}",
            object_type="customer",
            object_key=customer.pk,
            customer_key=customer.pk,
            message=body.reason,
            after={"movement": outcome.movement_id, "points": outcome.points, "key": key},
            user=user,
        )
    out = outcome.to_json()
    out["balance"] = _points(user, customer, outcome.balance)
    return Status(201, out)


def _apply(user: Any, customer: Customer, body: PointsIn, key: str) -> ledger.Outcome:
    points = body.points or 0
    if body.kind == "earn":
        return ledger.earn(
            customer, points, key=key, order_id=body.order_id, reason=body.reason, user=user
        )
    if body.kind == "redeem":
        return ledger.redeem(customer, points, key=key, reason=body.reason, user=user)
    if body.kind == "adjust":
        return ledger.adjust(customer, points, key=key, reason=body.reason, user=user)
    return ledger.return_order(
        customer, body.order_id, key=key, points=body.points, reason=body.reason, user=user
    )


@router.get(
    "/customers/{customer_id:customer_id}/points/entries",
    response={200: EntryListOut, **READ},
    summary="A member's ledger lines, newest first",
)
def list_entries(request: HttpRequest, customer_id: str, page: Query[PageQuery]) -> Any:
    user = user_of(request)
    customer = _customer(request, customer_id)
    rows = (
        Entry.objects.restrict(user, "view")
        .filter(customer=customer)
        .select_related("movement")
        .order_by("-pk")
    )
    return page_of(
        rows,
        page,
        lambda row: {
            "id": row.pk,
            "movement_id": row.movement_id,
            "kind": row.movement.kind,
            "account": row.account,
            "lot_id": row.lot_id,
            "amount": row.amount,
            "created": row.created,
            "reason": row.movement.reason,
        },
    )


@router.get(
    "/loyalty/liability",
    response={200: LiabilityOut, **READ},
    summary="The programme's outstanding points (its liability)",
    description="For those who reach every customer, the whole programme; for others, the "
    "members they may see.",
)
def get_liability(request: HttpRequest) -> Any:
    user = user_of(request)
    if reaches_everything(Customer, user):
        return {**liability(), "scope": "programme"}
    scoped = Account.objects.restrict(user, "view")
    return {**liability(scoped), "scope": "your customers"}


class EventIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    starts: dt.datetime
    capacity: int = Field(..., ge=1, le=1_000_000)
    cost: float = Field(0, ge=0, le=9_999_999_999)  # the column holds 10 digits and cents
    invite_tiers: list[str] = Field(default_factory=list, max_length=20)
    invite_levels: list[str] = Field(default_factory=list, max_length=20)
    invite_segments: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("starts")
    @classmethod
    def _in_utc(cls, value: dt.datetime) -> dt.datetime:
        # ISO 8601 allows any offset (schemathesis sent -22:52); PostgreSQL refuses those
        # beyond +-15:59, so a time with an offset is kept as the same moment in UTC
        return value.astimezone(dt.UTC) if value.tzinfo is not None else value


class EventOut(Schema):
    id: int
    name: str
    starts: dt.datetime
    capacity: int
    cost: float
    invite_tiers: list[str]
    invite_levels: list[str]
    invite_segments: list[str]
    invited: int = Field(..., description="invitations to members in your scope")
    attending: int
    attended: int


class EventListOut(Schema):
    items: list[EventOut]
    count: int
    limit: int
    offset: int


def _event(user: Any, event: Event) -> dict[str, Any]:
    counts = events.counts(user, event)
    return {
        "id": event.pk,
        "name": event.name,
        "starts": event.starts,
        "capacity": event.capacity,
        "cost": float(event.cost),
        "invite_tiers": event.invite_tiers,
        "invite_levels": event.invite_levels,
        "invite_segments": event.invite_segments,
        **counts,
    }


@router.get(
    "/events", response={200: EventListOut, **READ}, summary="Club events (专属活动), soonest first"
)
def list_events(request: HttpRequest, page: Query[PageQuery]) -> Any:
    user = user_of(request)
    rows = events.visible(user)
    return page_of(rows, page, lambda e: _event(user, e))


@router.post(
    "/events",
    response={201: EventOut, **WRITE},
    summary="Create a club event and invite members by tier, level or segment",
    description="Managers and administrators. Members in the creator's scope who match any "
    "of the tiers, levels or segments are invited.",
)
def create_event(request: HttpRequest, body: EventIn) -> Any:
    user = writer_of(request)
    try:
        event = events.create_event(
            user,
            name=body.name,
            starts=body.starts,
            capacity=body.capacity,
            cost=body.cost,
            tiers=body.invite_tiers,
            levels=body.invite_levels,
            segments=body.invite_segments,
        )
    except events.EventError as exc:
        status = 403 if exc.field is None else 422
        code = "forbidden" if status == 403 else "invalid"
        raise ApiError(status, code, str(exc), exc.field) from exc
    return Status(201, _event(user, event))


class InvitationOut(Schema):
    event_id: int
    customer_id: str
    rsvp: Literal["invited", "yes", "no"]
    attended: bool


class InvitationListOut(Schema):
    items: list[InvitationOut]
    count: int
    limit: int
    offset: int


class RsvpIn(Schema):
    customer_id: str = Field(..., min_length=1, max_length=200)
    answer: Literal["yes", "no"]


class RsvpOut(InvitationOut):
    replayed: bool


def _visible_event(user: Any, event_id: int) -> Event:
    event = events.visible(user).filter(pk=event_id).first()
    if event is None:
        raise ApiError(404, "not_found", f"no event {event_id}")
    return event


@router.get(
    "/events/{event_id}/invitations",
    response={200: InvitationListOut, **READ},
    summary="The members invited to an event, in your scope",
)
def list_invitations(request: HttpRequest, event_id: int, page: Query[PageQuery]) -> Any:
    user = user_of(request)
    event = _visible_event(user, event_id)
    rows = (
        Invitation.objects.restrict(user, "view")
        .filter(event=event)
        .select_related("customer")
        .order_by("pk")
    )
    return page_of(
        rows,
        page,
        lambda row: {
            "event_id": event.pk,
            "customer_id": _shown_id(user, row.customer),
            "rsvp": row.rsvp,
            "attended": row.attended,
        },
    )


@router.post(
    "/events/{event_id}/rsvp",
    response={200: RsvpOut, **WRITE},
    summary="A member's answer to an event invitation",
    description="Send `Idempotency-Key`: the same key for the same customer answers the first "
    "result (`Idempotent-Replayed: true`). A yes beyond the event's places answers 409 "
    "`event_full`; a customer out of your scope, or not invited, is a 404.",
)
def post_rsvp(
    request: HttpRequest,
    event_id: int,
    body: RsvpIn,
    response: HttpResponse,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    user = writer_of(request)
    event = _visible_event(user, event_id)
    customer = _customer(request, body.customer_id, change=True)
    key = _key(idempotency_key)

    def write() -> dict[str, Any]:
        try:
            invitation = events.rsvp(user, event.pk, customer, body.answer)
        except events.EventError as exc:
            if exc.field == "event":
                raise ApiError(404, "not_found", str(exc)) from exc
            raise ApiError(409, "event_full", str(exc), "answer") from exc
        return {
            "event_id": event.pk,
            "customer_id": _shown_id(user, customer),
            "rsvp": invitation.rsvp,
            "attended": invitation.attended,
        }

    result, replayed = _keyed(customer, key, f"rsvp:{event.pk}:{body.answer}", write)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return {**result, "replayed": replayed}


class LevelOut(Schema):
    customer_id: str
    level: str | None = Field(..., description="the level in force: the manual one, if any")
    earned_level: str | None = Field(..., description="the level the rules give")
    manual_level: str | None
    manual_until: dt.date | None
    level_since: dt.date | None


class LevelIn(Schema):
    level: str | None = Field(
        ..., max_length=40, description="a level code to hold the member at; null clears it"
    )
    until: dt.date | None = Field(None, description="the last day of the manual level")
    reason: str = Field(..., max_length=500, description="why (required; audited)")


class LevelChangeOut(Schema):
    before: str | None
    after: str | None
    reason: str
    on: dt.date


class LevelHistoryOut(Schema):
    items: list[LevelChangeOut]
    count: int
    limit: int
    offset: int


def _level(user: Any, customer: Customer) -> dict[str, Any]:
    account = (
        Account.objects.select_related("level", "manual_level").filter(customer=customer).first()
    )
    earned = account.level if account is not None else None
    manual = account.manual_level if account is not None else None
    held = manual or earned
    return {
        "customer_id": _shown_id(user, customer),
        "level": held.code if held is not None else None,
        "earned_level": earned.code if earned else None,
        "manual_level": manual.code if manual else None,
        "manual_until": account.manual_until if account is not None and manual else None,
        "level_since": account.level_since if account is not None else None,
    }


@router.get(
    "/customers/{customer_id:customer_id}/level",
    response={200: LevelOut, **READ},
    summary="A member's level (会员等级): earned, and held by hand",
)
def get_level(request: HttpRequest, customer_id: str) -> Any:
    user = user_of(request)
    return _level(user, _customer(request, customer_id))


@router.put(
    "/customers/{customer_id:customer_id}/level",
    response={200: LevelOut, **WRITE},
    summary="Hold a member at a level until a date, or clear it",
    description="Managers and administrators. `level` null clears the manual level; a level "
    "needs `until` (from today on). `reason` is required and audited.",
)
def put_level(request: HttpRequest, customer_id: str, body: LevelIn) -> Any:
    user = writer_of(request)
    customer = _customer(request, customer_id, change=True)
    for name in ("level", "reason"):
        if "\x00" in (getattr(body, name) or ""):
            raise ApiError(422, "invalid", f"{name}: NUL characters are not allowed", name)
    try:
        levels.set_manual_level(user, customer, body.level or None, body.until, body.reason)
    except levels.LevelError as exc:
        if exc.field is None:
            raise ApiError(403, "forbidden", str(exc)) from exc
        raise ApiError(422, "invalid", str(exc), exc.field) from exc
    return _level(user, customer)


@router.get(
    "/customers/{customer_id:customer_id}/level/history",
    response={200: LevelHistoryOut, **READ},
    summary="A member's level history, newest first",
)
def list_level_history(request: HttpRequest, customer_id: str, page: Query[PageQuery]) -> Any:
    user = user_of(request)
    customer = _customer(request, customer_id)
    rows = (
        LevelChange.objects.restrict(user, "view")
        .filter(customer=customer)
        .select_related("before", "after")
        .order_by("-on", "-pk")
    )
    return page_of(
        rows,
        page,
        lambda row: {
            "before": row.before.code if row.before else None,
            "after": row.after.code if row.after else None,
            "reason": row.reason,
            "on": row.on,
        },
    )


class GiftOut(Schema):
    id: int
    name: str
    cost: float
    stock: int


class GiftListOut(Schema):
    items: list[GiftOut]
    count: int
    limit: int
    offset: int


class GiftIn(Schema):
    gift_id: int = Field(..., ge=1, le=2**62)
    reason: str = Field("", max_length=500)


class GiftGivenOut(Schema):
    gift_id: int
    name: str
    stock: int = Field(..., description="left in stock after this gift")
    interaction_id: int
    level: str | None = Field(..., description="the member's level when it was given")
    replayed: bool


@router.get("/gifts", response={200: GiftListOut, **READ}, summary="Gifts and their stock")
def list_gifts(request: HttpRequest, page: Query[PageQuery]) -> Any:
    rows = Gift.objects.order_by("name", "pk")
    return page_of(
        rows,
        page,
        lambda g: {"id": g.pk, "name": g.name, "cost": float(g.cost), "stock": g.stock},
    )


@router.post(
    "/customers/{customer_id:customer_id}/gifts",
    response={201: GiftGivenOut, **WRITE},
    summary="Give a member a gift (a benefit) from stock",
    description="Send `Idempotency-Key`: the same key for the same customer answers the first "
    "result (`Idempotent-Replayed: true`) and takes nothing more from stock. Out of stock "
    "answers 409 `out_of_stock`. The gift is on the customer's timeline and audited.",
)
def post_gift(
    request: HttpRequest,
    customer_id: str,
    body: GiftIn,
    response: HttpResponse,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    user = writer_of(request)
    customer = _customer(request, customer_id, change=True)
    key = _key(idempotency_key)
    if "\x00" in body.reason:
        raise ApiError(422, "invalid", "reason: NUL characters are not allowed", "reason")

    def write() -> dict[str, Any]:
        try:
            given = events.give_gift(user, body.gift_id, customer, body.reason)
        except events.EventError as exc:
            if exc.field is None:
                raise ApiError(403, "forbidden", str(exc)) from exc
            if Gift.objects.filter(pk=body.gift_id).exists():
                raise ApiError(409, "out_of_stock", str(exc), "gift_id") from exc
            raise ApiError(422, "invalid", f"gift_id: {exc}", "gift_id") from exc
        return {
            "gift_id": given.gift_id,
            "name": given.name,
            "stock": given.stock,
            "interaction_id": given.interaction_id,
            "level": given.level,
        }

    result, replayed = _keyed(customer, key, f"gift:{body.gift_id}", write)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return Status(201, {**result, "replayed": replayed})
