"""The points ledger: double entry, lots, FEFO, returns with debt, idempotency keys.

The property test runs random sequences of earn / redeem / return / expire / adjust and
checks after every step what an auditor would: the entries balance and equal the cached
balances, no lot is negative, spending follows FEFO, a clawback is exactly the order's
points (from lots, then as debt), and new points settle a debt before they can be spent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.web.loyalty.loyalty_helpers import member, rules

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 10, 12, tzinfo=dt.UTC)
FAR = dt.datetime.max.replace(tzinfo=dt.UTC)


def order_of(lot: Any) -> tuple[Any, ...]:
    """A lot's place in FEFO order: soonest expiry, then oldest, then first made."""
    return (lot.expires_at or FAR, lot.earned_at, lot.pk)


def _ledger() -> Any:
    from corecustomers.web.loyalty import ledger

    return ledger


def _problems(customer: Any) -> list[str]:
    from corecustomers.web.loyalty.checks import ledger_problems

    return ledger_problems(customer.pk)


def _account(customer: Any) -> Any:
    from corecustomers.web.loyalty.models import Account

    return Account.objects.get(customer=customer)


def test_earn_redeem_fefo_and_replay() -> None:
    ledger = _ledger()
    rules(expiry="days", expiry_days=100)
    c = member()
    ledger.earn(c, 50, key="e1", now=T0)  # expires T0+100
    ledger.earn(c, 30, key="e2", now=T0 - dt.timedelta(days=50))  # expires T0+50: first out
    out = ledger.redeem(c, 40, key="r1", now=T0)
    assert out.balance.available == 40 and out.balance.used == 40
    drawn = out.detail["drawn"]
    assert [d["points"] for d in drawn] == [30, 10]
    again = ledger.redeem(c, 40, key="r1", now=T0)
    assert again.replayed and again.movement_id == out.movement_id
    assert _account(c).available == 40
    with pytest.raises(ledger.IdempotencyKeyReusedError):
        ledger.redeem(c, 41, key="r1", now=T0)
    with pytest.raises(ledger.InsufficientPointsError):
        ledger.redeem(c, 41, key="r2", now=T0)
    ledger.earn(c, 100, key="e3", now=T0)
    with pytest.raises(ledger.InsufficientPointsError):  # the refusal is what the key answers
        ledger.redeem(c, 41, key="r2", now=T0)
    assert _problems(c) == []


def test_a_return_claws_back_own_lots_then_others_then_debt() -> None:
    ledger = _ledger()
    rules(expiry="never")
    c = member()
    ledger.earn(c, 100, key="a", order_id="A", now=T0)
    ledger.earn(c, 20, key="b", order_id="B", now=T0)
    ledger.redeem(c, 90, key="spend", now=T0)  # A's lot first (same expiry: oldest, then id)
    out = ledger.return_order(c, "A", key="ret-A", now=T0)
    assert out.detail["clawed"] == 100
    own = sum(d["points"] for d in out.detail["own_lots"])
    other = sum(d["points"] for d in out.detail["other_lots"])
    assert (own, other, out.detail["debt"]) == (10, 20, 70)
    assert (out.balance.available, out.balance.owed) == (0, 70)
    # the next earnings settle the debt first
    nxt = ledger.earn(c, 50, key="c", order_id="C", now=T0)
    assert nxt.detail["debt_settled"] == 50 and nxt.balance.available == 0
    assert nxt.balance.owed == 20
    nxt = ledger.earn(c, 50, key="d", order_id="D", now=T0)
    assert nxt.balance.owed == 0 and nxt.balance.available == 30
    # a second return of A claws nothing more; an order earns once
    assert ledger.return_order(c, "A", key="ret-A2", now=T0).detail["clawed"] == 0
    with pytest.raises(ledger.LedgerError):
        ledger.earn(c, 5, key="again", order_id="D", now=T0)
    assert _problems(c) == []


def test_pending_points_wait_and_expired_points_cannot_be_spent() -> None:
    ledger = _ledger()
    rules(expiry="month_end", pending_days=14)
    c = member()
    out = ledger.earn(c, 60, key="e", order_id="O1", now=T0)
    assert (out.balance.pending, out.balance.available) == (60, 0)
    with pytest.raises(ledger.InsufficientPointsError):
        ledger.redeem(c, 10, key="r", now=T0 + dt.timedelta(days=1))
    # a return inside the window cancels the pending points cleanly: no debt
    ret = ledger.return_order(c, "O1", key="x", now=T0 + dt.timedelta(days=2))
    assert (ret.balance.pending, ret.balance.owed) == (0, 0)
    ledger.earn(c, 40, key="e2", order_id="O2", now=T0)
    done = ledger.expire_due(T0 + dt.timedelta(days=15))  # released on day 14
    assert done["released"] == 40
    assert _account(c).available == 40
    done = ledger.expire_due(dt.datetime(2026, 2, 1, 1, tzinfo=dt.UTC))  # month end
    assert done["expired"] == 40
    account = _account(c)
    assert (account.available, account.expired) == (0, 40)
    assert ledger.expire_due(dt.datetime(2026, 2, 2, tzinfo=dt.UTC))["expired"] == 0
    assert _problems(c) == []


