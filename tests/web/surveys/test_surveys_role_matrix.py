"""The role matrix of the surveys' and experiments' paths: every role against the customers
it should reach (computed here from the set-up, not through the service's queries).
Out-of-scope customers answer 404; aggregates (NPS, uplift, follow-ups) count exactly the
customers in scope; account managers have no uplift report."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from tests.web.surveys.surveys_helpers import customer_with_state, survey

from corecustomers.web.experiments.holdout import split
from corecustomers.web.experiments.models import Experiment
from corecustomers.web.surveys.responses import record_response
from corecustomers.web.work.interactions import log_interaction

pytestmark = pytest.mark.django_db


def test_every_role_reaches_exactly_its_customers(people: Any, client: Any) -> None:
    nps = survey("nps")
    book = {
        "east_am1": customer_with_state("key", core=True, owner=people.am1, region="east"),
        "west_am2": customer_with_state("key", core=True, owner=people.am2, region="west"),
        "east_free": customer_with_state("key", core=True, region="east"),
        "west_free": customer_with_state("key", core=True, region="west"),
    }
    at = timezone.now() - dt.timedelta(hours=1)
    for c in book.values():
        record_response(nps, c, 9, channel="call", at=at)
        log_interaction(people.admin, c, kind="complaint", at=at)
    offer = Experiment.objects.create(code="action:x", enabled=True, holdout_share=0.25)
    split(offer, list(book.values()))
    reach = {
        "admin": set(book),
        "analyst": set(book),
        "manager": {"east_am1", "east_free"},
        "am1": {"east_am1"},
        "am2": {"west_am2"},
    }
    for role, user in people.by_role().items():
        client.force_login(user)
        for name, c in book.items():
            key = c.pseudonym if role == "analyst" else c.external_id
            answered = client.get(f"/api/v1/customers/{key}/survey-responses")
            expected = 200 if name in reach[role] else 404
            assert answered.status_code == expected, (role, name, answered.status_code)
            if expected == 200 and role == "analyst":
                assert c.external_id not in answered.content.decode()
        counted = client.get("/api/v1/surveys/nps").json()["items"]
        assert sum(r["answers"] for r in counted) == len(reach[role]), role
        uplift = client.get("/api/v1/uplift")
        if role.startswith("am"):
            assert uplift.status_code == 403
        else:
            rows = uplift.json()["items"]
            assert sum(r["treated"] + r["held_out"] + r["pending"] for r in rows) == len(
                reach[role]
            ), role
        page = client.get(reverse("surveys:follow-ups")).content.decode()
        shown = {n for n, c in book.items() if f"{c.external_id} " in page}
        assert shown == (set() if role == "analyst" else reach[role]), role
        if role == "analyst":  # pseudonyms only
            assert {n for n, c in book.items() if f">{c.pseudonym}<" in page} == reach[role]
