"""A detractor or a satisfaction drop among core customers raises an alert to the owner.

This is the satisfaction-drop early warning the engine left as a hook. :func:`check_new`
(the job ``survey_checks``, queued after every answer) looks at each answer not yet checked:

* an NPS answer of 0-6 (a detractor) raises ``survey_detractor``;
* a satisfaction answer of 1-2, or one at least :data:`DROP` points below the customer's
  previous answer to the same survey, raises ``satisfaction_drop``;

only for core customers (the analysis state's ``core`` at the time of the answer). The alert
is routed as the analysis' alerts are (:mod:`corecustomers.web.work.routing`): to the
customer's owner, or to the team lead with none; due after the tier's SLA in working days;
never twice while one is open for the same customer and reason (the open one gets a note);
its assignee is notified in the app and, by the notification job, by e-mail: all of which
is the work app's :func:`corecustomers.web.work.routing.raise_alert`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from corecustomers.web.customers.models import Customer
from corecustomers.web.surveys.models import SurveyResponse
from corecustomers.web.work.models import Alert
from corecustomers.web.work.routing import raise_alert as route_one

__all__ = ["DROP", "check_new", "raise_alert", "reason_of"]

#: A satisfaction answer this many points below the previous one is a drop.
DROP = 2
#: Satisfaction answers at or below this are a drop whatever came before.
LOW_SATISFACTION = 2


def reason_of(response: SurveyResponse, previous: int | None) -> tuple[str, str, str] | None:
    """``(code, English, Chinese)`` when the answer should raise an alert, else ``None``."""
    score = response.score
    if response.survey.kind == "nps":
        if score <= 6:
            return (
                "survey_detractor",
                f'Detractor: answered {score}/10 to "{response.survey.question_en}".',
                f"贬损者：对“{response.survey.question_zh}”评分 {score}/10。",
            )
        return None
    if score <= LOW_SATISFACTION or (previous is not None and previous - score >= DROP):
        before = f" (before: {previous}/5)" if previous is not None else ""
        before_zh = f"（上次：{previous}/5）" if previous is not None else ""
        return (
            "satisfaction_drop",
            f"Satisfaction dropped: {score}/5{before}.",
            f"满意度下降：{score}/5{before_zh}。",
        )
    return None


def raise_alert(
    customer: Customer,
    *,
    code: str,
    reason_en: str,
    reason_zh: str,
    tier: str,
    now: dt.datetime | None = None,
) -> tuple[Alert, bool]:
    """Raise (or add a note to the open) alert for ``customer`` and ``code``; ``(alert, new)``.

    The work app's :func:`~corecustomers.web.work.routing.raise_alert`, with the value at
    stake of the customer's analysis state.
    """
    state = getattr(customer, "state", None)
    return route_one(
        customer,
        code=code,
        reason_en=reason_en,
        reason_zh=reason_zh,
        tier=tier,
        value_at_stake=getattr(state, "value_at_stake", None),
        now=now,
    )


def check_new(*, now: dt.datetime | None = None) -> dict[str, Any]:
    """Check every answer not yet checked (oldest first); counts."""
    now = now or timezone.now()
    raised = noted = looked = 0
    pending = list(
        SurveyResponse.objects.filter(checked_at__isnull=True)
        .select_related("survey", "customer", "customer__team", "customer__state")
        .order_by("at", "pk")
    )
    for response in pending:
        looked += 1
        alert = None
        with transaction.atomic():
            won = SurveyResponse.objects.filter(pk=response.pk, checked_at__isnull=True).update(
                checked_at=now
            )
            if not won:  # another worker took it
                continue
            if response.core:
                previous = (
                    SurveyResponse.objects.filter(
                        customer_id=response.customer_id,
                        survey_id=response.survey_id,
                        at__lt=response.at,
                    )
                    .order_by("-at", "-pk")
                    .values_list("score", flat=True)
                    .first()
                )
                reason = reason_of(response, previous)
                if reason is not None:
                    code, en, zh = reason
                    alert, new = raise_alert(
                        response.customer,
                        code=code,
                        reason_en=en,
                        reason_zh=zh,
                        tier=response.tier,
                        now=now,
                    )
                    raised += int(new)
                    noted += int(not new)
                    SurveyResponse.objects.filter(pk=response.pk).update(alert=alert)
    return {"checked": looked, "raised": raised, "noted": noted}
