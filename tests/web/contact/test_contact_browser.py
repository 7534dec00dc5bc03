"""Issue 13's browser test (Debian's Chromium driven by Playwright against the live server):
an account manager sees a birthday care item in My work, sends the care message from the
outbox (the test's SMTP server receives it), and a customer without SMS consent shows as
held with its reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from contact_helpers import Inbox, customer, grant, smtp_server
from django.utils import timezone
from tests.web.browser_steps import follow, log_in

from corecustomers.web.customers.models import AccountMember

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def smtp(settings: Any) -> Iterator[Inbox]:
    yield from smtp_server(settings)


def test_a_birthday_care_message_is_sent_from_the_outbox_and_a_held_one_says_why(
    browser: Any, live_server: Any, people: Any, smtp: Inbox
) -> None:
    today = timezone.localdate()
    glad = customer(
        "B1", name="Wang Fang", birthday=(today + dt.timedelta(days=3)).replace(year=1985)
    )
    shy = customer("B2", name="Li Lei", birthday=(today + dt.timedelta(days=4)).replace(year=1979))
    for c in (glad, shy):
        AccountMember.objects.create(customer=c, user=people.am1, role="owner")
    grant(glad, "care", "email")  # no SMS consent: care goes by e-mail; Li Lei has none

    base = live_server.url
    page = log_in(browser, base, "am1", width=390, height=800)

    nav = page.get_by_role("navigation", name="Main")
    follow(page, nav.get_by_role("link", name="My work", exact=True))
    item = page.locator(f'[data-item^="birthday:{glad.pk}:"]')
    assert item.get_attribute("data-kind") == "birthday"
    assert "Birthday on" in item.locator('[data-field="why"]').inner_text()
    assert item.locator('[data-field="held"]').count() == 0
    other = page.locator(f'[data-item^="birthday:{shy.pk}:"] [data-field="held"]')
    assert other.inner_text() == "On hold: No consent to care by SMS."

    follow(page, nav.get_by_role("link", name="Outbox", exact=True))
    follow(
        page,
        page.locator('[data-care="birthday:B1"]').get_by_role(
            "button", name="Prepare the care message"
        ),
    )
    assert "Care message prepared." in page.locator(".messages").inner_text()
    queued = page.locator('[data-list="outbox"] [data-customer="B1"]')
    assert queued.get_attribute("data-status") == "queued"
    follow(page, queued.get_by_role("button", name="Send now"))
    assert "Sent to b1@example.com." in page.locator(".messages").inner_text()
    assert (
        page.locator('[data-list="outbox"] [data-customer="B1"]').get_attribute("data-status")
        == "sent"
    )
    ((to, mail),) = smtp.messages
    assert to == ["b1@example.com"] and mail["Subject"] == "Wang Fang，生日快乐"

    follow(
        page,
        page.locator('[data-care="birthday:B2"]').get_by_role(
            "button", name="Prepare the care message"
        ),
    )
    assert "Care message held: No consent to care by SMS." in page.locator(".messages").inner_text()
    held = page.locator('[data-list="outbox"] [data-customer="B2"]')
    assert held.get_attribute("data-status") == "held"
    assert held.locator('[data-field="why"]').inner_text() == "Why: No consent to care by SMS."
    assert len(smtp.messages) == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # fits a phone

    follow(page, nav.get_by_role("link", name="My work", exact=True))
    assert page.locator(f'[data-item^="birthday:{glad.pk}:"]').count() == 0  # answered
    assert page.locator(f'[data-item^="birthday:{shy.pk}:"]').count() == 1
