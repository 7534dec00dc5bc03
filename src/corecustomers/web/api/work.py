"""The account team's endpoints: interactions, My work, routed alerts, notifications.

* ``POST /customers/{customer_id}/interactions`` logs a visit, call … (``Idempotency-Key``
  honoured: the same caller repeating a key gets the first interaction back, with
  ``Idempotent-Replayed: true``); ``GET`` lists the customer's interactions, newest first.
* ``GET /work`` is the caller's queue (``?user=`` a team member's, for their manager).
* ``GET /alerts`` lists the routed alerts in scope (status, assignee, deadline,
  escalation), ``GET /alerts/{id}`` one of them; ``PATCH /alerts/{id}`` changes one's
  status with an outcome and a note. (The customers the latest analysis flags, whether
  routed or not, are ``GET /flagged-customers``.)
* ``GET /notifications`` lists the caller's notifications.
* ``POST /assignments`` gives the unowned customers of a tier, region or team to a list
  of colleagues, round-robin within the maximum book size; ``POST /handovers`` moves a
  leaver's whole book (account-team places, open alerts, follow-ups, snoozes) to
  colleagues. Both answer the plan, and write it only with ``"dry_run": false``;
  managers and administrators only (403 for the others).

Every list is ``{"items", "count", "limit", "offset"}``; every error the one error body.
Access is decided in the query (``restrict``): what the caller may not see is a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Header, Query, Router, Schema
from ninja.responses import Status

from corecustomers.web.accounts.models import User
from corecustomers.web.api.customers import READ, WRITE, user_of, writer_of
from corecustomers.web.api.errors import ApiError
from corecustomers.web.api.paging import PageQuery, page_of
from corecustomers.web.audit.log import record
from corecustomers.web.audit.models import AuditEntry
from corecustomers.web.customers.models import Customer
from corecustomers.web.customers.queries import (
    CustomerNotFoundError,
    find_customer,
    sees_personal_data,
)
from corecustomers.web.work.assignment import (
    AssignmentError,
    AssignmentFilter,
    AssignmentForbiddenError,
    Move,
    bulk_assign,
    hand_over_book,
)
from corecustomers.web.work.interactions import InteractionError
from corecustomers.web.work.models import OPEN_STATUSES, Alert, Interaction, Notification
from corecustomers.web.work.queue import can_see_queue_of, work_queue
from corecustomers.web.work.triage import (
    AlertChangeError,
    AlertNotFoundError,
    change_alert,
    log_with_result,
)

__all__ = ["router"]

router = Router()

#: The audit action that remembers which interaction an ``Idempotency-Key`` created.
IDEMPOTENCY_ACTION = "idempotency_key"


class InteractionIn(Schema):
    kind: str = Field(
        ...,
        description="visit, call, message, letter, email, gift, event, complaint, service_request",
        max_length=20,
    )
    channel: str = Field("", max_length=40)
    outcome: str = Field("", max_length=60, description="one of the configured outcomes")
    at: dt.datetime | None = Field(None, description="when; now if left out")
    notes: str = Field("", max_length=5000)
    next_step: str = Field("", max_length=300)
    next_step_due: dt.date | None = None


class InteractionOut(Schema):
    id: int
    customer_id: str
    kind: str
    channel: str
    at: dt.datetime
    user: str | None
    outcome: str
    notes: str
    next_step: str
    next_step_due: dt.date | None


class LoggedOut(InteractionOut):
    alerts_resolved: list[int]


class InteractionListOut(Schema):
    items: list[InteractionOut]
    count: int
    limit: int
    offset: int


class WorkItemOut(Schema):
    key: str = Field(..., description="the item's id, for snooze and hand-over")
    kind: str = Field(
        ...,
        description="alert, follow_up, action, cadence, birthday, or a kind another app "
        "adds (e.g. a contact plan's)",
    )
    customer_id: str
    customer: str
    reason: str
    reason_zh: str
    due: dt.date | None
    value_at_stake: float | None
    held: bool = Field(False, description="true when the item is not to be done now")
    held_reason: str = Field("", description="why it is held (e.g. no consent)")
    held_reason_zh: str = ""


class WorkListOut(Schema):
    user: str
    items: list[WorkItemOut]
    count: int
    limit: int
    offset: int


class WorkQuery(PageQuery):
    user: str = Field("", max_length=150, description="a team member's user name (managers)")


class RoutedAlertOut(Schema):
    id: int
    customer_id: str
    reason_code: str
    reason: str
    reason_zh: str
    tier: str
    value_at_stake: float | None
    status: Literal["open", "in_progress", "resolved", "dismissed"]
    outcome: str
    note: str
    assignee: str | None
    raised_at: dt.datetime
    due: dt.datetime | None
    overdue: bool
    escalated: bool
    escalated_at: dt.datetime | None
    escalated_to: str | None
    resolved_at: dt.datetime | None
    reopened: int


class RoutedAlertListOut(Schema):
    items: list[RoutedAlertOut]
    count: int
    limit: int
    offset: int


class AlertQuery(PageQuery):
    status: Literal["open", "in_progress", "resolved", "dismissed", "all"] = Field(
        "open", description="`open` holds open and in-progress alerts"
    )


class AlertPatchIn(Schema):
    status: Literal["in_progress", "resolved", "dismissed"]
    outcome: str = Field("", max_length=60, description="required to resolve or dismiss")
    note: str = Field("", max_length=2000)


class NotificationOut(Schema):
    id: int
    kind: str
    message: str
    message_zh: str
    alert_id: int | None
    customer_id: str | None
    created: dt.datetime
    read: bool


class NotificationListOut(Schema):
    items: list[NotificationOut]
    count: int
    unread: int
    limit: int
    offset: int


def _shown_id(user: Any, customer: Customer) -> str:
    return customer.external_id if sees_personal_data(user) else customer.pseudonym


def _interaction(user: Any, row: Interaction, customer: Customer) -> dict[str, Any]:
    return {
        "id": row.pk,
        "customer_id": _shown_id(user, customer),
        "kind": row.kind,
        "channel": row.channel,
        "at": row.at,
        "user": row.user.username if row.user else None,
        "outcome": row.outcome,
        "notes": row.notes,
        "next_step": row.next_step,
        "next_step_due": row.next_step_due,
    }


def _customer(request: HttpRequest, customer_id: str, *, change: bool = False) -> Customer:
    """The customer the caller may see (else 404); 403 when it may not change it."""
    user = user_of(request)
    if "\x00" in customer_id:
        raise CustomerNotFoundError(customer_id)
    customer = find_customer(user, customer_id, "view")
    if change and not Customer.objects.restrict(user, "change").filter(pk=customer.pk).exists():
        raise ApiError(
            403, "forbidden", "you may look at this customer but not change it; ask a manager"
        )
    return customer


def _clean(field: str, value: str) -> str:
    if "\x00" in value:
        raise ApiError(422, "invalid", f"{field}: NUL characters are not allowed", field)
    return value


@router.post(
    "/customers/{customer_id:customer_id}/interactions",
    response={201: LoggedOut, **WRITE},
    summary="Log a visit, call, message … with a customer",
    description="A closing outcome (reached, retained, lost by default) resolves the "
    "customer's open alerts (`alerts_resolved`); a complaint or service request opens a "
    "follow-up for the owner. Send `Idempotency-Key` to make a retry safe: the same key "
    "from the same caller answers the first interaction (`Idempotent-Replayed: true`).",
)
def post_interaction(
    request: HttpRequest,
    customer_id: str,
    body: InteractionIn,
    response: HttpResponse,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Any:
    user = writer_of(request)
    customer = _customer(request, customer_id, change=True)
    for name in ("kind", "channel", "outcome", "notes", "next_step"):
        _clean(name, str(getattr(body, name)))
    key = _clean("Idempotency-Key", idempotency_key or "").strip()
    if len(key) > 200:
        raise ApiError(422, "invalid", "Idempotency-Key: at most 200 characters", "Idempotency-Key")
    with transaction.atomic():
        if key:
            # one request per customer at a time, so that a repeated key is seen
            Customer.objects.select_for_update().filter(pk=customer.pk).first()
            earlier = (
                AuditEntry.objects.filter(
                    action=IDEMPOTENCY_ACTION,
                    object_type="interaction",
                    customer_key=customer.pk,
                    user=user,
                    message=key,
                )
                .order_by("pk")
                .first()
            )
            if earlier is not None:
                row = Interaction.objects.select_related("user").filter(pk=earlier.object_key)
                first = row.first()
                if first is not None:
                    response["Idempotent-Replayed"] = "true"
                    resolved = (earlier.after or {}).get("alerts_resolved", [])
                    out = {**_interaction(user, first, customer), "alerts_resolved": resolved}
                    return Status(201, out)
        try:
            logged = log_with_result(
                user,
                customer,
                kind=body.kind,
                channel=body.channel,
                outcome=body.outcome,
                at=body.at,
                notes=body.notes,
                next_step=body.next_step,
                next_step_due=body.next_step_due,
            )
        except InteractionError as exc:
            raise ApiError(422, "invalid", f"{exc.field}: {exc}", exc.field) from exc
        if key:
            record(
                IDEMPOTENCY_ACTION,
                object_type="interaction",
                object_key=logged.interaction.pk,
                customer_key=customer.pk,
                message=key,
                after={"alerts_resolved": logged.resolved_alerts},
                user=user,
            )
    out = {**_interaction(user, logged.interaction, customer)}
    return Status(201, {**out, "alerts_resolved": logged.resolved_alerts})


@router.get(
    "/customers/{customer_id:customer_id}/interactions",
    response={200: InteractionListOut, **READ},
    summary="A customer's interactions, newest first",
)
def list_interactions(request: HttpRequest, customer_id: str, page: Query[PageQuery]) -> Any:
    user = user_of(request)
    customer = _customer(request, customer_id)
    rows = (
        Interaction.objects.restrict(user, "view")
        .filter(customer=customer)
        .select_related("user")
        .order_by("-at", "-pk")
    )
    return page_of(rows, page, lambda row: _interaction(user, row, customer))


@router.get(
    "/work",
    response={200: WorkListOut, **READ},
    summary="My work (今日工作): the caller's queue, most urgent first",
    description="Open alerts on own accounts by value at stake, follow-ups, next-best "
    "actions and contacts due, birthdays -- each with the reason it is there. A manager "
    "reads a team member's queue with `?user=`; anyone else's is a 404.",
)
def get_work(request: HttpRequest, query: Query[WorkQuery]) -> Any:
    viewer = user_of(request)
    person = viewer
    if query.user and query.user != viewer.username:
        person = User.objects.filter(username=query.user, is_active=True).first()
        if person is None or not can_see_queue_of(viewer, person):
            raise ApiError(404, "not_found", f"no queue of {query.user} that you can see")
    items = work_queue(person)  # the checks of other apps run on the page's items only
    return {
        "user": person.username,
        **page_of(
            items,
            query,
            lambda i: {
                "key": i.key,
                "kind": i.kind,
                "customer_id": i.customer_key,
                "customer": i.customer_label,
                "reason": i.reason_en,
                "reason_zh": i.reason_zh,
                "due": i.due,
                "value_at_stake": i.value_at_stake,
                "held": bool(i.held_en or i.held_zh),
                "held_reason": i.held_en,
                "held_reason_zh": i.held_zh,
            },
        ),
    }


def _alert(user: Any, alert: Alert, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "customer_id": _shown_id(user, alert.customer),
        "reason_code": alert.reason_code,
        "reason": alert.reason_en,
        "reason_zh": alert.reason_zh,
        "tier": alert.tier,
        "value_at_stake": alert.value_at_stake,
        "status": alert.status,
        "outcome": alert.outcome,
        "note": alert.note,
        "assignee": alert.assignee.username if alert.assignee else None,
        "raised_at": alert.raised_at,
        "due": alert.due_at,
        "overdue": alert.status in OPEN_STATUSES
        and alert.due_at is not None
        and alert.due_at < now,
        "escalated": alert.escalated_at is not None,
        "escalated_at": alert.escalated_at,
        "escalated_to": alert.escalated_to.username if alert.escalated_to else None,
        "resolved_at": alert.resolved_at,
        "reopened": alert.reopened,
    }


@router.get(
    "/alerts",
    response={200: RoutedAlertListOut, **READ},
    summary="Routed alerts in your scope, most value at stake first",
)
def list_routed_alerts(request: HttpRequest, query: Query[AlertQuery]) -> Any:
    user = user_of(request)
    alerts = Alert.objects.restrict(user, "view").select_related(
        "customer", "assignee", "escalated_to"
    )
    if query.status == "open":
        alerts = alerts.filter(status__in=OPEN_STATUSES)
    elif query.status != "all":
        alerts = alerts.filter(status=query.status)
    alerts = alerts.order_by("-value_at_stake", "pk")
    now = timezone.now()
    return page_of(alerts, query, lambda a: _alert(user, a, now))


@router.get(
    "/alerts/{alert_id}",
    response={200: RoutedAlertOut, **READ},
    summary="One routed alert",
)
def get_alert(request: HttpRequest, alert_id: int) -> Any:
    user = user_of(request)
    alert = (
        Alert.objects.restrict(user, "view")
        .select_related("customer", "assignee", "escalated_to")
        .filter(pk=alert_id)
        .first()
    )
    if alert is None:
        raise ApiError(404, "not_found", f"no alert {alert_id} that you can see")
    return _alert(user, alert, timezone.now())


@router.patch(
    "/alerts/{alert_id}",
    response={200: RoutedAlertOut, **WRITE},
    summary="Mark an alert in progress, resolved or dismissed",
    description="Resolving or dismissing needs an `outcome` (an interaction outcome; a "
    "dismissal may also say `false_alarm` or `not_relevant`). Only open alerts change.",
)
def patch_alert(request: HttpRequest, alert_id: int, body: AlertPatchIn) -> Any:
    user = writer_of(request)
    _clean("outcome", body.outcome)
    _clean("note", body.note)
    try:
        alert = change_alert(
            user, alert_id, status=body.status, outcome=body.outcome, note=body.note
        )
    except AlertNotFoundError as exc:
        raise ApiError(404, "not_found", f"no alert {alert_id} that you can change") from exc
    except AlertChangeError as exc:
        raise ApiError(422, "invalid", f"{exc.field}: {exc}", exc.field) from exc
    fresh = Alert.objects.select_related("customer", "assignee", "escalated_to").get(pk=alert.pk)
    return _alert(user, fresh, timezone.now())


@router.get(
    "/notifications",
    response={200: NotificationListOut, **READ},
    summary="Your notifications, newest first",
)
def list_notifications(request: HttpRequest, page: Query[PageQuery], unread: bool = False) -> Any:
    user = user_of(request)
    mine = Notification.objects.restrict(user, "view").select_related("customer")
    if unread:
        mine = mine.filter(read_at__isnull=True)
    mine = mine.order_by("-created", "-pk")
    listed = page_of(
        mine,
        page,
        lambda n: {
            "id": n.pk,
            "kind": n.kind,
            "message": n.message_en,
            "message_zh": n.message_zh,
            "alert_id": n.alert_id,
            "customer_id": _shown_id(user, n.customer) if n.customer else None,
            "created": n.created,
            "read": n.read_at is not None,
        },
    )
    unread = Notification.objects.restrict(user, "view").filter(read_at__isnull=True).count()
    return {**listed, "unread": unread}


class AssignmentIn(Schema):
    tier: str = Field("", max_length=40, description="e.g. strategic; empty: any tier")
    region: str = Field("", max_length=100)
    team: str = Field("", max_length=100, description="the customers' team")
    assignees: list[str] = Field(..., description="user names, served round-robin")
    dry_run: bool = Field(True, description="false to write the plan")


class HandOverIn(Schema):
    from_user: str = Field(..., alias="from", max_length=150, description="who leaves")
    to: list[str] = Field(..., description="user names, served round-robin")
    dry_run: bool = Field(True, description="false to write the plan")


class MoveOut(Schema):
    customer_id: str
    tier: str
    value_at_stake: float | None
    to: str | None


class BookOut(Schema):
    user: str
    before: int
    after: int


class AssignmentOut(Schema):
    applied: bool
    matched: int
    assigned: int
    left_over: int
    max_book: int
    books: list[BookOut]
    items: list[MoveOut] = Field(..., description="the first 1,000 moves")


class HandOverOut(Schema):
    applied: bool
    leaver: str
    customers: int
    memberships: int
    alerts: int
    follow_ups: int
    snoozes: int
    unassigned: int
    left_over: int
    max_book: int
    books: list[BookOut]
    items: list[MoveOut] = Field(..., description="the first 1,000 moves")


def _moves(user: Any, moves: list[Move]) -> list[dict[str, Any]]:
    personal = sees_personal_data(user)
    return [
        {
            "customer_id": m.external_id if personal else m.pseudonym,
            "tier": m.tier,
            "value_at_stake": m.value_at_stake,
            "to": m.to or None,
        }
        for m in moves[:1000]
    ]


def _books(books: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    return [{"user": k, "before": v[0], "after": v[1]} for k, v in books.items()]


def _assigning(call: Any) -> Any:
    try:
        return call()
    except AssignmentForbiddenError as exc:
        raise ApiError(403, "forbidden", str(exc)) from exc
    except AssignmentError as exc:
        raise ApiError(422, "invalid", f"{exc.field}: {exc}", exc.field) from exc


@router.post(
    "/assignments",
    response={200: AssignmentOut, **WRITE},
    summary="Give unowned customers to colleagues, round-robin within the book size",
    description="The customers without an owner that match `tier`, `region` and `team` "
    "(empty: any), most value at stake first, round-robin over `assignees`, each up to the "
    "setting `max_book_size`. A dry run (the default) answers the plan and writes nothing.",
)
def post_assignments(request: HttpRequest, body: AssignmentIn) -> Any:
    user = writer_of(request) if not body.dry_run else user_of(request)
    for name in ("tier", "region", "team"):
        _clean(name, str(getattr(body, name)))
    for name in body.assignees:
        _clean("assignees", name)
    flt = AssignmentFilter(tier=body.tier, region=body.region, team=body.team)
    plan = _assigning(lambda: bulk_assign(user, flt, body.assignees, dry_run=body.dry_run))
    return {
        "applied": plan.applied,
        "matched": plan.matched,
        "assigned": len(plan.moves),
        "left_over": plan.left_over,
        "max_book": plan.max_book,
        "books": _books(plan.books),
        "items": _moves(user, plan.moves),
    }


@router.post(
    "/handovers",
    response={200: HandOverOut, **WRITE},
    summary="Hand a leaver's whole book to colleagues",
    description="Every account-team place, open alert, open follow-up and snooze of `from` "
    "moves to the colleagues in `to`, customer by customer (owned customers round-robin "
    "within `max_book_size`). A dry run (the default) answers the plan and writes nothing; "
    "a plan that does not fit the books is refused (422, field `to`).",
)
def post_handovers(request: HttpRequest, body: HandOverIn) -> Any:
    user = writer_of(request) if not body.dry_run else user_of(request)
    _clean("from", body.from_user)
    for name in body.to:
        _clean("to", name)
    plan = _assigning(lambda: hand_over_book(user, body.from_user, body.to, dry_run=body.dry_run))
    return {
        "applied": plan.applied,
        "leaver": plan.leaver,
        "customers": len(plan.moves),
        "memberships": plan.memberships,
        "alerts": plan.alerts,
        "follow_ups": plan.follow_ups,
        "snoozes": plan.snoozes,
        "unassigned": plan.unassigned,
        "left_over": plan.left_over,
        "max_book": plan.max_book,
        "books": _books(plan.books),
        "items": _moves(user, plan.moves),
    }
