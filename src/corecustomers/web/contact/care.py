"""Contact plans per tier and care days, in My work and in the outbox.

* **Contact plans** (setting ``contact_plans``): per tier, a mix of channels over a cadence
  (strategic: a visit every 90 days and a call every 30 …). A personal contact (visit,
  call, letter) of a plan is due when the last interaction of that kind is older than its
  cadence; it appears in the owner's My work as a ``plan`` item.
* **Care days** (setting ``contact_care_days``): birthdays and festivals (see
  :mod:`.festivals`) per tier, a number of days ahead; a festival appears as a ``care``
  item and in the outbox's "care to prepare" list until its message is planned.

:func:`work_items` and :func:`hold_items` are the work app's ``work_item_providers`` and
``work_item_checks``: the second holds every plan, care and birthday item that the rules
(:mod:`.rules`) would not allow, with the reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Max
from django.utils import timezone

from corecustomers.web.contact.festivals import OCCASIONS, occasions_between
from corecustomers.web.contact.models import OutboxMessage
from corecustomers.web.contact.policy import label, setting
from corecustomers.web.contact.rules import Checker
from corecustomers.web.customers.models import AccountMember, Customer, CustomerState
from corecustomers.web.experiments.holdout import treated_only
from corecustomers.web.work.models import Interaction
from corecustomers.web.work.queue import WorkItem

__all__ = ["CareDue", "care_due", "hold_items", "plan_care_messages", "work_items"]

PERSONAL = {"visit": "visit", "call": "call", "letter": "letter"}


@dataclass(frozen=True)
class CareDue:
    customer: Customer
    tier: str
    occasion: str
    day: dt.date
    channels: tuple[str, ...]
    message: OutboxMessage | None


def _next_birthday(born: dt.date, today: dt.date) -> dt.date:
    for year in (today.year, today.year + 1):
        try:
            day = born.replace(year=year)
        except ValueError:  # 29 February in a common year: the 28th
            day = dt.date(year, 2, 28)
        if day >= today:
            return day
    return born.replace(year=today.year + 1, day=28 if born.day == 29 else born.day)


def _applies(rule: dict[str, Any], tier: str) -> bool:
    tiers = list(rule.get("tiers", ["*"]))
    return "*" in tiers or tier in tiers


def care_due(customers: list[Customer], today: dt.date) -> list[CareDue]:
    """The care days of ``customers`` within each occasion's ``days_ahead``, by date."""
    rules = dict(setting("contact_care_days"))
    if not rules or not customers:
        return []
    tiers = dict(
        CustomerState.objects.filter(customer__in=[c.pk for c in customers]).values_list(
            "customer_id", "tier"
        )
    )
    horizon = max(int(r.get("days_ahead", 14)) for r in rules.values())
    festivals = occasions_between(today, today + dt.timedelta(days=horizon), set(rules))
    found: list[CareDue] = []
    for customer in customers:
        tier = tiers.get(customer.pk, "")
        birthday = rules.get("birthday")
        if birthday and customer.birthday and _applies(birthday, tier):
            day = _next_birthday(customer.birthday, today)
            if day <= today + dt.timedelta(days=int(birthday.get("days_ahead", 14))):
                found.append(
                    CareDue(
                        customer,
                        tier,
                        "birthday",
                        day,
                        tuple(birthday.get("channels", ["email"])),
                        None,
                    )
                )
        for code, day in festivals:
            rule = rules[code]
            if _applies(rule, tier) and day <= today + dt.timedelta(
                days=int(rule.get("days_ahead", 14))
            ):
                found.append(
                    CareDue(customer, tier, code, day, tuple(rule.get("channels", ["email"])), None)
                )
    prepared = {
        (m.customer_id, m.occasion, m.planned_for.year): m
        for m in OutboxMessage.objects.filter(
            customer__in=[c.pk for c in customers],
            purpose="care",
            occasion__in={d.occasion for d in found},
            planned_for__gte=dt.datetime.combine(
                today - dt.timedelta(days=60), dt.time(), tzinfo=dt.UTC
            ),
        ).order_by("created", "pk")
    }
    return sorted(
        (
            dataclasses.replace(d, message=prepared.get((d.customer.pk, d.occasion, d.day.year)))
            for d in found
        ),
        key=lambda d: (d.day, d.customer.external_id, d.occasion),
    )


def _own(person: Any) -> list[Customer]:
    return list(
        Customer.objects.filter(
            pk__in=AccountMember.objects.filter(user=person).values("customer_id")
        )
    )


