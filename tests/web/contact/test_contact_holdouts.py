"""Contact plans, care days and campaigns keep an enabled hold-out's control group out
(issue 13, item 6): the held-out customers get no message, keep their group in later
rounds, and are stored for the uplift report; without an enabled experiment everyone gets
the message."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from contact_helpers import customer, grant

from corecustomers.web.contact.models import OutboxMessage
from corecustomers.web.contact.outbox import plan_campaign
from corecustomers.web.contact.plans import plan_due_messages
from corecustomers.web.customers.models import CustomerState
from corecustomers.web.experiments.models import Assignment, Experiment

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 2)


def _ordinary(n: int) -> list[Any]:
    made = []
    for i in range(n):
        c = customer(f"O{i:03d}")
        CustomerState.objects.create(customer=c, as_of=DAY, run_id="r1", tier="ordinary")
        grant(c, "marketing", "email")
        made.append(c)
    return made


def test_a_plans_hold_out_gets_nothing_and_keeps_its_group(settings: Any) -> None:
    settings.TIME_ZONE = "UTC"
    _ordinary(40)
    Experiment.objects.create(code="plan:ordinary:email", enabled=True, holdout_share=0.25)
    counts = plan_due_messages(DAY)
    held_out = set(
        Assignment.objects.filter(held_out=True).values_list("customer__external_id", flat=True)
    )
    assert len(held_out) == 10  # a quarter of the tier, stored
    sent_to = set(OutboxMessage.objects.values_list("customer__external_id", flat=True))
    assert counts["ordinary:email:marketing"]["queued"] == 30
    assert sent_to.isdisjoint(held_out) and len(sent_to) == 30
    # a month later the same ten are held out again, the others get their next message
    plan_due_messages(DAY + dt.timedelta(days=31))
    again = set(OutboxMessage.objects.values_list("customer__external_id", flat=True))
    assert again == sent_to and OutboxMessage.objects.count() == 60


def test_without_an_enabled_experiment_everyone_gets_the_plan(settings: Any) -> None:
    settings.TIME_ZONE = "UTC"
    _ordinary(8)
    Experiment.objects.create(code="plan:ordinary:email", enabled=False, holdout_share=0.5)
    assert plan_due_messages(DAY)["ordinary:email:marketing"]["queued"] == 8
    assert not Assignment.objects.exists()


def test_a_campaigns_hold_out_is_kept_out() -> None:
    people = _ordinary(20)
    Experiment.objects.create(code="campaign:Spring", enabled=True, holdout_share=0.5)
    at = dt.datetime(2026, 3, 3, 10, tzinfo=dt.UTC)
    _, result = plan_campaign(
        people,
        name="Spring",
        purpose="marketing",
        channels=["email"],
        template="newsletter",
        planned_for=at,
    )
    held = set(Assignment.objects.filter(held_out=True).values_list("customer_id", flat=True))
    assert len(held) == 10 and result.queued == 10
    assert not OutboxMessage.objects.filter(customer_id__in=held).exists()
