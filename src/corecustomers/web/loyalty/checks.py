"""Check the ledger against itself: what an auditor (or a test after a crash) asks.

Each check is one grouped query over the entries, so it runs on the whole programme:

* every movement's lines sum to zero (double entry);
* every member's cached balances equal the sums of their lines;
* every lot's ``remaining`` equals the sum of its lines, and none is negative;
* every line's movement and lot, and every lot's movement, exist (the database does not
  check these links: ``models.LEDGER_KEYS``).
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Exists, OuterRef, QuerySet, Sum

from corecustomers.web.loyalty.models import Account, Entry, Lot, Movement

__all__ = ["ledger_problems", "liability"]


def ledger_problems(customer_id: int | None = None) -> list[str]:
    """What is wrong with the ledger (empty: it balances)."""
    problems: list[str] = []
    entries = Entry.objects.all()
    accounts = Account.objects.all()
    lots = Lot.objects.all()
    if customer_id is not None:
        entries = entries.filter(customer_id=customer_id)
        accounts = accounts.filter(customer_id=customer_id)
        lots = lots.filter(customer_id=customer_id)
    unbalanced = (
        entries.values("movement_id").annotate(total=Sum("amount")).exclude(total=0).order_by()
    )
    for row in unbalanced[:20]:
        problems.append(f"movement {row['movement_id']} sums to {row['total']}, not 0")
    sums: dict[int, dict[str, int]] = defaultdict(dict)
    for row in entries.values("customer_id", "account").annotate(total=Sum("amount")).order_by():
        sums[row["customer_id"]][row["account"]] = int(row["total"])
    for account in accounts:
        got = sums.get(account.customer_id, {})
        expected = {
            "available": got.get("available", 0),
            "pending": got.get("pending", 0),
            "owed": -got.get("owed", 0),
            "used": got.get("redeemed", 0),
            "expired": got.get("expired", 0),
            "lifetime_earned": -got.get("issued", 0),
        }
        for name, value in expected.items():
            if getattr(account, name) != value:
                problems.append(
                    f"customer {account.customer_id}: {name} is {getattr(account, name)}, "
                    f"the entries say {value}"
                )
    by_lot = dict(
        entries.filter(lot__isnull=False)
        .values("lot_id")
        .annotate(total=Sum("amount"))
        .order_by()
        .values_list("lot_id", "total")
    )
    for lot_id, remaining in lots.values_list("pk", "remaining"):
        if remaining < 0:
            problems.append(f"lot {lot_id} is negative ({remaining})")
        if by_lot.get(lot_id, 0) != remaining:
            problems.append(f"lot {lot_id}: remaining {remaining}, entries {by_lot.get(lot_id)}")
    movements = Movement.objects.filter(pk=OuterRef("movement_id"))
    for entry_id, movement_id in entries.filter(~Exists(movements)).values_list(
        "pk", "movement_id"
    )[:20]:
        problems.append(f"entry {entry_id}: its movement {movement_id} does not exist")
    for lot_id, movement_id in lots.filter(~Exists(movements)).values_list("pk", "movement_id")[
        :20
    ]:
        problems.append(f"lot {lot_id}: its movement {movement_id} does not exist")
    missing_lots = entries.filter(lot__isnull=False).filter(
        ~Exists(Lot.objects.filter(pk=OuterRef("lot_id")))
    )
    for entry_id, lot_id in missing_lots.values_list("pk", "lot_id")[:20]:
        problems.append(f"entry {entry_id}: its lot {lot_id} does not exist")
    return problems


def liability(accounts: QuerySet[Account] | None = None) -> dict[str, int]:
    """Outstanding points (what members may still spend) and debts, over ``accounts``."""
    rows = Account.objects.all() if accounts is None else accounts
    totals = rows.aggregate(available=Sum("available"), pending=Sum("pending"), owed=Sum("owed"))
    available, pending = int(totals["available"] or 0), int(totals["pending"] or 0)
    owed = int(totals["owed"] or 0)
    return {
        "available": available,
        "pending": pending,
        "outstanding": available + pending,
        "owed": owed,
        "members": rows.count(),
    }
