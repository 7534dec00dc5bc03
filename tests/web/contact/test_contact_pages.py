"""The contact pages through the real app: the consent panel on the profile, the outbox
(care to prepare, held reasons, send now), the contact settings and the unsubscribe page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from contact_helpers import Inbox, customer, grant, smtp_server
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from corecustomers.web.contact.models import Consent, ContactProfile, OutboxMessage
from corecustomers.web.customers.models import AccountMember, ServiceSetting

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings: Any) -> Iterator[Inbox]:
    yield from smtp_server(settings)


def _login(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def mine(people: Any) -> Any:
    soon = timezone.localdate() + dt.timedelta(days=3)
    c = customer("A1", name="Zhang <b>Wei</b>", birthday=soon.replace(year=1980), team=people.east)
    AccountMember.objects.create(customer=c, user=people.am1, role="owner")
    return c


def test_the_profile_panel_records_an_answer_and_do_not_contact(mine: Any, people: Any) -> None:
    am1 = _login(people.am1)
    profile = reverse("pages:customer", kwargs={"key": "A1"})
    page = am1.get(profile).content.decode()
    assert 'data-panel="consents"' in page and 'for="id_consent-lawful_basis"' in page
    answer = am1.post(
        reverse("contact:consents", kwargs={"key": "A1"}),
        {
            "consent-purpose": "care",
            "consent-channel": "email",
            "consent-status": "granted",
            "consent-lawful_basis": "consent",
            "consent-source": "paper form",
            "consent-wording_version": "v2",
            "consent-evidence": "",
        },
    )
    assert answer.status_code == 302
    assert Consent.objects.get(customer=mine, purpose="care", channel="email").status == "granted"
    page = am1.get(profile).content.decode()
    assert "paper form" in page and "wording v2" in page
    refused = am1.post(
        reverse("contact:consents", kwargs={"key": "A1"}),
        {
            "consent-purpose": "marketing",
            "consent-channel": "sms",
            "consent-status": "granted",
            "consent-lawful_basis": "contract",
            "consent-source": "contract",
        },
        follow=True,
    ).content.decode()
    assert "Not recorded: lawful_basis" in refused
    from html.parser import HTMLParser

    class Ids(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.ids: list[str] = []
            self.labelled: set[str] = set()
            self.fields: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found = dict(attrs)
            if found.get("id"):
                self.ids.append(str(found["id"]))
            if tag == "label" and found.get("for"):
                self.labelled.add(str(found["for"]))
            if tag in {"input", "select", "textarea"} and found.get("type") != "hidden":
                self.fields.append(str(found.get("id")))

    panel = page[page.index('data-panel="consents"') :]
    panel = panel[: panel.index("</section>")]
    parser = Ids()
    parser.feed(panel)
    assert [f for f in parser.fields if f not in parser.labelled] == []
    assert all(i.startswith(("id_consent-", "dnc-", "consents")) for i in parser.ids), parser.ids
    am1.post(
        reverse("contact:consents", kwargs={"key": "A1"}),
        {"do_not_contact": "on", "reason": "moved abroad"},
    )
    assert ContactProfile.objects.get(customer=mine).do_not_contact
    # someone else's customer: 404, and no panel for the analyst
    assert (
        _login(people.am2)
        .post(reverse("contact:consents", kwargs={"key": "A1"}), {"do_not_contact": "off"})
        .status_code
        == 404
    )
    analyst_page = (
        _login(people.analyst)
        .get(reverse("pages:customer", kwargs={"key": mine.pseudonym}))
        .content.decode()
    )
    assert 'data-panel="consents"' not in analyst_page


def test_care_is_prepared_held_with_its_reason_or_sent_from_the_outbox(
    mine: Any, people: Any, smtp: Inbox
) -> None:
    am1 = _login(people.am1)
    page = am1.get(reverse("contact:outbox")).content.decode()
    assert 'data-care="birthday:A1"' in page
    assert "Zhang &lt;b&gt;Wei&lt;/b&gt;" in page  # escaped
    day = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    prepare = {"customer": "A1", "occasion": "birthday", "day": day}
    held = am1.post(reverse("contact:outbox-prepare"), prepare, follow=True).content.decode()
    assert "Care message held: No consent to care by SMS." in held
    assert 'data-status="held"' in held and "Why: No consent to care by SMS." in held
    again = am1.post(reverse("contact:outbox-prepare"), prepare, follow=True).content.decode()
    assert "Already prepared." in again
    OutboxMessage.objects.all().delete()
    grant(mine, "care", "email")
    am1.post(reverse("contact:outbox-prepare"), prepare)
    (m,) = OutboxMessage.objects.filter(status="queued")
    assert (
        _login(people.am2).post(reverse("contact:outbox-send", kwargs={"pk": m.pk})).status_code
        == 404
    )
    sent = am1.post(
        reverse("contact:outbox-send", kwargs={"pk": m.pk}), follow=True
    ).content.decode()
    assert "Sent to a1@example.com." in sent
    assert [to for to, _ in smtp.messages] == [["a1@example.com"]]
    assert _login(people.analyst).get(reverse("contact:outbox")).status_code == 403


def test_a_manager_plans_a_campaign_and_sees_the_held_ones(people: Any) -> None:
    for key in ("E1", "E2"):
        customer(key, team=people.east)
    grant(customer("E3", team=people.east), "marketing", "email")
    customer("W1", team=people.west)
    manager = _login(people.manager)
    page = manager.post(
        reverse("contact:outbox-campaign"),
        {
            "name": "Spring",
            "purpose": "marketing",
            "template": "newsletter",
            "channels": ["email"],
            "tier": "",
            "planned_for": "2026-03-11T12:00",
        },
        follow=True,
    )
    assert "Campaign planned: 1 queued, 2 held" in page.content.decode()
    assert set(OutboxMessage.objects.values_list("customer__external_id", flat=True)) == {
        "E1",
        "E2",
        "E3",
    }  # West is not the manager's
    assert _login(people.am1).post(reverse("contact:outbox-campaign"), {}).status_code == 403


def test_settings_are_for_administrators_and_check_their_shape(people: Any) -> None:
    assert _login(people.manager).get(reverse("contact:care-settings")).status_code == 403
    admin = _login(people.admin)
    page = admin.get(reverse("contact:care-settings"))
    assert page.status_code == 200 and 'for="s-contact_budget"' in page.content.decode()
    bad = admin.post(reverse("contact:care-settings"), {"contact_budget": '{"week": -1}'})
    assert bad.status_code == 422 and "contact_budget" in bad.content.decode()
    broken = admin.post(reverse("contact:care-settings"), {"contact_quiet_hours": "{"})
    assert broken.status_code == 422 and "not valid JSON" in broken.content.decode()
    ok = admin.post(reverse("contact:care-settings"), {"contact_budget": '{"week": 2, "month": 6}'})
    assert ok.status_code == 302
    assert ServiceSetting.objects.get(key="contact_budget").value == {"week": 2, "month": 6}
    saved = admin.post(
        reverse("contact:care-settings"),
        {
            "form": "template",
            "code": "birthday",
            "subject_en": "Hi $name",
            "body_en": "Cheers",
            "subject_zh": "你好",
            "body_zh": "祝福",
        },
        follow=True,
    )
    assert "Template birthday saved." in saved.content.decode()


def test_a_bad_or_changed_unsubscribe_link_is_refused_without_a_login() -> None:
    page = Client().get(reverse("contact:unsubscribe", kwargs={"token": "not-a-token"}))
    assert page.status_code == 400 and "cannot be used" in page.content.decode()


def test_the_pages_speak_chinese(mine: Any, people: Any) -> None:
    am1 = _login(people.am1)
    am1.cookies["django_language"] = "zh-hans"
    page = am1.get(reverse("contact:outbox"), headers={"Accept-Language": "zh-CN"}).content.decode()
    assert "发件箱" in page and "待准备的关怀" in page
    profile = am1.get(
        reverse("pages:customer", kwargs={"key": "A1"}), headers={"Accept-Language": "zh-CN"}
    ).content.decode()
    assert "联系同意" in profile
