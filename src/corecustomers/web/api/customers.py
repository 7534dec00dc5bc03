"""The customer endpoints: list, export, profile, history, override, account team, notes.

Customer ids travel URL-encoded in paths (``/customers/A%2F7%20%E4%B8%AD``) and may hold
``/``, spaces, line breaks or CJK: the ``customer_id`` path converter takes any character
(Django's ``path`` converter stops at a line break). An id ending in ``/history``,
``/override``, ``/team`` or ``/notes`` is read as that sub-resource of the shorter id.
Analysts use the pseudonym.

Every handler parses, calls one use case of :mod:`corecustomers.web.customers`, and
returns a schema of :mod:`corecustomers.web.api.schemas`; access is decided there, by
``restrict``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import register_converter
from ninja import Field, NinjaAPI, Query, Router, Schema

from corecustomers.errors import InputError
from corecustomers.web.api.auth import can_write
from corecustomers.web.api.errors import ERRORS, ApiError, ErrorBody
from corecustomers.web.api.paging import PageQuery, page_of
from corecustomers.web.api.schemas import (
    AccountTeamIn,
    AccountTeamOut,
    CustomerListOut,
    HistoryListOut,
    NotesIn,
    NotesOut,
    OverrideIn,
    OverrideOut,
    ProfileOut,
)
from corecustomers.web.customers.changes import (
    ChangeError,
    ChangeNotAllowedError,
    account_team_snapshot,
    set_account_team,
    set_notes,
)
from corecustomers.web.customers.models import Customer
from corecustomers.web.customers.overrides import remove_override, set_override
from corecustomers.web.customers.queries import (
    CustomerFilter,
    CustomerNotFoundError,
    FilterError,
    customer_page,
    export_csv,
    find_customer,
    profile,
)

__all__ = ["READ", "WRITE", "install_customer_errors", "router", "user_of", "writer_of"]

router = Router()

#: The error responses of a read and of a write (a write adds 409: the state changed).
READ: dict[int, Any] = dict(ERRORS)
WRITE: dict[int, Any] = {**ERRORS, 409: ErrorBody}


class CustomerIdConverter:
    """A customer id in a path: any characters, ``/`` and line breaks included."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(CustomerIdConverter, "customer_id")

SortKey = Literal[
    "core_score",
    "-core_score",
    "clv",
    "-clv",
    "value_at_stake",
    "-value_at_stake",
    "total_spend",
    "-total_spend",
    "p_alive",
    "-p_alive",
    "id",
    "-id",
]


class CustomerQuery(Schema):
    """The filters of the Customers page."""

    q: str = Field("", max_length=200, description="search id, name, phone, company")
    tier: str = Field("", max_length=40)
    segment: str = Field("", max_length=60)
    abc: Literal["A", "B", "C", ""] = ""
    alert: Literal["yes", "no", ""] = ""
    owner: str = Field("", max_length=150, description="a user name, or `none`")
    team: str = Field("", max_length=100)
    region: str = Field("", max_length=100)
    relationship: Literal["vendor", "partner", "alliance", ""] = ""
    sort: SortKey = "-core_score"


def user_of(request: HttpRequest) -> Any:
    """The authenticated user (the token's, or the session's)."""
    return getattr(request, "auth_user", None) or request.user


def writer_of(request: HttpRequest) -> Any:
    """The user, if the credentials allow changes; else 403 ``read_only_token``."""
    if not can_write(request):
        raise ApiError(
            403,
            "read_only_token",
            "this token may only read; create one that may write with "
            "`corecustomers token NAME --scope write`",
        )
    return user_of(request)


def _text(field: str, value: str) -> str:
    if "\x00" in value:
        raise ApiError(422, "invalid", f"{field}: NUL characters are not allowed", field)
    return value


def _filter(query: CustomerQuery) -> CustomerFilter:
    values = query.model_dump()
    for name, value in values.items():
        _text(name, str(value))
    return CustomerFilter.from_mapping(values)


def _customer(request: HttpRequest, customer_id: str, *, change: bool = False) -> Customer:
    """The customer the caller may see, by id (or pseudonym); 403 when it may not change it."""
    user = user_of(request)
    if "\x00" in customer_id:
        raise CustomerNotFoundError(customer_id)
    customer = find_customer(user, customer_id, "view")
    if change and not Customer.objects.restrict(user, "change").filter(pk=customer.pk).exists():
        raise ApiError(
            403, "forbidden", "you may look at this customer but not change it; ask a manager"
        )
    return customer


@router.get(
    "/customers",
    response={200: CustomerListOut, **READ},
    summary="List and search customers",
    description="The customers you may see, filtered like the Customers page; `q` searches "
    "id, name, phone and company (analysts: the pseudonym only).",
)
def list_customers(
    request: HttpRequest, filters: Query[CustomerQuery], page: Query[PageQuery]
) -> Any:
    return customer_page(user_of(request), _filter(filters), limit=page.limit, offset=page.offset)


