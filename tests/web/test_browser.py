"""The pages in a real browser: Debian's Chromium driven by Playwright against the live server.

An account manager logs in, searches for one of own customers, opens the profile and sees
the tier, its reason, the score history chart and the account team, then switches to
Chinese and sees the page in Chinese, drawn with a font that has the glyphs. The other
account manager gets "not found" for that customer's address; the analyst sees no name or
phone anywhere.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from tests.web.browser_steps import follow, log_in

from corecustomers.web.customers.models import AccountMember, Customer, CustomerHistory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAME, PHONE = "王小明", "13800000001"
#: An unassigned code point: every browser draws it as the "missing glyph" box.
NO_GLYPH = "\u0378"


@pytest.fixture
def customer(imported: Path, people: Any) -> Customer:
    """am1 owns the top customer (with a name, a phone and two history points), am2 the next."""
    top = list(Customer.objects.order_by("-state__core_score", "pk")[:2])
    AccountMember.objects.create(customer=top[0], user=people.am1, role="owner")
    AccountMember.objects.create(customer=top[1], user=people.am2, role="owner")
    top[0].name, top[0].phone = NAME, PHONE
    top[0].save()
    latest = CustomerHistory.objects.get(customer=top[0])
    CustomerHistory.objects.create(
        customer=top[0],
        as_of=latest.as_of - dt.timedelta(days=91),
        tier=latest.tier,
        core_score=(latest.core_score or 1.0) * 0.8,
        clv=(latest.clv or 100.0) * 0.7,
    )
    return top[0]


def test_account_manager_finds_a_customer_and_reads_the_profile_in_both_languages(
    browser: Any, live_server: Any, customer: Customer
) -> None:
    base = live_server.url
    page = log_in(browser, base, "am1")
    follow(
        page,
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Customers", exact=True
        ),
    )
    page.get_by_label("Search (id, name, phone, company)").fill(NAME)
    follow(page, page.get_by_role("button", name="Show"))
    rows = page.locator('table[data-table="customers"] tbody tr')
    assert rows.count() == 1
    follow(page, rows.first.get_by_role("link"))
    assert page.locator("h1").inner_text() == NAME
    badge = page.locator('[data-field="tier"] .badge')
    assert badge.is_visible() and badge.inner_text().strip()
    reason = page.locator('[data-field="reason"]')
    assert reason.is_visible() and len(reason.inner_text()) > 10
    chart = page.locator('[data-chart="score-history"] svg')
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 200 and box["height"] > 60
    assert page.locator('[data-chart="score-history"] svg circle').count() == 2
    assert "am1" in page.locator('[data-field="account-team"]').inner_text()

    follow(page, page.get_by_role("button", name="中文"))
    assert page.locator('html[lang="zh-CN"]').count() == 1
    assert page.locator(".eyebrow").inner_text() == "客户档案"
    assert page.get_by_role("heading", name="账户团队").is_visible()
    assert page.get_by_role("heading", name="层级历史").is_visible()
    # the Chinese heading is drawn with real glyphs: neither blank nor "missing glyph" boxes
    heading = page.locator("#team-title")
    drawn = heading.screenshot()
    heading.evaluate(
        "(el, box) => { el.dataset.text = el.textContent; el.textContent = box; }", NO_GLYPH * 4
    )
    boxes = heading.screenshot()
    heading.evaluate("el => { el.textContent = ''; el.style.minHeight = '1.5em'; }")
    blank = heading.screenshot()
    assert drawn != boxes and drawn != blank
    # on a phone the profile is one column: the second column sits under the first
    page.set_viewport_size({"width": 390, "height": 800})
    first, second = (page.locator(".profile-grid > .col").nth(i).bounding_box() for i in (0, 1))
    assert first is not None and second is not None
    assert first["x"] == second["x"] and second["y"] > first["y"] + first["height"] - 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_other_account_manager_gets_not_found(
    browser: Any, live_server: Any, customer: Customer
) -> None:
    base = live_server.url
    page = log_in(browser, base, "am2")
    from django.urls import reverse

    response = page.goto(base + reverse("pages:customer", kwargs={"key": customer.external_id}))
    assert response is not None and response.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()
    assert NAME not in page.content()


def test_analyst_sees_no_name_or_phone_anywhere(
    browser: Any, live_server: Any, customer: Customer
) -> None:
    base = live_server.url
    page = log_in(browser, base, "analyst")
    seen = [page.content()]
    follow(
        page,
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name="Customers", exact=True
        ),
    )
    seen.append(page.content())
    page.get_by_label("Search (pseudonym)").fill(customer.pseudonym)
    follow(page, page.get_by_role("button", name="Show"))
    seen.append(page.content())
    follow(page, page.locator('table[data-table="customers"] tbody tr').first.get_by_role("link"))
    assert page.locator('[data-field="personal-hidden"]').count() == 1
    seen.append(page.content())
    assert customer.pseudonym in seen[-1]
    for html in seen:
        assert NAME not in html and PHONE not in html
