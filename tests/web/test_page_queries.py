"""How many queries the busiest pages send: the customer profile and My work.

Measured on the CDNOW analysis with one strategic customer owned by am1. The profile page
sent 46 queries for an account manager (33 for an administrator): the setting
``account_managers_see_unassigned`` 14 times (every ``restrict`` reads it), 7 scope
checks (``SELECT 1 … customers_customer``) from the panels of the work, contact, surveys
and loyalty apps, and the latest analysis twice. Now the settings are read once per
request, all in one query (``SettingsReadOnceMiddleware``), the panels take the profile
record's ``can_change`` instead of asking again, and the override form takes its tiers
from the page's tier table: 24 queries (25 for an administrator). My work: 23 -> 18
(18 -> 16). The bounds are these figures: a change that adds queries fails here.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from corecustomers.web.customers.models import AccountMember, Customer, ServiceSetting

pytestmark = pytest.mark.django_db

PROFILE_QUERIES = 25  # was 46 (account manager) and 33 (administrator)
WORK_QUERIES = 18  # was 23 (account manager) and 18 (administrator)


@pytest.fixture
def owned(imported: Path, people: Any) -> Customer:
    """A strategic customer owned by am1: My work's contact plans then look up its contacts."""
    customer = Customer.objects.filter(state__tier="strategic").order_by("external_id").first()
    assert customer is not None
    AccountMember.objects.create(customer=customer, user=people.am1, role="owner")
    return customer


def _queries(user: Any, url: str) -> list[str]:
    client = Client()
    client.force_login(user)
    assert client.get(url).status_code == 200  # warm: sessions, caches of the first visit
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in captured.captured_queries]


def _repeated(sqls: list[str]) -> dict[str, int]:
    return {sql[:160]: n for sql, n in Counter(sqls).items() if n > 1}


@pytest.mark.parametrize("role", ["am1", "admin"])
def test_the_profile_page_reads_settings_and_scope_once(
    owned: Customer, people: Any, role: str
) -> None:
    url = reverse("pages:customer", kwargs={"key": owned.external_id})
    sqls = _queries(getattr(people, role), url)
    settings = [s for s in sqls if "customers_servicesetting" in s]
    scope = [s for s in sqls if s.startswith('SELECT 1 AS "a" FROM "customers_customer"')]
    assert len(settings) <= 1, settings
    assert len(scope) <= 1, scope  # the profile's own "may change" check
    assert not _repeated(sqls)
    assert len(sqls) <= PROFILE_QUERIES, "\n".join(sqls)


@pytest.mark.parametrize("role", ["am1", "admin"])
def test_my_work_reads_the_settings_in_one_query(owned: Customer, people: Any, role: str) -> None:
    sqls = _queries(getattr(people, role), reverse("pages:work"))
    assert len([s for s in sqls if "customers_servicesetting" in s]) == 1
    assert not _repeated(sqls)
    assert len(sqls) <= WORK_QUERIES, "\n".join(sqls)


def test_a_setting_saved_in_the_request_is_read_again(people: Any) -> None:
    """The once-per-request read forgets what it read when a setting is saved."""
    from corecustomers.web.customers.models import settings_read_once

    with settings_read_once():
        assert ServiceSetting.get("account_managers_see_unassigned") is False
        ServiceSetting.objects.create(key="account_managers_see_unassigned", value=True)
        assert ServiceSetting.get("account_managers_see_unassigned") is True
        with CaptureQueriesContext(connection) as captured:
            assert ServiceSetting.get("account_managers_see_unassigned") is True
        assert captured.captured_queries == []  # read once, until the next save


def test_a_stored_value_is_a_copy(db: None) -> None:
    from corecustomers.web.customers.models import settings_read_once

    ServiceSetting.objects.create(key="plans", value={"a": [1]})
    with settings_read_once():
        ServiceSetting.stored("plans", {})["a"].append(2)
        assert ServiceSetting.stored("plans", {}) == {"a": [1]}
