"""Issue 13's outbox acceptance: a worker killed (SIGKILL) after the SMTP server accepted a
message and before the outbox recorded it.

What holds (the README states it): on restart the message is **sent again with the same
Message-ID and reported as a possible duplicate** -- SMTP cannot be asked whether it already
has a message, so the outbox cannot know; a mail client or gateway that removes duplicates
by Message-ID shows the customer one. (The file adapter can tell, and does not send twice:
``test_contact_outbox.py``.)

Real parts: real worker processes (the first plans the message and runs the worker loop,
the second is ``corecustomers worker``), a real SMTP server (aiosmtpd) in this
test, and the service database on a file (SQLite) or its own PostgreSQL database. The kill
lands exactly in the window: when the SMTP server receives the message it takes a lock on
the outbox (SQLite: the write lock; PostgreSQL: the message's row) before it answers
``250``, so the worker's "sent" update waits on it -- and the test kills the worker there.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from contact_helpers import Inbox, free_port
from tests.web.worker_processes import Workers

PG_BASE = os.environ.get("CORECUSTOMERS_TEST_DB", "")
PG_NAME = "cc_contact_crash"

PREPARE = textwrap.dedent(
    """
    import sys
    from corecustomers.cli.service import open_service
    open_service(sys.argv[1], sys.argv[2])
    from corecustomers.web.contact.consent import ConsentChange, record_consents
    from corecustomers.web.contact.models import OutboxMessage
    from corecustomers.web.contact.outbox import plan_messages
    from corecustomers.web.customers.models import Customer
    c = Customer.objects.create(external_id="B1", pseudonym="b1", name="Wang Fang",
                                email="wang@example.com", phone="13800000000")
    record_consents(c, [ConsentChange("care", "email", "granted", source="test")])
    plan_messages([c], purpose="care", channels=["email"], template="birthday",
                  occasion="birthday")
    (m,) = OutboxMessage.objects.all()
    print(m.pk, m.status, flush=True)
    from corecustomers.web.jobs.worker import run_worker
    run_worker()  # this process is the first worker: it delivers the planned message
    """
)


class _Database:
    """The service database the processes share, and a way to lock the outbox from here."""

    def __init__(self, tmp_path: Path) -> None:
        self.postgres = PG_BASE.startswith("postgresql")
        if self.postgres:
            import psycopg

            admin = PG_BASE.rsplit("/", 1)[0] + "/postgres"
            with psycopg.connect(admin, autocommit=True) as con:
                con.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
                con.execute(f"CREATE DATABASE {PG_NAME}")
            self.url = PG_BASE.rsplit("/", 1)[0] + "/" + PG_NAME
        else:
            self.url = f"sqlite:///{tmp_path / 'service.sqlite3'}"
        self.lock: Any = None

    def connect(self) -> Any:
        if self.postgres:
            import psycopg

            return psycopg.connect(self.url)
        path = self.url.removeprefix("sqlite:///")
        return sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)

    def take_lock(self, message_pk: int) -> None:
        self.lock = self.connect()
        if self.postgres:
            self.lock.execute(
                "SELECT id FROM contact_outboxmessage WHERE id = %s FOR UPDATE", (message_pk,)
            )
        else:
            self.lock.execute("BEGIN IMMEDIATE")

    def release(self) -> None:
        if self.lock is not None:
            self.lock.rollback() if self.postgres else self.lock.execute("ROLLBACK")
            self.lock.close()
            self.lock = None

    def row(self, message_pk: int) -> tuple[Any, ...]:
        con = self.connect()
        try:
            sql = (
                "SELECT status, attempts, possible_duplicate FROM contact_outboxmessage "
                f"WHERE id = {int(message_pk)}"
            )
            row = con.execute(sql).fetchone()
            return (row[0], row[1], bool(row[2]))
        finally:
            con.close()

    def drop(self) -> None:
        if self.postgres:
            import psycopg

            admin = PG_BASE.rsplit("/", 1)[0] + "/postgres"
            with psycopg.connect(admin, autocommit=True) as con:
                con.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _wait(condition: Any, seconds: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {seconds} s:\n{log.read_text()}")
        time.sleep(0.05)


def test_a_worker_killed_after_smtp_accepted_resends_with_the_same_message_id(
    tmp_path: Path, smtp: tuple[Inbox, int], workers: Workers
) -> None:
    inbox, port = smtp
    db = _Database(tmp_path)
    workspace = tmp_path / "shop"
    workspace.mkdir()
    env = {**os.environ, "CORECUSTOMERS_ENV": "development"}
    for name in ("CORECUSTOMERS_DB", "CORECUSTOMERS_WORKSPACE", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    env.update(
        CORECUSTOMERS_SMTP_HOST="127.0.0.1",
        CORECUSTOMERS_SMTP_PORT=str(port),
        CORECUSTOMERS_EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        CORECUSTOMERS_OUTBOX_LEASE="1",
        CORECUSTOMERS_SCHEDULE_SECONDS="0",
        CORECUSTOMERS_WATCH_SECONDS="3600",
    )
    log = workers.log  # the first process (its own loop) and the worker write to it
    first = None
    try:
        locked = threading.Event()
        holder: dict[str, int] = {}

        def hold_the_outbox() -> None:  # in the SMTP server, before it answers 250
            if not locked.is_set():
                db.take_lock(holder["pk"])
                locked.set()

        inbox.on_data = hold_the_outbox
        with log.open("ab") as handle:
            first = subprocess.Popen(
                [sys.executable, "-c", PREPARE, str(workspace), db.url],
                env=env,
                stdout=subprocess.PIPE,
                stderr=handle,
                cwd=tmp_path,
                text=True,
            )
        assert first.stdout is not None
        pk_text, status = first.stdout.readline().split()
        holder["pk"] = pk = int(pk_text)
        assert status == "queued", log.read_text()
        _wait(lambda: len(inbox.messages) == 1 and locked.is_set(), 60, "the first delivery", log)
        time.sleep(0.5)  # the worker has its 250 and waits to record "sent"
        assert first.poll() is None, log.read_text()
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        db.release()
        assert db.row(pk) == ("sending", 1, False)  # accepted by SMTP, not recorded

        time.sleep(1.2)  # the killed job's heartbeat and the message's lease run out
        env["CORECUSTOMERS_JOB_LEASE"] = "1"
        workers.start(workspace, db.url, env, cwd=workspace.parent)
        _wait(lambda: db.row(pk)[0] == "sent", 60, "the delivery after the restart", log)
        assert db.row(pk) == ("sent", 2, True)  # reported as a possible duplicate
        assert len(inbox.messages) == 2
        (to1, one), (to2, two) = inbox.messages
        assert to1 == to2 == ["wang@example.com"]
        assert one["Message-ID"] == two["Message-ID"]
        assert one["Message-ID"].startswith("<") and "@" in one["Message-ID"]
        assert one["Subject"] == two["Subject"]
    finally:
        db.release()
        if first is not None and first.poll() is None:  # the worker: by the fixture
            first.kill()
            first.wait()
        db.drop()
