"""Issue 13's uplift acceptance (b): on a simulated data set with a planted effect (+15 %
revenue for treated key customers, none for ordinary ones) the report recovers the effect
within its confidence interval and shows none where there is none. Also: the hold-out is
stratified by tier, reproducible (the stored draws are the seeded hash's) and stored; a
later split keeps each customer's group; measurements come from the analysis runs within the
window only; the report counts only the caller's customers."""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

import pytest

from corecustomers.web.customers.models import (
    AccountMember,
    Customer,
    CustomerHistory,
    CustomerState,
)
from corecustomers.web.experiments.holdout import draw, split
from corecustomers.web.experiments.models import Assignment, Experiment
from corecustomers.web.experiments.uplift import report

pytestmark = pytest.mark.django_db

BASE = dt.date(2026, 6, 1)
PER_TIER = 2000
EFFECT = {"key": 0.15, "ordinary": 0.0}


def _population() -> list[Customer]:
    customers = Customer.objects.bulk_create(
        [
            Customer(external_id=f"U{i:05d}", pseudonym=f"pu{i:05d}", region="east")
            for i in range(2 * PER_TIER)
        ]
    )
    rng = random.Random(7)
    CustomerState.objects.bulk_create(
        [
            CustomerState(
                customer=c,
                as_of=BASE,
                run_id="r0",
                tier="key" if i < PER_TIER else "ordinary",
                total_spend=round(rng.uniform(500, 5000), 2),
                n_orders=rng.randint(2, 20),
            )
            for i, c in enumerate(customers)
        ]
    )
    return customers


def _later_runs(held: set[int]) -> None:
    """Two later analysis runs: +60 days (in the window) and +200 days (outside it)."""
    rng = random.Random(11)
    states = list(CustomerState.objects.order_by("customer_id"))
    history = []
    fresh = []
    for n, s in enumerate(states):
        bought = rng.random() > 0.2
        mean = 400 if s.tier == "key" else 120
        revenue = rng.lognormvariate(math.log(mean), 0.45) if bought else 0.0
        if s.customer_id not in held:
            revenue *= 1 + EFFECT[s.tier]
        orders = rng.randint(1, 4) if bought else 0
        spend = s.total_spend + revenue
        history.append(
            CustomerHistory(
                customer_id=s.customer_id,
                as_of=BASE + dt.timedelta(days=60),
                tier=s.tier,
                total_spend=spend,
                run_id="r1",
            )
        )
        if n % 20 == 0:  # a later run, outside the window, must not count
            history.append(
                CustomerHistory(
                    customer_id=s.customer_id,
                    tier=s.tier,
                    as_of=BASE + dt.timedelta(days=200),
                    total_spend=spend + 99_999,
                    run_id="r2",
                )
            )
        fresh.append(CustomerState(customer_id=s.customer_id, tier=s.tier, run_id="r1",
                                   as_of=BASE + dt.timedelta(days=60), total_spend=spend,
                                   n_orders=s.n_orders + orders))  # fmt: skip
    CustomerHistory.objects.bulk_create(history, batch_size=2000)
    CustomerState.objects.all().delete()  # the next run replaces the state
    CustomerState.objects.bulk_create(fresh, batch_size=2000)


def test_the_report_recovers_a_planted_effect_and_finds_none_where_there_is_none(
    people: Any,
) -> None:
    customers = _population()
    offer = Experiment.objects.create(
        code="action:winback_offer", kind="mass", enabled=True, holdout_share=0.10,
        cost_per_action=5.0, window_days=90,
    )  # fmt: skip
    first = split(offer, customers)
    assert len(first.held_out) == 400 and len(first.treated) == 3600
    per_tier = {
        t: Assignment.objects.filter(experiment=offer, tier=t, held_out=True).count()
        for t in ("key", "ordinary")
    }
    assert per_tier == {"key": 200, "ordinary": 200}  # stratified: 10 % of each tier
    stored = {a.customer_id: a for a in Assignment.objects.filter(experiment=offer)}
    assert len(stored) == 4000
    for c in customers[:50]:  # reproducible: the stored draw is the seeded hash
        assert stored[c.pk].draw == draw(offer.seed, offer.code, c.external_id)
    again = split(offer, list(reversed(customers)))  # another order, a later round
    assert {c.pk for c in again.held_out} == {c.pk for c in first.held_out}

    _later_runs({c.pk for c in first.held_out})
    rows = {r.tier: r for r in report(people.admin, action=offer.code)}
    key, ordinary = rows["key"], rows["ordinary"]
    print(
        f"key uplift {key.revenue_uplift.difference:+.3f} "
        f"[{key.revenue_uplift.low:+.3f}, {key.revenue_uplift.high:+.3f}]; "
        f"ordinary {ordinary.revenue_uplift.difference:+.3f} "
        f"[{ordinary.revenue_uplift.low:+.3f}, {ordinary.revenue_uplift.high:+.3f}]"
    )
    assert (key.treated, key.held_out, key.pending) == (1800, 200, 0)
    assert key.revenue_uplift.low < EFFECT["key"] < key.revenue_uplift.high
    assert key.revenue_uplift.low > 0 and key.revenue.low > 0  # an effect, and it is seen
    assert ordinary.revenue_uplift.low < 0 < ordinary.revenue_uplift.high  # none
    assert ordinary.revenue.low < 0 < ordinary.revenue.high
    # the +200-day run lies outside the 90-day window: revenue is in the hundreds, not 99,999
    assert key.revenue.treated is not None and key.revenue.treated < 2000
    assert key.cost == 5.0 * 1800
    assert key.incremental_revenue == pytest.approx(key.revenue.difference * 1800)
    assert key.purchases.treated is not None and key.retention.held_out is not None
    assert 0.6 < key.retention.treated < 0.95  # about 80 % bought again

    # scope: an account manager's report counts only their own customers
    for c in customers[:10]:
        AccountMember.objects.create(customer=c, user=people.am1, role="owner")
    mine = report(people.am1, action=offer.code)
    assert sum(r.treated + r.held_out for r in mine) == 10
    assert report(people.am2, action=offer.code) == []


def test_a_disabled_or_personal_action_holds_nobody_out(people: Any) -> None:
    customers = _population()[:40]
    visits = Experiment.objects.create(
        code="action:strategic_visit", kind="personal", enabled=True, holdout_share=0.0
    )
    assert len(split(visits, customers).treated) == 40
    off = Experiment.objects.create(code="plan:key:email", enabled=False, holdout_share=0.1)
    assert len(split(off, customers).treated) == 40
    assert not Assignment.objects.exists()  # nothing stored when nothing is held out