def _label(customer: Customer) -> str:
    return f"{customer.external_id} {customer.name}".strip()


def work_items(person: Any, today: dt.date, snoozed: set[str]) -> list[WorkItem]:
    """Festival care and due personal contacts of the contact plans (My work provider).

    Set-wise, with tuples (an account manager's book has thousands of accounts): one query
    for the book, one for its tiers, one for the festivals' prepared messages and one for
    the last personal contact of each kind. A plan item yields to the queue's cadence item
    of the same customer (one "contact due" per customer, see :mod:`~corecustomers.web.
    work.queue`).
    """
    own = list(
        Customer.objects.filter(
            pk__in=AccountMember.objects.filter(user=person).values("customer_id")
        ).values_list("pk", "external_id", "name")
    )
    if not own:
        return []
    ids = [pk for pk, _, _ in own]
    states = {
        cid: (tier, as_of)
        for cid, tier, as_of in CustomerState.objects.filter(customer_id__in=ids).values_list(
            "customer_id", "tier", "as_of"
        )
    }
    return _care_items(own, states, today, snoozed) + _plan_items(own, states, today, snoozed)


Book = list[tuple[int, str, str]]
States = dict[int, tuple[str, dt.date]]


def _care_items(own: Book, states: States, today: dt.date, snoozed: set[str]) -> list[WorkItem]:
    """The festivals of :func:`care_due` not yet prepared (birthdays are the queue's own)."""
    rules = dict(setting("contact_care_days"))
    if not rules:
        return []
    horizon = max(int(r.get("days_ahead", 14)) for r in rules.values())
    festivals = [
        (code, day)
        for code, day in occasions_between(today, today + dt.timedelta(days=horizon), set(rules))
        if code != "birthday"
        and day <= today + dt.timedelta(days=int(rules[code].get("days_ahead", 14)))
    ]
    if not festivals:
        return []
    found = [
        (pk, external_id, name, code, day)
        for pk, external_id, name in own
        for code, day in festivals
        if _applies(rules[code], states.get(pk, ("", today))[0])
    ]
    prepared = {
        (cid, occasion, planned_for.year)
        for cid, occasion, planned_for in OutboxMessage.objects.filter(
            customer_id__in={f[0] for f in found},
            purpose="care",
            occasion__in={f[3] for f in found},
            planned_for__gte=dt.datetime.combine(
                today - dt.timedelta(days=60), dt.time(), tzinfo=dt.UTC
            ),
        ).values_list("customer_id", "occasion", "planned_for")
    }
    items = []
    for pk, external_id, name, code, day in found:
        key = f"care:{code}:{pk}:{day.isoformat()}"
        if (pk, code, day.year) in prepared or key in snoozed:
            continue  # a planned message has answered the day
        occasion = OCCASIONS[code]
        items.append(
            WorkItem(
                key,
                "care",
                external_id,
                f"{external_id} {name}".strip(),
                f"{occasion.name_en} on {day.isoformat()}: send care (Outbox).",
                f"{occasion.name_zh}（{day.month}月{day.day}日）：发送关怀（发件箱）。",
                day,
                None,
            )
        )
    return items


def _plan_items(own: Book, states: States, today: dt.date, snoozed: set[str]) -> list[WorkItem]:
    plans = dict(setting("contact_plans"))
    personal = {
        tier: [e for e in entries if str(e.get("channel")) in PERSONAL]
        for tier, entries in plans.items()
    }  # messages of a plan go through campaigns and the outbox
    wanted = [row for row in own if personal.get(states.get(row[0], ("", today))[0])]
    if not wanted:
        return []
    last = {
        (cid, kind): at
        for cid, kind, at in Interaction.objects.filter(
            customer_id__in=[pk for pk, _, _ in wanted], kind__in=list(PERSONAL)
        )
        .values("customer_id", "kind")
        .annotate(last=Max("at"))
        .values_list("customer_id", "kind", "last")
    }
    items = []
    for pk, external_id, name in wanted:
        tier, as_of = states.get(pk, ("", today))
        for entry in personal.get(tier, []):
            channel = str(entry.get("channel"))
            every = int(entry.get("every_days", 30))
            previous = last.get((pk, PERSONAL[channel]))
            previous_day = timezone.localtime(previous).date() if previous else None
            # never contacted: due since the analysis (a stable key, so a snooze holds)
            due = previous_day + dt.timedelta(days=every) if previous_day else as_of
            key = f"plan:{channel}:{pk}:{due.isoformat()}"
            if due > today or key in snoozed:
                continue
            since_en = f"last {previous_day.isoformat()}" if previous_day else "none recorded"
            since_zh = f"上次 {previous_day.isoformat()}" if previous_day else "尚无记录"
            items.append(
                WorkItem(
                    key,
                    "plan",
                    external_id,
                    f"{external_id} {name}".strip(),
                    f"Contact plan ({tier}): a {label(channel)} every {every} days ({since_en}).",
                    f"联系计划（{tier}）：每{every}天{label(channel, True)}一次（{since_zh}）。",
                    due,
                    None,
                    yields_to="cadence",
                )
            )
    return items


