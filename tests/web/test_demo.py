"""``corecustomers demo --serve``: the newcomer's path ends in the running product.

A real subprocess in an empty folder (a small demo so that it is quick): it must print the
report path, the URL and the logins, answer at the URL with the printed password, keep
its database and workspace in that folder (so ``corecustomers token am1`` run there finds
the demo users), give each account manager a book of core customers with open alerts and
due actions, and stop on Ctrl-C together with its worker.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from corecustomers.data.demo import generate_demo
from corecustomers.data.demo_people import generate_demo_people

# ``make test`` runs tests/web a second time on PostgreSQL (CORECUSTOMERS_TEST_DB); these
# tests do not depend on that setting, so the second pass would repeat them unchanged.
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("CORECUSTOMERS_TEST_DB")),
    reason="the demo keeps its database in its folder (SQLite) by design: it ran in the SQLite pass",
)

# the alert list is few and ranked (at most 10 % of the core customers, issue 9): with 400
# customers it held 7 alerts and none in 华北, am2's region; 1,000 give each region some
CUSTOMERS = 1000


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORECUSTOMERS_")}
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "corecustomers", "demo", "--out", "."),
            *("--customers", str(CUSTOMERS), "--serve", "--port", "0"),
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line)
            if "Serving at" in line:
                break
        text = "".join(lines)
        url = re.search(r"Serving at (http://\S+/)", text)
        assert url, text
        logins = dict(re.findall(r"│ (\w+)\s+│ (demo-[0-9a-f]+)\s+│", text))
        yield {
            "folder": folder,
            "url": url.group(1),
            "logins": logins,
            "text": text,
            "process": process,
            "env": env,
        }
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        try:
            process.wait(timeout=30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _rows(folder: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    db = folder / ".corecustomers" / "service.sqlite3"
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30) as con:
        return con.execute(sql, params).fetchall()


def test_demo_prints_the_report_the_url_and_every_login(demo: dict[str, Any]) -> None:
    text = demo["text"]
    assert "Report: analysis/report.html" in text
    assert (demo["folder"] / "analysis" / "report.html").is_file()
    assert set(demo["logins"]) == {"admin", "manager", "am1", "am2", "analyst"}
    assert "log in as am1" in text


def test_the_printed_password_logs_in_at_the_printed_url(demo: dict[str, Any]) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(demo["url"] + "login/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token, page
    form = urllib.parse.urlencode(
        {
            "csrfmiddlewaretoken": token.group(1),
            "username": "am1",
            "password": demo["logins"]["am1"],
        }
    ).encode()
    request = urllib.request.Request(
        demo["url"] + "login/", data=form, headers={"Referer": demo["url"] + "login/"}
    )
    response = opener.open(request, timeout=30)
    assert response.status == 200
    assert not response.url.rstrip("/").endswith("/login"), "the login was refused"
    assert any(cookie.name == "sessionid" for cookie in jar)


def test_token_run_in_the_folder_finds_the_demo_user(demo: dict[str, Any]) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "corecustomers", "token", "am1"],
        cwd=demo["folder"],
        env=demo["env"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    raw = run.stdout.strip()
    assert raw.startswith("cc_")
    # the token authenticates: an unknown job is "not found", not "unauthenticated"
    request = urllib.request.Request(
        f"{demo['url']}api/v1/jobs/{uuid.uuid4()}", headers={"Authorization": f"Bearer {raw}"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 404
    assert json.loads(caught.value.read())["error"]["code"] == "not_found"


def test_each_account_manager_owns_core_customers_with_alerts_and_due_actions(
    demo: dict[str, Any],
) -> None:
    folder = demo["folder"]
    books: dict[str, set[str]] = {}
    for name, region in (("am1", "华东"), ("am2", "华北")):
        rows = _rows(
            folder,
            "SELECT c.external_id, c.region, s.core, s.alert, s.action_due, t.name "
            "FROM customers_accountmember m JOIN accounts_user u ON u.id = m.user_id "
            "JOIN customers_customer c ON c.id = m.customer_id "
            "JOIN customers_customerstate s ON s.customer_id = c.id "
            "LEFT JOIN accounts_team t ON t.id = c.team_id "
            "WHERE u.username = ? AND m.role = 'owner'",
            name,
        )
        assert rows, f"{name} owns nobody"
        assert all(core for _, _, core, *_ in rows)
        assert {row[1] for row in rows} == {region}
        alerting = [row for row in rows if row[3] and row[4]]
        assert alerting, f"{name} has no customer with an open alert and a due action"
        books[name] = {row[0] for row in rows}
        printed = re.search(rf"{name} owns (\d+) core customers \((\d+) with", demo["text"])
        assert printed and int(printed.group(1)) == len(rows)
        assert int(printed.group(2)) == len(alerting)
    assert not books["am1"] & books["am2"]
    # the manager leads team East, which covers region 华东 (am1's book)
    ((region, lead),) = _rows(
        folder,
        "SELECT t.region, u.username FROM accounts_team t JOIN accounts_user u "
        "ON u.id = t.lead_id WHERE t.name = 'East'",
    )
    assert (region, lead) == ("华东", "manager")
    roles = dict(_rows(folder, "SELECT username, role FROM accounts_user"))
    assert roles == {
        "admin": "admin",
        "manager": "manager",
        "am1": "account_manager",
        "am2": "account_manager",
        "analyst": "analyst",
    }


def test_the_master_data_is_loaded_and_meets_the_analysis(demo: dict[str, Any]) -> None:
    people = generate_demo_people(generate_demo(n_customers=CUSTOMERS, seed=7), seed=7)
    expected = {row["customer_id"]: row for row in people.to_pylist()}
    stored = _rows(
        demo["folder"],
        "SELECT c.external_id, c.name, c.phone, c.email, c.birthday, c.region, c.company, "
        "s.tier FROM customers_customer c LEFT JOIN customers_customerstate s "
        "ON s.customer_id = c.id",
    )
    assert len(stored) == len(expected) == CUSTOMERS
    for cid, name, phone, email, birthday, region, company, tier in stored:
        want = expected[cid]
        assert (name, phone, email, region, company) == (
            want["name"],
            want["phone"],
            want["email"],
            want["region"],
            want["company"],
        )
        assert birthday == (want["birthday"].isoformat() if want["birthday"] else None)
        assert tier  # every member has an analysis state
    names = [row[1] for row in stored]
    assert any(re.search(r"[\u4e00-\u9fff]", n) for n in names)
    assert any(re.fullmatch(r"[A-Za-z]+ [A-Za-z]+", n) for n in names)


def test_ctrl_c_stops_the_server_and_its_worker(demo: dict[str, Any]) -> None:
    process = demo["process"]
    os.killpg(process.pid, signal.SIGINT)
    assert process.wait(timeout=30) == 0
    with pytest.raises(ProcessLookupError):
        os.killpg(process.pid, 0)  # nobody is left in its process group
