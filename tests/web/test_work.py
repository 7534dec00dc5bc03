"""Alerts routed to a person, e-mailed once, reopened, escalated once after a working-day SLA."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from corecustomers.web.customers.models import (
    AccountMember,
    Analysis,
    CustomerState,
    ServiceSetting,
)
from corecustomers.web.work.calendar import add_working_days
from corecustomers.web.work.interactions import InteractionError, log_interaction
from corecustomers.web.work.models import Alert, FollowUp, Notification
from corecustomers.web.work.notify import send_pending_emails
from corecustomers.web.work.routing import escalate_overdue, route_alerts

pytestmark = pytest.mark.django_db

TZ = dt.UTC


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp(settings: Any) -> Iterator[_Inbox]:
    """A real SMTP server on a free local port; Django's SMTP backend sends to it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def flagged(imported: Path, people):  # type: ignore[no-untyped-def]
    """am1 owns the two alerted customers with the most at stake; the third is East's."""
    states = list(CustomerState.objects.filter(alert=True).order_by("-value_at_stake", "pk")[:3])
    for state in states[:2]:
        AccountMember.objects.create(customer=state.customer, user=people.am1, role="owner")
    third = states[2].customer
    third.team = people.east
    third.save()
    return [s.customer for s in states]


def _run_id() -> str:
    return Analysis.objects.get().run_id


def test_each_flagged_customer_gets_one_alert_routed_to_owner_or_lead(flagged, people) -> None:  # type: ignore[no-untyped-def]
    routed = route_alerts(_run_id())
    n_flagged = CustomerState.objects.filter(alert=True).count()
    assert routed.raised == n_flagged == Alert.objects.count()
    assert Alert.objects.get(customer=flagged[0]).assignee == people.am1
    assert Alert.objects.get(customer=flagged[2]).assignee == people.manager  # East's lead
    assert routed.unassigned == n_flagged - 3
    codes = set(Alert.objects.values_list("reason_code", flat=True))
    # the engine's signals, comma-joined: the churn risk and the rules that name it
    signals = {"churn_risk", "overdue", "spend_decline", "recency", "p_alive_drop"}
    assert codes and all(set(code.split(",")) <= signals for code in codes), codes
    again = route_alerts(_run_id())
    assert (again.raised, again.reopened, again.updated) == (0, 0, n_flagged)
    assert Alert.objects.count() == n_flagged


def test_routing_emails_the_owner_once(flagged, people, smtp: _Inbox) -> None:  # type: ignore[no-untyped-def]
    route_alerts(_run_id())
    assert send_pending_emails() == {"sent": 3, "failed": 0}
    to_am1 = [m for rcpt, m in smtp.messages if rcpt == ["am1@example.com"]]
    assert len(to_am1) == 2
    body = to_am1[0].get_payload(decode=True).decode("utf-8")
    assert flagged[0].external_id in body or flagged[1].external_id in body
    assert send_pending_emails() == {"sent": 0, "failed": 0}
    assert len(smtp.messages) == 3


def test_a_resolved_alert_flagged_again_reopens_with_a_note(flagged, people) -> None:  # type: ignore[no-untyped-def]
    route_alerts(_run_id())
    log_interaction(people.am1, flagged[0], kind="visit", outcome="retained", notes="ok")
    alert = Alert.objects.get(customer=flagged[0])
    assert (alert.status, alert.outcome, alert.resolved_by) == ("resolved", "retained", people.am1)
    routed = route_alerts(_run_id())
    assert routed.reopened == 1
    alert.refresh_from_db()
    assert alert.status == "open" and alert.reopened == 1 and "Reopened" in alert.note
    assert Alert.objects.filter(customer=flagged[0]).count() == 1


def test_interaction_rules(flagged, people) -> None:  # type: ignore[no-untyped-def]
    route_alerts(_run_id())
    from corecustomers.web.customers.queries import CustomerNotFoundError

    with pytest.raises(CustomerNotFoundError):
        log_interaction(people.am2, flagged[0], kind="call", outcome="reached")
    with pytest.raises(InteractionError) as bad:
        log_interaction(people.am1, flagged[0], kind="telepathy")
    assert bad.value.field == "kind"
    log_interaction(people.am1, flagged[0], kind="call", outcome="not_reachable")
    assert Alert.objects.get(customer=flagged[0]).status == "in_progress"
    log_interaction(people.am1, flagged[1], kind="complaint", notes="late delivery")
    follow_up = FollowUp.objects.get(customer=flagged[1])
    assert follow_up.owner == people.am1 and "complaint" in follow_up.reason


