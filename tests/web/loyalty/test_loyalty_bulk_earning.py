"""The set-based earning (SQL, ``bulk_earning``) against the order-by-order path.

Two mirror groups of members start in the same state -- levels (one manual), birthdays,
a debt from a returned order, an order already earned, an earning of the same run already
written -- and get the same orders, with amounts whose decimal digits matter for the
floor (``0.1 + 0.2``, ``2.9999999999999996``, ``1.005``, large and tiny amounts, zero
and negative nets). One group earns through the set path, the other order by order: the
totals, balances, lots, entries and earned orders must be the same, and the ledger must
balance. Runs on SQLite (the default) and on PostgreSQL (``CORECUSTOMERS_TEST_DB``).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest
from tests.web.loyalty.loyalty_helpers import member, rules

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 5, 20, 9, 30, tzinfo=dt.UTC)
AWKWARD = [
    0.1 + 0.2,
    2.9999999999999996,
    1.005,
    0.7 * 3,
    19.99,
    33.33 * 3,
    1e-5,
    123456.789,
    99.9,
    4.35,
    0.0,
    -5.0,
]


def _world(tag: str, levels: dict[str, Any]) -> list[Any]:
    """Six members in a fixed starting state (the same for every ``tag``)."""
    from corecustomers.web.loyalty import ledger
    from corecustomers.web.loyalty.models import Account

    people = [member() for _ in range(6)]
    for i, person in enumerate(people):
        person.external_id = f"{tag}-{i}"
        person.save()
    people[1].birthday = dt.date(1980, 5, 3)  # May: the bonus on May orders
    people[1].save()
    people[4].birthday = dt.date(1990, 12, 31)
    people[4].save()
    Account.objects.create(customer=people[2], level=levels["silver"])
    Account.objects.create(customer=people[3], level=levels["silver"], manual_level=levels["gold"])
    # a debt: an order earned, spent, returned (the clawback beyond the lots is owed)
    ledger.earn(people[4], 40, key="e", order_id="old-1", now=NOW - dt.timedelta(days=9))
    ledger.redeem(people[4], 35, key="r", now=NOW - dt.timedelta(days=8))
    ledger.return_order(people[4], "old-1", key="x", now=NOW - dt.timedelta(days=7))
    assert Account.objects.get(customer=people[4]).owed == 35
    # an order that earned already (by hand, through the API)
    ledger.earn(people[5], 7, key="k", order_id="A-5-0", now=NOW - dt.timedelta(days=3))
    return people


def _groups(people: list[Any], seed: int, run_orders: bool) -> Any:
    import pyarrow as pa

    rng = random.Random(seed)
    rows: dict[str, list[Any]] = {"customer_id": [], "key": [], "day": [], "amount": []}
    for i, person in enumerate(people):
        for n in range(8):
            rows["customer_id"].append(person.external_id)
            rows["key"].append(f"A-{i}-{n}" if run_orders else f"day:2026-0{1 + n % 6}-0{n + 1}")
            rows["day"].append(dt.date(2026, 1 + n % 6, 1 + n))
            rows["amount"].append(rng.choice(AWKWARD) * rng.choice([1, 1, 7, 0.5]))
    rows["customer_id"] += ["nobody-1", "nobody-2"]
    rows["key"] += ["Z-1", "Z-2"]
    rows["day"] += [dt.date(2026, 3, 1)] * 2
    rows["amount"] += [10.0, 20.0]
    return pa.table(rows)


def _state(people: list[Any]) -> list[Any]:
    from corecustomers.web.loyalty.models import Account, EarnedOrder, Entry, Lot, Movement

    out = []
    for person in people:
        account = Account.objects.filter(customer=person).first()
        balances = (
            None
            if account is None
            else (
                account.available,
                account.pending,
                account.owed,
                account.used,
                account.lifetime_earned,
            )
        )
        lots = sorted(
            Lot.objects.filter(customer=person).values_list(
                "points", "remaining", "pending", "expires_at", "available_from", "order_key"
            )
        )
        entries = sorted(
            Entry.objects.filter(customer=person).values_list("account", "amount", "lot__points")
        )
        orders = sorted(
            EarnedOrder.objects.filter(customer=person).values_list(
                "key", "points", "amount", "day"
            )
        )
        moves = sorted(
            Movement.objects.filter(customer=person, kind="earn").values_list(
                "key", "points", "reason"
            )
        )
        out.append((balances, lots, entries, orders, moves))
    return out


@pytest.mark.parametrize("run_orders", [True, False], ids=["order-ids", "customer-days"])
def test_the_set_path_earns_exactly_what_the_order_path_earns(run_orders: bool) -> None:
    import pyarrow as pa

    from corecustomers.web.loyalty.checks import ledger_problems
    from corecustomers.web.loyalty.earning import earn_groups
    from corecustomers.web.loyalty.models import Level

    rules(
        points_per_unit=Decimal("1.1"),
        birthday_multiplier=Decimal("1.5"),
        expiry="month_end",
        pending_days=0,
    )
    levels = {
        "silver": Level.objects.create(
            code="silver", name_en="Silver", rank=2, multiplier=Decimal("1.25")
        ),
        "gold": Level.objects.create(code="gold", name_en="Gold", rank=3, multiplier=Decimal(3)),
    }
    sets, orders = _world("S", levels), _world("O", levels)
    rules(pending_days=14)  # the run's points wait 14 days
    groups = _groups(sets, 7, run_orders)
    mirrored = groups.set_column(
        0,
        "customer_id",
        pa.array([c.replace("S-", "O-", 1) for c in groups.column(0).to_pylist()]),
    )
    # an earning of this very run already written for member 0 (a rerun after a crash)
    first = {"customer_id": [sets[0].external_id], "key": ["pre"], "day": [dt.date(2026, 1, 1)]}
    pre = pa.table({**first, "amount": [3.0]})
    earn_groups(pre, movement_key="run:r1", now=NOW, path="set")
    pre_o = pre.set_column(0, "customer_id", pa.array([orders[0].external_id]))
    earn_groups(pre_o, movement_key="run:r1", now=NOW, path="orders")

    by_set = earn_groups(groups, movement_key="run:r1", now=NOW, path="set")
    by_orders = earn_groups(mirrored, movement_key="run:r1", now=NOW, path="orders")
    assert by_set == by_orders
    assert by_set["unknown"] == 2 and by_set["customers"] == 5 and by_set["points"] > 0
    assert by_set["skipped_orders"] >= 8  # member 0 (this run written) and order A-5-0
    assert _state(sets) == _state(orders)
    assert ledger_problems() == []
    # the debt was settled first: member 4 owes nothing (or less) and only the rest is a lot
    from corecustomers.web.loyalty.models import Account

    assert Account.objects.get(customer=sets[4]).owed < 35
    # a later run: member 0's orders (skipped above, that run had written them) earn now;
    # then nothing is left to earn on either path
    later_set = earn_groups(groups, movement_key="run:r2", now=NOW, path="set")
    later_orders = earn_groups(mirrored, movement_key="run:r2", now=NOW, path="orders")
    assert later_set == later_orders and later_set["customers"] == 1
    again_set = earn_groups(groups, movement_key="run:r3", now=NOW, path="set")
    again_orders = earn_groups(mirrored, movement_key="run:r3", now=NOW, path="orders")
    assert again_set == again_orders and again_set["points"] == 0
    assert _state(sets) == _state(orders)
    assert ledger_problems() == []


def test_points_in_sql_round_like_python() -> None:
    """The floor of exact decimal arithmetic on the amount's shortest text, per amount."""
    import pyarrow as pa

    from corecustomers.web.loyalty.earning import earn_groups, points_for
    from corecustomers.web.loyalty.models import EarnedOrder

    rules(points_per_unit=Decimal("10"), birthday_multiplier=Decimal(1))
    c = member()
    amounts = [
        0.1 + 0.2,
        2.9999999999999996,
        0.29,
        1.15,
        8.675,
        0.57 * 100,
        1 / 3,
        1e-15,
        2.675,
        1e15 + 0.3,
    ]
    groups = pa.table(
        {
            "customer_id": [c.external_id] * len(amounts),
            "key": [f"o{i}" for i in range(len(amounts))],
            "day": [dt.date(2026, 2, 2)] * len(amounts),
            "amount": amounts,
        }
    )
    earn_groups(groups, movement_key="run:p", now=NOW, path="set")
    got = dict(EarnedOrder.objects.filter(customer=c).values_list("key", "points"))
    want = {
        f"o{i}": points_for(a, per_unit=Decimal(10), multiplier=Decimal(1), birthday=Decimal(1))
        for i, a in enumerate(amounts)
    }
    assert got == want
    assert got["o0"] == 3 and got["o1"] == 29  # 3.0000000000000004 and 29.999999999999996


