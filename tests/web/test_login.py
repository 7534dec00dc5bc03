"""Login: argon2 hashes, a clear message on failure, throttling after repeated failures."""

from __future__ import annotations

import pytest
from django.test import Client

PASSWORD = "correct-horse-battery-9"  # the people fixture's password (conftest.py)

pytestmark = pytest.mark.django_db


def test_passwords_are_hashed_with_argon2(people) -> None:  # type: ignore[no-untyped-def]
    assert people.am1.password.startswith("argon2")


def test_login_works_and_a_wrong_password_says_so(people) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    bad = client.post("/login/", {"username": "am1", "password": "nope"})
    assert bad.status_code == 200
    assert b"correct username and password" in bad.content.lower() or b"error" in bad.content
    good = client.post("/login/", {"username": "am1", "password": PASSWORD})
    assert good.status_code == 302


def test_repeated_failures_lock_the_user_name_with_429_and_retry_after(people, settings) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post("/login/", {"username": "am2", "password": "x"}).status_code == 200
    locked = client.post("/login/", {"username": "am2", "password": "x"})
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    assert b"Too many attempts" in locked.content
    # even the right password waits for the cool-off
    assert client.post("/login/", {"username": "am2", "password": PASSWORD}).status_code == 429
    # another user name from the same address is not locked
    assert client.post("/login/", {"username": "am1", "password": PASSWORD}).status_code == 302
