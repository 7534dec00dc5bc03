"""NPS by tier and by segment, and a customer's scores over time -- counted in the query's
scope (``restrict``): a manager's dashboard counts only the customers they may see.

NPS = % promoters (9-10) - % detractors (0-6) over each customer's *latest* NPS answer
within :data:`WINDOW_DAYS` (one customer, one voice), grouped by the customer's current tier
and segment (the analysis state).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db.models import Max
from django.utils import timezone

from corecustomers.web.customers.models import CustomerState
from corecustomers.web.surveys.models import SurveyResponse

__all__ = ["WINDOW_DAYS", "NpsRow", "customer_scores", "nps", "nps_by"]

WINDOW_DAYS = 365


@dataclass(frozen=True)
class NpsRow:
    group: str
    answers: int
    promoters: int
    passives: int
    detractors: int

    @property
    def nps(self) -> float | None:
        if not self.answers:
            return None
        return round(100.0 * (self.promoters - self.detractors) / self.answers, 1)


def nps(scores: list[int]) -> float | None:
    """NPS of a list of 0-10 scores (None for none)."""
    if not scores:
        return None
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    return round(100.0 * (promoters - detractors) / len(scores), 1)


def _latest(user: Any, today: dt.date) -> dict[int, int]:
    """Each in-scope customer's latest NPS score within the window: ``{customer: score}``."""
    since = timezone.now() - dt.timedelta(days=WINDOW_DAYS)
    answers = SurveyResponse.objects.restrict(user, "view").filter(
        survey__kind="nps", at__gte=since
    )
    last = answers.values("customer_id").annotate(last=Max("at"))
    latest: dict[int, tuple[dt.datetime, int, int]] = {}
    wanted = {row["customer_id"]: row["last"] for row in last}
    for cid, at, pk, score in answers.filter(customer_id__in=list(wanted)).values_list(
        "customer_id", "at", "pk", "score"
    ):
        if at == wanted[cid] and (cid not in latest or pk > latest[cid][1]):
            latest[cid] = (at, pk, score)
    return {cid: score for cid, (_, _, score) in latest.items()}


def nps_by(user: Any, field: str = "tier", order: list[str] | None = None) -> list[NpsRow]:
    """NPS per current ``tier`` or ``segment`` of the customers in ``user``'s scope."""
    latest = _latest(user, timezone.localdate())
    column = "tier" if field == "tier" else "rfm_segment_label"
    groups = dict(
        CustomerState.objects.filter(customer_id__in=list(latest)).values_list(
            "customer_id", column
        )
    )
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for cid, score in latest.items():
        row = counts[groups.get(cid) or "-"]
        row[0] += 1
        row[1 if score >= 9 else 2 if score >= 7 else 3] += 1
    names = list(order or []) + sorted(k for k in counts if k not in (order or []))
    return [NpsRow(name, *counts[name]) for name in names if name in counts]


def customer_scores(user: Any, customer_pk: int, limit: int = 20) -> list[SurveyResponse]:
    """A customer's answers, newest first (empty outside the user's scope)."""
    return list(
        SurveyResponse.objects.restrict(user, "view")
        .filter(customer_id=customer_pk)
        .select_related("survey", "recorded_by")[:limit]
    )
