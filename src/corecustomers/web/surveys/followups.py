"""Follow-up visits (回访) after complaints and service requests, tracked.

The work app schedules them: logging a complaint or a service request opens a
``FollowUp`` for the customer's owner, due ``follow_up_days`` later, shown in My work; an
answered contact (an interaction with an outcome) marks it done. This module tracks them:
each with its state -- open, overdue, done on time, done late -- the contact that answered
it (the first interaction with an outcome after the follow-up was opened), and the
customer's next satisfaction answer after it; and the totals a manager watches.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from corecustomers.web.customers.queries import sees_personal_data
from corecustomers.web.surveys.models import SurveyResponse
from corecustomers.web.work.models import FollowUp, Interaction

__all__ = ["FOLLOW_UP_SOURCES", "Tracked", "tracked"]

FOLLOW_UP_SOURCES = ("complaint", "service_request")


@dataclass(frozen=True)
class Tracked:
    pk: int
    customer_key: str
    customer_label: str
    source_kind: str
    opened: dt.datetime
    due: dt.date
    owner: str
    state: str  # open, overdue, done_on_time, done_late
    done_at: dt.datetime | None
    answered_by: str  # the kind of the contact that answered it, e.g. "visit"
    score_after: str  # the next survey answer after it, e.g. "4/5"


def _state(row: FollowUp, today: dt.date) -> str:
    if row.done_at is None:
        return "overdue" if row.due < today else "open"
    return "done_on_time" if timezone.localtime(row.done_at).date() <= row.due else "done_late"


def tracked(user: Any, *, limit: int = 200) -> tuple[list[Tracked], Counter[str]]:
    """The follow-ups after complaints and service requests in ``user``'s scope (newest
    first, at most ``limit``) and the count of each state over all of them."""
    today = timezone.localdate()
    rows = list(
        FollowUp.objects.restrict(user, "view")
        .filter(source__kind__in=FOLLOW_UP_SOURCES)
        .select_related("customer", "owner", "source")
        .order_by("-created", "-pk")
    )
    totals: Counter[str] = Counter(_state(r, today) for r in rows)
    shown = rows[:limit]
    customers = {r.customer_id for r in shown}
    contacts: dict[int, list[tuple[dt.datetime, str]]] = {}
    for cid, at, kind in (
        Interaction.objects.filter(customer_id__in=customers)
        .exclude(outcome="")
        .order_by("at")
        .values_list("customer_id", "at", "kind")
    ):
        contacts.setdefault(cid, []).append((at, kind))
    answers: dict[int, list[tuple[dt.datetime, int, str]]] = {}
    for cid, at, score, kind in (
        SurveyResponse.objects.filter(customer_id__in=customers)
        .order_by("at")
        .values_list("customer_id", "at", "score", "survey__kind")
    ):
        answers.setdefault(cid, []).append((at, score, kind))
    personal = sees_personal_data(user)
    out = []
    for r in shown:
        opened = r.source.at if r.source else r.created
        answered = next(
            (kind for at, kind in contacts.get(r.customer_id, []) if at > opened and (
                r.source_id is None or kind not in FOLLOW_UP_SOURCES)),
            "",
        ) if r.done_at else ""  # fmt: skip
        after = next(
            (f"{score}/{10 if kind == 'nps' else 5}"
             for at, score, kind in answers.get(r.customer_id, []) if at > opened),
            "",
        )  # fmt: skip
        out.append(
            Tracked(
                pk=r.pk,
                customer_key=r.customer.external_id if personal else r.customer.pseudonym,
                customer_label=(
                    f"{r.customer.external_id} {r.customer.name}".strip()
                    if personal
                    else r.customer.pseudonym
                ),
                source_kind=r.source.kind if r.source else "",
                opened=opened,
                due=r.due,
                owner=r.owner.username if r.owner else "",
                state=_state(r, today),
                done_at=r.done_at,
                answered_by=answered,
                score_after=after,
            )
        )
    return out, totals