def test_sla_in_chinese_working_days_escalates_once_across_spring_festival(flagged, people) -> None:  # type: ignore[no-untyped-def]
    ServiceSetting.objects.create(key="sla_calendar", value="cn")
    ServiceSetting.objects.create(key="alert_sla_days", value={"*": 2})
    # Friday 13 February 2026. The State Council's 2026 schedule: Saturday 14 February is a
    # make-up working day (调休), 15-23 February are the Spring Festival holiday; so two
    # working days after Friday are Saturday the 14th and Tuesday the 24th.
    raised = dt.datetime(2026, 2, 13, 10, 0, tzinfo=TZ)
    route_alerts(_run_id(), now=raised)
    alert = Alert.objects.get(customer=flagged[0])
    assert alert.due_at == dt.datetime(2026, 2, 24, 10, 0, tzinfo=TZ)
    assert add_working_days(raised, 2, "weekends").at == dt.datetime(2026, 2, 17, 10, 0, tzinfo=TZ)
    Notification.objects.all().delete()
    assert escalate_overdue(now=dt.datetime(2026, 2, 23, 23, 0, tzinfo=TZ)) == 0
    later = dt.datetime(2026, 2, 24, 10, 30, tzinfo=TZ)
    n = escalate_overdue(now=later)
    assert n == Alert.objects.count()
    alert.refresh_from_db()
    assert alert.escalated_to == people.manager  # am1's team lead
    assert escalate_overdue(now=later + dt.timedelta(days=3)) == 0  # exactly once
    to_manager = Notification.objects.filter(user=people.manager, kind="escalation")
    assert to_manager.filter(alert=alert).count() == 1


def test_plain_calendar_days_when_no_calendar_is_set(flagged) -> None:  # type: ignore[no-untyped-def]
    start = timezone.now().replace(microsecond=0)
    route_alerts(_run_id(), now=start)
    alert = Alert.objects.get(customer=flagged[0])
    tier_days = {"strategic": 2, "key": 5}.get(alert.tier, 10)
    assert alert.due_at == start + dt.timedelta(days=tier_days)


def test_routing_in_small_chunks_gives_the_same_alerts_and_one_notice_each(  # type: ignore[no-untyped-def]
    flagged, people, monkeypatch
) -> None:
    from corecustomers.web.work import routing

    monkeypatch.setattr(routing, "CHUNK", 7)  # the CDNOW run flags dozens: several chunks
    routed = route_alerts(_run_id())
    n_flagged = CustomerState.objects.filter(alert=True).count()
    assert n_flagged > 3 * 7 and routed.raised == n_flagged == Alert.objects.count()
    assigned = Alert.objects.filter(assignee__isnull=False)
    assert assigned.count() == 3  # two owned by am1, one East's (its lead)
    notices = Notification.objects.filter(kind="alert")
    assert sorted(notices.values_list("alert_id", flat=True)) == sorted(
        assigned.values_list("pk", flat=True)
    )
    assert {n.user for n in notices} == {people.am1, people.manager}
    log_interaction(people.am1, flagged[0], kind="visit", outcome="retained")
    CustomerState.objects.filter(customer=flagged[1]).update(value_at_stake=12345.0)
    again = route_alerts(_run_id())
    assert (again.raised, again.reopened, again.updated) == (0, 1, n_flagged - 1)
    assert Alert.objects.get(customer=flagged[1]).value_at_stake == 12345.0  # the run's value
    reopened = Notification.objects.get(kind="alert_reopened")
    assert reopened.user == people.am1 and reopened.alert == Alert.objects.get(customer=flagged[0])


def test_a_year_the_chinese_calendar_does_not_know_falls_back_to_weekends_with_a_note() -> None:
    # chinesecalendar 1.11 (the newest release, 2026-12) knows the years up to 2026
    friday = dt.datetime(2027, 1, 8, 10, 0, tzinfo=TZ)
    deadline = add_working_days(friday, 1, "cn")
    assert deadline.at == dt.datetime(2027, 1, 11, 10, 0, tzinfo=TZ)  # the Monday
    assert "2027" in deadline.note and "weekends" in deadline.note


def test_raise_alert_routes_one_alert_as_an_analysis_does_and_never_twice(flagged, people) -> None:  # type: ignore[no-untyped-def]
    from corecustomers.web.work.routing import raise_alert

    now = dt.datetime(2026, 3, 2, 9, tzinfo=TZ)  # a Monday; plain calendar days
    owned, unowned = flagged[0], flagged[2]
    alert, new = raise_alert(
        owned, code="survey_detractor", reason_en="Detractor.", reason_zh="贬损者。",
        tier="strategic", value_at_stake=12.5, now=now,
    )  # fmt: skip
    assert new and alert.assignee == people.am1 and alert.value_at_stake == 12.5
    assert alert.due_at == now + dt.timedelta(days=2)  # the strategic SLA
    note = Notification.objects.get(alert=alert)
    assert note.user == people.am1 and note.kind == "alert"
    assert note.message_en.startswith("New alert: ") and "Act by 2026-03-04" in note.message_en
    again, new = raise_alert(
        owned, code="survey_detractor", reason_en="Detractor again.", reason_zh="再次。",
        tier="strategic", now=now,
    )  # fmt: skip
    assert not new and again.pk == alert.pk
    assert Alert.objects.get(pk=alert.pk).note == "Detractor again."
    assert Notification.objects.filter(alert=alert).count() == 1
    lead_alert, _ = raise_alert(
        unowned, code="survey_detractor", reason_en="D.", reason_zh="D。", tier="key", now=now
    )
    assert lead_alert.assignee == people.manager  # no owner: the lead of East
