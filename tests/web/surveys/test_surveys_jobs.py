"""The surveys' jobs run again after a killed worker: the scores export is queued once."""

from __future__ import annotations

import pytest

from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import run_job, submit
from corecustomers.web.surveys.jobs import CHECK_JOB, EXPORT_JOB

pytestmark = pytest.mark.django_db


def test_a_check_run_again_after_a_kill_does_not_queue_a_second_export() -> None:
    check, _ = submit(CHECK_JOB, {}, channel="system")
    run_job(str(check.pk))
    (export,) = Job.objects.filter(kind=EXPORT_JOB)
    run_job(str(export.pk))  # the restarted worker ran the queued export first ...
    # ... then the check whose worker was killed after it queued the export (set back to
    # queued as recover_stale_jobs does) runs again
    Job.objects.filter(pk=check.pk).update(status="queued", heartbeat=None)
    run_job(str(check.pk))
    assert Job.objects.get(pk=check.pk).status == "succeeded"
    assert list(Job.objects.filter(kind=EXPORT_JOB).values_list("status", flat=True)) == [
        "succeeded"
    ]


def test_each_check_queues_its_export_unless_one_is_waiting() -> None:
    first, _ = submit(CHECK_JOB, {}, channel="system")
    run_job(str(first.pk))
    second, _ = submit(CHECK_JOB, {}, channel="system")
    run_job(str(second.pk))  # the first check's export still waits: no second one
    assert Job.objects.filter(kind=EXPORT_JOB).count() == 1
    run_job(str(Job.objects.get(kind=EXPORT_JOB).pk))
    third, _ = submit(CHECK_JOB, {}, channel="system")
    run_job(str(third.pk))  # new answers after the export: a new export
    assert Job.objects.filter(kind=EXPORT_JOB).count() == 2
