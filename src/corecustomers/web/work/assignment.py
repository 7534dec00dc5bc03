"""Bulk assignment of owners, and the hand-over of a whole book when someone leaves.

* :func:`bulk_assign` -- the customers without an owner that match a filter (tier,
  region, team), most value at stake first, given round-robin to a list of colleagues, each
  up to the maximum book size (the setting ``max_book_size``: customers owned per person).
  Customers that fit no one's book are left and counted. Their open alerts and unowned
  follow-ups go to the new owner with them.
* :func:`hand_over_book` -- everything a person holds -- their places on account teams
  (owner, support, sponsor), their open alerts, open follow-ups and snoozes -- moved to
  one or more colleagues, customer by customer (all of one customer's items to the same
  person; owned customers round-robin within the book size). An item on a customer the
  colleague may not work on goes to the customer's owner, else its team lead, else it is
  left unassigned (and counted).

Both take ``dry_run`` (the default): the plan is computed and returned, nothing written.
Applied, everything is written in one transaction, with an audit entry per customer and
one for the whole operation. Administrators assign anyone; managers the customers of
their teams and regions (``restrict(user, "assign")``) to the members of their teams;
others may not (:class:`AssignmentForbiddenError`). A bad argument raises
:class:`AssignmentError` naming the field.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, F

from corecustomers.web.accounts.models import User
from corecustomers.web.audit.context import Actor, acting, current_actor
from corecustomers.web.audit.log import record, record_many
from corecustomers.web.customers.models import AccountMember, Customer
from corecustomers.web.work.models import OPEN_STATUSES, Alert, FollowUp, Snooze
from corecustomers.web.work.policy import setting
from corecustomers.web.work.queue import can_see_queue_of
from corecustomers.web.work.routing import team_lead

__all__ = [
    "AssignmentError",
    "AssignmentFilter",
    "AssignmentForbiddenError",
    "AssignmentPlan",
    "HandOverPlan",
    "Move",
    "bulk_assign",
    "hand_over_book",
]


class AssignmentForbiddenError(PermissionError):
    """The caller may not assign customers (account managers, analysts)."""


class AssignmentError(ValueError):
    """An argument is invalid; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AssignmentFilter:
    """Which unowned customers: each criterion left empty matches every customer."""

    tier: str = ""
    region: str = ""
    team: str = ""

    def to_json(self) -> dict[str, str]:
        return {"tier": self.tier, "region": self.region, "team": self.team}


@dataclass(frozen=True)
class Move:
    """One customer and the person it goes to."""

    customer_id: int
    external_id: str
    pseudonym: str
    name: str
    tier: str
    value_at_stake: float | None
    to: str


@dataclass
class AssignmentPlan:
    moves: list[Move]
    matched: int
    left_over: int
    max_book: int
    books: dict[str, tuple[int, int]]  # user -> (owned before, owned after)
    applied: bool = False


@dataclass
class HandOverPlan:
    leaver: str
    moves: list[Move]
    memberships: int
    alerts: int
    follow_ups: int
    snoozes: int
    unassigned: int
    left_over: int
    max_book: int
    books: dict[str, tuple[int, int]] = field(default_factory=dict)
    applied: bool = False


def _check_actor(actor: Any) -> None:
    if not (actor.is_superuser or actor.role in {"admin", "manager"}):
        raise AssignmentForbiddenError("only managers and administrators assign customers")


def _people(actor: Any, names: Sequence[str], field_name: str) -> list[User]:
    """The active colleagues named (in the given order) that ``actor`` manages."""
    if not names:
        raise AssignmentError(field_name, "name at least one colleague")
    if len(set(names)) != len(names):
        raise AssignmentError(field_name, "a colleague is named twice")
    found = {u.username: u for u in User.objects.filter(username__in=names, is_active=True)}
    people = []
    for name in names:
        person = found.get(name)
        if person is None or person.role not in {"account_manager", "manager", "admin"}:
            raise AssignmentError(field_name, f"{name} is not an active account manager")
        if not can_see_queue_of(actor, person):
            raise AssignmentError(field_name, f"{name} is not in a team you manage")
        people.append(person)
    return people


