"""The management view: coverage, alert SLA performance, outcomes, work done -- now and a month ago.

Everything is counted over what the viewer may see (``restrict``), for a period (a calendar
month by default) and the period before it, so that a manager sees the trend.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, F, Max, OuterRef, Q
from django.utils import timezone

from corecustomers.web.customers.models import AccountMember, Analysis, Customer, CustomerState
from corecustomers.web.work.models import Alert, Interaction
from corecustomers.web.work.policy import setting

__all__ = ["Management", "Period", "management"]


@dataclass(frozen=True)
class Period:
    start: dt.datetime
    end: dt.datetime

    @classmethod
    def month_of(cls, day: dt.date) -> Period:
        first = day.replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        tz = timezone.get_current_timezone()
        return cls(
            dt.datetime.combine(first, dt.time(), tzinfo=tz),
            dt.datetime.combine(nxt, dt.time(), tzinfo=tz),
        )

    def previous(self) -> Period:
        return Period.month_of((self.start - dt.timedelta(days=1)).date())


@dataclass(frozen=True)
class Management:
    period: Period
    core_customers: int
    core_without_owner: int
    core_not_contacted: int
    sla: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]
    work: list[dict[str, Any]]
    engine_alert_precision: float | None


def _sla(alerts: Any, period: Period) -> dict[str, Any]:
    due = alerts.filter(due_at__gte=period.start, due_at__lt=period.end)
    met = due.filter(resolved_at__isnull=False, resolved_at__lte=F("due_at")).count()
    total = due.count()
    return {
        "due": total,
        "met": met,
        "escalated": due.filter(escalated_at__isnull=False).count(),
        "share_met": met / total if total else None,
    }


def management(user: Any, *, today: dt.date | None = None) -> Management:
    """The management view of what ``user`` may see (see the module docstring)."""
    today = today or timezone.localdate()
    period = Period.month_of(today)
    before = period.previous()
    customers = Customer.objects.restrict(user, "view")
    latest = Analysis.objects.first()
    core_tiers = list(
        ((latest.summary.get("tiers") or {}).get("core_tiers") or []) if latest else []
    )
    core = CustomerState.objects.filter(customer__in=customers.values("pk"), tier__in=core_tiers)
    without_owner = core.exclude(
        Exists(AccountMember.objects.filter(customer=OuterRef("customer"), role="owner"))
    ).count()
    cadence = {str(k): int(v) for k, v in dict(setting("contact_cadence_days")).items()}
    not_contacted = 0
    for tier, days in cadence.items():
        cutoff = timezone.now() - dt.timedelta(days=days)
        not_contacted += (
            core.filter(tier=tier)
            .exclude(
                Exists(Interaction.objects.filter(customer=OuterRef("customer"), at__gte=cutoff))
            )
            .count()
        )
    alerts = Alert.objects.restrict(user, "view")
    sla = []
    for team_name in sorted(
        set(alerts.values_list("customer__team__name", flat=True).distinct()), key=lambda t: t or ""
    ):
        scoped = alerts.filter(customer__team__name=team_name)
        sla.append(
            {"team": team_name or "", "now": _sla(scoped, period), "before": _sla(scoped, before)}
        )
    outcomes = list(
        alerts.filter(status="resolved")
        .values("tier", "outcome")
        .annotate(alerts=Count("pk"))
        .order_by("tier", "outcome")
    )
    interactions = Interaction.objects.restrict(user, "view")
    work = []
    rows = (
        interactions.filter(at__gte=before.start, at__lt=period.end)
        .values("user__username")
        .annotate(
            now=Count("pk", filter=Q(at__gte=period.start)),
            before=Count("pk", filter=Q(at__lt=period.start)),
            last=Max("at"),
        )
        .order_by("user__username")
    )
    for row in rows:
        resolved = alerts.filter(resolved_by__username=row["user__username"])
        work.append(
            {
                "user": row["user__username"] or "",
                "interactions": row["now"],
                "interactions_before": row["before"],
                "alerts_resolved": resolved.filter(resolved_at__gte=period.start).count(),
                "alerts_resolved_before": resolved.filter(
                    resolved_at__gte=before.start, resolved_at__lt=period.start
                ).count(),
            }
        )
    evaluation = ((latest.summary.get("alerts") or {}).get("evaluation") or {}) if latest else {}
    precision = evaluation.get("precision") if isinstance(evaluation, dict) else None
    return Management(
        period=period,
        core_customers=core.count(),
        core_without_owner=without_owner,
        core_not_contacted=not_contacted,
        sla=sla,
        outcomes=outcomes,
        work=work,
        engine_alert_precision=float(precision) if precision is not None else None,
    )
