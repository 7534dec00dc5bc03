"""The JSON API of surveys (mounted at ``/api/v1/``; see :mod:`corecustomers.web.api.app`).

* ``GET /surveys`` -- the surveys (NPS 0-10, satisfaction 1-5) and their questions.
* ``POST /surveys/{survey}/responses`` -- record a customer's answer heard during a call
  (``survey``: the code, e.g. ``nps``, or the id); a detractor or a satisfaction drop of a
  core customer raises an alert to the owner in the next job cycle.
* ``GET /customers/{customer_id}/survey-responses`` -- a customer's answers, newest first.
* ``GET /surveys/nps`` -- NPS by tier or segment over the caller's scope.

Access is decided in the query (``restrict``): a customer out of scope is a 404; one the
caller may see but not change is a 403 on a write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from corecustomers.web.api.customers import READ, WRITE, user_of, writer_of
from corecustomers.web.api.errors import ApiError
from corecustomers.web.api.paging import PageQuery, page_of
from corecustomers.web.customers.models import Customer
from corecustomers.web.customers.queries import find_customer, sees_personal_data
from corecustomers.web.surveys.models import Survey, SurveyResponse
from corecustomers.web.surveys.responses import SurveyError, record_response
from corecustomers.web.surveys.stats import nps_by

__all__ = ["router"]

router = Router()


class SurveyOut(Schema):
    id: int
    code: str
    kind: Literal["nps", "satisfaction"]
    question_en: str
    question_zh: str
    low: int
    high: int
    active: bool


class SurveyListOut(Schema):
    items: list[SurveyOut]


class ResponseIn(Schema):
    customer_id: str = Field(..., min_length=1, max_length=200)
    score: int = Field(..., description="0-10 for NPS, 1-5 for satisfaction")
    comment: str = Field("", max_length=2000)
    at: dt.datetime | None = Field(None, description="when it was answered (default: now)")


class ResponseOut(Schema):
    id: int
    survey: str
    customer_id: str
    score: int
    channel: str
    at: dt.datetime
    tier: str
    comment: str
    recorded_by: str | None
    alert_id: int | None


class ResponseListOut(Schema):
    items: list[ResponseOut]
    count: int
    limit: int
    offset: int


class NpsRowOut(Schema):
    group: str
    answers: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None


class NpsOut(Schema):
    by: Literal["tier", "segment"]
    items: list[NpsRowOut]


def _survey(key: str) -> Survey:
    found = Survey.objects.filter(code=key).first()
    if found is None and key.isdigit():
        found = Survey.objects.filter(pk=int(key)).first()
    if found is None:
        raise ApiError(404, "not_found", f"no survey {key!r}; see GET /api/v1/surveys")
    return found


def _out(user: Any, r: SurveyResponse, customer: Customer) -> dict[str, Any]:
    return {
        "id": r.pk,
        "survey": r.survey.code,
        "customer_id": customer.external_id if sees_personal_data(user) else customer.pseudonym,
        "score": r.score,
        "channel": r.channel,
        "at": r.at,
        "tier": r.tier,
        "comment": r.comment if sees_personal_data(user) else "",
        "recorded_by": r.recorded_by.username if r.recorded_by else None,
        "alert_id": r.alert_id,
    }


def _survey_out(s: Survey) -> dict[str, Any]:
    low, high = s.scale
    return {
        "id": s.pk,
        "code": s.code,
        "kind": s.kind,
        "question_en": s.question_en,
        "question_zh": s.question_zh,
        "low": low,
        "high": high,
        "active": s.active,
    }


@router.get("/surveys", response={200: SurveyListOut, **READ}, summary="The surveys")
def list_surveys(request: HttpRequest) -> Any:
    user = user_of(request)
    return {"items": [_survey_out(s) for s in Survey.objects.restrict(user, "view")]}


@router.get(
    "/surveys/nps",
    response={200: NpsOut, **READ},
    summary="NPS by tier or segment over your customers",
    description="Each customer's latest NPS answer of the last 365 days; NPS = % promoters "
    "(9-10) - % detractors (0-6), grouped by the customer's current tier or segment.",
)
def get_nps(request: HttpRequest, by: Literal["tier", "segment"] = "tier") -> Any:
    user = user_of(request)
    rows = nps_by(user, by)
    return {
        "by": by,
        "items": [
            {
                "group": r.group,
                "answers": r.answers,
                "promoters": r.promoters,
                "passives": r.passives,
                "detractors": r.detractors,
                "nps": r.nps,
            }
            for r in rows
        ],
    }


@router.post(
    "/surveys/{survey}/responses",
    response={201: ResponseOut, **WRITE},
    summary="Record a customer's answer (满意度调查), e.g. heard during a call",
    description="`survey` is the survey's code (`nps`, `satisfaction`) or id. A detractor "
    "(0-6) or a satisfaction drop of a core customer raises an alert to the owner within "
    "one job cycle (`alert_id` on the answer once the job has run).",
)
def post_response(request: HttpRequest, survey: str, body: ResponseIn) -> Any:
    user = writer_of(request)
    found = _survey(survey)
    if "\x00" in body.comment or "\x00" in body.customer_id:
        raise ApiError(422, "invalid", "NUL characters are not allowed", "comment")
    customer = find_customer(user, body.customer_id, "view")
    if not Customer.objects.restrict(user, "change").filter(pk=customer.pk).exists():
        raise ApiError(
            403, "forbidden", "you may look at this customer but not change it; ask a manager"
        )
    if not found.active:
        raise ApiError(422, "invalid", f"survey {found.code!r} is closed", "survey")
    try:
        answer = record_response(
            found, customer, body.score, channel="call", user=user, comment=body.comment,
            at=body.at,
        )  # fmt: skip
    except SurveyError as exc:
        raise ApiError(422, "invalid", str(exc), exc.field) from exc
    return Status(201, _out(user, answer, customer))


@router.get(
    "/customers/{customer_id:customer_id}/survey-responses",
    response={200: ResponseListOut, **READ},
    summary="A customer's survey answers, newest first",
)
def list_responses(request: HttpRequest, customer_id: str, page: Query[PageQuery]) -> Any:
    user = user_of(request)
    customer = find_customer(user, customer_id, "view")
    rows = (
        SurveyResponse.objects.restrict(user, "view")
        .filter(customer=customer)
        .select_related("survey", "recorded_by")
    )
    return page_of(rows, page, lambda r: _out(user, r, customer))