def test_an_account_made_after_the_work_table_is_read_again_under_its_lock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The work table is read before the batches: a member without an account then is
    written with its balances straight away -- unless an account appeared meanwhile (here:
    made by an earning of one of the run's orders by hand), which the batch sees when its
    insert of the account row finds one; the member's orders are then read again under
    the lock, and the order earned meanwhile earns once."""
    import pyarrow as pa

    from corecustomers.web.loyalty import bulk_earning, ledger
    from corecustomers.web.loyalty.checks import ledger_problems
    from corecustomers.web.loyalty.earning import earn_groups
    from corecustomers.web.loyalty.models import Account, EarnedOrder

    rules(points_per_unit=Decimal(1), birthday_multiplier=Decimal(1), pending_days=0)
    racer, calm = member(), member()
    groups = pa.table(
        {
            "customer_id": [racer.external_id] * 3 + [calm.external_id],
            "key": ["o1", "o2", "o3", "c1"],
            "day": [dt.date(2026, 2, 2)] * 4,
            "amount": [10.0, 20.0, 30.0, 5.0],
        }
    )
    original = bulk_earning._earn_batch
    raced = []

    def racing(*args: Any, **kwargs: Any) -> int:
        if not raced:  # between the work table and the first batch
            ledger.earn(racer, 20, key="by-hand", order_id="o2", now=NOW)
            raced.append(True)
        return original(*args, **kwargs)

    monkeypatch.setattr(bulk_earning, "_earn_batch", racing)
    totals = earn_groups(groups, movement_key="run:race", now=NOW, path="set")
    assert raced
    assert totals == {
        "customers": 2,
        "orders": 3,
        "points": 45,
        "skipped_orders": 1,
        "unknown": 0,
    }
    account = Account.objects.get(customer=racer)
    assert (account.available, account.lifetime_earned) == (60, 60)  # 20 by hand, 40 the run
    assert Account.objects.get(customer=calm).available == 5
    assert sorted(EarnedOrder.objects.filter(customer=racer).values_list("key", "points")) == [
        ("o1", 10),
        ("o2", 20),
        ("o3", 30),
    ]
    assert ledger_problems() == []
