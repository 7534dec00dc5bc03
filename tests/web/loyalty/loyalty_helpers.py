"""Shared helpers of the loyalty tests: a member, and the programme's rules."""

from __future__ import annotations

import itertools
from typing import Any

_numbers = itertools.count(1)


def member(region: str = "east", **fields: Any) -> Any:
    """A new customer (unique id) in ``region``."""
    from corecustomers.web.customers.models import Customer

    n = next(_numbers)
    return Customer.objects.create(
        external_id=f"m{n}-{id(fields)}",
        pseudonym=f"p{n}-{id(fields)}"[:24],
        region=region,
        **fields,
    )


def rules(**fields: Any) -> Any:
    from corecustomers.web.loyalty.models import Programme

    Programme.objects.update_or_create(pk=1, defaults=fields)
    return Programme.objects.get(pk=1)
