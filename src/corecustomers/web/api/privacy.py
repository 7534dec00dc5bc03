"""The JSON API of privacy rights (mounted at ``/api/v1/``; see :mod:`corecustomers.web.privacy`).

* ``GET /customers/{customer_id}/export`` -- a zip of everything held about the customer
  (one JSON and one CSV file per table, and ``manifest.json``): administrators, and
  managers for customers in their scope.
* ``POST /customers/{customer_id}/erase`` -- erase the customer's personal data
  (administrators only); answers the fulfilment record, or 409 ``workspace_busy`` when
  the workspace stayed in use by an analysis (nothing was changed: ask again later).
* ``GET /privacy/retention`` -- the retention rules as set (administrators only).

A role that may not make the request answers 403 whatever the id (so the answer tells
nothing about which customers exist); a customer out of scope answers 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from corecustomers.errors import SourceError
from corecustomers.web.api.customers import READ, WRITE, user_of, writer_of
from corecustomers.web.api.errors import ApiError
from corecustomers.web.customers.models import Customer
from corecustomers.web.privacy.erase import erase_customer
from corecustomers.web.privacy.export import PrivacyForbiddenError, export_customer
from corecustomers.web.privacy.models import Fulfilment

__all__ = ["router"]

router = Router()


class FulfilmentOut(Schema):
    id: int
    kind: str
    subject: str
    by: str
    channel: str
    at: dt.datetime
    counts: dict[str, int]
    details: dict[str, Any]
    #: an erasure's cleaning stages still to do; ``completed`` is set when none is left
    pending: list[str]
    completed: dt.datetime | None


def _out(done: Fulfilment) -> dict[str, Any]:
    return {
        "id": done.pk,
        "kind": done.kind,
        "subject": done.subject,
        "by": done.username,
        "channel": done.channel,
        "at": done.at,
        "counts": done.counts,
        "details": done.details,
        "pending": done.pending,
        "completed": done.completed,
    }


def _not_found(customer_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no customer {customer_id!r} that you may reach")


@router.get(
    "/customers/{customer_id:customer_id}/export",
    response=READ,
    summary="Everything held about a customer, as a zip of JSON and CSV files",
    openapi_extra={
        "responses": {
            "200": {
                "description": "the zip",
                "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def export(request: HttpRequest, customer_id: str) -> Any:
    user = user_of(request)
    try:
        data, done = export_customer(customer_id, user, channel="api")
    except PrivacyForbiddenError as exc:
        raise ApiError(403, "forbidden", str(exc)) from exc
    except Customer.DoesNotExist as exc:
        raise _not_found(customer_id) from exc
    response = HttpResponse(data, content_type="application/zip")
    # The file is named by the pseudonym: the raw id stays out of headers and logs.
    response["Content-Disposition"] = f'attachment; filename="customer-{done.subject}.zip"'
    return response


class RetentionRuleOut(Schema):
    kind: str
    days: int
    default_days: int
    setting: str
    what: str


@router.get(
    "/privacy/retention",
    response={200: list[RetentionRuleOut], **READ},
    summary="The retention rules per kind of data (administrators only)",
)
def retention(request: HttpRequest) -> Any:
    from corecustomers.web.privacy.export import role_of
    from corecustomers.web.privacy.retention import rules

    if role_of(user_of(request)) != "admin":
        raise ApiError(403, "forbidden", "only administrators may read the retention rules")
    return rules()


@router.post(
    "/customers/{customer_id:customer_id}/erase",
    response={200: FulfilmentOut, **WRITE},
    summary="Erase a customer's personal data (administrators only)",
)
def erase(request: HttpRequest, customer_id: str) -> Any:
    user = writer_of(request)
    try:
        done = erase_customer(customer_id, user, channel="api")
    except PrivacyForbiddenError as exc:
        raise ApiError(403, "forbidden", str(exc)) from exc
    except Customer.DoesNotExist as exc:
        raise _not_found(customer_id) from exc
    except SourceError as exc:
        raise ApiError(409, "workspace_busy", str(exc)) from exc
    return _out(done)
