"""Who gets an action and who is held out: random, stratified by tier, reproducible, stored.

:func:`split` takes the customers eligible for an action. With the action's experiment
enabled, each customer not yet assigned gets a draw in [0, 1) from a hash of the
experiment's seed, the action's code and the customer's key (SHA-256: the same inputs give
the same draw on any machine, in any order), and within each tier (the analysis state's)
the customers with the lowest draws -- ``round(share × n)`` of the tier's new customers --
are held out: the share holds in every tier, not only overall. The group is stored with the
customer's state at that moment (the baseline of the uplift report); a customer keeps their
group in later rounds. Without an enabled experiment everyone is treated and nothing is
stored (hold-outs are opt-in per action).

Callers act only on ``treated``: the playbook's actions in My work are held by
:func:`hold_action_items` (a ``work_item_checks`` hook); a contact plan or campaign passes
its customers through :func:`treated_only` before planning messages.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from corecustomers.web.customers.models import Customer, CustomerState
from corecustomers.web.experiments.models import DEFAULT_SHARE, Assignment, Experiment

__all__ = [
    "Split",
    "draw",
    "experiment_for",
    "hold_action_items",
    "split",
    "treated_only",
]


def draw(seed: str, code: str, customer_key: str) -> float:
    """The customer's reproducible uniform draw in [0, 1) for an action."""
    digest = hashlib.sha256(f"{seed}\x1f{code}\x1f{customer_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class Split:
    treated: list[Customer] = field(default_factory=list)
    held_out: list[Customer] = field(default_factory=list)


def experiment_for(code: str, *, kind: str = "mass", create: bool = False) -> Experiment | None:
    """The experiment of action ``code``; with ``create``, a new (disabled) one at the default
    share of its kind."""
    found = Experiment.objects.filter(code=code).first()
    if found is None and create:
        found, _ = Experiment.objects.get_or_create(
            code=code, defaults={"kind": kind, "holdout_share": DEFAULT_SHARE.get(kind, 0.0)}
        )
    return found


def split(experiment: Experiment | None, customers: Iterable[Customer]) -> Split:
    """Split ``customers`` into treated and held out (see the module docstring)."""
    people = list(customers)
    if experiment is None or not experiment.enabled or experiment.holdout_share <= 0:
        return Split(treated=people)
    ids = [c.pk for c in people]
    with transaction.atomic():
        known = dict(
            Assignment.objects.filter(experiment=experiment, customer_id__in=ids).values_list(
                "customer_id", "held_out"
            )
        )
        fresh = [c for c in people if c.pk not in known]
        states = {
            s["customer_id"]: s
            for s in CustomerState.objects.filter(customer_id__in=[c.pk for c in fresh]).values(
                "customer_id", "tier", "as_of", "total_spend", "n_orders"
            )
        }
        by_tier: dict[str, list[tuple[float, Customer]]] = defaultdict(list)
        for c in fresh:
            tier = str(states.get(c.pk, {}).get("tier") or "")
            by_tier[tier].append((draw(experiment.seed, experiment.code, c.external_id), c))
        rows: list[Assignment] = []
        now = timezone.now()
        for tier, members in by_tier.items():
            members.sort(key=lambda pair: (pair[0], pair[1].external_id))
            held = round(experiment.holdout_share * len(members))
            for rank, (value, c) in enumerate(members):
                state = states.get(c.pk, {})
                rows.append(
                    Assignment(
                        experiment=experiment,
                        customer=c,
                        tier=tier,
                        held_out=rank < held,
                        draw=value,
                        assigned_at=now,
                        baseline_as_of=state.get("as_of"),
                        baseline_spend=state.get("total_spend"),
                        baseline_orders=state.get("n_orders"),
                    )
                )
                known[c.pk] = rank < held
        Assignment.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        if rows:  # a concurrent split may have stored some first: the stored group wins
            known.update(
                Assignment.objects.filter(
                    experiment=experiment, customer_id__in=[r.customer_id for r in rows]
                ).values_list("customer_id", "held_out")
            )
    result = Split()
    for c in people:
        (result.held_out if known.get(c.pk) else result.treated).append(c)
    return result


def treated_only(code: str, customers: Iterable[Customer], *, kind: str = "mass") -> list[Customer]:
    """The customers who get action ``code`` (the held-out ones removed and stored)."""
    return split(experiment_for(code, kind=kind), customers).treated


def hold_action_items(person: Any, items: Sequence[Any], today: dt.date) -> list[Any]:
    """My work: a next-best action item of a customer held out of that action's enabled
    experiment is held, with the reason (the control group must get nothing)."""
    actions = [i for i in items if i.kind == "action" and not i.held_en]
    if not actions or not Experiment.objects.filter(enabled=True).exists():
        return list(items)
    customers = {
        c.external_id: c
        for c in Customer.objects.filter(external_id__in=[i.customer_key for i in actions])
    }
    codes = dict(
        CustomerState.objects.filter(customer__in=customers.values()).values_list(
            "customer__external_id", "action_code"
        )
    )
    held: set[str] = set()
    by_code: dict[str, list[Customer]] = defaultdict(list)
    for key, customer in customers.items():
        if codes.get(key):
            by_code[codes[key]].append(customer)
    for code, members in by_code.items():
        experiment = Experiment.objects.filter(code=f"action:{code}", enabled=True).first()
        if experiment is None:
            continue
        held.update(c.external_id for c in split(experiment, members).held_out)
    return [
        dataclasses.replace(
            i,
            held_en="Held out: this customer is in the action's control group (gets nothing, "
            "to measure the action's effect).",
            held_zh="对照组：该客户在此行动的对照组中（不执行，用于衡量效果）。",
        )
        if i.kind == "action" and i.customer_key in held
        else i
        for i in items
    ]
