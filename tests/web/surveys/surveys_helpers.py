"""Shared set-up of the surveys tests: customers with an analysis state."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

_numbers = itertools.count(1)


def customer_with_state(
    tier: str,
    *,
    core: bool,
    region: str = "east",
    segment: str = "",
    owner: Any = None,
    **fields: Any,
) -> Any:
    """A new customer (unique id) with an analysis state in ``tier``; ``owner`` owns it."""
    from corecustomers.web.customers.models import AccountMember, Customer, CustomerState

    n = next(_numbers)
    c = Customer.objects.create(
        external_id=f"S{n}",
        pseudonym=f"ps{n}",
        name=f"Customer {n}",
        email=f"s{n}@example.com",
        region=region,
        **fields,
    )
    CustomerState.objects.create(
        customer=c,
        as_of=dt.date(2026, 11, 30),
        run_id="run-1",
        tier=tier,
        core=core,
        rfm_segment_label=segment,
        value_at_stake=1000.0,
    )
    if owner is not None:
        AccountMember.objects.create(customer=c, user=owner, role="owner")
    return c


def survey(code: str) -> Any:
    """A default survey (the data migration's; a transactional test's flush removes them)."""
    from corecustomers.web.surveys.migrations import _defaults
    from corecustomers.web.surveys.models import Survey

    row = next(r for r in _defaults.DEFAULTS if r["code"] == code)
    return Survey.objects.get_or_create(code=code, defaults=row)[0]
