"""The worker's watch of the workspace's run markers: which runs it queues for import."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

from corecustomers.store.outputs import record_output
from corecustomers.web.customers.analysis_import import import_analysis
from corecustomers.web.customers.models import Analysis
from corecustomers.web.customers.watch import queue_new_runs
from corecustomers.web.jobs.models import Job
from corecustomers.web.jobs.runner import run_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def markers() -> Iterator[list[Path]]:
    """Remove the markers a test leaves in the session's workspace."""
    made: list[Path] = []
    yield made
    for path in made:
        path.unlink(missing_ok=True)


def _copy(analysis: Path, target: Path, run_id: str) -> Path:
    """A copy of ``analysis`` whose summary names ``run_id`` (another run's folder)."""
    shutil.copytree(analysis, target)
    summary = json.loads((target / "summary.json").read_text(encoding="utf-8"))
    summary["run_id"] = run_id
    (target / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return target


def _mark(folder: Path, run_id: str, made: list[Path]) -> None:
    marker = record_output(settings.WORKSPACE, run_id=run_id, folder=folder, as_of="2000-01-01")
    assert marker is not None
    made.append(marker)


def test_queues_each_new_run_once_and_leaves_the_rest(
    cdnow_analysis: Path, tmp_path: Path, markers: list[Path]
) -> None:
    summary = json.loads((cdnow_analysis / "summary.json").read_text(encoding="utf-8"))
    import_analysis(cdnow_analysis)
    _mark(cdnow_analysis, summary["run_id"], markers)  # imported already
    new = _copy(cdnow_analysis, tmp_path / "new", "newrun000001")
    _mark(new, "newrun000001", markers)
    gone = tmp_path / "gone"
    _mark(gone, "gonerun00001", markers)  # its folder was removed
    own = _copy(cdnow_analysis, Path(settings.SERVICE_FOLDER) / "analyses" / "x", "ownrun000001")
    try:
        _mark(own, "ownrun000001", markers)  # the service's own run: its job imports it

        (job,) = queue_new_runs()
        assert job.params == {"folder": str(new.resolve()), "run_id": "newrun000001"}
        assert job.channel == "cli"
        assert queue_new_runs() == []  # queued already
        run_job(str(job.pk))
        job.refresh_from_db()
        assert job.status == "succeeded", job.error
        assert set(Analysis.objects.values_list("run_id", flat=True)) == {
            summary["run_id"],
            "newrun000001",
        }
        assert queue_new_runs() == []
        assert Job.objects.filter(kind="import_analysis").count() == 1
    finally:
        shutil.rmtree(own)
