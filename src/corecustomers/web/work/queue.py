"""My work (今日工作): what an account manager should do today, each item with why.

Items, most urgent first within each kind:

* ``alert`` -- open alerts assigned to the person, ranked by value at stake, at most
  ``max_open_alerts`` (the rest wait, highest value at stake first);
* ``follow_up`` -- follow-ups due (after complaints and service requests, next steps);
* ``action`` -- next-best actions of own accounts due by today, not yet answered by an
  interaction since the analysis;
* ``cadence`` -- own core accounts not contacted within their tier's cadence (the due date
  is the last interaction plus the cadence);
* ``birthday`` -- birthdays of own accounts in the next ``birthday_days_ahead`` days, not yet
  marked by an interaction.

Other apps add items and checks without editing this module: an ``AppConfig`` may name
``work_item_providers`` (callables ``(person, today, snoozed) -> list[WorkItem]``, e.g. care
days of the contact plans) and ``work_item_checks`` (callables ``(person, items, today) ->
list[WorkItem]`` that return each item given, in order, maybe held, with ``held_en``/
``held_zh`` saying why, e.g. no consent for the channel), and ``work_item_kinds`` (a mapping
of the kinds they add to their names, shown on the My work page). Unknown kinds sort after
the built-in ones. A provider's item with ``yields_to="cadence"`` is left out for a customer
whose cadence item is due (snoozed or not): the queue's cadence item is the one "contact
due" of a customer (the contact plans' personal contacts say only what it does not).

:func:`work_queue` is the queue as a sequence whose checks run only on the items read --
the page and the API read one page of it, so a page costs the checks of one page; the items
themselves are computed set-wise with tuples (no model objects). :func:`my_work` is the
whole queue, every item checked.

An item disappears when it is done (an interaction answers it), snoozed (until a date,
with a reason) or handed over (alerts and follow-ups, to a colleague; audited). Own
accounts are those on whose account team the person is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from django.apps import apps
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.module_loading import import_string

from corecustomers.web.accounts.models import Team, User
from corecustomers.web.audit.log import record
from corecustomers.web.customers.models import AccountMember, Customer, CustomerState
from corecustomers.web.work.models import OPEN_STATUSES, Alert, FollowUp, Interaction, Snooze
from corecustomers.web.work.policy import setting

__all__ = [
    "QueueError",
    "WorkItem",
    "WorkQueue",
    "can_see_queue_of",
    "hand_over",
    "my_work",
    "snooze",
    "work_queue",
]


class QueueError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class WorkItem:
    key: str
    kind: str
    customer_key: str
    customer_label: str
    reason_en: str
    reason_zh: str
    due: dt.date | None
    value_at_stake: float | None
    #: Why the item is held (not to be done now), e.g. no consent for its channel; empty if not.
    held_en: str = ""
    held_zh: str = ""
    #: A built-in kind (``"cadence"``) that, due for the same customer, makes this item a
    #: duplicate: it is then left out (see the module docstring).
    yields_to: str = ""


#: The columns My work reads (the rows' JSON and free text stay in the database).
CUSTOMER_FIELDS = ("customer__id", "customer__external_id", "customer__name")
ALERT_FIELDS = ("id", "reason_en", "reason_zh", "due_at", "value_at_stake", *CUSTOMER_FIELDS)
STATE_FIELDS = (
    "customer_id", "customer__external_id", "customer__name", "as_of", "tier",
    "value_at_stake", "action_code", "action_en", "action_zh", "action_due",
)  # fmt: skip


def can_see_queue_of(viewer: Any, person: User) -> bool:
    """Oneself; an admin anyone's; a manager the members of the teams they lead or are in."""
    if viewer.pk == person.pk or viewer.is_superuser or viewer.role == "admin":
        return True
    if viewer.role != "manager":
        return False
    return Team.objects.filter(Q(lead=viewer) | Q(members=viewer), members=person).exists()


def _label(customer: Customer) -> str:
    return f"{customer.external_id} {customer.name}".strip()


