"""Member levels (会员等级): earned over a rolling window, kept through a grace period.

The measure is what a member *earned* -- points earned, or spend, over the programme's
rolling window (``level_window_days``) -- never the current balance, so spending points
never demotes anyone. The evaluation (part of the daily job):

* a member who qualifies for a higher level moves up at once;
* a member below their level's threshold is marked ``below_since``; once the grace period
  (``grace_days``) has passed they move down **one** level, and the grace period starts
  again if they are still below the new one;
* a manual level (with an end date) wins while it lasts; when it ends the evaluation goes
  on from the member's earned level.

Every change is a :class:`LevelChange` row (the level history) and an audit entry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from corecustomers.errors import CoreCustomersError
from corecustomers.web.audit.log import record
from corecustomers.web.customers.models import Customer
from corecustomers.web.loyalty.ledger import lock_account, programme
from corecustomers.web.loyalty.models import Account, EarnedOrder, Level, LevelChange, Movement

__all__ = ["LevelError", "evaluate", "measures", "set_manual_level"]

CHUNK = 1000


class LevelError(CoreCustomersError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def measures(customer_ids: Iterable[int], today: dt.date) -> dict[int, Decimal]:
    """What each member earned over the rolling window ending ``today``."""
    rules = programme()
    ids = list(customer_ids)
    start = today - dt.timedelta(days=int(rules.level_window_days))
    out: dict[int, Decimal] = dict.fromkeys(ids, Decimal(0))
    if rules.level_basis == "spend":
        rows = (
            EarnedOrder.objects.filter(customer_id__in=ids, day__gt=start, day__lte=today)
            .values("customer_id")
            .annotate(total=Sum("amount"))
            .order_by()
        )
        for row in rows:
            out[row["customer_id"]] = Decimal(str(row["total"] or 0))
        return out
    since = dt.datetime.combine(start + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    moves = Movement.objects.filter(
        customer_id__in=ids, status="done", kind__in=("earn", "return"), created__gte=since
    )
    for row in moves.values("customer_id", "kind").annotate(total=Sum("points")).order_by():
        sign = 1 if row["kind"] == "earn" else -1
        out[row["customer_id"]] += sign * Decimal(int(row["total"] or 0))
    return out


def _qualified(levels: list[Level], measure: Decimal) -> Level | None:
    found = None
    for level in levels:  # by rank, lowest first
        if measure >= level.threshold:
            found = level
    return found


def evaluate(today: dt.date | None = None) -> dict[str, int]:
    """Evaluate every member's level (chunks of members, each one transaction)."""
    today = today or timezone.localdate()
    rules = programme()
    levels = list(Level.objects.order_by("rank"))
    counts = {"members": 0, "upgraded": 0, "downgraded": 0, "manual_ended": 0}
    if not levels:
        return counts
    by_rank = {level.pk: i for i, level in enumerate(levels)}
    ids = list(Account.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        earned = measures(chunk, today)
        with transaction.atomic():
            accounts = Account.objects.select_for_update().filter(pk__in=chunk).order_by("pk")
            for account in accounts:
                counts["members"] += 1
                _evaluate_one(account, levels, by_rank, earned[account.pk], today, rules, counts)
    return counts


def _evaluate_one(
    account: Account,
    levels: list[Level],
    by_rank: dict[int, int],
    measure: Decimal,
    today: dt.date,
    rules: Any,
    counts: dict[str, int],
) -> None:
    changed: list[str] = []
    if account.manual_level_id and account.manual_until and account.manual_until < today:
        _history(account, account.manual_level_id, account.level_id, "manual_ended", today)
        account.manual_level_id, account.manual_until = None, None
        changed += ["manual_level", "manual_until"]
        counts["manual_ended"] += 1
    target = _qualified(levels, measure)
    current = by_rank.get(account.level_id) if account.level_id else None
    goal = by_rank[target.pk] if target is not None else None
    if goal is not None and (current is None or goal > current):
        _history(account, account.level_id, target.pk if target else None, "upgrade", today)
        account.level_id, account.level_since, account.below_since = target.pk, today, None  # type: ignore[union-attr]
        changed += ["level", "level_since", "below_since"]
        counts["upgraded"] += 1
    elif current is not None and (goal is None or goal < current):
        if account.below_since is None:
            account.below_since = today
            changed.append("below_since")
        elif (today - account.below_since).days >= int(rules.grace_days):
            lower = levels[current - 1] if current > 0 else None
            _history(account, account.level_id, lower.pk if lower else None, "downgrade", today)
            account.level_id, account.level_since = (lower.pk if lower else None), today
            still_below = goal is None or (lower is not None and goal < by_rank[lower.pk])
            account.below_since = today if still_below and lower is not None else None
            changed += ["level", "level_since", "below_since"]
            counts["downgraded"] += 1
    elif account.below_since is not None:
        account.below_since = None
        changed.append("below_since")
    if changed:
        account.save(update_fields=sorted(set(changed)))


def _history(
    account: Account, before: int | None, after: int | None, why: str, on: dt.date
) -> None:
    LevelChange.objects.create(
        customer_id=account.customer_id, before_id=before, after_id=after, reason=why, on=on
    )
    record(
        "level",
        object_type="customer",
        object_key=account.customer_id,
        customer_key=account.customer_id,
        message=why,
        before={"level": before},
        after={"level": after},
    )


def set_manual_level(
    user: Any, customer: Customer, level_code: str | None, until: dt.date | None, reason: str
) -> Account:
    """Hold a member at a level until a date (managers and administrators), audited."""
    if not (user.is_superuser or getattr(user, "role", "") in {"admin", "manager"}):
        raise LevelError("only a manager or an administrator sets a level by hand")
    if not Customer.objects.restrict(user, "change").filter(pk=customer.pk).exists():
        raise LevelError("you may not change this customer")
    if not reason.strip():
        raise LevelError("reason: say why the level is set by hand", "reason")
    level = None
    if level_code:
        level = Level.objects.filter(code=level_code).first()
        if level is None:
            raise LevelError(f"level: no level {level_code!r}", "level")
        if until is None or until < timezone.localdate():
            raise LevelError("until: give an end date from today on", "until")
    with transaction.atomic():
        account = lock_account(customer.pk)
        before = account.manual_level_id
        account.manual_level, account.manual_until = level, until if level else None
        account.save(update_fields=["manual_level", "manual_until"])
        LevelChange.objects.create(
            customer=customer,
            before_id=before or account.level_id,
            after_id=level.pk if level else account.level_id,
            reason="manual",
            on=timezone.localdate(),
        )
        record(
            "level",
            object_type="customer",
            object_key=customer.pk,
            customer_key=customer.pk,
            message=reason.strip(),
            after={"manual_level": level_code, "until": until.isoformat() if until else None},
            user=user,
        )
    return account