def _max_book() -> int:
    value = int(setting("max_book_size"))
    if value < 1:
        raise AssignmentError("max_book_size", "the maximum book size must be at least 1")
    return value


def _owned(people: Iterable[User]) -> dict[int, int]:
    rows = (
        AccountMember.objects.filter(role="owner", user__in=list(people))
        .values("user")
        .annotate(n=Count("pk"))
        .values_list("user", "n")
    )
    return dict(rows)


def _round_robin(
    customers: Sequence[Any], people: Sequence[User], room: dict[int, int]
) -> tuple[list[tuple[Any, User]], int]:
    """Each customer to the next person with room in their book; (pairs, left over)."""
    pairs: list[tuple[Any, User]] = []
    turn = itertools.cycle(range(len(people)))
    for index, customer in enumerate(customers):
        for _ in range(len(people)):
            person = people[next(turn)]
            if room[person.pk] > 0:
                room[person.pk] -= 1
                pairs.append((customer, person))
                break
        else:
            return pairs, len(customers) - index
    return pairs, 0


def _audit_many(actor: Any, entries: Iterable[dict[str, Any]]) -> None:
    """``record_many`` as ``actor`` (whatever the current request's or job's actor is)."""
    here = current_actor()
    with acting(Actor(user=actor, channel=here.channel, request_id=here.request_id)):
        record_many(entries)


def _move(customer: Customer, to: User | None, tier: str, stake: float | None) -> Move:
    return Move(
        customer.pk,
        customer.external_id,
        customer.pseudonym,
        customer.name,
        tier,
        stake,
        to.username if to is not None else "",
    )


def _tier(customer: Customer) -> tuple[str, float | None]:
    state = getattr(customer, "state", None)
    return (state.tier, state.value_at_stake) if state is not None else ("", None)


def bulk_assign(
    actor: Any,
    flt: AssignmentFilter,
    assignees: Sequence[str],
    *,
    dry_run: bool = True,
) -> AssignmentPlan:
    """Give the unowned customers matching ``flt`` to ``assignees`` (module docstring)."""
    _check_actor(actor)
    people = _people(actor, assignees, "assignees")
    max_book = _max_book()
    with transaction.atomic():
        owned = _owned(people)
        room = {p.pk: max(0, max_book - owned.get(p.pk, 0)) for p in people}
        candidates = (
            Customer.objects.restrict(actor, "assign")
            .exclude(pk__in=AccountMember.objects.filter(role="owner").values("customer_id"))
            .select_related("state")
            .order_by(F("state__value_at_stake").desc(nulls_last=True), "external_id")
        )
        if flt.tier:
            candidates = candidates.filter(state__tier=flt.tier)
        if flt.region:
            candidates = candidates.filter(region=flt.region)
        if flt.team:
            candidates = candidates.filter(team__name=flt.team)
        matched = candidates.count()
        capacity = sum(room.values())
        if not dry_run:  # the same rows, locked, so that no one assigns them meanwhile
            ids = list(candidates.values_list("pk", flat=True)[:capacity])
            list(Customer.objects.select_for_update().filter(pk__in=ids).values_list("pk"))
            taken = set(
                AccountMember.objects.filter(role="owner", customer_id__in=ids).values_list(
                    "customer_id", flat=True
                )
            )
            chosen = [c for c in candidates.filter(pk__in=ids) if c.pk not in taken]
        else:
            chosen = list(candidates[:capacity])
        pairs, _ = _round_robin(chosen, people, room)
        moves = [_move(c, p, *_tier(c)) for c, p in pairs]
        books = {
            p.username: (
                owned.get(p.pk, 0),
                owned.get(p.pk, 0) + sum(1 for _, q in pairs if q.pk == p.pk),
            )
            for p in people
        }
        plan = AssignmentPlan(moves, matched, matched - len(moves), max_book, books)
        if dry_run or not moves:
            return plan
        AccountMember.objects.bulk_create(
            [AccountMember(customer=c, user=p, role="owner") for c, p in pairs], batch_size=1000
        )
        by_person: dict[int, list[int]] = {}
        for customer, person in pairs:
            by_person.setdefault(person.pk, []).append(customer.pk)
        for pk, customer_ids in by_person.items():
            Alert.objects.filter(customer_id__in=customer_ids, status__in=OPEN_STATUSES).update(
                assignee_id=pk
            )
            FollowUp.objects.filter(
                customer_id__in=customer_ids, done_at__isnull=True, owner__isnull=True
            ).update(owner_id=pk)
        _audit_many(
            actor,
            (
                {
                    "action": "assign",
                    "object_type": "account_member",
                    "object_key": m.customer_id,
                    "customer_key": m.customer_id,
                    "after": {"owner": m.to},
                    "message": "bulk assignment",
                }
                for m in moves
            ),
        )
        record(
            "bulk_assign",
            object_type="account_member",
            query={**flt.to_json(), "assignees": list(assignees), "max_book": max_book},
            row_count=len(moves),
            after={name: list(sizes) for name, sizes in books.items()},
            user=actor,
        )
        plan.applied = True
        return plan