class WorkQueue(Sequence[WorkItem]):
    """The queue in its order; the ``work_item_checks`` run on the items read, once each."""

    def __init__(
        self,
        person: User,
        items: list[WorkItem],
        today: dt.date,
        checks: Iterable[Callable[..., list[WorkItem]]],
    ) -> None:
        self._person, self._items, self._today = person, items, today
        self._checks = list(checks)
        self._checked: dict[int, WorkItem] = {}

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> WorkItem: ...
    @overload
    def __getitem__(self, index: slice) -> list[WorkItem]: ...
    def __getitem__(self, index: int | slice) -> WorkItem | list[WorkItem]:
        positions = range(len(self._items))
        if isinstance(index, slice):
            return self._read(list(positions[index]))
        return self._read([positions[index]])[0]

    def __iter__(self) -> Iterator[WorkItem]:
        return iter(self[:])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<WorkQueue of {self._person} on {self._today}: {len(self)} items>"

    def _read(self, positions: list[int]) -> list[WorkItem]:
        todo = [p for p in positions if p not in self._checked]
        if todo:
            batch = [self._items[p] for p in todo]
            for check in self._checks:
                batch = check(self._person, batch, self._today)
                if len(batch) != len(todo):
                    raise RuntimeError(f"the work item check {check!r} must return every item")
            self._checked.update(zip(todo, batch, strict=True))
        return [self._checked[p] for p in positions]


def my_work(person: User, *, today: dt.date | None = None) -> list[WorkItem]:
    """The open items of ``person``'s queue, every one checked (see the module docstring)."""
    return list(work_queue(person, today=today))


def work_queue(person: User, *, today: dt.date | None = None) -> WorkQueue:
    """``person``'s queue, checked as it is read (a page: the checks of one page)."""
    today = today or timezone.localdate()
    snoozed = set(
        Snooze.objects.filter(user=person, until__gt=today).values_list("item", flat=True)
    )
    items: list[WorkItem] = []
    limit = int(setting("max_open_alerts"))
    snoozed_alerts = [int(k[6:]) for k in snoozed if k.startswith("alert:") and k[6:].isdigit()]
    alerts = (
        Alert.objects.filter(assignee=person, status__in=OPEN_STATUSES)
        .exclude(pk__in=snoozed_alerts)
        .select_related("customer")
        .only(*ALERT_FIELDS)
        .order_by("-value_at_stake", "pk")[:limit]
    )
    for alert in alerts:
        key = f"alert:{alert.pk}"
        items.append(
            WorkItem(
                key,
                "alert",
                alert.customer.external_id,
                _label(alert.customer),
                alert.reason_en,
                alert.reason_zh,
                timezone.localtime(alert.due_at).date() if alert.due_at else None,
                alert.value_at_stake,
            )
        )
    for follow_up in (
        FollowUp.objects.filter(
            owner=person, done_at__isnull=True, due__lte=today + dt.timedelta(days=1)
        )
        .select_related("customer")
        .only("id", "due", "reason", *CUSTOMER_FIELDS)
    ):
        key = f"follow_up:{follow_up.pk}"
        if key not in snoozed:
            items.append(
                WorkItem(
                    key,
                    "follow_up",
                    follow_up.customer.external_id,
                    _label(follow_up.customer),
                    f"Follow-up: {follow_up.reason}",
                    f"跟进：{follow_up.reason}",
                    follow_up.due,
                    None,
                )
            )
    own = Customer.objects.filter(
        pk__in=AccountMember.objects.filter(user=person).values("customer_id")
    )
    last_contact = dict(
        Interaction.objects.filter(customer__in=own)
        .values("customer_id")
        .annotate(last=Max("at"))
        .values_list("customer_id", "last")
    )
    cadence = {str(k): int(v) for k, v in dict(setting("contact_cadence_days")).items()}
    # only the states that can give an item: an action due by today, or a tier with a cadence
    due_action = Q(action_due__lte=today) & ~Q(action_code__in=("", "NO_ACTION"))
    # tuples, not model objects: an account manager's book has thousands of accounts
    states = (
        CustomerState.objects.filter(customer__in=own)
        .filter(due_action | Q(tier__in=[tier for tier, days in cadence.items() if days]))
        .values_list(*STATE_FIELDS)
    )
    cadence_due: set[str] = set()
    due_for = {"cadence": cadence_due}
    for pk, external_id, name, as_of, tier, stake, code, action_en, action_zh, due_on in states:
        label = f"{external_id} {name}".strip()
        last = last_contact.get(pk)
        last_day = timezone.localtime(last).date() if last else None
        if due_on and due_on <= today and code not in {"", "NO_ACTION"}:
            key = f"action:{pk}:{as_of.isoformat()}"
            if key not in snoozed and (last_day is None or last_day <= as_of):
                items.append(
                    WorkItem(key, "action", external_id, label, action_en, action_zh, due_on, stake)
                )
        days = cadence.get(tier)
        if days:
            due = (last_day + dt.timedelta(days=days)) if last_day else as_of
            key = f"cadence:{pk}:{due.isoformat()}"
            if due <= today:
                cadence_due.add(external_id)  # snoozed or not: "contact due" is this item's
            if due <= today and key not in snoozed:
                since = (
                    f"last contact {last_day.isoformat()}" if last_day else "no contact recorded"
                )
                since_zh = f"上次联系 {last_day.isoformat()}" if last_day else "尚无联系记录"
                items.append(
                    WorkItem(
                        key,
                        "cadence",
                        external_id,
                        label,
                        f"Contact due: {tier} accounts every {days} days ({since}).",
                        f"应联系：{tier}客户每{days}天联系一次（{since_zh}）。",
                        due,
                        stake,
                    )
                )
    ahead = int(setting("birthday_days_ahead"))
    birthdays = own.exclude(birthday__isnull=True).values_list(
        "id", "external_id", "name", "birthday"
    )
    for pk, external_id, name, born in birthdays:
        birthday = _next_birthday(born, today)
        if birthday is None or birthday > today + dt.timedelta(days=ahead):
            continue
        key = f"birthday:{pk}:{birthday.isoformat()}"
        last = last_contact.get(pk)
        marked = last is not None and timezone.localtime(last).date() >= birthday - dt.timedelta(
            days=ahead
        )
        if key not in snoozed and not marked:
            items.append(
                WorkItem(
                    key,
                    "birthday",
                    external_id,
                    f"{external_id} {name}".strip(),
                    f"Birthday on {birthday.isoformat()}.",
                    f"{birthday.month}月{birthday.day}日生日。",
                    birthday,
                    None,
                )
            )
    for provide in _extensions("work_item_providers"):
        items.extend(
            i
            for i in provide(person, today, snoozed)
            if not i.yields_to or i.customer_key not in due_for.get(i.yields_to, ())
        )
    order = {"alert": 0, "follow_up": 1, "action": 2, "cadence": 3, "birthday": 4}
    items.sort(
        key=lambda i: (
            order.get(i.kind, len(order)),
            -(i.value_at_stake or 0.0) if i.kind == "alert" else 0.0,
            i.due or today,
            i.key,
        ),
    )
    return WorkQueue(person, items, today, _extensions("work_item_checks"))


