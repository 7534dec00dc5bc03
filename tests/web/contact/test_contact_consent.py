"""Consent per purpose × channel with evidence and history, do-not-contact, and the one
decision every contact asks (`rules.check`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from contact_helpers import customer, grant
from django.utils import timezone

from corecustomers.web.audit.models import AuditEntry
from corecustomers.web.contact.consent import (
    ConsentChange,
    ConsentInputError,
    record_consents,
    set_do_not_contact,
)
from corecustomers.web.contact.models import Consent, ConsentError, ConsentEvent, OutboxMessage
from corecustomers.web.contact.rules import check
from corecustomers.web.contact.unsubscribe import (
    BadTokenError,
    make_token,
    read_token,
    unsubscribe,
)
from corecustomers.web.customers.models import ServiceSetting
from corecustomers.web.work.models import Interaction

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 3, 11, 12, 0, tzinfo=dt.UTC)  # a Wednesday


def test_an_answer_keeps_its_evidence_and_history_and_is_audited(people: Any) -> None:
    c = customer("C1")
    record_consents(
        c,
        [
            ConsentChange(
                "marketing",
                "sms",
                "granted",
                source="paper form",
                wording_version="v3",
                evidence="form 118",
            )
        ],
        user=people.am1,
    )
    record_consents(
        c, [ConsentChange("marketing", "sms", "withdrawn", source="call")], user=people.am1
    )
    events = list(ConsentEvent.objects.filter(customer=c).order_by("pk"))
    assert [e.status for e in events] == ["granted", "withdrawn"]
    assert (events[0].wording_version, events[0].evidence, events[0].recorded_by_name) == (
        "v3",
        "form 118",
        "am1",
    )
    current = Consent.objects.get(customer=c, purpose="marketing", channel="sms")
    assert (current.status, current.event_id) == ("withdrawn", events[1].pk)
    assert AuditEntry.objects.filter(action="consent", customer_key=c.pk).count() == 2
    with pytest.raises(ConsentError):
        events[0].save()
    with pytest.raises(ConsentError):
        events[0].delete()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (ConsentChange("marketing", "sms", "granted", lawful_basis="contract"), "lawful_basis"),
        (
            ConsentChange("sensitive_data", "any", "granted", lawful_basis="contract"),
            "lawful_basis",
        ),
        (ConsentChange("sensitive_data", "sms", "granted"), "channel"),
        (ConsentChange("gossip", "sms", "granted"), "purpose"),
        (ConsentChange("care", "pigeon", "granted"), "channel"),
        (ConsentChange("care", "sms", "granted", source=" "), "source"),
    ],
)
def test_pipl_separate_consent_and_bad_input_are_refused_naming_the_field(
    change: ConsentChange, field: str
) -> None:
    c = customer("C1")
    with pytest.raises(ConsentInputError) as caught:
        record_consents(c, [change])
    assert caught.value.field == field
    assert not ConsentEvent.objects.exists()


def test_each_rule_gives_its_reason_in_both_languages(people: Any, settings: Any) -> None:
    settings.TIME_ZONE = "UTC"
    c = customer("C1")
    d = check(c, "marketing", "email", NOON)
    assert (d.allowed, d.reason_code) == (False, "no_consent")
    assert d.reason_en == "No consent to marketing by e-mail."
    assert d.reason_zh == "客户未同意通过电子邮件接收营销联系。"
    assert check(c, "service", "email", NOON).allowed  # the contract is the basis
    grant(c, "marketing", "email")
    assert check(c, "marketing", "email", NOON).allowed
    assert check(c, "marketing", "sms", NOON).reason_code == "no_consent"  # per channel
    assert check(c, "care", "email", NOON).reason_code == "no_consent"  # per purpose
    # sensitive data needs its own consent on top
    assert check(c, "marketing", "email", NOON, uses_sensitive_data=True).reason_code == (
        "no_sensitive_consent"
    )
    grant(c, "sensitive_data", "any")
    assert check(c, "marketing", "email", NOON, uses_sensitive_data=True).allowed
    # a recent complaint holds marketing, not service
    Interaction.objects.create(customer=c, kind="complaint", at=NOON - dt.timedelta(days=3))
    assert check(c, "marketing", "email", NOON).reason_code == "recently_complained"
    assert check(c, "marketing", "email", NOON + dt.timedelta(days=40)).allowed
    # do not contact stops all but service
    set_do_not_contact(c, active=True, reason="asked on the phone", user=people.am1)
    d = check(c, "marketing", "email", NOON + dt.timedelta(days=40))
    assert (d.reason_code, d.reason_en) == ("do_not_contact", "Do not contact: asked on the phone")
    assert check(c, "service", "email", NOON).allowed
    set_do_not_contact(c, active=False, reason="", user=people.am1)
    # an objection to service on a channel is honoured
    record_consents(
        c, [ConsentChange("service", "sms", "refused", lawful_basis="contract", source="call")]
    )
    assert check(c, "service", "sms", NOON).reason_code == "refused"
    no_mail = customer("C2", email="")
    grant(no_mail, "marketing", "email")
    assert check(no_mail, "marketing", "email", NOON).reason_code == "no_address"


def test_one_budget_across_channels_counts_calls_visits_and_messages(settings: Any) -> None:
    settings.TIME_ZONE = "UTC"
    c = customer("C1")
    for channel in ("email", "sms", "call"):
        grant(c, "marketing", channel)
    assert check(c, "marketing", "email", NOON).allowed
    # a visit on Monday of the same week uses the week's one contact
    Interaction.objects.create(customer=c, kind="visit", at=NOON - dt.timedelta(days=2))
    d = check(c, "marketing", "sms", NOON)
    assert (d.reason_code, d.reason_zh) == ("budget_week", "联系额度已用完：本周已联系1次。")
    # service messages are outside the budget
    assert check(c, "service", "sms", NOON).allowed
    # the next week is free again, until the month's four are used
    later = NOON + dt.timedelta(days=7)
    assert check(c, "marketing", "sms", later).allowed
    for days in (-9, 12, 16):  # 2, 23, 27 March: with the visit of 9 March, four this month
        OutboxMessage.objects.create(
            customer=c,
            purpose="marketing",
            channel="email",
            planned_for=NOON + dt.timedelta(days=days),
            status="sent",
            dedup_key=f"k{days}",
        )
    assert check(c, "marketing", "sms", later).reason_code == "budget_month"
    ServiceSetting.objects.create(key="contact_budget", value={"week": 2, "month": 10})
    assert check(c, "marketing", "sms", later).allowed


def test_quiet_hours_hold_sms_and_calls_until_they_end(settings: Any) -> None:
    settings.TIME_ZONE = "Asia/Shanghai"
    c = customer("C1")
    grant(c, "care", "sms")
    grant(c, "care", "email")
    late = dt.datetime(2026, 3, 11, 22, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    d = check(c, "care", "sms", late)
    assert d.reason_code == "quiet_hours"
    assert d.retry_at == dt.datetime(2026, 3, 12, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert check(c, "care", "email", late).allowed  # e-mail waits in the inbox


def test_the_unsubscribe_token_withdraws_that_consent_and_cannot_be_forged(settings: Any) -> None:
    c = customer("C1")
    grant(c, "marketing", "email")
    grant(c, "marketing", "sms")
    token = make_token(c.pk, "marketing", "email", "key1")
    assert read_token(token).customer == c
    with pytest.raises(BadTokenError):
        read_token(token[:-2] + ("A" if token[-1] != "A" else "B") + token[-1])
    unsubscribe(token)
    unsubscribe(token)  # a second click changes nothing
    assert (
        Consent.objects.get(customer=c, purpose="marketing", channel="email").status == "withdrawn"
    )
    assert Consent.objects.get(customer=c, purpose="marketing", channel="sms").status == "granted"
    last = ConsentEvent.objects.filter(customer=c).order_by("-pk").first()
    assert last is not None and (last.source, last.evidence) == ("unsubscribe_link", "message key1")
    assert ConsentEvent.objects.filter(customer=c, status="withdrawn").count() == 1
    ServiceSetting.objects.create(key="contact_unsubscribe_days", value=0)
    old = make_token(c.pk, "marketing", "sms", "key2")
    import time

    time.sleep(1.1)
    with pytest.raises(BadTokenError, match="expired"):
        read_token(old)
    assert timezone.now()
