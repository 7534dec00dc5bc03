"""The OWASP basics tried on the real app (issue 14's security tests): CSRF, session
fixation, brute-force login, other people's objects by id, formula injection in exports,
SQL in searches, script in every free-text field a page shows, the security headers,
deactivated users, the password policy and production secrets.

Uploads (oversize, disguised) are ``test_security_uploads.py``; the browser half (no CSP
violation on the main pages, the API docs and a report) is ``test_security_browser.py``;
rate limits, health endpoints, logs and the lock file are ``test_security_ops.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.test import Client

from corecustomers.errors import ConfigError
from corecustomers.web.accounts.administration import set_active
from corecustomers.web.accounts.models import ApiToken, Team
from corecustomers.web.accounts.users import create_or_update_user
from corecustomers.web.customers.identity import pseudonym
from corecustomers.web.customers.models import AccountMember, Customer
from corecustomers.web.jobs.models import Job
from corecustomers.web.work.models import Alert, Interaction, Notification

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-9"  # the people fixture's password (conftest.py)
#: What an attacker types into a free-text field.
XSS = '<script>alert("cc")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert("
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class World:
    mine: Customer  # am1's (team East)
    theirs: Customer  # am2's (team West)
    alert: Alert
    their_alert: Alert
    interaction: Interaction


def _customer(external_id: str, owner: Any, team: Any, **fields: Any) -> Customer:
    customer = Customer.objects.create(
        external_id=external_id, pseudonym=pseudonym(external_id), team=team, **fields
    )
    AccountMember.objects.create(customer=customer, user=owner, role="owner")
    return customer


@pytest.fixture
def world(people: Any) -> World:
    """Every free-text field that a page shows holds a script; am2 has objects of their own."""
    mine = _customer(
        "S1",
        people.am1,
        people.east,
        name=XSS,
        company=XSS,
        notes=XSS,
        industry=XSS,
        region="east",
    )
    theirs = _customer("S2", people.am2, people.west, name="Li Lei", region="west")
    alert = Alert.objects.create(
        customer=mine, reason_code="churn_risk", reason_en=XSS, note=XSS, assignee=people.am1
    )
    their_alert = Alert.objects.create(
        customer=theirs, reason_code="churn_risk", reason_en="quiet", assignee=people.am2
    )
    interaction = Interaction.objects.create(
        customer=mine, kind="visit", user=people.am1, notes=XSS, next_step=XSS
    )
    team = Team.objects.create(name=XSS, region=XSS)
    team.members.add(people.am1)
    Notification.objects.create(
        user=people.am1, kind="alert", message_en=XSS, alert=alert, customer=mine
    )
    ApiToken.issue(people.am1, name=XSS)
    people.am1.first_name, people.am1.last_name = XSS, XSS
    people.am1.save()
    return World(mine, theirs, alert, their_alert, interaction)


def login(name: str, **kwargs: Any) -> Client:
    client = Client(**kwargs)
    assert client.login(username=name, password=PASSWORD)
    return client


# --- CSRF -------------------------------------------------------------------------------


def test_a_form_post_without_its_csrf_token_is_refused(world: World) -> None:
    client = login("am1", enforce_csrf_checks=True)
    url = f"/customers/{world.mine.external_id}/"
    refused = client.post(url, {"form": "notes", "notes": "changed by a forged post"})
    assert refused.status_code == 403
    world.mine.refresh_from_db()
    assert world.mine.notes == XSS
    # the same post with the page's token goes through
    token = str(client.get(url).context["csrf_token"])
    client.post(url, {"form": "notes", "notes": "mine", "csrfmiddlewaretoken": token})
    world.mine.refresh_from_db()
    assert world.mine.notes == "mine"


def test_an_api_change_by_session_without_csrf_token_is_refused(world: World, people: Any) -> None:
    client = login("am1", enforce_csrf_checks=True)
    url = f"/api/v1/customers/{world.mine.external_id}/notes"
    refused = client.put(url, {"notes": "forged"}, content_type="application/json")
    assert refused.status_code == 403
    world.mine.refresh_from_db()
    assert world.mine.notes == XSS
    token = str(client.get("/").context["csrf_token"])
    sent = client.put(
        url, {"notes": "mine"}, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert sent.status_code == 200, sent.content
    # a Bearer token needs no CSRF token (a browser never sends it by itself)
    _, raw = ApiToken.issue(people.am1, scope="write")
    bearer = Client(enforce_csrf_checks=True).put(
        url,
        {"notes": "by token"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert bearer.status_code == 200, bearer.content


def test_logout_is_a_csrf_protected_post(people: Any) -> None:
    client = login("am1", enforce_csrf_checks=True)
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 403
    assert client.get("/").status_code == 200  # still logged in


# --- sessions ---------------------------------------------------------------------------


def test_the_session_key_changes_at_login(people: Any) -> None:
    client = Client()
    client.post("/language/", {"language": "zh-hans", "next": "/login/"})
    before = client.cookies["sessionid"].value
    assert Session.objects.filter(session_key=before).exists()
    response = client.post("/login/", {"username": "am1", "password": PASSWORD})
    assert response.status_code == 302
    after = client.cookies["sessionid"].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    # the language chosen before the login survives the new key
    assert client.get("/").headers["Content-Language"] == "zh-hans"


def test_session_cookie_is_httponly_and_samesite(people: Any) -> None:
    client = Client()
    client.post("/login/", {"username": "am1", "password": PASSWORD})
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"


def test_brute_force_login_gets_429_after_the_limit(people: Any, settings: Any) -> None:
    client = Client()
    statuses = [
        client.post("/login/", {"username": "am1", "password": f"guess-{n}"}).status_code
        for n in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    locked = client.post("/login/", {"username": "am1", "password": PASSWORD})
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) > 0


def test_a_deactivated_user_is_logged_out_and_their_tokens_refused(people: Any) -> None:
    browser = login("am1")
    _, raw = ApiToken.issue(people.am1, scope="read")
    bearer = {"Authorization": f"Bearer {raw}"}
    assert browser.get("/").status_code == 200
    assert Client().get("/api/v1/me", headers=bearer).status_code == 200

    set_active(people.admin, "am1", False)

    assert browser.get("/").status_code == 302  # back to the login page
    assert browser.get("/api/v1/me").status_code == 401
    assert Client().get("/api/v1/me", headers=bearer).status_code == 401
    assert Client().post("/login/", {"username": "am1", "password": PASSWORD}).status_code == 200


def test_deactivating_a_user_by_any_path_ends_their_sessions(people: Any) -> None:
    browser = login("am2")
    key = browser.cookies["sessionid"].value
    people.am2.is_active = False
    people.am2.save()  # e.g. a shell or a future API, not the Administration page
    assert not Session.objects.filter(session_key=key).exists()
    assert browser.get("/").status_code == 302


# --- other people's objects -------------------------------------------------------------


def test_another_users_objects_answer_404(world: World, people: Any) -> None:
    client = login("am1")
    theirs, alert = world.theirs.external_id, world.their_alert.pk
    _, raw = ApiToken.issue(people.am1, scope="write")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    job = Job.objects.create(kind="import_customers", created_by=people.am2, params={})

    pages = [
        f"/customers/{theirs}/",
        f"/customers/{world.theirs.pseudonym}/",
        f"/log/{theirs}/",
    ]
    for url in pages:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/alerts/{alert}/", {"status": "in_progress"}).status_code == 404
    for url in [
        f"/api/v1/customers/{theirs}",
        f"/api/v1/customers/{theirs}/history",
        f"/api/v1/customers/{theirs}/interactions",
        f"/api/v1/alerts/{alert}",
        f"/api/v1/jobs/{job.pk}",
    ]:
        assert api.get(url).status_code == 404, url
    changed = api.patch(
        f"/api/v1/alerts/{alert}", {"status": "in_progress"}, content_type="application/json"
    )
    assert changed.status_code == 404
    logged = api.post(
        f"/api/v1/customers/{theirs}/interactions",
        {"kind": "call", "notes": "not mine"},
        content_type="application/json",
    )
    assert logged.status_code == 404
    assert not Interaction.objects.filter(customer=world.theirs).exists()
    world.their_alert.refresh_from_db()
    assert world.their_alert.status == "open"
    # the same addresses work for the owner: the 404s are the scope, not broken URLs
    assert login("am2").get(f"/customers/{theirs}/").status_code == 200


def test_only_administrators_see_and_revoke_tokens(people: Any) -> None:
    token, _ = ApiToken.issue(people.am2, scope="read")
    client = login("am1", enforce_csrf_checks=False)
    assert client.get("/administration/tokens/").status_code == 403
    client.post("/administration/tokens/", {"form": "revoke", "token": token.pk})
    token.refresh_from_db()
    assert token.revoked is False


# --- exports ----------------------------------------------------------------------------


def test_formula_injection_in_the_csv_export_is_neutralised(people: Any) -> None:
    _customer("=1+2", people.am1, people.east, name='=HYPERLINK("http://evil","x")')
    _customer("F2", people.am1, people.east, name="+SUM(A1)", company="@cmd", notes="-12.50")
    text = b"".join(login("am1").get("/customers.csv").streaming_content).decode()
    cells = [cell for line in text.splitlines() for cell in line.split(",")]
    dangerous = [c for c in cells if c.lstrip('"')[:1] in {"=", "+", "@", "\t", "\r"}]
    assert dangerous == []
    assert "'=1+2" in text
    assert "'=HYPERLINK" in text
    assert "'+SUM(A1)" in text


# --- script in free text ----------------------------------------------------------------


def test_script_in_every_free_text_field_is_escaped_on_every_page(
    world: World, people: Any
) -> None:
    am1, admin = login("am1"), login("admin")
    pages = [
        (am1, f"/customers/{world.mine.external_id}/"),
        (am1, "/customers/"),
        (am1, "/customers/?q=%3Cscript%3E"),
        (am1, "/work/"),
        (am1, "/alerts/"),
        (am1, "/notifications/"),
        (am1, f"/log/{world.mine.external_id}/"),
        (am1, "/"),
        (admin, "/administration/teams/"),
        (admin, "/administration/users/"),
        (admin, "/administration/tokens/"),
        (admin, f"/customers/{world.mine.external_id}/"),
    ]
    for client, url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert "<script>alert" not in html, url
        assert "<img src=x" not in html, url
        if url != "/":  # the dashboard shows no free text
            assert ESCAPED in html, url  # the payload is on the page, escaped
    profile = am1.get(f"/customers/{world.mine.external_id}/").content.decode()
    assert profile.count(ESCAPED) >= 4  # name, company, notes, the timeline's notes


def test_script_in_the_api_is_plain_json_text(world: World, people: Any) -> None:
    _, raw = ApiToken.issue(people.am1, scope="read")
    response = Client().get(
        f"/api/v1/customers/{world.mine.external_id}",
        headers={"Authorization": f"Bearer {raw}"},
    )
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.json()["name"] == XSS


# --- headers ----------------------------------------------------------------------------


def test_every_page_has_the_security_headers(world: World, people: Any) -> None:
    client = login("am1")
    for url in ["/", "/customers/", "/login/", "/api/v1/docs", "/api/v1/me", "/nowhere/"]:
        response = client.get(url)
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy, url
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy, url
        assert "'unsafe-eval'" not in policy
        assert "frame-ancestors 'none'" in policy
        assert "object-src 'none'" in policy
        assert response["X-Frame-Options"] == "DENY"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in response  # plain HTTP in development


def test_over_https_cookies_are_secure_and_hsts_is_sent(people: Any, settings: Any) -> None:
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.HTTPS = True
    client = Client(headers={"X-Forwarded-Proto": "https"})
    page = client.get("/login/")
    assert page["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "upgrade-insecure-requests" in page["Content-Security-Policy"]
    client.post("/login/", {"username": "am1", "password": PASSWORD})
    assert client.cookies["sessionid"]["secure"] is True


def test_the_api_docs_load_their_assets_from_our_own_static_files(people: Any) -> None:
    html = login("admin").get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html
    # every asset the page loads is ours (not the random CSRF token's letters, which once
    # happened to spell "cdn")
    assets = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert assets
    for asset in assets:
        assert not asset.lower().startswith(("http:", "https:", "//")), asset
        assert "cdn" not in asset.lower(), asset


def test_a_stored_report_is_served_with_a_policy_of_its_own(tmp_path: Path) -> None:
    from corecustomers.web.security.csp import document_policy, stored_document

    page = tmp_path / "report.html"
    page.write_text(
        "<html><head><style>\nbody{color:#123}\n</style></head>"
        '<body><svg width="10" style="max-width:10px"></svg></body></html>',
        encoding="utf-8",
    )
    response = stored_document(page)
    policy = response["Content-Security-Policy"]
    assert policy == document_policy(page.read_text(encoding="utf-8"))
    assert "default-src 'none'" in policy and "sandbox" in policy
    assert "script-src" not in policy  # falls back to default-src 'none': no script at all
    assert "'unsafe-inline'" not in policy
    import base64
    import hashlib

    digest = base64.b64encode(hashlib.sha256(b"\nbody{color:#123}\n").digest()).decode()
    assert f"'sha256-{digest}'" in policy
    assert "'unsafe-hashes'" in policy  # the style attribute, by its hash only


def test_no_template_has_inline_code_that_the_policy_would_refuse() -> None:
    """Every app's templates: no ``style=`` or ``on…=`` attribute, no ``<script>`` or
    ``<style>`` without the request's nonce (a page would break under the CSP)."""
    web = ROOT / "src" / "corecustomers" / "web"
    refused = re.compile(
        r"""\sstyle\s*=|\son[a-z]+\s*=\s*["']|<(?:script|style)\b(?![^>]*\bnonce=)|javascript:""",
        re.IGNORECASE,
    )
    found = [
        f"{path.relative_to(web)}:{n}: {line.strip()[:80]}"
        for path in web.glob("*/templates/**/*.html")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if refused.search(line)
    ]
    assert len(list(web.glob("*/templates/**/*.html"))) > 20
    assert found == []


