"""An erasure interrupted after its database transaction commits and before its cleaning
is done (the process killed: here a ``BaseException`` raised where the cleaning starts,
which no handler catches, as a SIGKILL would not be) is finished on restart, exactly once:
by a new request for the same id (not answered "already erased"), or by the next worker.
Only then is the record complete, and a byte search of the database and of the stored
files finds nothing. The fault suite (``tests/web/faults``, kind ``erase``) kills the real
command at random moments; this kills it at the one moment that used to lose the cleaning.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from tests.web.privacy.privacy_helpers import (
    EMAIL,
    ERASED_ID,
    NAME,
    Caller,
    found,
    plant,
    stored_bytes,
)


class Killed(BaseException):
    """The process dies here (nothing after this point runs)."""


def _files_bytes(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


@pytest.fixture
def shop(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace of the test's own, and a lease short enough to wait out."""
    shop = tmp_path / "shop"
    folder = shop / ".corecustomers"
    folder.mkdir(parents=True)
    settings.WORKSPACE = str(shop)
    settings.SERVICE_FOLDER = folder
    settings.UPLOAD_FOLDER = folder / "uploads"
    monkeypatch.setenv("CORECUSTOMERS_JOB_LEASE", "0.2")
    return folder


def _kill_after_the_commit(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Phase 1's file cleaning runs; an export naming the customer is written right after
    it (before the commit: the cleaning after the commit must find it); the process dies
    when the cleaning after the commit starts."""
    from corecustomers.web.privacy import erase, finish

    real = erase.scrub_files

    def before_commit(*args: Any, **kwargs: Any) -> dict[str, str]:
        done = real(*args, **kwargs)
        (folder / "exports").mkdir(exist_ok=True)
        (folder / "exports" / "late.json").write_text(
            json.dumps({"customer": ERASED_ID, "name": NAME, "to": EMAIL}), encoding="utf-8"
        )
        return done

    def after_commit(*args: Any, **kwargs: Any) -> dict[str, str]:
        raise Killed

    monkeypatch.setattr(erase, "scrub_files", before_commit)
    monkeypatch.setattr(finish, "scrub_files", after_commit)


def _interrupted(people: Any, monkeypatch: pytest.MonkeyPatch, folder: Path) -> Any:
    from corecustomers.web.customers.models import Customer
    from corecustomers.web.jobs.models import Job
    from corecustomers.web.privacy.erase import erase_customer
    from corecustomers.web.privacy.finish import FINISH_JOB, STAGES
    from corecustomers.web.privacy.journal import Journal
    from corecustomers.web.privacy.models import Fulfilment

    planted = plant(people)
    with monkeypatch.context() as patch:
        _kill_after_the_commit(patch, folder)
        with pytest.raises(Killed):
            erase_customer(ERASED_ID, people.admin, channel="api")
    # committed: the person is gone from the rows; the record says what is left to clean
    assert not Customer.objects.filter(external_id=ERASED_ID).exists()
    done = Fulfilment.objects.get(kind="erase")
    assert done.pending == list(STAGES) and done.completed is None
    assert "files" not in done.details
    assert Job.objects.get(kind=FINISH_JOB).status == "running"  # its process died
    # the export written meanwhile still names the customer; the journal keeps the
    # identifiers the stages after the commit need
    assert found(_files_bytes(folder / "exports"))
    assert Journal.path_for(planted.customer.pk).is_file()
    time.sleep(0.3)  # the lease of the dead process's job runs out
    return planted


def _finished(folder: Path, customer_key: int) -> Any:
    from corecustomers.web.jobs.models import Job
    from corecustomers.web.privacy.finish import FINISH_JOB
    from corecustomers.web.privacy.journal import Journal
    from corecustomers.web.privacy.models import Fulfilment

    done = Fulfilment.objects.get(kind="erase")  # one record
    assert done.pending == [] and done.completed is not None
    assert done.details["files"].get("complete", True), done.details["files"]
    assert done.details["stored_files"]["exports/late.json"] == "rewritten"
    job = Job.objects.get(kind=FINISH_JOB)  # one job, done on its second attempt
    assert (job.status, job.attempts) == ("succeeded", 2)
    assert not Journal.path_for(customer_key).exists()
    assert found(_files_bytes(folder)) == {}
    assert found(stored_bytes()) == {}
    return done


@pytest.mark.django_db(transaction=True)
def test_a_new_request_finishes_an_erasure_killed_after_its_commit(
    people: Any, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corecustomers.web.jobs import runner

    planted = _interrupted(people, monkeypatch, shop)
    # the request runs the job here, with the short lease the dead job's had to run out:
    # its heartbeat thread would beat every 0.05 s, and those writes to the tests'
    # shared-cache in-memory database locked the erasure's own record update ("database
    # table is locked", a fresh-clone CI run of session 12). The takeover is judged on
    # the short lease; the beats come as rarely as a production lease makes them.
    beat = runner._beat
    monkeypatch.setattr(runner, "_beat", lambda pk, stop, every: beat(pk, stop, max(every, 2.0)))
    answer = Caller(people.admin).post(f"/customers/{ERASED_ID}/erase")
    assert answer.status_code == 200, answer.content  # not "already erased"
    assert answer.json()["details"]["stored_files"]["exports/late.json"] == "rewritten"
    done = _finished(shop, planted.customer.pk)
    assert answer.json()["id"] == done.pk
    # complete now: the same request again is answered as before, the id is gone
    assert Caller(people.admin).post(f"/customers/{ERASED_ID}/erase").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_the_next_worker_finishes_an_erasure_killed_after_its_commit(
    people: Any, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from corecustomers.web.jobs.runner import lease, recover_stale_jobs, run_job

    planted = _interrupted(people, monkeypatch, shop)
    # what a starting worker does: the dead process's job is queued again, then run
    again = recover_stale_jobs(lease=lease())
    assert len(again) == 1
    # the short lease was for the dead job's to run out; the job now runs here, and its
    # heartbeat thread beats every quarter lease: at 0.05 s its writes to the tests'
    # shared-cache in-memory database held the erasure's VACUUM off for its 5 s of tries
    # on a busy machine (two fresh-clone CI runs of session 9). A production-like lease.
    monkeypatch.setenv("CORECUSTOMERS_JOB_LEASE", "8")
    run_job(again[0])
    _finished(shop, planted.customer.pk)
    run_job(again[0])  # its queue entry run once more: nothing happens twice
    _finished(shop, planted.customer.pk)


@pytest.mark.django_db(transaction=True)
def test_a_database_cleaning_that_fails_leaves_the_erasure_pending(
    people: Any, shop: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Complete only when everything is cleaned: a failed stage stays pending, the record
    says why, and a new request finishes it."""
    from django.db import DatabaseError

    from corecustomers.web.privacy import erase
    from corecustomers.web.privacy.erase import erase_customer

    plant(people)
    real = erase.clean_database_files

    def failing(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise DatabaseError("database is locked")

    monkeypatch.setattr(erase, "clean_database_files", failing)
    done = erase_customer(ERASED_ID, people.admin)
    assert done.pending == ["database_files"] and done.completed is None
    assert done.details["files"] == {
        "error": "DatabaseError: database is locked",
        "complete": False,
    }
    monkeypatch.setattr(erase, "clean_database_files", real)
    done = erase_customer(ERASED_ID, people.admin)
    assert done.pending == [] and done.completed is not None
    assert done.details["files"].get("complete", True)
    assert found(stored_bytes()) == {}
