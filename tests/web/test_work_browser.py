"""The account team's day in a real browser: Debian's Chromium driven by Playwright against
the live server.

am1 logs in, opens My work, opens the top alert's customer, logs a visit with the outcome
"retained", sees the item leave the queue and the visit on the profile's timeline; the
manager sees the alert resolved from the team view; am2 cannot open that customer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from tests.web.browser_steps import follow, log_in

from corecustomers.web.customers.models import AccountMember, Analysis, Customer, CustomerState
from corecustomers.web.work.models import Alert
from corecustomers.web.work.routing import route_alerts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def book(imported: Path, people: Any) -> list[Customer]:
    """am1 owns the three alerted customers with the most at stake, in the manager's team."""
    states = list(CustomerState.objects.filter(alert=True).order_by("-value_at_stake", "pk")[:3])
    for state in states:
        AccountMember.objects.create(customer=state.customer, user=people.am1, role="owner")
        state.customer.team = people.east
        state.customer.save()
    route_alerts(Analysis.objects.get().run_id)
    return [s.customer for s in states]


def test_a_visit_answers_the_top_alert_and_the_manager_sees_it_resolved(
    browser: Any, live_server: Any, book: list[Customer]
) -> None:
    base = live_server.url
    top = Alert.objects.filter(customer__in=book).order_by("-value_at_stake", "pk").first()
    assert top is not None
    page = log_in(browser, base, "am1")
    nav = page.get_by_role("navigation", name="Main")
    assert nav.locator('[data-count="unread"]').inner_text() == "3"
    follow(page, nav.get_by_role("link", name="My work", exact=True))
    first = page.locator('[data-list="work"] > li').first
    assert first.get_attribute("data-item") == f"alert:{top.pk}"
    assert first.locator('[data-field="why"]').inner_text().strip()
    follow(page, first.locator('[data-link="customer"]'))
    assert top.customer.external_id in page.locator('[data-field="key"]').inner_text()

    page.get_by_text("Log an interaction", exact=True).click()
    form = page.locator('form[data-form="interaction"]')
    form.get_by_label("Kind").select_option(label="Visit")
    form.get_by_label("Outcome").select_option(label="Retained")
    form.get_by_label("Notes").fill("Met the buyer; renewed for a year.")
    follow(page, form.get_by_role("button", name="Log it"))
    assert "Visit logged. Alert resolved." in page.locator(".messages").inner_text()
    timeline = page.locator('[data-list="interactions"] li').first
    assert "Visit" in timeline.inner_text() and "Retained" in timeline.inner_text()
    assert "renewed for a year" in timeline.inner_text()

    follow(page, page.get_by_role("navigation", name="Main").get_by_role("link", name="My work"))
    items = page.locator("[data-item]")
    keys = [items.nth(i).get_attribute("data-item") for i in range(items.count())]
    assert f"alert:{top.pk}" not in keys
    assert len([k for k in keys if k and k.startswith("alert:")]) == 2
    page.set_viewport_size({"width": 390, "height": 800})  # a phone: one column, no sideways scroll
    assert page.evaluate("document.documentElement.scrollWidth") <= 390

    manager = log_in(browser, base, "manager")
    follow(manager, manager.get_by_role("navigation", name="Main").get_by_role("link", name="Team"))
    assert "am1" in manager.locator('[data-table="work"]').inner_text()
    follow(manager, manager.get_by_role("link", name="All alerts and their status"))
    row = manager.locator(f'tr[data-alert="{top.pk}"]')
    assert row.get_attribute("data-status") == "resolved"
    assert "Resolved" in row.locator('[data-field="status"]').inner_text()
    assert "Retained" in row.locator('[data-field="status"]').inner_text()

    other = log_in(browser, base, "am2")
    response = other.goto(
        base + reverse("pages:customer", kwargs={"key": top.customer.external_id})
    )
    assert response is not None and response.status == 404
    assert other.get_by_role("heading", name="Not found").is_visible()
