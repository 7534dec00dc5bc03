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
its assignee is notified in the app and, by the notification job, by e-mail. The work app
has no public function that raises one alert, so :func:`raise_alert` writes the rows the way
``route_alerts`` does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from corecustomers.web.customers.models import AccountMember, Customer
from corecustomers.web.surveys.models import SurveyResponse
from corecustomers.web.work.calendar import add_working_days
from corecustomers.web.work.models import OPEN_STATUSES, Alert, Notification
from corecustomers.web.work.policy import sla_calendar, sla_days
from corecustomers.web.work.routing import team_lead

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
    """Raise (or add a note to the open) alert for ``customer`` and ``code``; ``(alert, new)``."""
    now = now or timezone.now()
    with transaction.atomic():
        current = (
            Alert.objects.select_for_update()
            .filter(customer=customer, reason_code=code, status__in=OPEN_STATUSES)
            .first()
        )
        if current is not None:
            current.note = (f"{current.note}\n" if current.note else "") + reason_en
            current.save(update_fields=["note"])
            return current, False
        owner = (
            AccountMember.objects.filter(customer=customer, role="owner")
            .select_related("user")
            .first()
        )
        assignee = owner.user if owner else team_lead(customer, None)
        deadline = add_working_days(now, sla_days(tier), sla_calendar())
        state = getattr(customer, "state", None)
        alert = Alert.objects.create(
            customer=customer,
            reason_code=code,
            reason_en=reason_en,
            reason_zh=reason_zh,
            tier=tier,
            value_at_stake=getattr(state, "value_at_stake", None),
            as_of=timezone.localdate(now),
            assignee=assignee,
            raised_at=now,
            due_at=deadline.at,
            sla_note=deadline.note,
        )
        if assignee is not None:
            due = timezone.localtime(deadline.at).date().isoformat()
            who = f"{customer.external_id} {customer.name}".strip()
            Notification.objects.create(
                user=assignee,
                kind="alert",
                message_en=f"New alert: {who} ({tier}). {reason_en} Act by {due}.",
                message_zh=f"新预警：{who}（{tier}）。{reason_zh} 请在{due}前处理。",
                alert=alert,
                customer=customer,
            )
    return alert, True


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
