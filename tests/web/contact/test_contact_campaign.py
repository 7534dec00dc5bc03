"""Issue 13's consent acceptance: a campaign over 10,000 customers with mixed consents and
budgets contacts nobody without consent for that purpose × channel, exceeds no budget, and
holds every other contact with its reason; the unsubscribe link in a delivered message stops
the customer's next planned message."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from corecustomers.web.contact.adapters import FileAdapter
from corecustomers.web.contact.delivery import deliver_due
from corecustomers.web.contact.models import (
    Consent,
    ConsentEvent,
    ContactProfile,
    OutboxMessage,
)
from corecustomers.web.contact.outbox import plan_campaign
from corecustomers.web.contact.rules import periods
from corecustomers.web.customers.models import Customer, ServiceSetting
from corecustomers.web.work.models import Interaction

pytestmark = pytest.mark.django_db

N = 10_000
WEDNESDAY = dt.datetime(2026, 3, 11, 12, 0, tzinfo=dt.UTC)
NEXT_WEDNESDAY = WEDNESDAY + dt.timedelta(days=7)


def _population(seed: int = 13) -> dict[str, Any]:
    """Customers with mixed consents, do-not-contact, complaints and used budgets."""
    rng = random.Random(seed)
    Customer.objects.bulk_create(
        [
            Customer(
                external_id=f"K{i:05d}",
                pseudonym=f"k{i:05d}",
                name=f"Customer {i}",
                email="" if rng.random() < 0.02 else f"k{i}@example.com",
                phone=f"138{i:08d}",
            )
            for i in range(N)
        ],
        batch_size=2000,
    )
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    truth: dict[str, Any] = {
        "consent": {},
        "dnc": set(),
        "complained": set(),
        "week": Counter(),
        "month": Counter(),
    }
    events, answers = [], []
    for pk in ids:
        for channel, share in (("email", 0.55), ("sms", 0.35)):
            roll = rng.random()
            status = "granted" if roll < share else ("withdrawn" if roll < share + 0.05 else "")
            if status:
                truth["consent"][(pk, channel)] = status
                events.append(
                    ConsentEvent(
                        customer_id=pk,
                        purpose="marketing",
                        channel=channel,
                        status=status,
                        lawful_basis="consent",
                        source="import",
                        at=WEDNESDAY - dt.timedelta(days=60),
                    )
                )
    ConsentEvent.objects.bulk_create(events, batch_size=2000)
    for e in ConsentEvent.objects.all().only("pk", "customer_id", "channel", "status", "at"):
        answers.append(
            Consent(
                customer_id=e.customer_id,
                purpose="marketing",
                channel=e.channel,
                status=e.status,
                lawful_basis="consent",
                since=e.at,
                event_id=e.pk,
            )
        )
    Consent.objects.bulk_create(answers, batch_size=2000)
    profiles, outbox, interactions = [], [], []
    for pk in ids:
        roll = rng.random()
        if roll < 0.03:
            truth["dnc"].add(pk)
            profiles.append(ContactProfile(customer_id=pk, do_not_contact=True, reason="asked"))
        elif roll < 0.05:
            truth["complained"].add(pk)
            interactions.append(
                Interaction(customer_id=pk, kind="complaint", at=WEDNESDAY - dt.timedelta(days=5))
            )
        roll = rng.random()
        if roll < 0.10:  # a newsletter on Monday of the week: the week's one contact is used
            truth["week"][pk] += 1
            truth["month"][pk] += 1
            outbox.append(
                OutboxMessage(
                    customer_id=pk,
                    purpose="marketing",
                    channel="email",
                    planned_for=WEDNESDAY - dt.timedelta(days=2),
                    status="sent",
                    dedup_key=f"old-{pk}",
                )
            )
        elif roll < 0.15:  # four calls earlier in March: the month's four are used
            truth["month"][pk] += 4
            interactions.extend(
                Interaction(
                    customer_id=pk, kind="call", at=dt.datetime(2026, 3, d, 10, tzinfo=dt.UTC)
                )
                for d in (2, 3, 4, 5)
            )
    ContactProfile.objects.bulk_create(profiles, batch_size=2000)
    OutboxMessage.objects.bulk_create(outbox, batch_size=2000)
    Interaction.objects.bulk_create(interactions, batch_size=2000)
    return truth


def _expected(truth: dict[str, Any], c: Customer, week: bool) -> tuple[str, str]:
    """A plain reference: the channel the message goes by, or the reason it is held."""
    if c.pk in truth["dnc"]:
        return "", "do_not_contact"
    first_reason = ""
    for channel in ("email", "sms"):
        if channel == "email" and not c.email:
            reason = "no_address"
        elif truth["consent"].get((c.pk, channel)) != "granted":
            reason = "withdrawn" if truth["consent"].get((c.pk, channel)) else "no_consent"
        elif c.pk in truth["complained"]:
            reason = "recently_complained"
        elif week and truth["week"][c.pk] >= 1:
            reason = "budget_week"
        elif truth["month"][c.pk] >= 4:
            reason = "budget_month"
        else:
            return channel, ""
        first_reason = first_reason or reason
    return "", first_reason


def test_a_campaign_over_10000_customers_respects_consent_and_budget(
    settings: Any, tmp_path: Path
) -> None:
    settings.TIME_ZONE = "UTC"
    truth = _population()
    customers = list(Customer.objects.all())
    started = time.perf_counter()
    campaign, result = plan_campaign(
        customers,
        name="March news",
        purpose="marketing",
        channels=["email", "sms"],
        template="newsletter",
        planned_for=WEDNESDAY,
    )
    seconds = time.perf_counter() - started
    print(f"\nplanned {N} messages in {seconds:.2f} s: {result.to_json()}")
    messages = {m.customer_id: m for m in OutboxMessage.objects.filter(campaign=campaign)}
    assert len(messages) == N == result.queued + result.held
    mismatches = []
    for c in customers:
        m = messages[c.pk]
        channel, reason = _expected(truth, c, week=True)
        got = (m.channel if m.status == "queued" else "", m.reason_code)
        if got != (channel, reason):
            mismatches.append((c.external_id, got, (channel, reason)))
        if m.status == "held":
            assert m.reason_en and m.reason_zh, c.external_id  # every held contact says why
        else:
            assert m.reason_code == ""
            assert truth["consent"].get((c.pk, m.channel)) == "granted"  # never without consent
    assert mismatches == []
    assert 0 < result.queued < N and len(result.reasons) >= 5, result.to_json()

    # no budget exceeded: this week's and this month's contacts per customer
    week_start, week_end, month_start, month_end = periods(WEDNESDAY)
    planned = OutboxMessage.objects.filter(status__in=("queued", "sent"), purpose="marketing")
    for start, end, limit in ((week_start, week_end, 1), (month_start, month_end, 4)):
        counts = Counter(
            planned.filter(planned_for__gte=start, planned_for__lt=end).values_list(
                "customer_id", flat=True
            )
        )
        calls = Interaction.objects.filter(kind="call", at__gte=start, at__lt=end)
        counts.update(calls.values_list("customer_id", flat=True))
        assert max(counts.values()) <= limit

    # next week's message to three of them; one unsubscribes through this week's link
    ServiceSetting.objects.create(key="contact_adapters", value={"email": "file", "sms": "file"})
    both = [
        m.customer_id
        for m in OutboxMessage.objects.filter(
            campaign=campaign, status="queued", channel="email"
        ).order_by("pk")[:3]
    ]
    second, _ = plan_campaign(
        Customer.objects.filter(pk__in=both),
        name="March news 2",
        purpose="marketing",
        channels=["email", "sms"],
        template="newsletter",
        planned_for=NEXT_WEDNESDAY,
    )
    assert OutboxMessage.objects.filter(campaign=second, status="queued").count() == 3
    reader = next(m for m in messages.values() if m.customer_id == both[0])
    assert reader.status == "queued" and reader.channel == "email"
    first_wave = [messages[pk].pk for pk in both]
    files = FileAdapter(tmp_path)
    sent = deliver_due(now=WEDNESDAY, only=first_wave, adapters={"file": files})
    assert sent["sent"] == 3
    delivered = json.loads((tmp_path / f"{reader.dedup_key}.json").read_text(encoding="utf-8"))
    assert delivered["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.search(r"(/unsubscribe/[^/\s]+/)", delivered["body"])
    assert link is not None
    browser = Client()  # no login
    assert "Unsubscribe" in browser.get(link.group(1)).content.decode()
    assert Consent.objects.get(customer_id=reader.customer_id, channel="email").status == "granted"
    answer = browser.post(link.group(1))
    assert answer.status_code == 200
    assert (
        Consent.objects.get(customer_id=reader.customer_id, channel="email").status == "withdrawn"
    )

    second_wave = list(OutboxMessage.objects.filter(campaign=second, customer_id__in=both))
    result2 = deliver_due(
        now=NEXT_WEDNESDAY, only=[m.pk for m in second_wave], adapters={"file": files}
    )
    assert (result2["sent"], result2["rejected"]) == (2, 1)
    stopped = OutboxMessage.objects.get(campaign=second, customer_id=reader.customer_id)
    assert (stopped.status, stopped.reason_code) == ("rejected", "withdrawn")
    assert not (tmp_path / f"{stopped.dedup_key}.json").exists()
    assert timezone.now()
