"""Hold-outs in the account team's day and on the pages: a playbook action of a held-out
customer is held in My work with the reason; the uplift page shows the report per action ×
tier to managers (and lets them opt an action in), not to account managers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from corecustomers.web.customers.models import AccountMember, Customer, CustomerState
from corecustomers.web.experiments.models import Assignment, Experiment
from corecustomers.web.work.queue import my_work

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 12, 5)


def _book(people: Any, n: int) -> list[Customer]:
    out = []
    for i in range(n):
        c = Customer.objects.create(external_id=f"H{i}", pseudonym=f"ph{i}", region="east")
        CustomerState.objects.create(
            customer=c, as_of=TODAY - dt.timedelta(days=3), run_id="r", tier="ordinary",
            action_code="winback_offer", action_en="Send the win-back offer.",
            action_zh="发送挽回优惠。", action_due=TODAY - dt.timedelta(days=1),
            total_spend=100.0, n_orders=2,
        )  # fmt: skip
        AccountMember.objects.create(customer=c, user=people.am1, role="owner")
        out.append(c)
    return out


def test_a_held_out_customer_s_action_is_held_in_my_work(people: Any) -> None:
    _book(people, 30)
    before = [i for i in my_work(people.am1, today=TODAY) if i.kind == "action"]
    assert len(before) == 30 and not any(i.held_en for i in before)  # no experiment yet
    Experiment.objects.create(code="action:winback_offer", enabled=True, holdout_share=0.10)
    items = [i for i in my_work(people.am1, today=TODAY) if i.kind == "action"]
    held = [i for i in items if i.held_en]
    assert len(held) == 3  # 10 % of the tier's 30
    assert all("control group" in i.held_en and "对照组" in i.held_zh for i in held)
    stored = set(
        Assignment.objects.filter(held_out=True).values_list("customer__external_id", flat=True)
    )
    assert {i.customer_key for i in held} == stored
    again = [i for i in my_work(people.am1, today=TODAY) if i.kind == "action" and i.held_en]
    assert [i.key for i in again] == [i.key for i in held]  # the same customers next time


def test_the_uplift_page_for_managers_not_account_managers(people: Any, client: Any) -> None:
    _book(people, 20)
    client.force_login(people.manager)
    url = reverse("experiments:uplift")
    saved = client.post(
        url,
        {"code": "action:winback_offer", "kind": "mass", "window_days": 90, "enabled": "on",
         "cost_per_action": "2"},
    )  # fmt: skip
    assert saved.status_code == 302
    offer = Experiment.objects.get()
    assert (offer.holdout_share, offer.enabled) == (0.10, True)  # the mass default
    bad = client.post(url, {"code": "x", "kind": "mass", "window_days": 0}, follow=True)
    assert "window_days" in bad.content.decode()
    my_work(people.am1, today=TODAY)  # the queue assigns the groups
    page = client.get(url).content.decode()
    assert 'data-action="action:winback_offer" data-tier="ordinary"' in page
    client.force_login(people.am1)
    assert client.get(url).status_code == 403
    client.force_login(people.am2)
    assert client.post(url, {"code": "y", "kind": "mass", "window_days": 9}).status_code == 403


def test_the_uplift_page_in_chinese(people: Any, client: Any) -> None:
    Experiment.objects.create(code="action:offer", enabled=True, holdout_share=0.1)
    client.force_login(people.manager)
    page = client.get(reverse("experiments:uplift"), HTTP_ACCEPT_LANGUAGE="zh-CN")
    html = page.content.decode()
    assert "效果证明" in html and "对照组：10 %" in html and "95 % 置信区间" in html
