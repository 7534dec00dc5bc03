"""The JSON API of contact (mounted at ``/api/v1/``; see :mod:`corecustomers.web.api.app`).

* ``GET /customers/{customer_id}/consents`` -- the current answers per purpose × channel,
  the do-not-contact flag and the latest history (evidence and lawful basis).
* ``PUT /customers/{customer_id}/consents`` -- record answers (each appended to the history)
  and optionally set or lift do-not-contact; answers the same body as ``GET``.
* ``GET /outbox`` -- the messages of the customers in the caller's scope, newest first,
  with the reason of every held or rejected one and the possible duplicates.

Access is decided in the query (``restrict``): a customer outside the caller's scope is a
404; analysts see no outbox (names and addresses) and no customer by external id.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from corecustomers.web.api.customers import READ, WRITE, user_of, writer_of
from corecustomers.web.api.errors import ApiError
from corecustomers.web.api.paging import PageQuery, page_of
from corecustomers.web.contact.adapters import message_id
from corecustomers.web.contact.consent import (
    ConsentChange,
    ConsentInputError,
    record_consents,
    set_do_not_contact,
)
from corecustomers.web.contact.models import (
    Consent,
    ConsentEvent,
    ContactProfile,
    OutboxMessage,
)
from corecustomers.web.customers.models import Customer
from corecustomers.web.customers.queries import (
    CustomerNotFoundError,
    find_customer,
    sees_personal_data,
)

__all__ = ["router"]

router = Router()

PurposeName = Literal["service", "marketing", "surveys", "care", "sensitive_data"]
ChannelName = Literal["sms", "email", "call", "app", "letter", "visit", "any"]
StatusName = Literal["granted", "refused", "withdrawn"]
BasisName = Literal["consent", "contract", "legal_duty", "emergency", "public_info", "other_law"]


class ConsentOut(Schema):
    purpose: str
    channel: str
    status: str
    lawful_basis: str
    since: dt.datetime
    source: str
    wording_version: str
    recorded_by: str


class ConsentEventOut(ConsentOut):
    id: int
    evidence: str


class ConsentsOut(Schema):
    customer_id: str
    do_not_contact: bool
    do_not_contact_reason: str
    consents: list[ConsentOut]
    history: list[ConsentEventOut]


class ConsentIn(Schema):
    purpose: PurposeName
    channel: ChannelName = Field(..., description="`any` for sensitive_data")
    status: StatusName
    lawful_basis: BasisName = Field(
        "consent", description="marketing and sensitive_data need `consent` (PIPL)"
    )
    source: str = Field(..., min_length=1, max_length=40, description="where the answer came from")
    wording_version: str = Field("", max_length=40)
    evidence: str = Field("", max_length=500)
    at: dt.datetime | None = Field(None, description="when the customer answered; now if left out")


class DoNotContactIn(Schema):
    active: bool
    reason: str = Field("", max_length=300)


class ConsentsIn(Schema):
    consents: list[ConsentIn] = Field(default_factory=list, max_length=100)
    do_not_contact: DoNotContactIn | None = None


class OutboxItemOut(Schema):
    id: int
    customer_id: str
    purpose: str
    channel: str
    occasion: str
    template: str
    status: Literal["held", "queued", "sending", "sent", "rejected", "failed"]
    reason_code: str
    reason: str
    reason_zh: str
    planned_for: dt.datetime
    sent_at: dt.datetime | None
    attempts: int
    dedup_key: str
    message_id: str
    possible_duplicate: bool
    error: str


class OutboxListOut(Schema):
    items: list[OutboxItemOut]
    count: int
    limit: int
    offset: int


class OutboxQuery(PageQuery):
    status: Literal["held", "queued", "sending", "sent", "rejected", "failed", "all"] = "all"
    purpose: Literal["service", "marketing", "surveys", "care", "all"] = "all"


def _customer(request: HttpRequest, customer_id: str) -> Customer:
    if "\x00" in customer_id:
        raise ApiError(404, "not_found", f"no customer {customer_id!r} that you can see")
    try:
        return find_customer(user_of(request), customer_id, "view")
    except CustomerNotFoundError as exc:
        raise ApiError(404, "not_found", f"no customer {customer_id!r} that you can see") from exc


def _consents(user: Any, customer: Customer) -> dict[str, Any]:
    profile = ContactProfile.objects.filter(customer=customer).first()
    current = Consent.objects.restrict(user, "view").filter(customer=customer)
    history = ConsentEvent.objects.restrict(user, "view").filter(customer=customer)
    events = {e.pk: e for e in history.order_by("-at", "-pk")[:50]}
    needed = [c.event_id for c in current if c.event_id not in events]
    events.update({e.pk: e for e in ConsentEvent.objects.filter(pk__in=needed)})

    def one(event: ConsentEvent) -> dict[str, Any]:
        return {
            "purpose": event.purpose,
            "channel": event.channel,
            "status": event.status,
            "lawful_basis": event.lawful_basis,
            "since": event.at,
            "source": event.source,
            "wording_version": event.wording_version,
            "recorded_by": event.recorded_by_name,
        }

    return {
        "customer_id": customer.external_id if sees_personal_data(user) else customer.pseudonym,
        "do_not_contact": bool(profile and profile.do_not_contact),
        "do_not_contact_reason": profile.reason if profile else "",
        "consents": [
            {**one(events[c.event_id]), "status": c.status}
            for c in current.order_by("purpose", "channel")
        ],
        "history": [
            {**one(e), "id": e.pk, "evidence": e.evidence}
            for e in sorted(events.values(), key=lambda e: (e.at, e.pk), reverse=True)[:50]
        ],
    }


@router.get(
    "/customers/{customer_id:customer_id}/consents",
    response={200: ConsentsOut, **READ},
    summary="A customer's consents, do-not-contact flag and consent history",
)
def get_consents(request: HttpRequest, customer_id: str) -> Any:
    user = user_of(request)
    return _consents(user, _customer(request, customer_id))


@router.put(
    "/customers/{customer_id:customer_id}/consents",
    response={200: ConsentsOut, **WRITE},
    summary="Record consent answers and the do-not-contact flag",
    description="Each answer is appended to the history with its evidence (source, wording "
    "version, time, who) and becomes the current one. Marketing and sensitive personal data "
    "are granted only with `lawful_basis: consent` (PIPL's separate consent).",
)
def put_consents(request: HttpRequest, customer_id: str, body: ConsentsIn) -> Any:
    user = writer_of(request)
    customer = _customer(request, customer_id)
    if not Customer.objects.restrict(user, "change").filter(pk=customer.pk).exists():
        raise ApiError(403, "forbidden", "you may look at this customer but not change it")
    changes = [ConsentChange(**item.dict()) for item in body.consents]
    for field in ("source", "wording_version", "evidence"):
        for change in changes:
            if "\x00" in getattr(change, field):
                raise ApiError(422, "invalid", f"{field}: NUL characters are not allowed", field)
    try:
        with transaction.atomic():
            record_consents(customer, changes, user=user)
            if body.do_not_contact is not None:
                set_do_not_contact(
                    customer,
                    active=body.do_not_contact.active,
                    reason=body.do_not_contact.reason.replace("\x00", ""),
                    source="api",
                    user=user,
                )
    except ConsentInputError as exc:
        raise ApiError(422, "invalid", f"{exc.field}: {exc}", exc.field) from exc
    return _consents(user, customer)


@router.get(
    "/outbox",
    response={200: OutboxListOut, **READ},
    summary="Messages to the customers in your scope, newest first",
    description="Held and rejected messages say why (`reason_code`: no_consent, withdrawn, "
    "refused, do_not_contact, no_address, no_sensitive_consent, recently_complained, "
    "budget_week, budget_month, quiet_hours). `possible_duplicate` marks a message sent "
    "again after a crash, with the same `message_id`.",
)
def list_outbox(request: HttpRequest, query: Query[OutboxQuery]) -> Any:
    user = user_of(request)
    rows = OutboxMessage.objects.restrict(user, "view").select_related("customer")
    if query.status != "all":
        rows = rows.filter(status=query.status)
    if query.purpose != "all":
        rows = rows.filter(purpose=query.purpose)
    rows = rows.order_by("-created", "-pk")
    return page_of(
        rows,
        query,
        lambda m: {
            "id": m.pk,
            "customer_id": m.customer.external_id,
            "purpose": m.purpose,
            "channel": m.channel,
            "occasion": m.occasion,
            "template": m.template,
            "status": m.status,
            "reason_code": m.reason_code,
            "reason": m.reason_en,
            "reason_zh": m.reason_zh,
            "planned_for": m.planned_for,
            "sent_at": m.sent_at,
            "attempts": m.attempts,
            "dedup_key": m.dedup_key,
            "message_id": message_id(m.dedup_key) if m.channel == "email" else m.dedup_key,
            "possible_duplicate": m.possible_duplicate,
            "error": m.error,
        },
    )
