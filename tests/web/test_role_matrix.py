"""The role matrix: every role × every path that shows customers, against expected sets.

One book of customers is set up once for the module (the CDNOW analysis, account teams,
teams, regions and personal data). For each role the customers it should reach are
computed here from that setup and from ``customers.parquet`` -- never through
:mod:`corecustomers.web.customers.queries` -- and every path must show exactly those:

* an account manager sees exactly the customers on whose account team they are;
* a manager sees the customers of own teams (team East, and region "east");
* an administrator sees everyone;
* an analyst sees everyone, keyed by pseudonym, and no name, phone or e-mail anywhere.

Out-of-scope customers answer 404 on the profile paths (existence does not leak). Runs on
SQLite, and on PostgreSQL with ``CORECUSTOMERS_TEST_DB=postgresql://…`` (as CI does).

The account team's paths are in the matrix too (the analysis' alerts are routed in the
setup): My work (page and API; an account manager's queue holds only own customers, and
its alerts are exactly those of the customers it owns), the routed alerts (list, one,
page), a customer's interactions, notifications, and the assignment paths (bulk
assignment and hand-over previews, and the page), which only managers and administrators
reach.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.test import Client

pytestmark = pytest.mark.django_db

ROLES = ["admin", "manager", "am1", "am2", "analyst"]
API = "/api/v1"
MARK = "测试客户"  # every named customer's name starts with it (a search that finds them all)


@dataclass
class Book:
    """The setup and, per role, the external ids it must reach."""

    all_ids: set[str]
    spend: dict[str, float]
    alert: dict[str, bool]
    pseudonyms: dict[str, str]
    named: dict[str, dict[str, str]]  # external id -> personal fields
    expected: dict[str, set[str]]
    probes: list[str]  # customers whose profile every role asks for
    owned: dict[str, set[str]] = field(default_factory=dict)  # account manager -> owned ids
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)

    def personal_values(self) -> list[str]:
        return [value for person in self.named.values() for value in person.values()]


@pytest.fixture(scope="module")
def book(django_db_setup: None, django_db_blocker: Any, cdnow_analysis: Path) -> Iterator[Book]:
    """Import the analysis and arrange the book once; empty the database afterwards."""
    from corecustomers.web.accounts.models import ApiToken, Team, User
    from corecustomers.web.customers.analysis_import import import_analysis
    from corecustomers.web.customers.identity import pseudonym
    from corecustomers.web.customers.models import AccountMember, Customer

    table = pq.read_table(cdnow_analysis / "customers.parquet").to_pylist()
    ordered = sorted(table, key=lambda row: (-(row["core_score"] or 0.0), row["customer_id"]))
    # assignments over the top of the book, where the value is, alternating alerted and
    # quiet customers: alerts are few by design (at most a tenth of the core), so every
    # book (am1's, am2's, the East team's) needs alerted customers picked into it
    alerted = [str(row["customer_id"]) for row in ordered if row["alert"]]
    quiet = [str(row["customer_id"]) for row in ordered if not row["alert"]]
    assert len(alerted) >= 8, "the CDNOW sample's analysis should hold at least 8 alerts"
    head = [cid for pair in zip(alerted[:8], quiet[:8], strict=True) for cid in pair]
    ids = head + [cid for cid in (str(row["customer_id"]) for row in ordered) if cid not in head]
    am1_own, am2_own = ids[0:4], ids[4:7]
    am2_supports = ids[0]  # am2 supports one of am1's customers: on its account team too
    east_team, east_region, west_team = ids[7:10], ids[10:12], ids[12:14]
    unassigned_named = ids[14:16]

    with django_db_blocker.unblock():
        import_analysis(cdnow_analysis)
        users = {}
        for name, role in (
            ("admin", "admin"),
            ("manager", "manager"),
            ("am1", "account_manager"),
            ("am2", "account_manager"),
            ("analyst", "analyst"),
        ):
            users[name] = User.objects.create(username=name, role=role)
        east = Team.objects.create(name="East", region="east", lead=users["manager"])
        east.members.add(users["am1"])
        west = Team.objects.create(name="West", region="west")
        west.members.add(users["am2"])
        customers = {c.external_id: c for c in Customer.objects.filter(external_id__in=ids[:16])}
        for cid in am1_own:
            AccountMember.objects.create(customer=customers[cid], user=users["am1"], role="owner")
        for cid in am2_own:
            AccountMember.objects.create(customer=customers[cid], user=users["am2"], role="owner")
        AccountMember.objects.create(
            customer=customers[am2_supports], user=users["am2"], role="support"
        )
        Customer.objects.filter(external_id__in=east_team).update(team=east)
        Customer.objects.filter(external_id__in=west_team).update(team=west)
        Customer.objects.filter(external_id__in=east_region).update(region="east")
        named = {}
        for i, cid in enumerate(ids[:16]):
            person = {
                "name": f"{MARK}{i:02d}号",
                "phone": f"1770000{i:04d}",
                "email": f"kunde{i:02d}@corecustomers-test.example",
            }
            Customer.objects.filter(external_id=cid).update(**person)
            named[cid] = person
        tokens = {name: ApiToken.issue(user, scope="write")[1] for name, user in users.items()}
        from corecustomers.web.customers.models import Analysis
        from corecustomers.web.work.routing import route_alerts

        route_alerts(Analysis.objects.get().run_id)

    everyone = set(ids)
    expected = {
        "admin": everyone,
        "analyst": everyone,
        "manager": set(east_team) | set(east_region),
        "am1": set(am1_own),
        "am2": set(am2_own) | {am2_supports},
    }
    result = Book(
        all_ids=everyone,
        spend={str(r["customer_id"]): float(r["total_spend"] or 0.0) for r in table},
        alert={str(r["customer_id"]): bool(r["alert"]) for r in table},
        pseudonyms={cid: pseudonym(cid) for cid in ids},
        named=named,
        expected=expected,
        probes=[*am1_own, *am2_own, *east_team, *east_region, *west_team, *unassigned_named],
        owned={"am1": set(am1_own), "am2": set(am2_own)},
        tokens=tokens,
        users=users,
    )
    yield result
    with django_db_blocker.unblock():
        call_command("flush", interactive=False, verbosity=0)


# ---------------------------------------------------------------- the paths, one function each


@dataclass
class Seen:
    """What one path showed one role: the keys it listed, and every body it answered."""

    keys: set[str] | None = None
    bodies: list[str] = field(default_factory=list)


def _api(book: Book, role: str) -> Callable[..., Any]:
    client = Client()
    headers = {"Authorization": f"Bearer {book.tokens[role]}"}

    def get(path: str, **params: Any) -> Any:
        return client.get(API + path, params, headers=headers)

    return get


def _browser(book: Book, role: str) -> Client:
    client = Client()
    client.force_login(book.users[role])
    return client


def _key(book: Book, role: str, cid: str) -> str:
    return book.pseudonyms[cid] if role == "analyst" else cid


def _expected_keys(book: Book, role: str, ids: set[str]) -> set[str]:
    return {_key(book, role, cid) for cid in ids}


def api_list(book: Book, role: str, seen: Seen) -> None:
    get = _api(book, role)
    keys: set[str] = set()
    offset = 0
    while True:
        response = get("/customers", limit=500, offset=offset, sort="id")
        assert response.status_code == 200
        seen.bodies.append(response.content.decode())
        body = response.json()
        keys |= {row["key"] for row in body["items"]}
        offset += 500
        if offset >= body["count"]:
            break
    assert body["count"] == len(keys)
    seen.keys = keys


def api_search(book: Book, role: str, seen: Seen) -> None:
    response = _api(book, role)("/customers", q=MARK, limit=500)
    assert response.status_code == 200
    seen.bodies.append(response.content.decode())
    keys = {row["key"] for row in response.json()["items"]}
    if role == "analyst":  # analysts search by pseudonym only: a name finds nothing
        assert keys == set()
        one = book.probes[0]
        by_pseudonym = _api(book, role)("/customers", q=book.pseudonyms[one]).json()
        assert [row["key"] for row in by_pseudonym["items"]] == [book.pseudonyms[one]]
    else:
        assert keys == book.expected[role] & set(book.named)


def api_profile(book: Book, role: str, seen: Seen) -> None:
    get = _api(book, role)
    reached = set()
    for cid in book.probes:
        response = get("/customers/" + quote(_key(book, role, cid), safe=""))
        seen.bodies.append(response.content.decode())
        assert response.status_code in {200, 404}
        if response.status_code == 200:
            assert response.json()["key"] == _key(book, role, cid)
            reached.add(cid)
        else:
            assert response.json()["error"]["code"] == "not_found"
    if role == "analyst":  # the external id is not a way in for analysts
        assert get("/customers/" + quote(book.probes[0], safe="")).status_code == 404
    assert reached == book.expected[role] & set(book.probes)


def api_history(book: Book, role: str, seen: Seen) -> None:
    get = _api(book, role)
    reached = set()
    for cid in book.probes:
        response = get("/customers/" + quote(_key(book, role, cid), safe="") + "/history")
        seen.bodies.append(response.content.decode())
        if response.status_code == 200:
            assert response.json()["count"] >= 1
            reached.add(cid)
        else:
            assert response.status_code == 404
    assert reached == book.expected[role] & set(book.probes)


def api_dashboard(book: Book, role: str, seen: Seen) -> None:
    response = _api(book, role)("/dashboard")
    assert response.status_code == 200
    seen.bodies.append(response.content.decode())
    board = response.json()
    mine = book.expected[role]
    assert board["customers"] == len(mine)
    assert board["revenue"] == pytest.approx(sum(book.spend[cid] for cid in mine))
    assert board["open_alerts"] == sum(book.alert[cid] for cid in mine)
    assert sum(tier["customers"] for tier in board["tiers"]) == len(mine)


def api_flagged(book: Book, role: str, seen: Seen) -> None:
    response = _api(book, role)("/flagged-customers", limit=500)
    assert response.status_code == 200
    seen.bodies.append(response.content.decode())
    body = response.json()
    alerted = {cid for cid in book.expected[role] if book.alert[cid]}
    assert body["count"] == len(alerted)
    if body["count"] <= 500:
        assert {item["customer"]["key"] for item in body["items"]} == _expected_keys(
            book, role, alerted
        )


def _csv_keys(text: str) -> set[str]:
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    return {row["key"] for row in rows}


def api_csv(book: Book, role: str, seen: Seen) -> None:
    response = _api(book, role)("/customers.csv")
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8")
    seen.bodies.append(text)
    seen.keys = _csv_keys(text)


def page_list(book: Book, role: str, seen: Seen) -> None:
    response = _browser(book, role).get("/customers/", {"q": MARK})
    assert response.status_code == 200
    html = response.content.decode()
    seen.bodies.append(html)
    shown = {cid for cid, person in book.named.items() if person["name"] in html}
    if role == "analyst":
        assert shown == set()
    else:
        assert shown == book.expected[role] & set(book.named)


def page_profile(book: Book, role: str, seen: Seen) -> None:
    browser = _browser(book, role)
    reached = set()
    for cid in book.probes:
        response = browser.get("/customers/" + quote(_key(book, role, cid), safe="") + "/")
        seen.bodies.append(response.content.decode())
        assert response.status_code in {200, 404}
        if response.status_code == 200:
            reached.add(cid)
    assert reached == book.expected[role] & set(book.probes)


def _kpi(html: str, label: str) -> int:
    found = re.search(rf'kpi-label">{label}</span><span class="kpi-value">([^<]*)</span>', html)
    assert found is not None, f"no {label!r} figure on the dashboard"
    return int(re.sub(r"\D", "", found.group(1)))


def page_dashboard(book: Book, role: str, seen: Seen) -> None:
    response = _browser(book, role).get("/")
    assert response.status_code == 200
    html = response.content.decode()
    seen.bodies.append(html)
    mine = book.expected[role]
    assert _kpi(html, "Customers") == len(mine)
    assert _kpi(html, "Open alerts") == sum(book.alert[cid] for cid in mine)


def page_csv(book: Book, role: str, seen: Seen) -> None:
    response = _browser(book, role).get("/customers.csv")
    assert response.status_code == 200
    content = (
        b"".join(response.streaming_content) if response.streaming else response.content
    ).decode("utf-8")
    seen.bodies.append(content)
    seen.keys = _csv_keys(content)


# ------------------------------------------------------------------ the account team's paths

MANAGES = {"admin", "manager"}


def _post(book: Book, role: str, path: str, body: dict[str, Any]) -> Any:
    return Client().post(
        API + path,
        json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {book.tokens[role]}"},
    )


def _alerted(book: Book, ids: set[str]) -> set[str]:
    return {cid for cid in ids if book.alert[cid]}


def api_work(book: Book, role: str, seen: Seen) -> None:
    response = _api(book, role)("/work", limit=500)
    assert response.status_code == 200
    seen.bodies.append(response.content.decode())
    items = response.json()["items"]
    customers = {item["customer_id"] for item in items}
    assert customers <= book.expected[role]  # only own customers (within scope for others)
    alerts = {item["customer_id"] for item in items if item["kind"] == "alert"}
    if role in book.owned:  # the alerts routed to an account manager: those it owns
        assert alerts == _alerted(book, book.owned[role]) != set()
    if role == "manager":  # the lead gets the alerts of its team's unowned customers
        assert alerts and alerts <= book.expected["manager"]
        of_am1 = _api(book, role)("/work", limit=500, user="am1")
        assert of_am1.status_code == 200
        assert of_am1.json()["items"] == _api(book, "am1")("/work", limit=500).json()["items"]
        assert _api(book, role)("/work", user="am2").status_code == 404
    if role in {"am1", "am2", "analyst"}:
        other = "am2" if role == "am1" else "am1"
        assert _api(book, role)("/work", user=other).status_code == 404
    if role in {"admin", "analyst"}:
        assert items == []  # nobody's owner, nobody's lead


def page_work(book: Book, role: str, seen: Seen) -> None:
    response = _browser(book, role).get("/work/")
    assert response.status_code == 200
    html = response.content.decode()
    seen.bodies.append(html)
    shown = {cid for cid, person in book.named.items() if person["name"] in html}
    assert shown <= book.expected[role]
    if role in book.owned:
        assert _alerted(book, book.owned[role]) & set(book.named) <= shown


def api_routed_alerts(book: Book, role: str, seen: Seen) -> None:
    response = _api(book, role)("/alerts", status="all", limit=500)
    assert response.status_code == 200
    seen.bodies.append(response.content.decode())
    body = response.json()
    expected = _alerted(book, book.expected[role])
    assert body["count"] == len(expected)
    if body["count"] <= 500:
        keys = {item["customer_id"] for item in body["items"]}
        assert keys == _expected_keys(book, role, expected)


def api_alert_one(book: Book, role: str, seen: Seen) -> None:
    from corecustomers.web.work.models import Alert

    get = _api(book, role)
    reached = set()
    for alert in Alert.objects.filter(customer__external_id__in=book.probes).select_related(
        "customer"
    ):
        response = get(f"/alerts/{alert.pk}")
        seen.bodies.append(response.content.decode())
        assert response.status_code in {200, 404}
        if response.status_code == 200:
            reached.add(alert.customer.external_id)
    assert reached == _alerted(book, book.expected[role] & set(book.probes))


def page_alerts(book: Book, role: str, seen: Seen) -> None:
    response = _browser(book, role).get("/alerts/", {"status": "all"})
    assert response.status_code == 200
    html = response.content.decode()
    seen.bodies.append(html)
    shown = {cid for cid, person in book.named.items() if person["name"] in html}
    if role == "analyst":
        assert shown == set()
    else:
        assert shown <= _alerted(book, book.expected[role])


def api_interactions(book: Book, role: str, seen: Seen) -> None:
    get = _api(book, role)
    reached = set()
    for cid in book.probes:
        path = "/customers/" + quote(_key(book, role, cid), safe="") + "/interactions"
        response = get(path)
        seen.bodies.append(response.content.decode())
        assert response.status_code in {200, 404}
        if response.status_code == 200:
            reached.add(cid)
    assert reached == book.expected[role] & set(book.probes)


def api_notifications(book: Book, role: str, seen: Seen) -> None:
    response = _api(book, role)("/notifications", limit=500)
    assert response.status_code == 200
    seen.bodies.append(response.content.decode())
    keys = {item["customer_id"] for item in response.json()["items"]}
    assert keys <= _expected_keys(book, role, book.expected[role])
    if role in book.owned:
        assert keys == _alerted(book, book.owned[role])  # one notice per routed alert


def api_assignments(book: Book, role: str, seen: Seen) -> None:
    response = _post(book, role, "/assignments", {"assignees": ["am1"]})
    seen.bodies.append(response.content.decode())
    if role not in MANAGES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    plan = response.json()
    assert plan["applied"] is False
    moved = {item["customer_id"] for item in plan["items"]}
    unowned = book.expected[role] - book.owned["am1"] - book.owned["am2"]
    assert moved <= unowned
    if role == "manager":  # every unowned customer of East's teams and region, no other
        assert plan["matched"] == len(unowned) and moved == unowned


def api_handovers(book: Book, role: str, seen: Seen) -> None:
    response = _post(book, role, "/handovers", {"from": "am1", "to": ["manager"]})
    seen.bodies.append(response.content.decode())
    if role not in MANAGES:
        assert response.status_code == 403
        return
    assert response.status_code == 200
    plan = response.json()
    assert plan["applied"] is False
    assert {item["customer_id"] for item in plan["items"]} == book.owned["am1"]


def page_assign(book: Book, role: str, seen: Seen) -> None:
    response = _browser(book, role).get("/work/assign/")
    seen.bodies.append(response.content.decode())
    assert response.status_code == (200 if role in MANAGES else 403)


#: The per-customer endpoints of the newer apps (loyalty, contact, surveys): each answers
#: for exactly the customers the caller reaches and 404 for every other one.
CUSTOMER_DETAILS = [
    "/points",
    "/points/entries",
    "/level",
    "/level/history",
    "/consents",
    "/survey-responses",
]


def api_customer_details(book: Book, role: str, seen: Seen) -> None:
    get = _api(book, role)
    for suffix in CUSTOMER_DETAILS:
        reached = set()
        for cid in book.probes:
            response = get("/customers/" + quote(_key(book, role, cid), safe="") + suffix)
            assert response.status_code in {200, 404}, (suffix, response.status_code)
            seen.bodies.append(response.content.decode())
            if response.status_code == 200:
                reached.add(cid)
            else:
                assert response.json()["error"]["code"] == "not_found", suffix
        assert reached == book.expected[role] & set(book.probes), suffix


def api_privacy_export(book: Book, role: str, seen: Seen) -> None:
    """The privacy export: an administrator gets every customer's; any other role gets
    either its own customers and 404 for the rest, or one refusal for all (so that the
    answer never tells an outside customer's existence)."""
    get = _api(book, role)
    status = {}
    for cid in book.probes:
        response = get("/customers/" + quote(_key(book, role, cid), safe="") + "/export")
        status[cid] = response.status_code
        if response.status_code != 200:  # a zip is not text: its refusals are
            seen.bodies.append(response.content.decode())
    inside = {status[cid] for cid in book.probes if cid in book.expected[role]}
    outside = {status[cid] for cid in book.probes if cid not in book.expected[role]}
    if role == "admin":
        assert inside == {200} and outside == set()
    elif 200 in inside:
        assert inside == {200} and outside <= {404}
    else:
        assert inside | outside == {403}, status


PATHS: dict[str, Callable[[Book, str, Seen], None]] = {
    "api-list": api_list,
    "api-search": api_search,
    "api-profile": api_profile,
    "api-history": api_history,
    "api-dashboard": api_dashboard,
    "api-flagged": api_flagged,
    "api-csv": api_csv,
    "page-list": page_list,
    "page-profile": page_profile,
    "page-dashboard": page_dashboard,
    "page-csv": page_csv,
    "api-work": api_work,
    "page-work": page_work,
    "api-routed-alerts": api_routed_alerts,
    "api-alert-one": api_alert_one,
    "page-alerts": page_alerts,
    "api-interactions": api_interactions,
    "api-notifications": api_notifications,
    "api-assignments": api_assignments,
    "api-handovers": api_handovers,
    "page-assign": page_assign,
    "api-customer-details": api_customer_details,
    "api-privacy-export": api_privacy_export,
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_exactly_its_customers_on_each_path(
    book: Book, role: str, path: str
) -> None:
    seen = Seen()
    PATHS[path](book, role, seen)
    if seen.keys is not None:  # a full listing: exactly the expected set
        assert seen.keys == _expected_keys(book, role, book.expected[role])
    text = "\n".join(seen.bodies)
    if role == "analyst":
        leaked = [value for value in book.personal_values() if value in text]
        assert leaked == [], f"personal data shown to the analyst on {path}: {leaked[:5]}"
        assert not any(cid in _csv_keys_or_words(text) for cid in book.probes)
    else:
        outside = set(book.named) - book.expected[role]
        leaked = [book.named[cid]["name"] for cid in outside if book.named[cid]["name"] in text]
        assert leaked == [], f"{role} saw customers outside the scope on {path}: {leaked}"


def _csv_keys_or_words(text: str) -> set[str]:
    """The separate words of a body (ids are digits: a substring test would be meaningless)."""
    return set(json.dumps(text).replace(",", " ").replace('"', " ").split())