def _extensions(attribute: str) -> Iterator[Callable[..., list[WorkItem]]]:
    """The callables other apps name in their ``AppConfig`` (see the module docstring)."""
    for config in apps.get_app_configs():
        for target in getattr(config, attribute, ()):
            yield import_string(target) if isinstance(target, str) else target


def _next_birthday(born: dt.date, today: dt.date) -> dt.date | None:
    for year in (today.year, today.year + 1):
        try:
            day = born.replace(year=year)
        except ValueError:  # 29 February in a common year: the 28th
            day = dt.date(year, 2, 28)
        if day >= today:
            return day
    return None


def snooze(person: User, item: str, *, until: dt.date, reason: str) -> None:
    if until <= timezone.localdate():
        raise QueueError("until", "snooze until a later day")
    if not reason.strip():
        raise QueueError("reason", "say why the item waits")
    Snooze.objects.update_or_create(
        user=person, item=item, defaults={"until": until, "reason": reason.strip()}
    )
    record("snooze", object_type="work_item", object_key=item, message=reason, user=person)


def hand_over(person: User, item: str, *, to: User) -> None:
    """Give an alert or a follow-up of ``person``'s queue to ``to`` (audited)."""
    kind, _, pk = item.partition(":")
    with transaction.atomic():
        if kind == "alert":
            row: Any = Alert.objects.select_for_update().filter(pk=pk, assignee=person).first()
            field = "assignee"
        elif kind == "follow_up":
            row = FollowUp.objects.select_for_update().filter(pk=pk, owner=person).first()
            field = "owner"
        else:
            raise QueueError("item", "only alerts and follow-ups are handed over")
        if row is None:
            raise QueueError("item", f"{item} is not in your queue")
        if not Customer.objects.restrict(to, "change").filter(pk=row.customer_id).exists():
            raise QueueError("to", f"{to.username} cannot work on this customer")
        setattr(row, field, to)
        row.save(update_fields=[field])
        record(
            "hand_over",
            object_type=kind,
            object_key=pk,
            customer_key=row.customer_id,
            before={field: person.username},
            after={field: to.username},
            user=person,
        )
