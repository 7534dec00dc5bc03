"""Shared helpers of the privacy tests: a customer with data planted in every table, API
callers, and a byte search of the database's stored pages."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connection
from django.test import Client

API = "/api/v1"

#: The person erased: an id that is a prefix of a neighbour's id (whole values only).
ERASED_ID = "CUST-0001"
NEIGHBOUR_ID = "CUST-00012"
NAME = "Zhang Weiming 张伟明"
PHONE = "13912345678"
EMAIL = "zhang.weiming@example.cn"


@dataclass
class Planted:
    customer: Any
    neighbour: Any
    #: Model label → how many rows the test planted about the customer (at least).
    expected: dict[str, int]


class Caller:
    def __init__(self, user: Any, scope: str = "write") -> None:
        from corecustomers.web.accounts.models import ApiToken

        _, self.raw = ApiToken.issue(user, scope=scope)
        self.client = Client()

    def get(self, path: str) -> Any:
        return self.client.get(API + path, headers={"Authorization": f"Bearer {self.raw}"})

    def post(self, path: str) -> Any:
        return self.client.post(
            API + path,
            "{}",
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.raw}"},
        )


def plant(people: Any) -> Planted:
    """Customer ``CUST-0001`` (team East) with a record in every table that can hold one."""
    import datetime as dt

    from corecustomers.web.audit.log import record
    from corecustomers.web.customers.models import (
        AccountMember,
        Customer,
        CustomerHistory,
        CustomerState,
        TierOverride,
    )
    from corecustomers.web.work.interactions import log_interaction
    from corecustomers.web.work.models import Alert, Notification, Snooze

    c = Customer.objects.create(
        external_id=ERASED_ID,
        pseudonym="p-erasedone",
        name=NAME,
        phone=PHONE,
        email=EMAIL,
        birthday=dt.date(1980, 2, 29),
        company="Weiming Trading",
        region="east",
        team=people.east,
        notes=f"prefers calls on {PHONE}",
    )
    other = Customer.objects.create(
        external_id=NEIGHBOUR_ID,
        pseudonym="p-neighbour",
        name="Li Na",
        phone="13800000000",
        email="li.na@example.cn",
        region="east",
        team=people.east,
    )
    AccountMember.objects.create(customer=c, user=people.am1, role="owner")
    day = dt.date(2026, 11, 1)
    CustomerState.objects.create(
        customer=c,
        as_of=day,
        run_id="r1",
        tier="core",
        total_spend=1234.5,
        tier_reason_en=f"{NAME} spends most",
    )
    for n in (1, 2):
        CustomerHistory.objects.create(
            customer=c, as_of=day - dt.timedelta(days=30 * n), tier="core", total_spend=100.0 * n
        )
    TierOverride.objects.create(customer=c, tier="core", by="admin", reason=f"{NAME} is key")
    alert = Alert.objects.create(
        customer=c, reason_code="spend_drop", note=f"write to {EMAIL}", tier="core"
    )
    Notification.objects.create(
        user=people.am1,
        kind="alert",
        message_en=f"{NAME} ({ERASED_ID}) needs a call",
        alert=alert,
        customer=c,
    )
    log_interaction(people.am1, c, kind="call", notes=f"called {NAME} on {PHONE}", outcome="")
    record(
        "update",
        object_type="customer",
        object_key=c.pk,
        customer_key=c.pk,
        before={"name": "", "phone": ""},
        after={"name": NAME, "phone": PHONE},
    )
    record("search", object_type="customer", query={"q": PHONE}, row_count=1)
    record(
        "update",
        object_type="customer",
        object_key=other.pk,
        customer_key=other.pk,
        after={"name": "Li Na", "note": f"not {NEIGHBOUR_ID}"},
    )
    # a table not linked to the customer that names them by id and phone (swept)
    Snooze.objects.create(
        user=people.am1, item=f"birthday:{ERASED_ID}", until=day, reason=f"call {PHONE} later"
    )
    Snooze.objects.create(user=people.am1, item=f"birthday:{NEIGHBOUR_ID}", until=day, reason="-")
    expected = {
        "customers.Customer": 1,
        "customers.AccountMember": 1,
        "customers.CustomerState": 1,
        "customers.CustomerHistory": 2,
        "customers.TierOverride": 1,
        "work.Alert": 1,
        "work.Notification": 1,
        "work.Interaction": 1,
        "audit.AuditEntry": 2,
    }
    _plant_loyalty(c, expected)
    _plant_contact(c, expected)
    return Planted(c, other, expected)


def _plant_loyalty(c: Any, expected: dict[str, int]) -> None:
    from django.apps import apps

    if not apps.is_installed("corecustomers.web.loyalty"):
        return
    from corecustomers.web.loyalty.ledger import earn, redeem
    from corecustomers.web.loyalty.models import Programme

    Programme.objects.update_or_create(pk=1, defaults={})
    earn(c, 100, key="e1", order_id="O-1", reason=f"welcome {NAME}")
    redeem(c, 30, key="r1", reason="gift")
    expected.update(
        {
            "loyalty.Account": 1,
            "loyalty.Movement": 2,
            "loyalty.Lot": 1,
            "loyalty.Entry": 2,
            "loyalty.EarnedOrder": 1,
        }
    )


def _plant_contact(c: Any, expected: dict[str, int]) -> None:
    from django.apps import apps

    if not apps.is_installed("corecustomers.web.contact"):
        return
    from corecustomers.web.contact.consent import set_do_not_contact

    set_do_not_contact(c, active=True, reason=f"{NAME} asked not to be called")
    expected["contact.DoNotContactEvent"] = 1


IDENTIFIERS = {
    "id": ERASED_ID,
    "phone": PHONE,
    "email": EMAIL,
    "name": "Zhang Weiming",
    "name_zh": "张伟明",
}


def found(data: bytes) -> dict[str, int]:
    """How often each identifier occurs in ``data`` (UTF-8 or escaped JSON spelling).

    Stored values sit side by side in a page (``…13912345678zhang.weiming@…``), so a
    boundary test on raw bytes would miss real hits; names, phone and e-mail are counted
    as plain substrings instead, and the id as a whole value by subtracting the
    occurrences inside the neighbour's longer id (``CUST-0001`` inside ``CUST-00012``).
    """
    counts = {}
    for label, value in IDENTIFIERS.items():
        n = sum(data.count(s.encode("utf-8")) for s in {value, json.dumps(value)[1:-1]})
        if label == "id":
            n -= data.count(NEIGHBOUR_ID.encode("utf-8"))
        if n:
            counts[label] = n
    return counts


def stored_bytes() -> bytes:
    """Every stored page of the database: the SQLite file's pages (copied page by page
    with the backup API, free pages included) or PostgreSQL's relation files (after a
    checkpoint, read with ``pg_read_binary_file``)."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "copy.sqlite3"
            target = sqlite3.connect(path)
            try:
                connection.connection.backup(target)
            finally:
                target.close()
            return path.read_bytes()
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
        cursor.execute(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'i', 't') AND n.nspname IN ('public', 'pg_toast') "
            "AND pg_relation_filepath(c.oid) IS NOT NULL"
        )
        paths = [row[0] for row in cursor.fetchall()]
        chunks = []
        for path in paths:
            cursor.execute("SELECT pg_stat_file(%s, true)", [path])
            if cursor.fetchone()[0] is None:
                continue
            cursor.execute("SELECT pg_read_binary_file(%s)", [path])
            chunks.append(bytes(cursor.fetchone()[0]))
        return b"".join(chunks)