SQL_PROBES = [
    "' OR '1'='1",
    "S2' --",
    '" OR ""="',
    "east'; DROP TABLE customers_customer; --",
    "%",
    "_",
]


@pytest.mark.parametrize("probe", SQL_PROBES)
def test_sql_in_searches_and_filters_is_only_text(world: World, people: Any, probe: str) -> None:
    page = login("am1").get("/customers/", {"q": probe, "region": probe})
    assert page.status_code in {200, 422}
    assert f"/customers/{world.theirs.external_id}/" not in page.content.decode()
    assert world.theirs.name not in page.content.decode()
    _, raw = ApiToken.issue(people.am1, scope="read")
    api = Client(headers={"Authorization": f"Bearer {raw}"})
    listed = api.get("/api/v1/customers", {"q": probe})
    assert listed.status_code in {200, 422}, listed.content
    assert world.theirs.name not in listed.content.decode()
    assert Customer.objects.filter(external_id=world.theirs.external_id).exists()


# --- passwords and secrets --------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short9!", "too short"),
        ("password123", "too common"),
        ("8364926453810", "entirely numeric"),
        ("newperson-1", "too similar"),
    ],
)
def test_weak_passwords_are_refused(password: str, why: str, db: None) -> None:
    with pytest.raises(ConfigError, match=why):
        create_or_update_user("newperson", role="analyst", password=password)


