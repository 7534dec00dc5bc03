"""Write to a member's points ledger: earn, redeem, return, adjust, expire, release.

Every write runs in one transaction that first locks the member's :class:`Account` row
(``SELECT … FOR UPDATE`` on PostgreSQL; on SQLite the service opens every transaction with
``BEGIN IMMEDIATE``, which serialises writers), then looks for the idempotency key: a key
seen before answers the first result and changes nothing (a refused redemption is stored
too, so its replay is refused again). Before the change itself the member's clock is
brought forward: pending lots whose period has passed are released and lots past their
expiry are expired, so a redemption never spends an expired point.

The accounts and signs (each movement's lines sum to zero):

========  ===============================================================================
earn N    issued −N; owed +s (the debt settled first, s = min(N, debt)); pending or
          available +(N − s) on a new lot
redeem N  available −x on each lot, soonest expiry first (FEFO); redeemed +N
return    the order's points P: its own lots first, then other available lots FEFO, the
          rest d as debt: lots −x …, owed −d; issued +P
adjust    like earn (adjusted −N) or, for a negative N, like redeem (adjusted +N)
expire    available (or pending) −r on the lot; expired +r
release   pending −r, available +r on the same lot
========  ===============================================================================
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from corecustomers.errors import CoreCustomersError
from corecustomers.web.bulk import insert_rows, update_rows
from corecustomers.web.customers.models import Customer
from corecustomers.web.loyalty.models import (
    Account,
    EarnedOrder,
    Entry,
    Lot,
    Movement,
    Programme,
)

__all__ = [
    "ACCOUNTS",
    "Balance",
    "IdempotencyKeyReusedError",
    "InsufficientPointsError",
    "LedgerError",
    "Outcome",
    "adjust",
    "balance",
    "earn",
    "expires_at",
    "lock_account",
    "redeem",
    "return_order",
    "settle_time",
]

log = logging.getLogger(__name__)

#: The ledger's accounts (the values of :class:`LedgerAccount`; a test keeps them equal,
#: nothing is checked at import).
AVAILABLE, PENDING, OWED = "available", "pending", "owed"
ISSUED, ADJUSTED, REDEEMED, EXPIRED = "issued", "adjusted", "redeemed", "expired"
ACCOUNTS = frozenset({AVAILABLE, PENDING, OWED, ISSUED, ADJUSTED, REDEEMED, EXPIRED})


class LedgerError(CoreCustomersError):
    """A ledger write that cannot be done; ``code`` and ``field`` for the API."""

    code = "invalid"
    field: str | None = None

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InsufficientPointsError(LedgerError):
    code = "insufficient_points"


class IdempotencyKeyReusedError(LedgerError):
    code = "idempotency_key_reused"


@dataclass(frozen=True)
class Balance:
    available: int
    pending: int
    used: int
    expired: int
    owed: int
    lifetime_earned: int
    level: str | None

    @classmethod
    def of(cls, account: Account | None) -> Balance:
        if account is None:
            return cls(0, 0, 0, 0, 0, 0, None)
        level = account.manual_level if account.manual_level_id else account.level
        return cls(
            account.available,
            account.pending,
            account.used,
            account.expired,
            account.owed,
            account.lifetime_earned,
            level.code if level is not None else None,
        )


@dataclass(frozen=True)
class Outcome:
    """What a write did (or, when ``replayed``, what its key's first write did)."""

    movement_id: int
    kind: str
    status: str  # done | rejected
    points: int
    replayed: bool
    balance: Balance
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["balance"] = asdict(self.balance)
        return out


def programme() -> Programme:
    return Programme.objects.filter(pk=1).first() or Programme(pk=1)


def _zone() -> dt.tzinfo:
    return ZoneInfo(str(settings.TIME_ZONE))


def expires_at(earned: dt.datetime, rules: Programme) -> dt.datetime | None:
    """When points earned at ``earned`` expire under ``rules`` (``None``: never).

    The end of a month or year is the first instant of the next one, in the service's
    time zone.
    """
    if rules.expiry == "days":
        return earned + dt.timedelta(days=int(rules.expiry_days))
    local = earned.astimezone(_zone())
    if rules.expiry == "month_end":
        days = calendar.monthrange(local.year, local.month)[1]
        first = local.date().replace(day=1) + dt.timedelta(days=days)
    elif rules.expiry == "year_end":
        first = dt.date(local.year + 1, 1, 1)
    else:
        return None
    return dt.datetime.combine(first, dt.time()).replace(tzinfo=_zone())


# -- the lock and the idempotency key --------------------------------------------------------


def lock_account(customer_id: int) -> Account:
    """The member's account row, locked until the transaction ends (created if missing)."""
    row = Account.objects.select_for_update().filter(customer_id=customer_id).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            Account.objects.create(customer_id=customer_id)
    except IntegrityError:  # made at the same moment by another writer
        pass
    return Account.objects.select_for_update().get(customer_id=customer_id)


def _write(
    customer: Customer,
    kind: str,
    key: str | None,
    fingerprint: str,
    now: dt.datetime | None,
    change: Callable[[Account, Movement, dt.datetime], dict[str, Any]],
    *,
    points: int,
    order_key: str = "",
    reason: str = "",
    user: Any = None,
) -> Outcome:
    now = now or timezone.now()
    if key is not None and (not key.strip() or len(key) > 200):
        raise LedgerError("the idempotency key is 1 to 200 characters", "Idempotency-Key")
    with transaction.atomic():
        account = lock_account(customer.pk)
        if key is not None:
            first = Movement.objects.filter(customer=customer, key=key).first()
            if first is not None:
                return _replay(first, fingerprint, account)
        settle_time(account, now)
        movement = Movement.objects.create(
            customer=customer,
            kind=kind,
            key=key,
            fingerprint=fingerprint,
            order_key=order_key,
            points=points,
            reason=reason,
            user=user if getattr(user, "is_authenticated", False) else None,
            created=now,
        )
        refused: InsufficientPointsError | None = None
        try:
            with transaction.atomic():
                detail = change(account, movement, now)
        except InsufficientPointsError as exc:
            # kept (outside the rolled-back savepoint), so that a replay is refused again
            refused = exc
            movement.status = "rejected"
            movement.result = {"error": exc.code, "message": str(exc)}
            movement.save(update_fields=["status", "result"])
        else:
            account.updated = now
            account.save()
            movement.result = detail
            movement.save(update_fields=["result"])
    if refused is not None:
        raise refused
    return Outcome(movement.pk, kind, "done", movement.points, False, Balance.of(account), detail)


def _replay(first: Movement, fingerprint: str, account: Account) -> Outcome:
    if first.fingerprint != fingerprint:
        raise IdempotencyKeyReusedError(
            "this Idempotency-Key was used for a different request; send a new key",
            "Idempotency-Key",
        )
    if first.status == "rejected":
        raise InsufficientPointsError(str(first.result.get("message", "not enough points")))
    return Outcome(
        first.pk, first.kind, first.status, first.points, True, Balance.of(account), first.result
    )


# -- lots ----------------------------------------------------------------------------------


def _fefo(lots: Iterable[Lot]) -> list[Lot]:
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(lots, key=lambda lot: (lot.expires_at or far, lot.earned_at, lot.pk))


def _open_lots(customer_id: int, **filters: Any) -> list[Lot]:
    return _fefo(Lot.objects.filter(customer_id=customer_id, remaining__gt=0, **filters))


def _take(
    lots: list[Lot], wanted: int, movement: Movement, entries: list[Entry]
) -> tuple[int, list[dict[str, int]]]:
    """Draw up to ``wanted`` from ``lots`` in order; (taken, [{lot, points}])."""
    taken, drawn = 0, []
    for lot in lots:
        if taken >= wanted:
            break
        amount = min(lot.remaining, wanted - taken)
        if amount <= 0:
            continue
        lot.remaining -= amount
        lot.save(update_fields=["remaining"])
        entries.append(_line(movement, PENDING if lot.pending else AVAILABLE, -amount, lot))
        drawn.append({"lot": lot.pk, "points": amount})
        taken += amount
    return taken, drawn


def _line(movement: Movement, account: str, amount: int, lot: Lot | None = None) -> Entry:
    return Entry(
        movement=movement,
        customer_id=movement.customer_id,
        account=account,
        lot=lot,
        amount=amount,
        created=movement.created,
    )


def _credit(
    account: Account,
    movement: Movement,
    points: int,
    counter: str,
    now: dt.datetime,
    *,
    order_key: str = "",
    pending_days: int | None = None,
) -> dict[str, Any]:
    """Credit new points: the debt first, the rest on a new lot."""
    rules = programme()
    settled = min(points, account.owed)
    rest = points - settled
    entries = [_line(movement, counter, -points)]
    if settled:
        entries.append(_line(movement, OWED, settled))
        account.owed -= settled
    lot_id = None
    days = rules.pending_days if pending_days is None else pending_days
    if rest:
        pending = days > 0
        lot = Lot.objects.create(
            customer_id=account.customer_id,
            movement=movement,
            order_key=order_key,
            points=rest,
            remaining=rest,
            pending=pending,
            earned_at=now,
            available_from=now + dt.timedelta(days=days) if pending else None,
            expires_at=expires_at(now, rules),
        )
        lot_id = lot.pk
        entries.append(_line(movement, PENDING if pending else AVAILABLE, rest, lot))
        if pending:
            account.pending += rest
        else:
            account.available += rest
    Entry.objects.bulk_create(entries)
    return {"lot": lot_id, "debt_settled": settled}


def _debit(
    account: Account, movement: Movement, points: int, counter: str, now: dt.datetime
) -> dict[str, Any]:
    """Spend ``points`` from the available lots, soonest expiry first."""
    if points > account.available:
        raise InsufficientPointsError(
            f"{account.available} points available, {points} asked for", "points"
        )
    entries: list[Entry] = []
    taken, drawn = _take(_open_lots(account.customer_id, pending=False), points, movement, entries)
    if taken != points:  # the cached balance and the lots disagree: never spend blindly
        raise LedgerError(f"the lots hold {taken} points, the balance says {account.available}")
    entries.append(_line(movement, counter, points))
    Entry.objects.bulk_create(entries)
    account.available -= points
    return {"drawn": drawn}


# -- the member's clock ----------------------------------------------------------------------


def settle_time(account: Account, now: dt.datetime) -> dict[str, int]:
    """Release matured pending lots and expire lots past their date (the account is locked)."""
    return settle_many([account], now)


def settle_many(accounts: list[Account], now: dt.datetime) -> dict[str, int]:
    """:func:`settle_time` for many locked accounts at once (a few statements in all).

    Each lot released or expired is its own movement, keyed ``release:<lot>`` or
    ``expire:<lot>`` (unique per member), so that the job and any write racing it, or a
    rerun after a crash, do it once.
    """
    by_id = {a.customer_id: a for a in accounts}
    due = Lot.objects.filter(customer_id__in=list(by_id), remaining__gt=0).filter(
        Q(pending=True, available_from__lte=now) | Q(expires_at__lte=now)
    )
    lots = list(due.order_by("pk"))
    totals = {"released": 0, "expired": 0}
    if not lots:
        return totals
    plan: list[tuple[Movement, Lot, str]] = []
    for lot in lots:
        if lot.pending and lot.available_from is not None and lot.available_from <= now:
            plan.append((_clock_move(lot, "release", now), lot, "release"))
        if lot.expires_at is not None and lot.expires_at <= now:
            plan.append((_clock_move(lot, "expire", now), lot, "expire"))
    made = Movement.objects.bulk_create([move for move, _, _ in plan])
    entries: list[tuple[Any, ...]] = []
    for move, (_, lot, action) in zip(made, plan, strict=True):
        account, amount, who = by_id[lot.customer_id], lot.remaining, lot.customer_id
        if action == "release":
            entries.append((move.pk, who, PENDING, lot.pk, -amount, now))
            entries.append((move.pk, who, AVAILABLE, lot.pk, amount, now))
            account.pending -= amount
            account.available += amount
            lot.pending = False
            totals["released"] += amount
        else:
            side = PENDING if lot.pending else AVAILABLE
            entries.append((move.pk, who, side, lot.pk, -amount, now))
            entries.append((move.pk, who, EXPIRED, None, amount, now))
            if lot.pending:
                account.pending -= amount
            else:
                account.available -= amount
            account.expired += amount
            lot.remaining = 0
            totals["expired"] += amount
    insert_rows(Entry, ("movement", "customer", "account", "lot", "amount", "created"), entries)
    update_rows(Lot, ("remaining", "pending"), ((x.remaining, x.pending, x.pk) for x in lots))
    touched = {lot.customer_id for lot in lots}
    for account in accounts:
        if account.customer_id in touched:
            account.updated = now
    update_rows(
        Account,
        ("available", "pending", "expired", "updated"),
        (
            (a.available, a.pending, a.expired, a.updated, a.customer_id)
            for a in accounts
            if a.customer_id in touched
        ),
    )
    return totals


def _clock_move(lot: Lot, kind: str, now: dt.datetime) -> Movement:
    return Movement(
        customer_id=lot.customer_id,
        kind=kind,
        key=f"{kind}:{lot.pk}",
        fingerprint=kind,
        points=lot.remaining,
        created=now,
        result={"lot": lot.pk},
    )


# -- the writes -------------------------------------------------------------------------------


def _positive(points: int) -> int:
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise LedgerError("points: a whole number above 0", "points")
    if points > 10**12:
        raise LedgerError("points: at most 1,000,000,000,000", "points")
    return points


def earn(
    customer: Customer,
    points: int,
    *,
    key: str | None,
    order_id: str = "",
    reason: str = "",
    pending_days: int | None = None,
    now: dt.datetime | None = None,
    user: Any = None,
) -> Outcome:
    """Credit ``points`` (on order ``order_id``: once per order, ever)."""
    _positive(points)
    order_key = order_id.strip()

    def change(account: Account, movement: Movement, at: dt.datetime) -> dict[str, Any]:
        if order_key and EarnedOrder.objects.filter(customer=customer, key=order_key).exists():
            raise LedgerError(f"order {order_key} has earned its points already", "order_id")
        account.lifetime_earned += points
        detail = _credit(
            account, movement, points, ISSUED, at, order_key=order_key, pending_days=pending_days
        )
        if order_key:
            EarnedOrder.objects.create(
                customer=customer, key=order_key, points=points, day=at.date(), movement=movement
            )
        return detail

    return _write(
        customer,
        "earn",
        key,
        f"earn:{points}:{order_key}",
        now,
        change,
        points=points,
        order_key=order_key,
        reason=reason,
        user=user,
    )


def redeem(
    customer: Customer,
    points: int,
    *,
    key: str | None,
    reason: str = "",
    now: dt.datetime | None = None,
    user: Any = None,
) -> Outcome:
    """Spend ``points`` from the available lots (FEFO); :class:`InsufficientPointsError`."""
    _positive(points)

    def change(account: Account, movement: Movement, at: dt.datetime) -> dict[str, Any]:
        detail = _debit(account, movement, points, REDEEMED, at)
        account.used += points
        return detail

    return _write(
        customer,
        "redeem",
        key,
        f"redeem:{points}",
        now,
        change,
        points=points,
        reason=reason,
        user=user,
    )


def adjust(
    customer: Customer,
    points: int,
    *,
    key: str | None,
    reason: str,
    now: dt.datetime | None = None,
    user: Any = None,
) -> Outcome:
    """Add (``points`` > 0) or take away points by hand, with a reason (audited by the caller)."""
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise LedgerError("points: a whole number other than 0", "points")
    _positive(abs(points))
    if not reason.strip():
        raise LedgerError("reason: say why the points are adjusted", "reason")

    def change(account: Account, movement: Movement, at: dt.datetime) -> dict[str, Any]:
        if points > 0:
            return _credit(account, movement, points, ADJUSTED, at, pending_days=0)
        return _debit(account, movement, -points, ADJUSTED, at)

    return _write(
        customer,
        "adjust",
        key,
        f"adjust:{points}",
        now,
        change,
        points=points,
        reason=reason.strip(),
        user=user,
    )


def order_points(customer_id: int, order_key: str) -> tuple[EarnedOrder | None, int]:
    """(the order's earning, points already clawed back for it)."""
    earned = EarnedOrder.objects.filter(customer_id=customer_id, key=order_key).first()
    returned = Movement.objects.filter(
        customer_id=customer_id, order_key=order_key, kind="return", status="done"
    ).aggregate(s=Sum("points"))["s"]
    return earned, int(returned or 0)


def return_order(
    customer: Customer,
    order_id: str,
    *,
    key: str | None,
    points: int | None = None,
    reason: str = "",
    now: dt.datetime | None = None,
    user: Any = None,
) -> Outcome:
    """Claw back an order's points: own lots, then other available lots FEFO, then debt.

    ``points`` claws back part of them (a partial return); by default all that is left.
    """
    order_key = order_id.strip()
    if not order_key:
        raise LedgerError("order_id: name the order that was returned", "order_id")
    if points is not None:
        _positive(points)
    wanted_fp = f"return:{order_key}:{points if points is not None else 'all'}"

    def change(account: Account, movement: Movement, at: dt.datetime) -> dict[str, Any]:
        earned, returned = order_points(account.customer_id, order_key)
        if earned is None:
            raise LedgerError(f"order {order_key} earned no points", "order_id")
        left = earned.points - returned
        claw = left if points is None else min(points, left)
        movement.points = claw
        movement.save(update_fields=["points"])
        entries: list[Entry] = []
        own = _open_lots(account.customer_id, movement_id=earned.movement_id)
        taken_own, drawn_own = _take(own, claw, movement, entries)
        mine = {lot.pk for lot in own}
        others = [
            lot for lot in _open_lots(account.customer_id, pending=False) if lot.pk not in mine
        ]
        taken_other, drawn_other = _take(others, claw - taken_own, movement, entries)
        for row in drawn_own + drawn_other:
            lot = next(lot for lot in own + others if lot.pk == row["lot"])
            if lot.pending:
                account.pending -= row["points"]
            else:
                account.available -= row["points"]
        debt = claw - taken_own - taken_other
        if debt:
            entries.append(_line(movement, OWED, -debt))
            account.owed += debt
        if claw:
            entries.append(_line(movement, ISSUED, claw))
        Entry.objects.bulk_create(entries)
        account.lifetime_earned -= claw
        return {"own_lots": drawn_own, "other_lots": drawn_other, "debt": debt, "clawed": claw}

    return _write(
        customer,
        "return",
        key,
        wanted_fp,
        now,
        change,
        points=0,
        order_key=order_key,
        reason=reason,
        user=user,
    )


def balance(customer: Customer) -> Balance:
    """The member's balances (one row; zero for a customer who never earned)."""
    account = (
        Account.objects.select_related("level", "manual_level").filter(customer=customer).first()
    )
    return Balance.of(account)


def expire_due(
    now: dt.datetime | None = None, *, chunk: int | None = None, progress: Any = None
) -> dict[str, int]:
    """The scheduled pass: release and expire the lots due at ``now``, member by member.

    Members are taken in chunks (each one transaction, their account rows locked in key
    order); each lot's release or expiry is a movement keyed by the lot, so a pass that is
    killed and run again does each exactly once.
    """
    from corecustomers.web.loyalty.earning import chunk_size

    now = now or timezone.now()
    size = chunk or chunk_size()
    due = (
        Lot.objects.filter(remaining__gt=0)
        .filter(Q(pending=True, available_from__lte=now) | Q(expires_at__lte=now))
        .values_list("customer_id", flat=True)
        .distinct()
        .order_by("customer_id")
    )
    ids = list(due)
    totals = {"customers": 0, "released": 0, "expired": 0}
    for start in range(0, len(ids), size):
        with transaction.atomic():
            accounts = Account.objects.select_for_update().filter(
                customer_id__in=ids[start : start + size]
            )
            locked = list(accounts.order_by("pk"))
            done = settle_many(locked, now)
        totals["customers"] += len(locked)
        totals["released"] += done["released"]
        totals["expired"] += done["expired"]
        if progress is not None:
            progress(min(1.0, (start + size) / len(ids)), f"expiry: {totals['customers']} members")
    return totals
