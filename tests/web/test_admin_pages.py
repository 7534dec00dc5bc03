"""Administration pages through the real app: administrators only, every change audited."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from corecustomers.web.accounts.models import ApiToken, Team, User, hash_token
from corecustomers.web.audit.models import AuditEntry
from corecustomers.web.customers.models import AccountMember, Customer, ServiceSetting

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"  # the conftest's password of every test user
PAGES = ["users", "teams", "tokens", "audit", "settings"]


def login(name: str) -> Client:
    client = Client()
    assert client.login(username=name, password=PASSWORD)
    return client


@pytest.mark.parametrize("role", ["manager", "am1", "analyst"])
def test_administration_is_for_administrators_only(people: Any, role: str) -> None:
    client = login(role)
    for page in PAGES:
        response = client.get(f"/administration/{page}/")
        assert response.status_code == 403, page
        assert "Your role does not allow this" in response.content.decode()
    assert (
        client.post(
            "/administration/users/", {"form": "role", "username": role, "role": "admin"}
        ).status_code
        == 403
    )
    assert User.objects.get(username=people.by_role()[role].username).role != "admin"
    assert "/administration/" not in client.get("/").content.decode()  # no menu entry either


def test_admin_sees_every_page(people: Any) -> None:
    client = login("admin")
    for page in PAGES:
        assert client.get(f"/administration/{page}/").status_code == 200, page
    assert client.get("/administration/").status_code == 302


def test_create_user_with_checks(people: Any) -> None:
    client = login("admin")
    weak = client.post(
        "/administration/users/",
        {"form": "create", "username": "am3", "role": "account_manager", "password": "123"},
    )
    assert weak.status_code == 400 and "too weak" in weak.content.decode()
    assert not User.objects.filter(username="am3").exists()
    taken = client.post(
        "/administration/users/",
        {"form": "create", "username": "am1", "role": "analyst", "password": PASSWORD},
    )
    assert taken.status_code == 400 and "taken" in taken.content.decode()
    assert User.objects.get(username="am1").role == "account_manager"
    made = client.post(
        "/administration/users/",
        {
            "form": "create",
            "username": "am3",
            "role": "account_manager",
            "password": PASSWORD,
            "teams": "East",
        },
    )
    assert made.status_code == 302
    am3 = User.objects.get(username="am3")
    assert am3.role == "account_manager" and am3.check_password(PASSWORD)
    assert set(am3.teams.values_list("name", flat=True)) == {"East"}
    assert AuditEntry.objects.filter(
        object_type="user", action="create", object_key=str(am3.pk)
    ).exists()


def test_change_role_and_deactivate_ends_sessions(people: Any) -> None:
    admin = login("admin")
    victim = login("am2")
    assert victim.get("/").status_code == 200
    assert (
        admin.post(
            "/administration/users/", {"form": "role", "username": "am2", "role": "manager"}
        ).status_code
        == 302
    )
    assert User.objects.get(username="am2").role == "manager"
    entry = AuditEntry.objects.filter(object_type="user", action="update").latest("at")
    assert (entry.before, entry.after) == ({"role": "account_manager"}, {"role": "manager"})
    page = admin.get("/administration/users/").content.decode()
    assert "Yes, deactivate" in page  # the destructive action asks first
    assert (
        admin.post("/administration/users/", {"form": "deactivate", "username": "am2"}).status_code
        == 302
    )
    assert not User.objects.get(username="am2").is_active
    response = victim.get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert not Client().login(username="am2", password=PASSWORD)
    # an administrator cannot lock themselves out
    admin.post("/administration/users/", {"form": "deactivate", "username": "admin"})
    assert User.objects.get(username="admin").is_active
    admin.post("/administration/users/", {"form": "activate", "username": "am2"})
    assert User.objects.get(username="am2").is_active


def test_teams_and_members(people: Any) -> None:
    client = login("admin")
    response = client.post(
        "/administration/teams/",
        {"name": "North", "region": "north", "lead": "manager", "members": "am1, am2"},
    )
    assert response.status_code == 302
    north = Team.objects.get(name="North")
    assert north.lead == people.manager and set(
        north.members.values_list("username", flat=True)
    ) == {"am1", "am2"}
    client.post(
        "/administration/teams/", {"name": "North", "region": "north", "lead": "", "members": "am2"}
    )
    north.refresh_from_db()
    assert north.lead is None and list(north.members.values_list("username", flat=True)) == ["am2"]
    bad = client.post("/administration/teams/", {"name": "North", "members": "ghost"})
    assert bad.status_code == 400 and "ghost" in bad.content.decode()
    html = client.get("/administration/teams/").content.decode()
    assert "North" in html and "East" in html
    assert AuditEntry.objects.filter(object_type="team").count() == 2


def test_token_is_shown_once_and_can_be_revoked(people: Any) -> None:
    client = login("admin")
    response = client.post(
        "/administration/tokens/",
        {
            "form": "create",
            "username": "am1",
            "name": "crm sync",
            "scope": "read",
            "expires_days": "30",
        },
    )
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    raw = re.search(r'<code class="token">(cc_[^<]+)</code>', response.content.decode())
    assert raw is not None
    token = ApiToken.objects.get(user=people.am1)
    assert token.key_hash == hash_token(raw.group(1)) and token.expires is not None
    listing = client.get("/administration/tokens/").content.decode()
    assert raw.group(1) not in listing and token.prefix in listing
    assert (
        client.post(
            "/administration/tokens/", {"form": "revoke", "token": str(token.pk)}
        ).status_code
        == 302
    )
    token.refresh_from_db()
    assert token.revoked and not token.is_valid()
    unknown = client.post(
        "/administration/tokens/", {"form": "create", "username": "ghost", "scope": "read"}
    )
    assert unknown.status_code == 400 and "ghost" in unknown.content.decode()


def test_settings_change_what_account_managers_see(imported: Path, people: Any) -> None:
    mine = Customer.objects.order_by("pk").first()
    assert mine is not None
    AccountMember.objects.create(customer=mine, user=people.am1, role="owner")
    am1 = login("am1")
    assert "1 customer" in am1.get("/customers/").content.decode()
    admin = login("admin")
    assert (
        admin.post(
            "/administration/settings/", {"account_managers_see_unassigned": "on"}
        ).status_code
        == 302
    )
    assert ServiceSetting.get("account_managers_see_unassigned") is True
    total = Customer.objects.count()
    assert f"{total:,d} customers" in am1.get("/customers/").content.decode()
    admin.post("/administration/settings/", {})
    assert ServiceSetting.get("account_managers_see_unassigned") is False
    assert AuditEntry.objects.filter(object_type="setting").count() == 2


def test_audit_log_filters_and_pages(imported: Path, people: Any) -> None:
    customer = Customer.objects.order_by("pk").first()
    assert customer is not None
    am1 = login("admin")
    for _ in range(60):
        am1.get("/customers/", {"q": "zzz"})
    am1.get(f"/customers/{customer.external_id}/")
    client = login("admin")
    html = client.get("/administration/audit/", {"action": "search"}).content.decode()
    assert html.count("<tr>") == 51  # header row and a page of 50
    assert "Page 1 of 2" in html
    page2 = client.get("/administration/audit/", {"action": "search", "page": "2"}).content.decode()
    assert page2.count("<tr>") == 11
    by_customer = client.get(
        "/administration/audit/", {"customer": customer.external_id}
    ).content.decode()
    assert by_customer.count("<tr>") == 2 and ">view<" in by_customer
    nobody = client.get("/administration/audit/", {"user": "am2"}).content.decode()
    assert "No entries match." in nobody
    bad = client.get("/administration/audit/", {"since": "yesterday"})
    assert bad.status_code == 400 and "field-error" in bad.content.decode()
    # nobody, not even an administrator, can change an entry from a page: there is no form
    assert 'method="post"' not in html.split("<main", 1)[1]


class _Controls(HTMLParser):
    """Form controls and labels of a page, to check that every field has a real label."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.labelled: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "label" and found.get("for"):
            self.labelled.add(str(found["for"]))
        if tag in {"input", "select", "textarea"} and found.get("type") not in {"hidden", "submit"}:
            self.controls.append(found)


def test_every_form_field_has_a_label(imported: Path, people: Any) -> None:
    customer = Customer.objects.order_by("pk").first()
    assert customer is not None
    client = login("admin")
    urls = ["/", "/customers/", f"/customers/{customer.external_id}/"]
    urls += [f"/administration/{page}/" for page in PAGES]
    pages = [(url, client.get(url).content.decode()) for url in urls]
    pages.append(("/login/", Client().get("/login/").content.decode()))
    for url, html in pages:
        parser = _Controls()
        parser.feed(html)
        unlabelled = [
            c
            for c in parser.controls
            if c.get("id") not in parser.labelled and not c.get("aria-label")
        ]
        assert unlabelled == [], url
        assert parser.controls or url == "/", url