def test_the_administration_page_applies_the_password_policy(people: Any) -> None:
    response = login("admin").post(
        "/administration/users/",
        {"form": "create", "username": "am3", "role": "account_manager", "password": "abc12345"},
    )
    assert response.status_code in {400, 422}
    assert "too short" in response.content.decode()
    from corecustomers.web.accounts.models import User

    assert not User.objects.filter(username="am3").exists()


def _settings_in_production(
    env: dict[str, str], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CORECUSTOMERS_")}
    clean.update({"CORECUSTOMERS_ENV": "production", "CORECUSTOMERS_WORKSPACE": str(tmp_path)})
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import corecustomers.web.settings as s; print(s.HTTPS)"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,  # a guard against a hang; imports alone took > 60 s under load
        check=False,
    )


def test_production_refuses_to_start_without_its_secrets(tmp_path: Path) -> None:
    missing = _settings_in_production({}, tmp_path)
    assert missing.returncode != 0
    assert "CORECUSTOMERS_SECRET_KEY" in missing.stderr
    assert "CORECUSTOMERS_PSEUDONYM_KEY" in missing.stderr
    assert not (tmp_path / ".corecustomers" / "secrets.json").exists()  # no default made

    short = _settings_in_production(
        {"CORECUSTOMERS_SECRET_KEY": "x" * 10, "CORECUSTOMERS_PSEUDONYM_KEY": "y" * 40}, tmp_path
    )
    assert short.returncode != 0
    assert "at least 32 characters" in short.stderr

    good = _settings_in_production(
        {"CORECUSTOMERS_SECRET_KEY": "x" * 40, "CORECUSTOMERS_PSEUDONYM_KEY": "y" * 40}, tmp_path
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == "True"  # HTTPS (secure cookies, HSTS) by default


def test_serve_in_production_without_secrets_exits_with_a_clear_message(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CORECUSTOMERS_")}
    clean["CORECUSTOMERS_ENV"] = "production"
    result = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "corecustomers"), "serve", "--port", "0", "--no-worker"],
        cwd=tmp_path,
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,  # a guard against a hang; imports alone took > 60 s under load
        check=False,
    )
    assert result.returncode == 2
    assert "production mode" in result.stderr
    assert "CORECUSTOMERS_SECRET_KEY" in result.stderr
