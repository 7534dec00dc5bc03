"""Django for the service's tests: a temporary workspace, SQLite or (with
``CORECUSTOMERS_TEST_DB=postgresql://…``) PostgreSQL, and people and customers in every role.

Django is configured when this folder is collected, so the engine's tests never import it.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.web.worker_processes import Workers

ROOT = Path(__file__).resolve().parents[2]
CDNOW = ROOT / "tests" / "fixtures" / "CDNOW_sample.txt"


def pytest_configure(config: pytest.Config) -> None:
    workspace = tempfile.mkdtemp(prefix="cc-web-tests-")
    os.environ["CORECUSTOMERS_WORKSPACE"] = workspace
    # WhiteNoise warns (an error here) when STATIC_ROOT is missing; `serve` collects into it
    (Path(workspace) / ".corecustomers" / "static").mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("CORECUSTOMERS_ENV", "development")
    test_db = os.environ.get("CORECUSTOMERS_TEST_DB")
    if test_db:
        os.environ["CORECUSTOMERS_DB"] = test_db
    os.environ["DJANGO_SETTINGS_MODULE"] = "corecustomers.web.settings"
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    import django

    django.setup()


@dataclass
class People:
    """The users and teams every access test starts from.

    Team East (region "east", lead ``manager``) has ``am1``; team West (region "west", no
    manager) has ``am2``.
    """

    admin: Any
    manager: Any
    am1: Any
    am2: Any
    analyst: Any
    east: Any
    west: Any

    def by_role(self) -> dict[str, Any]:
        return {
            "admin": self.admin,
            "manager": self.manager,
            "am1": self.am1,
            "am2": self.am2,
            "analyst": self.analyst,
        }


PASSWORD = "correct-horse-battery-9"


@functools.cache
def _password_hash() -> str:
    from django.contrib.auth.hashers import make_password

    return make_password(PASSWORD)


@pytest.fixture
def people(db: None) -> People:
    from corecustomers.web.accounts.models import Team, User

    def user(name: str, role: str) -> Any:
        # One real argon2 hash of PASSWORD per session, shared by the fixture's users (a
        # hash carries its own salt, so it verifies for any of them): hashing costs about
        # 0.2 s each, which every test would otherwise pay five times.
        return User.objects.create(
            username=name, role=role, email=f"{name}@example.com", password=_password_hash()
        )

    admin = user("admin", "admin")
    manager = user("manager", "manager")
    am1 = user("am1", "account_manager")
    am2 = user("am2", "account_manager")
    analyst = user("analyst", "analyst")
    east = Team.objects.create(name="East", region="east", lead=manager)
    east.members.add(am1, manager)
    west = Team.objects.create(name="West", region="west")
    west.members.add(am2)
    return People(admin, manager, am1, am2, analyst, east, west)


@pytest.fixture(scope="session")
def cdnow_analysis(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ``analyze`` output folder of the CDNOW sample (run once per test session)."""
    from corecustomers.config import Settings
    from corecustomers.service import analyze

    base = tmp_path_factory.mktemp("cdnow")
    out = base / "analysis"
    settings = Settings(
        columns={"customer_id": "1", "timestamp": "3", "amount": "5"},
        workspace=str(base),
    )
    analyze(str(CDNOW), out, settings)
    return out


@pytest.fixture
def imported(db: None, cdnow_analysis: Path) -> Iterator[Path]:
    from corecustomers.web.customers.analysis_import import import_analysis

    import_analysis(cdnow_analysis)
    yield cdnow_analysis


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Each test starts with an empty cache (the filter form keeps regions for minutes)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


CHROMIUM = Path("/usr/bin/chromium")
#: Debian's Chromium, headless, without the background connections this closed network
#: refuses (see SERVICE-NOTES.md, browser tests).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (no browser download), closed after the test."""
    if not CHROMIUM.exists():
        pytest.fail("the browser tests need Debian's chromium: apt-get install chromium")
    from playwright import sync_api

    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """Start ``corecustomers worker`` processes (``workers.start(...)``); stopped at the end."""
    started = Workers(tmp_path / "worker.log")
    try:
        yield started
    finally:
        started.stop()