def hand_over_book(
    actor: Any, leaver_name: str, recipients: Sequence[str], *, dry_run: bool = True
) -> HandOverPlan:
    """Move everything ``leaver_name`` holds to ``recipients`` (module docstring)."""
    _check_actor(actor)
    leaver = User.objects.filter(username=leaver_name).first()
    if leaver is None or not can_see_queue_of(actor, leaver):
        raise AssignmentError("from", f"{leaver_name} is not a colleague you manage")
    if leaver_name in recipients:
        raise AssignmentError("to", "hand the book to someone else than its holder")
    people = _people(actor, recipients, "to")
    max_book = _max_book()
    with transaction.atomic():
        memberships = list(AccountMember.objects.select_for_update().filter(user=leaver))
        alerts = list(
            Alert.objects.select_for_update().filter(assignee=leaver, status__in=OPEN_STATUSES)
        )
        follow_ups = list(
            FollowUp.objects.select_for_update().filter(owner=leaver, done_at__isnull=True)
        )
        customer_ids = (
            {m.customer_id for m in memberships}
            | {a.customer_id for a in alerts}
            | {f.customer_id for f in follow_ups}
        )
        customers = list(
            Customer.objects.filter(pk__in=customer_ids)
            .select_related("state", "team__lead")
            .order_by(F("state__value_at_stake").desc(nulls_last=True), "external_id")
        )
        owned_by_leaver = {m.customer_id for m in memberships if m.role == "owner"}
        on_team = {m.customer_id for m in memberships}
        owned = _owned(people)
        room = {p.pk: max(0, max_book - owned.get(p.pk, 0)) for p in people}
        owned_pairs, left = _round_robin(
            [c for c in customers if c.pk in owned_by_leaver], people, room
        )
        target: dict[int, User | None] = {c.pk: p for c, p in owned_pairs}
        others = [c for c in customers if c.pk in on_team and c.pk not in owned_by_leaver]
        turn = itertools.cycle(people)
        for customer in others:  # support and sponsor places do not count towards a book
            target[customer.pk] = next(turn)
        loose = [c for c in customers if c.pk not in on_team]
        reachable = {
            p.pk: set(
                Customer.objects.restrict(p, "change")
                .filter(pk__in=[c.pk for c in loose])
                .values_list("pk", flat=True)
            )
            for p in people
        }
        owners = {
            m.customer_id: m.user
            for m in AccountMember.objects.filter(
                role="owner", customer_id__in=[c.pk for c in loose]
            ).select_related("user")
        }
        unassigned = 0
        for customer in loose:  # items on customers whose team the leaver is not on
            able = [p for p in people if customer.pk in reachable[p.pk]]
            fallback = owners.get(customer.pk) or team_lead(customer, None)
            chosen = able[0] if able else fallback
            if chosen is not None and chosen.pk == leaver.pk:
                chosen = None
            if chosen is None:
                unassigned += 1
            target[customer.pk] = chosen
        moves = [_move(c, target.get(c.pk), *_tier(c)) for c in customers if c.pk in target]
        snoozes = list(Snooze.objects.filter(user=leaver))
        books = {
            p.username: (
                owned.get(p.pk, 0),
                owned.get(p.pk, 0) + sum(1 for _, q in owned_pairs if q.pk == p.pk),
            )
            for p in people
        }
        plan = HandOverPlan(
            leaver=leaver.username,
            moves=moves,
            memberships=len(memberships),
            alerts=len(alerts),
            follow_ups=len(follow_ups),
            snoozes=len(snoozes),
            unassigned=unassigned,
            left_over=left,
            max_book=max_book,
            books=books,
        )
        if dry_run:
            return plan
        if left:
            raise AssignmentError(
                "to",
                f"{left} of {leaver.username}'s customers do not fit the books of "
                f"{', '.join(recipients)} (at most {max_book} each): name more colleagues, "
                "or raise max_book_size",
            )
        _apply_hand_over(leaver, memberships, alerts, follow_ups, snoozes, target)
        _audit_many(
            actor,
            (
                {
                    "action": "hand_over_book",
                    "object_type": "customer",
                    "object_key": m.customer_id,
                    "customer_key": m.customer_id,
                    "before": {"user": leaver.username},
                    "after": {"user": m.to or None},
                }
                for m in moves
            ),
        )
        record(
            "hand_over_book",
            object_type="user",
            object_key=leaver.pk,
            before={"user": leaver.username},
            after={"to": list(recipients), "books": {k: list(v) for k, v in books.items()}},
            row_count=len(moves),
            message=(
                f"{len(memberships)} account-team places, {len(alerts)} alerts, "
                f"{len(follow_ups)} follow-ups, {len(snoozes)} snoozes"
            ),
            user=actor,
        )
        plan.applied = True
        return plan