def test_expiry_dates() -> None:
    from corecustomers.web.loyalty.models import Programme

    ledger = _ledger()
    at = dt.datetime(2026, 2, 10, 9, tzinfo=dt.UTC)
    assert ledger.expires_at(at, Programme(expiry="never")) is None
    assert ledger.expires_at(at, Programme(expiry="days", expiry_days=30)) == at + dt.timedelta(30)
    assert ledger.expires_at(at, Programme(expiry="month_end")).date() == dt.date(2026, 3, 1)
    assert ledger.expires_at(at, Programme(expiry="year_end")).date() == dt.date(2027, 1, 1)


def test_adjustments_need_a_reason_and_never_overdraw() -> None:
    ledger = _ledger()
    rules()
    c = member()
    with pytest.raises(ledger.LedgerError) as err:
        ledger.adjust(c, 10, key="a", reason=" ")
    assert err.value.field == "reason"
    ledger.adjust(c, 10, key="a", reason="goodwill")
    with pytest.raises(ledger.InsufficientPointsError):
        ledger.adjust(c, -11, key="b", reason="correction")
    assert ledger.adjust(c, -10, key="c", reason="correction").balance.available == 0
    assert _problems(c) == []


# -- the property test -----------------------------------------------------------------------

ORDERS = ["o1", "o2", "o3", "o4"]
step = st.one_of(
    st.tuples(
        st.just("earn"),
        st.integers(1, 80),
        st.sampled_from([0, 5]),
        st.sampled_from([*ORDERS, None]),
    ),
    st.tuples(st.just("redeem"), st.integers(1, 120)),
    st.tuples(st.just("return"), st.sampled_from(ORDERS), st.sampled_from([None, 10])),
    st.tuples(st.just("expire"), st.integers(1, 40)),
    st.tuples(st.just("adjust"), st.integers(-60, 60).filter(bool)),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=14))
def test_random_sequences_keep_the_ledger_true(steps: list[tuple[Any, ...]]) -> None:
    from corecustomers.web.loyalty.models import Lot

    ledger = _ledger()
    rules(expiry="days", expiry_days=30, pending_days=0)
    c = member()
    now = T0
    earned: dict[str, int] = {}
    returned: dict[str, int] = {}
    for n, (kind, *args) in enumerate(steps):
        key = f"k{n}"
        before = ledger.balance(c)
        now += dt.timedelta(hours=1)
        if kind == "earn":
            points, pending, order = args
            if order in earned:
                order = None
            out = ledger.earn(
                c, points, key=key, order_id=order or "", pending_days=pending, now=now
            )
            if order:
                earned[order] = points
            settled = min(points, before.owed)
            assert out.detail["debt_settled"] == settled  # the debt first
            assert out.balance.owed == before.owed - settled
            gained = out.balance.available + out.balance.pending
            assert gained - before.available - before.pending == points - settled
        elif kind in {"redeem", "adjust"} and (kind == "redeem" or args[0] < 0):
            points = abs(args[0])
            open_before = {
                lot.pk: lot
                for lot in Lot.objects.filter(customer=c, remaining__gt=0, pending=False)
            }
            try:
                if kind == "redeem":
                    out = ledger.redeem(c, points, key=key, now=now)
                else:
                    out = ledger.adjust(c, -points, key=key, reason="test", now=now)
            except ledger.InsufficientPointsError:
                assert points > ledger.balance(c).available
                continue
            drawn = [d["lot"] for d in out.detail["drawn"]]
            assert sum(d["points"] for d in out.detail["drawn"]) == points
            last = max(order_of(open_before[pk]) for pk in drawn)
            for pk, lot in open_before.items():  # FEFO: nothing left that expires sooner
                if pk not in drawn and lot.expires_at and lot.expires_at > now:
                    assert order_of(lot) > last
            for pk in drawn[:-1]:
                assert Lot.objects.get(pk=pk).remaining == 0
        elif kind == "adjust":
            ledger.adjust(c, args[0], key=key, reason="test", now=now)
        elif kind == "return":
            order, part = args
            if order not in earned:
                continue
            out = ledger.return_order(c, order, key=key, points=part, now=now)
            left = earned[order] - returned.get(order, 0)
            expected = left if part is None else min(part, left)
            got = (
                sum(d["points"] for d in out.detail["own_lots"])
                + sum(d["points"] for d in out.detail["other_lots"])
                + out.detail["debt"]
            )
            assert got == expected == out.detail["clawed"]
            returned[order] = returned.get(order, 0) + expected
            assert out.balance.owed == before.owed + out.detail["debt"]
        else:  # expire: time passes, the scheduled job runs
            now += dt.timedelta(days=args[0])
            ledger.expire_due(now)
            assert not Lot.objects.filter(customer=c, remaining__gt=0, expires_at__lte=now)
        assert _problems(c) == []
    assert not Lot.objects.filter(customer=c, remaining__lt=0).exists()


def test_the_ledgers_accounts_are_the_models_accounts() -> None:
    """What the module-level assert of ``ledger.py`` checked at import, now checked here."""
    from corecustomers.web.loyalty import ledger
    from corecustomers.web.loyalty.models import LedgerAccount

    assert set(LedgerAccount.values) == ledger.ACCOUNTS
