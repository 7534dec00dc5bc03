"""My work through the contact app's hooks: care days and contact plans appear as items, and
items the rules would not allow are held with the reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from contact_helpers import customer, grant

from corecustomers.web.contact.consent import set_do_not_contact
from corecustomers.web.customers.models import AccountMember, CustomerState
from corecustomers.web.work.models import Interaction
from corecustomers.web.work.queue import my_work

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 9, 20)  # 中秋 2026 is 25 September


def _own(people: Any, key: str, tier: str, **fields: Any) -> Any:
    c = customer(key, **fields)
    AccountMember.objects.create(customer=c, user=people.am1, role="owner")
    CustomerState.objects.create(customer=c, as_of=TODAY, run_id="r1", tier=tier)
    return c


def test_birthdays_festivals_and_plans_with_the_reason_when_held(people: Any) -> None:
    glad = _own(people, "S1", "strategic", birthday=dt.date(1980, 9, 23))
    grant(glad, "care", "email")
    _own(people, "S2", "strategic", birthday=dt.date(1975, 9, 24))
    calm = _own(people, "S3", "strategic")
    Interaction.objects.create(
        customer=glad, kind="visit", at=dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
    )
    Interaction.objects.create(
        customer=calm, kind="call", at=dt.datetime(2026, 9, 10, tzinfo=dt.UTC)
    )
    items = {i.key: i for i in my_work(people.am1, today=TODAY)}
    by = {(i.kind, i.customer_key): i for i in items.values()}
    # birthdays (the work app's items), held without care consent on any birthday channel
    assert by[("birthday", "S1")].held_en == ""
    assert by[("birthday", "S2")].held_en == "No consent to care by SMS."
    assert by[("birthday", "S2")].held_zh == "客户未同意通过短信接收关怀联系。"
    # 中秋 for strategic customers, ten days ahead
    care = by[("care", "S1")]
    assert care.due == dt.date(2026, 9, 25) and "Mid-Autumn" in care.reason_en
    assert "中秋节" in care.reason_zh
    assert by[("care", "S2")].held_en == "No consent to care by e-mail."
    # the strategic plan: a visit every 90 days, a call every 30 -- but one "contact due" per
    # customer: S1 (visited on 1 August) and S2 (never contacted) are due by the queue's
    # cadence (strategic: 30 days), which owns it, so no plan item of theirs
    assert ("cadence", "S1") in by and ("cadence", "S2") in by
    assert not any(by.get(("plan", key)) for key in ("S1", "S2"))
    # S3, called on 10 September, is within the cadence; never visited: the plan's visit
    plans = {k for k in items if k.startswith("plan:")}
    assert ("cadence", "S3") not in by
    assert plans == {f"plan:visit:{calm.pk}:{TODAY.isoformat()}"}
    # a snoozed cadence item still owns the customer's contact
    from corecustomers.web.work.models import Snooze

    Snooze.objects.create(
        user=people.am1,
        item=by[("cadence", "S2")].key,
        until=TODAY + dt.timedelta(days=3),
        reason="abroad",
    )
    later = {(i.kind, i.customer_key) for i in my_work(people.am1, today=TODAY)}
    assert ("cadence", "S2") not in later and ("plan", "S2") not in later
    # do not contact holds everything but service (plan calls are service contacts)
    set_do_not_contact(glad, active=True, reason="travelling")
    again = {(i.kind, i.customer_key): i for i in my_work(people.am1, today=TODAY)}
    assert again[("care", "S1")].held_en == "Do not contact: travelling"
    assert again[("birthday", "S1")].held_en == "Do not contact: travelling"
    assert all(i.held_en == "" for i in my_work(people.am1, today=TODAY) if i.kind == "plan")


def test_an_ordinary_customer_gets_no_festival_item_and_others_see_none(people: Any) -> None:
    _own(people, "O1", "ordinary")
    kinds = {i.kind for i in my_work(people.am1, today=TODAY)}
    assert "care" not in kinds and "plan" not in kinds  # ordinary: an e-mail newsletter plan
    assert my_work(people.am2, today=TODAY) == []


def test_care_messages_are_planned_once_on_their_day_ahead_with_reasons(people: Any) -> None:
    from corecustomers.web.contact.care import plan_care_messages
    from corecustomers.web.contact.models import OutboxMessage

    glad = _own(people, "S1", "strategic")
    grant(glad, "care", "email")
    _own(people, "S2", "strategic")
    _own(people, "O1", "ordinary", birthday=dt.date(1990, 9, 29))  # 14 days ahead
    counts = plan_care_messages(dt.date(2026, 9, 15))  # 中秋 (25 Sep) is 10 days ahead
    assert counts == {"queued": 1, "held": 2}
    rows = {(m.customer.external_id, m.occasion): m for m in OutboxMessage.objects.all()}
    assert rows[("S1", "mid_autumn")].status == "queued"
    assert rows[("S1", "mid_autumn")].planned_for.date() == dt.date(2026, 9, 25)
    assert rows[("S2", "mid_autumn")].reason_code == "no_consent"
    assert rows[("O1", "birthday")].reason_en == "No consent to care by SMS."
    assert plan_care_messages(dt.date(2026, 9, 15)) == {"queued": 0, "held": 0}  # once


def test_a_tiers_plan_messages_go_out_on_cadence_held_ones_wait_a_cadence(
    people: Any, settings: Any
) -> None:
    from corecustomers.web.contact.models import OutboxMessage
    from corecustomers.web.contact.plans import plan_due_messages

    settings.TIME_ZONE = "UTC"
    keen = _own(people, "O1", "ordinary")
    grant(keen, "marketing", "email")
    _own(people, "O2", "ordinary")
    first = plan_due_messages(dt.date(2026, 3, 2))
    assert first["ordinary:email:marketing"] == {
        "queued": 1,
        "held": 1,
        "reasons": {"no_consent": 1},
    }
    assert first["key:email:marketing"] == {"queued": 0, "held": 0}
    assert plan_due_messages(dt.date(2026, 3, 20))["ordinary:email:marketing"]["queued"] == 0
    later = plan_due_messages(dt.date(2026, 4, 2))["ordinary:email:marketing"]
    assert (later["queued"], later["held"]) == (1, 1)
    sent = OutboxMessage.objects.filter(customer=keen, status="queued").order_by("planned_for")
    assert [m.planned_for.date() for m in sent] == [dt.date(2026, 3, 2), dt.date(2026, 4, 2)]
    assert all(m.template == "newsletter" for m in sent)