def _apply_hand_over(
    leaver: User,
    memberships: list[AccountMember],
    alerts: list[Alert],
    follow_ups: list[FollowUp],
    snoozes: list[Snooze],
    target: dict[int, User | None],
) -> None:
    existing = set(
        AccountMember.objects.filter(
            customer_id__in=[m.customer_id for m in memberships]
        ).values_list("customer_id", "user_id", "role")
    )
    for membership in memberships:
        to = target.get(membership.customer_id)
        if to is None:
            continue
        if (membership.customer_id, to.pk, membership.role) in existing:
            membership.delete()  # the colleague already has that place
        else:
            membership.user = to
            membership.save(update_fields=["user"])
    for alert in alerts:
        alert.assignee = target.get(alert.customer_id)
        alert.save(update_fields=["assignee"])
    for follow_up in follow_ups:
        follow_up.owner = target.get(follow_up.customer_id)
        follow_up.save(update_fields=["owner"])
    alert_customer = {a.pk: a.customer_id for a in alerts}
    follow_up_customer = {f.pk: f.customer_id for f in follow_ups}
    for snooze in snoozes:
        kind, _, rest = snooze.item.partition(":")
        key = rest.split(":", 1)[0]
        if not key.isdigit():
            continue
        number = int(key)
        if kind == "alert":
            customer_id = alert_customer.get(number)
        elif kind == "follow_up":
            customer_id = follow_up_customer.get(number)
        else:
            customer_id = number
        to = target.get(customer_id) if customer_id is not None else None
        if to is None:
            continue
        if Snooze.objects.filter(user=to, item=snooze.item).exists():
            snooze.delete()
        else:
            snooze.user = to
            snooze.save(update_fields=["user"])
