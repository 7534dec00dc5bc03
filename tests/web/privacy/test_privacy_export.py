"""The export of everything held about one customer: every planted record is in the zip,
as JSON and CSV; who may export (admins; managers in scope), 403 and 404 otherwise."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any
from urllib.parse import quote

import pytest
from tests.web.privacy.privacy_helpers import EMAIL, NAME, NEIGHBOUR_ID, PHONE, Caller, plant

pytestmark = pytest.mark.django_db


def _path(customer_id: str, what: str) -> str:
    return "/customers/" + quote(customer_id, safe="") + "/" + what


def test_export_holds_every_planted_record_as_json_and_csv(people: Any) -> None:
    from corecustomers.web.audit.models import AuditEntry
    from corecustomers.web.privacy.models import Fulfilment

    planted = plant(people)
    answer = Caller(people.admin).get(_path(planted.customer.external_id, "export"))
    assert answer.status_code == 200, answer.content
    assert answer["Content-Type"] == "application/zip"
    assert planted.customer.external_id not in answer["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    manifest = json.loads(archive.read("manifest.json"))
    for label, n in planted.expected.items():
        assert manifest["tables"].get(label, 0) >= n, (label, manifest["tables"])
        rows = json.loads(archive.read(f"data/{label}.json"))
        assert len(rows) == manifest["tables"][label]
        with archive.open(f"csv/{label}.csv") as handle:
            table = list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8-sig")))
        assert len(table) == len(rows)
    customer = json.loads(archive.read("data/customers.Customer.json"))
    assert len(customer) == 1 and customer[0]["name"] == NAME
    assert customer[0]["phone"] == PHONE and customer[0]["email"] == EMAIL
    notes = [r["notes"] for r in json.loads(archive.read("data/work.Interaction.json"))]
    assert any(PHONE in n for n in notes)
    audit = json.loads(archive.read("data/audit.AuditEntry.json"))
    # the search that named the phone number (no customer key) is there as well
    assert any(entry["query"] == {"q": PHONE} for entry in audit)
    everything = b"".join(archive.read(name) for name in archive.namelist())
    assert NEIGHBOUR_ID.encode() not in everything  # nobody else's data
    done = Fulfilment.objects.get()
    assert done.kind == "export" and done.username == "admin" and done.channel == "api"
    assert done.counts == manifest["tables"]
    logged = AuditEntry.objects.filter(action="privacy_export").get()
    assert logged.customer_key == planted.customer.pk
    assert planted.customer.external_id not in logged.message


def test_who_may_export(people: Any) -> None:
    from corecustomers.web.customers.models import Customer

    planted = plant(people)
    path = _path(planted.customer.external_id, "export")
    assert Caller(people.manager).get(path).status_code == 200  # east is the manager's
    for user in (people.am1, people.analyst):  # the owner and analysts may not
        answer = Caller(user).get(path)
        assert answer.status_code == 403, user.username
        assert answer.json()["error"]["code"] == "forbidden"
    west = Customer.objects.create(external_id="W1", pseudonym="p-w1", region="west")
    assert Caller(people.manager).get(_path(west.external_id, "export")).status_code == 404
    assert Caller(people.admin).get(_path("nobody", "export")).status_code == 404


def test_csv_cells_are_not_formulas(people: Any) -> None:
    from corecustomers.web.privacy.export import _cell

    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("-12.50") == "-12.50"
    assert _cell("@sum") == "'@sum"
    assert _cell({"a": 1}) == '{"a": 1}'
