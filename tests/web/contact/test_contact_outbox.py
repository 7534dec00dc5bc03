"""The outbox: rendered from bilingual templates, checked again at send time, delivered by
a real SMTP server (aiosmtpd) or the file adapter with one deduplication key per message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from contact_helpers import Inbox, customer, grant, smtp_server
from django.utils import timezone

from corecustomers.web.contact.adapters import FileAdapter, message_id
from corecustomers.web.contact.consent import ConsentChange, record_consents
from corecustomers.web.contact.delivery import deliver_due
from corecustomers.web.contact.models import ContactProfile, OutboxMessage
from corecustomers.web.contact.outbox import PlanError, plan_messages
from corecustomers.web.customers.models import ServiceSetting
from corecustomers.web.jobs.models import Job
from corecustomers.web.work.models import Interaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings: Any) -> Iterator[Inbox]:
    yield from smtp_server(settings)


def test_a_care_message_goes_out_by_smtp_with_its_key_and_unsubscribe_link(
    smtp: Inbox, people: Any, django_capture_on_commit_callbacks: Any
) -> None:
    c = customer("C1", name="李雷")
    grant(c, "care", "email")
    with django_capture_on_commit_callbacks(execute=True):
        result = plan_messages(
            [c],
            purpose="care",
            channels=["sms", "email"],
            template="birthday",
            occasion="birthday",
            user=people.am1,
        )
    (m,) = result.messages
    assert (m.status, m.channel, m.language) == ("queued", "email", "zh")  # no SMS consent
    assert m.subject == "李雷，生日快乐"
    assert Job.objects.filter(kind="deliver_outbox").exists()  # queued for the worker
    counts = deliver_due()
    assert counts["sent"] == 1
    ((to, mail),) = smtp.messages
    assert to == ["c1@example.com"]
    assert mail["Message-ID"] == message_id(m.dedup_key)
    assert mail["List-Unsubscribe"].strip().startswith("<http://localhost:8000/unsubscribe/")
    body = mail.get_payload(decode=True).decode("utf-8")
    assert "祝您生日快乐" in body and "/unsubscribe/" in body
    m.refresh_from_db()
    assert (m.status, m.attempts, m.possible_duplicate) == ("sent", 1, False)
    logged = Interaction.objects.get(customer=c)  # on the timeline, not in the budget
    assert (logged.kind, logged.channel, logged.user) == ("email", "outbox", people.am1)
    assert deliver_due()["sent"] == 0  # sent once


def test_english_for_a_customer_who_prefers_it_and_no_link_in_service_messages(smtp: Inbox) -> None:
    c = customer("C1", name="Ann")
    ContactProfile.objects.create(customer=c, language="en")
    grant(c, "care", "email")
    (care,) = plan_messages(
        [c],
        purpose="care",
        channels=["email"],
        template="mid_autumn",
        occasion="mid_autumn",
        occasion_date=dt.date(2026, 9, 25),
    ).messages
    assert care.subject == "Mid-Autumn Festival greetings"
    assert "Mid-Autumn Festival (2026-09-25)" in care.body
    (notice,) = plan_messages(
        [c], purpose="service", channels=["email"], template="service_notice"
    ).messages
    assert notice.status == "queued" and "unsubscribe" not in notice.body
    deliver_due()
    assert [m["List-Unsubscribe"] for _, m in smtp.messages] == [
        smtp.messages[0][1]["List-Unsubscribe"],
        None,
    ]


def test_a_withdrawal_after_planning_rejects_the_message_at_send_time(
    tmp_path: Path, settings: Any
) -> None:
    settings.TIME_ZONE = "UTC"
    noon = dt.datetime(2026, 3, 11, 12, 0, tzinfo=dt.UTC)
    c = customer("C1")
    grant(c, "marketing", "sms")
    (m,) = plan_messages(
        [c], purpose="marketing", channels=["sms"], template="newsletter", planned_for=noon
    ).messages
    assert m.status == "queued"
    record_consents(c, [ConsentChange("marketing", "sms", "withdrawn", source="call")])
    counts = deliver_due(now=noon, adapters={"file": FileAdapter(tmp_path)})
    m.refresh_from_db()
    assert counts["rejected"] == 1 and m.status == "rejected"
    assert m.reason_en == "The customer withdrew consent to marketing by SMS."
    assert list(tmp_path.iterdir()) == []


def test_the_file_adapter_knows_what_it_has_so_a_crashed_attempt_is_not_sent_twice(
    tmp_path: Path,
) -> None:
    c = customer("C1")
    grant(c, "care", "app")
    (m,) = plan_messages([c], purpose="care", channels=["app"], template="birthday").messages
    files = FileAdapter(tmp_path)
    now = timezone.now()
    # the state a worker killed after the adapter wrote the file leaves: sending, written
    OutboxMessage.objects.filter(pk=m.pk).update(
        status="sending", attempts=1, lease_until=now - dt.timedelta(seconds=1)
    )
    m.refresh_from_db()
    files.send(m, {})
    written = (tmp_path / f"{m.dedup_key}.json").stat().st_mtime_ns
    counts = deliver_due(adapters={"file": files})
    m.refresh_from_db()
    assert (counts["recovered"], counts["sent"]) == (1, 1)
    assert (m.status, m.possible_duplicate) == ("sent", False)
    assert (tmp_path / f"{m.dedup_key}.json").stat().st_mtime_ns == written  # not again
    # the provider's reference as a clean send records it (found by the fault suite: the
    # killed attempt never stored it, and the recovery recorded an empty one)
    assert m.provider_ref == str(tmp_path / f"{m.dedup_key}.json")


def test_an_unreachable_smtp_server_means_a_retry_later_not_a_loss(settings: Any) -> None:
    from contact_helpers import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    c = customer("C1")
    grant(c, "care", "email")
    (m,) = plan_messages([c], purpose="care", channels=["email"], template="birthday").messages
    counts = deliver_due()
    m.refresh_from_db()
    assert counts["retried"] == 1
    assert (m.status, m.attempts) == ("queued", 1)
    assert m.planned_for > timezone.now() and "Error" in m.error


def test_quiet_hours_defer_an_sms_and_bad_plans_are_refused(settings: Any) -> None:
    settings.TIME_ZONE = "UTC"
    c = customer("C1")
    grant(c, "care", "sms")
    night = dt.datetime(2026, 3, 11, 23, 0, tzinfo=dt.UTC)
    (m,) = plan_messages(
        [c], purpose="care", channels=["sms"], template="birthday", planned_for=night
    ).messages
    assert m.status == "queued"
    assert m.planned_for == dt.datetime(2026, 3, 12, 8, 0, tzinfo=dt.UTC)
    ServiceSetting.objects.create(
        key="contact_quiet_hours", value={"start": "00:00", "end": "23:59"}
    )
    counts = deliver_due(now=m.planned_for)
    m.refresh_from_db()
    assert counts["deferred"] == 1 and m.status == "queued" and m.reason_code == "quiet_hours"
    with pytest.raises(PlanError, match="template 'newsletter' is for marketing"):
        plan_messages([c], purpose="care", channels=["sms"], template="newsletter")
    with pytest.raises(PlanError) as caught:
        plan_messages([c], purpose="care", channels=["pigeon"], template="birthday")
    assert caught.value.field == "channels"


def test_the_delivery_job_plans_its_next_pass_for_the_next_planned_message(
    django_capture_on_commit_callbacks: Any,
) -> None:
    from django_tasks_db.models import DBTaskResult

    from corecustomers.web.jobs.runner import run_job

    c = customer("C1")
    grant(c, "care", "email")
    later = timezone.now() + dt.timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        plan_messages(
            [c], purpose="care", channels=["email"], template="birthday", planned_for=later
        )
    (now_job,) = Job.objects.filter(kind="deliver_outbox")
    with django_capture_on_commit_callbacks(execute=True):
        done = run_job(str(now_job.pk))
    assert done.status == "succeeded" and done.result["sent"] == 0
    (next_job,) = Job.objects.filter(kind="deliver_outbox", status="queued")
    assert next_job.params == {"after": later.isoformat()}
    task = DBTaskResult.objects.get(args_kwargs__args=[str(next_job.pk)])
    assert task.run_after == later


def test_a_survey_invitation_is_an_outbox_message_with_the_callers_own_link() -> None:
    c = customer("C1", name="Ann")
    grant(c, "surveys", "email")
    links: dict[str, str] = {}

    def survey_link(who: Any, key: str) -> dict[str, str]:
        links[key] = f"https://example.com/s/{who.pk}/{key}"
        return {"survey_url": links[key]}

    from corecustomers.web.contact.models import MessageTemplate

    MessageTemplate.objects.create(
        code="survey_invitation",
        purpose="surveys",
        subject_en="How did we do?",
        body_en="Tell us: $survey_url",
        subject_zh="请评价",
        body_zh="请点击：$survey_url",
    )
    (m,) = plan_messages(
        [c], purpose="surveys", channels=["email"], template="survey_invitation", extra=survey_link
    ).messages
    assert m.status == "queued" and m.body == f"请点击：{links[m.dedup_key]}"
    (no,) = plan_messages(
        [customer("C2")],
        purpose="surveys",
        channels=["email"],
        template="survey_invitation",
        extra=survey_link,
    ).messages
    assert (no.status, no.reason_code) == ("held", "no_consent")


def test_the_daily_jobs_are_queued_by_the_scheduler_once_per_day(
    django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    """The contact app's daily jobs are its ``periodic_jobs``: the worker's scheduler queues
    each once per due time (06:00), however often it ticks; a run queues nothing itself."""
    from django.apps import apps
    from django_tasks_db.models import DBTaskResult

    from corecustomers.web.jobs.runner import run_job
    from corecustomers.web.sources.schedule import tick_periodic

    settings.TIME_ZONE = "UTC"
    daily = sorted(j.kind for j in apps.get_app_config("contact").periodic_jobs)
    assert daily == ["plan_care_messages", "plan_contact_messages"]
    now = dt.datetime(2026, 3, 11, 7, 30, tzinfo=dt.UTC)
    with django_capture_on_commit_callbacks(execute=True):
        started = [j for j in tick_periodic(now) if j.kind in daily]
        assert [j for j in tick_periodic(now) if j.kind in daily] == []  # queued already
    assert sorted(j.kind for j in started) == daily
    six = "2026-03-11T06:00:00+00:00"  # the latest due time: caught up once
    assert all(j.params == {"due": six} for j in started)
    for job in started:
        assert DBTaskResult.objects.filter(args_kwargs__args=[str(job.pk)]).count() == 1
    care = next(j for j in started if j.kind == "plan_care_messages")
    with django_capture_on_commit_callbacks(execute=True):
        done = run_job(str(care.pk))
    assert done.status == "succeeded", done.error
    assert not Job.objects.filter(kind="plan_care_messages", status="queued").exists()
    later = dt.datetime(2026, 3, 11, 23, 0, tzinfo=dt.UTC)
    assert [j for j in tick_periodic(later) if j.kind in daily] == []  # nothing new is due
    # while one is still waiting, the next due time waits for it
    tomorrow = dt.datetime(2026, 3, 12, 6, 0, 1, tzinfo=dt.UTC)
    again = [j for j in tick_periodic(tomorrow) if j.kind in daily]
    assert [j.kind for j in again] == ["plan_care_messages"]
    assert again[0].params == {"due": "2026-03-12T06:00:00+00:00"}
    # a service started after today's due time, whose kinds never ran: not at once
    Job.objects.all().delete()
    start = dt.datetime(2026, 3, 13, 9, 0, tzinfo=dt.UTC)
    assert [j for j in tick_periodic(start, since=start) if j.kind in daily] == []
    next_day = dt.datetime(2026, 3, 14, 6, 0, 1, tzinfo=dt.UTC)
    assert sorted(j.kind for j in tick_periodic(next_day, since=start) if j.kind in daily) == daily