def _what(item: WorkItem, plans: dict[str, Any], care: dict[str, Any]) -> tuple[str, list[str]]:
    """The purpose and channels a queue item would contact the customer by."""
    kind, _, rest = item.key.partition(":")
    if kind == "birthday":
        return "care", list(dict(care.get("birthday", {})).get("channels", ["email"]))
    if kind == "care":
        occasion = rest.partition(":")[0]
        return "care", list(dict(care.get(occasion, {})).get("channels", ["email"]))
    if kind == "plan":
        channel = rest.partition(":")[0]
        purposes = {
            str(e.get("channel")): str(e.get("purpose", "service"))
            for entries in plans.values()
            for e in entries
        }
        return purposes.get(channel, "service"), [channel]
    return "", []


def hold_items(person: Any, items: list[WorkItem], today: dt.date) -> list[WorkItem]:
    """Hold care, birthday and plan items no channel of which the rules allow (with why)."""
    kinds = {"birthday", "care", "plan"}
    wanted = {i.customer_key for i in items if i.kind in kinds}
    if not wanted:
        return items
    customers = {c.external_id: c for c in Customer.objects.filter(external_id__in=wanted)}
    checker = Checker(list(customers.values()), timezone.now())
    plans, care = dict(setting("contact_plans")), dict(setting("contact_care_days"))
    out = []
    for item in items:
        customer = customers.get(item.customer_key)
        if item.kind not in kinds or customer is None:
            out.append(item)
            continue
        purpose, channels = _what(item, plans, care)
        decisions = [checker.check(customer.pk, purpose, c) for c in channels]
        usable = [d for d in decisions if d.allowed or d.reason_code == "quiet_hours"]
        if decisions and not usable:
            first = decisions[0]
            out.append(dataclasses.replace(item, held_en=first.reason_en, held_zh=first.reason_zh))
        else:
            out.append(item)
    return out


def plan_care_messages(today: dt.date | None = None, *, batch: int = 2000) -> dict[str, int]:
    """Plan the care messages of every customer whose care day is ``days_ahead`` away.

    Meant to run once a day (a daily tick of the worker's scheduler): each occasion's
    messages are planned for the morning of the day itself, checked and budgeted like any
    other (held with the reason when not allowed), and a care day already prepared -- by
    hand in the outbox, or by an earlier run -- is not planned twice. The account team's
    own "prepare" in the outbox stays available until then.
    """
    today = today or timezone.localdate()
    rules = dict(setting("contact_care_days"))
    counts = {"queued": 0, "held": 0}
    from corecustomers.web.contact.outbox import plan_messages

    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), batch):
        customers = list(Customer.objects.filter(pk__in=ids[start : start + batch]))
        groups: dict[tuple[str, dt.date, tuple[str, ...]], list[Customer]] = {}
        for due in care_due(customers, today):
            ahead = int(dict(rules.get(due.occasion, {})).get("days_ahead", 14))
            if due.message is None and due.day == today + dt.timedelta(days=ahead):
                groups.setdefault((due.occasion, due.day, due.channels), []).append(due.customer)
        for (occasion, day, channels), everyone in groups.items():
            people = treated_only(f"care:{occasion}", everyone)  # an enabled hold-out's control
            if not people:
                continue
            morning = dt.datetime.combine(day, dt.time(9)).replace(
                tzinfo=timezone.get_current_timezone()
            )
            result = plan_messages(
                people,
                purpose="care",
                channels=list(channels),
                template=occasion,
                planned_for=morning,
                occasion=occasion,
                occasion_date=day,
            )
            counts["queued"] += result.queued
            counts["held"] += result.held
    return counts
