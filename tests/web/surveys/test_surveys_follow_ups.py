"""回访: follow-ups after complaints and service requests tracked -- open, overdue, done on
time -- with the contact that answered each and the next survey answer, in scope."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from tests.web.surveys.surveys_helpers import customer_with_state, survey

from corecustomers.web.surveys.followups import tracked
from corecustomers.web.surveys.responses import record_response
from corecustomers.web.work.interactions import log_interaction
from corecustomers.web.work.models import FollowUp

pytestmark = pytest.mark.django_db


def test_follow_ups_after_complaints_are_tracked(people: Any, client: Any) -> None:
    calm = customer_with_state("key", core=True, owner=people.am1)
    angry = customer_with_state("strategic", core=True, owner=people.am1)
    earlier = timezone.now() - dt.timedelta(hours=2)
    log_interaction(people.am1, calm, kind="complaint", at=earlier)
    log_interaction(people.am1, angry, kind="service_request", at=earlier)
    assert FollowUp.objects.filter(owner=people.am1, done_at__isnull=True).count() == 2
    log_interaction(people.am1, calm, kind="visit", outcome="retained")  # the 回访
    record_response(survey("satisfaction"), calm, 4, channel="call", user=people.am1)
    FollowUp.objects.filter(customer=angry).update(due=timezone.localdate() - dt.timedelta(days=1))

    rows, totals = tracked(people.am1)
    by_customer = {r.customer_key: r for r in rows}
    assert (by_customer[calm.external_id].state, by_customer[calm.external_id].answered_by) == (
        "done_on_time",
        "visit",
    )
    assert by_customer[calm.external_id].score_after == "4/5"
    assert by_customer[angry.external_id].state == "overdue"
    assert dict(totals) == {"done_on_time": 1, "overdue": 1}
    assert tracked(people.am2) == ([], {})

    client.force_login(people.manager)  # East's lead sees the team's customers
    page = client.get(reverse("surveys:follow-ups")).content.decode()
    assert 'data-state="overdue"' in page and 'data-state="done_on_time"' in page
    assert "50 % on time" not in page and "100 % on time" in page
    zh = client.get(reverse("surveys:follow-ups"), HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    assert "投诉和服务请求后的回访" in zh and "100 % 按时完成" in zh
