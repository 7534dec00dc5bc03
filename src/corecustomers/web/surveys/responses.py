"""Recording answers (by link or during a call) and inviting customers by a signed link.

A link is a signed, expiring token (``django.core.signing``, salted for this use) naming the
customer, the survey and the outbox message it was sent in; it needs no login and answers
once. An invitation is an outbox message of purpose ``surveys``
(:func:`corecustomers.web.contact.outbox.plan_messages`): checked for consent and budget
like any other, held with the reason when not allowed. Every answer queues the alert job
(:mod:`.alerts`) after its commit, so a detractor among core customers reaches the owner
within one job cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from corecustomers.web.audit.log import record
from corecustomers.web.customers.models import Customer, CustomerState
from corecustomers.web.surveys.models import Survey, SurveyResponse

__all__ = [
    "INVITATION_TEMPLATE",
    "LINK_DAYS",
    "BadLinkError",
    "Link",
    "SurveyError",
    "invite",
    "make_token",
    "read_token",
    "record_response",
]

SALT = "corecustomers.surveys.link"
#: Days a survey link stays valid.
LINK_DAYS = 30
#: The outbox template of an invitation (created on first use; an administrator may edit it).
INVITATION_TEMPLATE = "survey_link"


class SurveyError(ValueError):
    """A field of an answer is invalid; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class BadLinkError(ValueError):
    """The link is not one of ours, was changed, or has expired."""


@dataclass(frozen=True)
class Link:
    customer: Customer
    survey: Survey
    key: str


def make_token(customer_pk: int, survey_pk: int, key: str) -> str:
    return signing.dumps({"c": customer_pk, "s": survey_pk, "k": key}, salt=SALT, compress=True)


def read_token(token: str) -> Link:
    try:
        data = signing.loads(token, salt=SALT, max_age=dt.timedelta(days=LINK_DAYS))
    except signing.SignatureExpired as exc:
        raise BadLinkError("this survey link has expired") from exc
    except signing.BadSignature as exc:
        raise BadLinkError("this survey link is not valid") from exc
    customer = Customer.objects.filter(pk=data.get("c")).first()
    survey = Survey.objects.filter(pk=data.get("s"), active=True).first()
    if customer is None or survey is None:
        raise BadLinkError("this survey is no longer open")
    return Link(customer, survey, str(data.get("k", "")))


def validate_score(survey: Survey, score: Any) -> int:
    low, high = survey.scale
    if isinstance(score, bool) or not isinstance(score, int) or not low <= score <= high:
        raise SurveyError("score", f"score: give a whole number from {low} to {high}")
    return score


def record_response(
    survey: Survey,
    customer: Customer,
    score: Any,
    *,
    channel: str,
    user: Any = None,
    comment: str = "",
    at: dt.datetime | None = None,
    key: str | None = None,
) -> SurveyResponse:
    """Store an answer (``channel`` "link" or "call") and queue the alert job after commit.

    A link's second answer (same ``key``) raises :class:`SurveyError` on ``token``.
    """
    if channel not in {"link", "call"}:
        raise SurveyError("channel", "channel is link or call")
    value = validate_score(survey, score)
    if len(comment) > 2000 or "\x00" in comment:
        raise SurveyError("comment", "comment: at most 2000 characters, no NUL")
    when = at or timezone.now()
    if timezone.is_naive(when):
        raise SurveyError("at", "at: give the time with its zone, e.g. 2026-12-05T10:00:00+08:00")
    if when > timezone.now() + dt.timedelta(minutes=5):
        raise SurveyError("at", "an answer cannot be in the future")
    state = (
        CustomerState.objects.filter(customer=customer)
        .only("tier", "rfm_segment_label", "rfm_segment", "core")
        .first()
    )
    who = user if user is not None and getattr(user, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                survey=survey,
                customer=customer,
                score=value,
                comment=comment,
                channel=channel,
                recorded_by=who,
                at=when,
                tier=state.tier if state else "",
                segment=(state.rfm_segment_label or state.rfm_segment) if state else "",
                core=bool(state.core) if state else False,
                invitation_key=key or None,
            )
            record(
                "survey_response",
                object_type="survey",
                object_key=survey.pk,
                customer_key=customer.pk,
                after={"score": value, "channel": channel, "survey": survey.code},
                user=who,
                channel=None,
            )
            from corecustomers.web.surveys.jobs import queue_checks

            transaction.on_commit(queue_checks)
    except IntegrityError as exc:
        raise SurveyError("token", "this survey link has already been answered") from exc
    return response


def _ensure_template() -> None:
    from corecustomers.web.contact.models import MessageTemplate

    MessageTemplate.objects.get_or_create(
        code=INVITATION_TEMPLATE,
        defaults={
            "purpose": "surveys",
            "subject_en": "How are we doing, $name?",
            "body_en": "Dear $name,\n\nPlease tell us how we are doing (one question, one "
            "minute): $survey_url\n\nTo stop these messages: $unsubscribe_url",
            "subject_zh": "$name，请您评价我们的服务",
            "body_zh": "尊敬的$name：\n\n请花一分钟回答一个问题，告诉我们您对我们服务的评价："
            "$survey_url\n\n如不希望再收到此类消息：$unsubscribe_url",
        },
    )


def link_for(customer_pk: int, survey_pk: int, key: str) -> str:
    from corecustomers.web.contact.policy import setting

    root = str(setting("contact_public_url")).rstrip("/")
    token = make_token(customer_pk, survey_pk, key)
    return root + reverse("surveys:respond", kwargs={"token": token})


def invite(
    survey: Survey,
    customers: Iterable[Customer],
    *,
    channels: Sequence[str] = ("email", "sms"),
    user: Any = None,
    planned_for: dt.datetime | None = None,
) -> Any:
    """Plan an invitation per customer into the outbox (consent- and budget-checked)."""
    from corecustomers.web.contact.outbox import plan_messages

    _ensure_template()

    def extra(customer: Customer, key: str) -> dict[str, str]:
        return {"survey_url": link_for(customer.pk, survey.pk, key)}

    return plan_messages(
        customers,
        purpose="surveys",
        channels=list(channels),
        template=INVITATION_TEMPLATE,
        planned_for=planned_for,
        user=user,
        extra=extra,
    )
