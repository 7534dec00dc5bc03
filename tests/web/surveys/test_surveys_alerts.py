"""Issue 13's surveys acceptance (a): a detractor score of a strategic customer, answered
through the signed link of a consent-checked invitation, creates an alert for the owner
within one job cycle -- a real task worker (``run_worker(batch=True)``: the database queue's
``db_worker``) runs the job the answer queued -- and the owner gets the e-mail on a real
SMTP server. Not for a promoter, not for an ordinary (non-core) customer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from tests.web.contact.contact_helpers import Inbox, grant, smtp_server
from tests.web.surveys.surveys_helpers import customer_with_state, survey

from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.worker import run_worker
from corecustomers.web.surveys.models import SurveyResponse
from corecustomers.web.surveys.responses import invite, record_response
from corecustomers.web.work.models import Alert, Notification

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def inbox(settings: Any) -> Iterator[Inbox]:
    yield from smtp_server(settings)


def _link(body: str) -> str:
    found = re.search(r"https?://\S+/survey/\S+/", body)
    assert found, body
    return found.group(0)


def test_a_detractor_by_link_alerts_the_owner_within_one_job_cycle(
    people: Any, client: Any, inbox: Inbox
) -> None:
    nps = survey("nps")
    strategic = customer_with_state("strategic", core=True, owner=people.am1)
    promoter = customer_with_state("strategic", core=True, owner=people.am1)
    ordinary = customer_with_state("ordinary", core=False, owner=people.am1)
    silent = customer_with_state("strategic", core=True, owner=people.am1)
    for c in (strategic, promoter, ordinary):
        grant(c, "surveys", "email")
    planned = invite(nps, [strategic, promoter, ordinary, silent], channels=["email"])
    assert (planned.queued, planned.held) == (3, 1)  # no surveys consent: held, not sent
    held = next(m for m in planned.messages if m.customer_id == silent.pk)
    assert held.reason_code == "no_consent"
    links = {m.customer_id: _link(m.body) for m in planned.messages if m.status == "queued"}

    page = client.get(links[strategic.pk])  # no login
    assert page.status_code == 200
    assert nps.question_en in page.content.decode()
    assert (
        client.post(links[strategic.pk], {"score": "3", "comment": "<b>slow</b>"}).status_code
        == 200
    )
    again = client.post(links[strategic.pk], {"score": "10"})
    assert "already been answered" in again.content.decode()
    assert client.post(links[promoter.pk], {"score": "10"}).status_code == 200
    assert client.post(links[ordinary.pk], {"score": "0"}).status_code == 200
    tampered = links[ordinary.pk][:-2] + "x/"
    assert client.post(tampered, {"score": "0"}).status_code == 400
    assert SurveyResponse.objects.count() == 3
    assert not Alert.objects.exists()  # nothing until the job has run
    assert Job.objects.filter(kind="survey_checks", status="queued").count() == 1

    run_worker(batch=True)  # one cycle of the real worker

    check = Job.objects.get(kind="survey_checks")
    assert check.status == "succeeded", check.error
    assert check.result["raised"] == 1
    (alert,) = Alert.objects.all()
    assert (alert.customer_id, alert.reason_code, alert.assignee) == (
        strategic.pk,
        "survey_detractor",
        people.am1,
    )
    assert alert.status == "open" and alert.due_at is not None
    assert "3/10" in alert.reason_en and "3/10" in alert.reason_zh
    note = Notification.objects.get(user=people.am1, alert=alert)
    assert note.emailed_at is not None
    mails = [m for to, m in inbox.messages if to == [people.am1.email]]
    assert len(mails) == 1 and strategic.external_id in mails[0].get_content()
    assert SurveyResponse.objects.get(customer=strategic).alert == alert
    # the same cycle wrote the scores into the workspace for the next analysis
    export = Job.objects.get(kind="export_survey_scores")
    assert export.status == "succeeded" and export.result["rows"] == 3


def test_a_satisfaction_drop_of_a_core_customer_by_call_raises_one_alert(
    people: Any,
) -> None:
    satisfaction = survey("satisfaction")
    key = customer_with_state("key", core=True, owner=people.am2, region="west")
    record_response(satisfaction, key, 5, channel="call", user=people.am2)
    record_response(satisfaction, key, 4, channel="call", user=people.am2)  # -1: no drop
    run_worker(batch=True)
    assert not Alert.objects.exists()
    record_response(satisfaction, key, 2, channel="call", user=people.am2)  # -2: a drop
    record_response(satisfaction, key, 1, channel="call", user=people.am2)  # the same alert
    run_worker(batch=True)
    (alert,) = Alert.objects.all()
    assert (alert.reason_code, alert.assignee) == ("satisfaction_drop", people.am2)
    assert "before: 2/5" in alert.note  # the second drop is a note on the open alert
    assert SurveyResponse.objects.filter(checked_at__isnull=True).count() == 0