@router.get(
    "/customers.csv",
    response={200: None, **READ},
    summary="Export customers as CSV",
    description="The customers of a filter, streamed as UTF-8 CSV (with a byte-order mark "
    "for spreadsheets); the export is audited with its row count.",
    openapi_extra={
        "responses": {
            200: {
                "description": "CSV, one row per customer",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def export_customers(request: HttpRequest, filters: Query[CustomerQuery]) -> HttpResponse:
    flt = _filter(filters)
    lines = export_csv(user_of(request), flt)
    first = next(lines)  # runs the query and the audit entry before the response starts

    def body() -> Any:
        yield first.encode("utf-8")
        for line in lines:
            yield line.encode("utf-8")

    response = StreamingHttpResponse(body(), content_type="text/csv; charset=utf-8")
    stamp = dt.date.today().isoformat()
    response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.csv"'
    return response


@router.get(
    "/customers/{customer_id:customer_id}/history",
    response={200: HistoryListOut, **READ},
    summary="A customer's tier and scores over time",
)
def customer_history(request: HttpRequest, customer_id: str, page: Query[PageQuery]) -> Any:
    customer = _customer(request, customer_id)
    points = profile(user_of(request), customer, audit=False).history
    return page_of(points, page, lambda point: point)


@router.put(
    "/customers/{customer_id:customer_id}/override",
    response={200: OverrideOut, **WRITE},
    summary="Hold a customer in a tier by hand",
    description="The override is the workspace's: the next `corecustomers analyze` keeps it, "
    "naming who and why. `pending` is true until the worker has written it there.",
)
def put_override(request: HttpRequest, customer_id: str, body: OverrideIn) -> Any:
    user = writer_of(request)
    customer = _customer(request, customer_id, change=True)
    _text("tier", body.tier)
    _text("reason", body.reason)
    try:
        set_override(customer, tier=body.tier, reason=body.reason, until=body.until, user=user)
    except InputError as exc:
        raise ApiError(422, "invalid", str(exc), exc.column) from exc
    shown = profile(user, customer, audit=False).override
    if shown is None:  # removed by someone else in between
        raise ApiError(409, "conflict", "the override changed meanwhile; read it and try again")
    return shown


@router.delete(
    "/customers/{customer_id:customer_id}/override",
    response={204: None, **WRITE},
    summary="Remove a customer's manual tier",
)
def delete_override(request: HttpRequest, customer_id: str) -> Any:
    user = writer_of(request)
    customer = _customer(request, customer_id, change=True)
    if not remove_override(customer, user=user):
        raise ApiError(404, "no_override", "this customer's tier is not held by hand")
    return HttpResponse(status=204)


@router.put(
    "/customers/{customer_id:customer_id}/team",
    response={200: AccountTeamOut, **WRITE},
    summary="Set the account team, team and relationship level",
    description="Replaces the account team in full. Account managers may change the support "
    "members and the relationship level of their own customers; owner, sponsor and team are "
    "set by managers (within their teams) and administrators.",
)
def put_team(request: HttpRequest, customer_id: str, body: AccountTeamIn) -> Any:
    user = writer_of(request)
    customer = _customer(request, customer_id, change=True)
    for name in (body.owner, body.sponsor, body.team, *body.support):
        _text("team", name or "")
    set_account_team(
        user,
        customer,
        owner=body.owner,
        support=list(body.support),
        sponsor=body.sponsor,
        team=body.team,
        relationship=body.relationship,
    )
    customer.refresh_from_db()
    return account_team_snapshot(customer)


@router.put(
    "/customers/{customer_id:customer_id}/notes",
    response={200: NotesOut, **WRITE},
    summary="Replace a customer's notes",
)
def put_notes(request: HttpRequest, customer_id: str, body: NotesIn) -> Any:
    user = writer_of(request)
    customer = _customer(request, customer_id, change=True)
    set_notes(user, customer, _text("notes", body.notes))
    customer.refresh_from_db()
    return {"notes": customer.notes}


@router.get(
    "/customers/{customer_id:customer_id}",
    response={200: ProfileOut, **READ},
    summary="A customer's profile (客户档案)",
    description="By external id (URL-encoded), or by pseudonym; analysts by pseudonym only "
    "and without personal data. Each view is audited.",
)
def get_customer(request: HttpRequest, customer_id: str) -> Any:
    customer = _customer(request, customer_id)
    return profile(user_of(request), customer)


def install_customer_errors(api: NinjaAPI) -> None:
    """Answer the read path's and the change use cases' errors with the one error body."""

    def body(request: HttpRequest, status: int, code: str, message: str, field: str | None) -> Any:
        payload = {"error": {"code": code, "message": message, "field": field}}
        return api.create_response(request, payload, status=status)

    @api.exception_handler(CustomerNotFoundError)
    def _not_found(request: HttpRequest, exc: CustomerNotFoundError) -> HttpResponse:
        return body(request, 404, "not_found", f"no customer {exc} that you can see", None)

    @api.exception_handler(FilterError)
    def _bad_filter(request: HttpRequest, exc: FilterError) -> HttpResponse:
        return body(request, 422, "invalid", str(exc), exc.field)

    @api.exception_handler(ChangeError)
    def _bad_change(request: HttpRequest, exc: ChangeError) -> HttpResponse:
        if isinstance(exc, ChangeNotAllowedError):
            return body(request, 403, "forbidden", exc.message, exc.field)
        return body(request, 422, "invalid", exc.message, exc.field)
