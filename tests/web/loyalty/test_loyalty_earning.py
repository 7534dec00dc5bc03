"""Earning from an analysis run's transactions (each order, or customer-day, once ever),
the earning rules, and member levels over a rolling window with a grace period."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from tests.web.conftest import CDNOW
from tests.web.loyalty.loyalty_helpers import member, rules

pytestmark = pytest.mark.django_db


def _expected_cdnow(per_unit: float, birthdays: dict[str, int], bonus: float) -> dict[str, int]:
    """Points per customer from the raw file: per (customer, day), net amount > 0, floored."""
    days: dict[tuple[str, str], float] = defaultdict(float)
    for line in CDNOW.read_text().splitlines():
        customer, _, day, _, amount = line.split()
        days[(customer, day)] += float(amount)
    out: dict[str, int] = defaultdict(int)
    for (customer, day), amount in days.items():
        if amount > 0:
            factor = bonus if birthdays.get(customer) == int(day[4:6]) else 1.0
            out[customer] += math.floor(round(amount * per_unit * factor, 6))
    return out


def test_a_run_earns_each_customer_day_once_with_the_birthday_bonus(imported: Path) -> None:
    from corecustomers.web.customers.models import Analysis, Customer
    from corecustomers.web.loyalty.checks import ledger_problems
    from corecustomers.web.loyalty.earning import earn_run
    from corecustomers.web.loyalty.models import Account, EarnedOrder

    rules(points_per_unit=Decimal(2), birthday_multiplier=Decimal(2))
    Customer.objects.filter(external_id="00004").update(birthday=dt.date(1970, 1, 5))
    run = Analysis.objects.get()
    first = earn_run(run.run_id)
    expected = _expected_cdnow(2.0, {"00004": 1}, 2.0)
    got = dict(Account.objects.values_list("customer__external_id", "lifetime_earned"))
    assert sum(got.values()) == sum(expected.values()) == first["points"]
    assert got["00004"] == expected["00004"]
    assert {k: v for k, v in got.items() if v} == {k: v for k, v in expected.items() if v}
    assert EarnedOrder.objects.filter(key__startswith="day:").count() == first["orders"]
    # the same run again (a rerun of the job, or the watch importing it twice): nothing
    again = earn_run(run.run_id)
    assert again["points"] == 0 and again["customers"] == 0
    assert ledger_problems() == []


def test_a_later_run_earns_only_the_new_orders() -> None:
    import pyarrow as pa

    from corecustomers.web.loyalty.checks import ledger_problems
    from corecustomers.web.loyalty.earning import earn_groups
    from corecustomers.web.loyalty.models import Account

    rules()
    c = member()
    d = dt.date(2026, 3, 1)
    first = pa.table(
        {
            "customer_id": [c.external_id] * 2,
            "key": ["A", "B"],
            "day": [d, d],
            "amount": [10.5, 20.0],
        }
    )
    assert earn_groups(first, movement_key="run:1")["points"] == 30
    later = pa.table(
        {
            "customer_id": [c.external_id] * 3,
            "key": ["A", "B", "C"],
            "day": [d, d, d],
            "amount": [10.5, 20.0, 7.0],
        }
    )
    out = earn_groups(later, movement_key="run:2")
    assert (out["points"], out["orders"], out["skipped_orders"]) == (7, 1, 2)
    assert Account.objects.get(customer=c).available == 37
    assert ledger_problems(c.pk) == []


def _levels() -> tuple[Any, Any, Any]:
    from corecustomers.web.loyalty.models import Level

    basic = Level.objects.create(code="basic", name_en="Basic", rank=1, threshold=0)
    silver = Level.objects.create(
        code="silver", name_en="Silver", rank=2, threshold=100, multiplier=Decimal("1.5")
    )
    gold = Level.objects.create(
        code="gold", name_en="Gold", rank=3, threshold=500, multiplier=Decimal(2)
    )
    return basic, silver, gold


def test_spending_keeps_the_level_and_a_lapse_costs_one_level_after_the_grace() -> None:
    from corecustomers.web.loyalty import ledger
    from corecustomers.web.loyalty.levels import evaluate
    from corecustomers.web.loyalty.models import Account, LevelChange

    rules(level_window_days=365, grace_days=30, level_basis="points")
    basic, silver, gold = _levels()
    c = member()
    t0 = dt.datetime(2025, 1, 10, tzinfo=dt.UTC)
    ledger.earn(c, 600, key="big", now=t0)
    evaluate(t0.date())
    assert Account.objects.get(customer=c).level == gold
    # spending every point does not demote: the level counts what was earned
    ledger.redeem(c, 600, key="spend", now=t0 + dt.timedelta(days=1))
    evaluate(t0.date() + dt.timedelta(days=2))
    assert Account.objects.get(customer=c).level == gold
    # the window rolls past the earning: below the line from that day ...
    lapse = t0.date() + dt.timedelta(days=366)
    evaluate(lapse)
    account = Account.objects.get(customer=c)
    assert (account.level, account.below_since) == (gold, lapse)
    evaluate(lapse + dt.timedelta(days=29))  # ... not yet: inside the grace period
    assert Account.objects.get(customer=c).level == gold
    evaluate(lapse + dt.timedelta(days=30))  # one level down, not straight to basic
    account = Account.objects.get(customer=c)
    assert account.level == silver
    assert account.below_since == lapse + dt.timedelta(days=30)  # a new grace period
    evaluate(lapse + dt.timedelta(days=59))
    assert Account.objects.get(customer=c).level == silver
    evaluate(lapse + dt.timedelta(days=60))
    assert Account.objects.get(customer=c).level == basic
    reasons = list(
        LevelChange.objects.filter(customer=c).order_by("pk").values_list("reason", flat=True)
    )
    assert reasons == ["upgrade", "downgrade", "downgrade"]


def test_a_level_multiplies_earning_and_a_manual_level_ends(people: Any) -> None:
    import pyarrow as pa

    from corecustomers.web.loyalty.earning import earn_groups
    from corecustomers.web.loyalty.levels import LevelError, evaluate, set_manual_level
    from corecustomers.web.loyalty.models import Account

    rules()
    _, silver, _ = _levels()
    c = member(region="east")
    with pytest.raises(LevelError):
        set_manual_level(people.am1, c, "gold", dt.date(2099, 1, 1), "vip")
    today = dt.date.today()
    set_manual_level(people.manager, c, "gold", today + dt.timedelta(days=5), "new flagship store")
    groups = pa.table(
        {"customer_id": [c.external_id], "key": ["X"], "day": [today], "amount": [100.0]}
    )
    assert earn_groups(groups, movement_key="run:m")["points"] == 200  # gold: × 2
    evaluate(today + dt.timedelta(days=6))
    account = Account.objects.get(customer=c)
    assert account.manual_level is None
    assert account.level == silver  # 200 earned in the window
