"""What a writer killed mid-way leaves in the workspace is removed by the next writer.

Found by the fault suite (kind ``export_survey_scores``, 1 run of 20 on 2026-12-05: the
killed run's workspace held a file the clean run's did not): the survey scores export
wrote a temporary file beside its target and renamed it into place; killed between the
two, the temporary file (customer ids and scores) stayed for ever. The interactions
export had the same fault, fixed the same way; both now write through
``corecustomers.data.atomic``, which every such writer shares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.mark.django_db
def test_the_scores_export_removes_a_killed_writers_temporary_file(
    tmp_path: Path, settings: Any
) -> None:
    from corecustomers.web.surveys.export import export_scores, scores_path

    settings.WORKSPACE = str(tmp_path)
    target = scores_path(str(tmp_path))
    assert target is not None
    target.parent.mkdir(parents=True)
    left = target.parent / ".survey-scores-k1ll3d.tmp"  # as a killed writer leaves it
    left.write_bytes(b"PAR1 half a file")
    done = export_scores()
    assert done["file"] == str(target) and target.is_file()
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_the_suppression_file_writer_removes_a_killed_writers_temporary_file(
    tmp_path: Path,
) -> None:
    """Found by the fault suite (kind ``erase``, 1 run of 20 on 2026-12-05, after the
    erasure's own fault was fixed): an erasure killed while it wrote the suppression file
    left ``.suppression-*.tmp`` beside it. A file another writer is still writing (locked)
    stays."""
    import fcntl
    import os

    from corecustomers.data.suppression import load_suppression, write_suppression

    folder = tmp_path / ".corecustomers"
    folder.mkdir()
    left = folder / ".suppression-k1ll3d.tmp"  # as a killed writer leaves it
    left.write_text("{", encoding="utf-8")
    busy = folder / ".suppression-busy.tmp"  # being written by a live writer
    busy.write_text("{", encoding="utf-8")
    fd = os.open(busy, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        path = write_suppression(str(tmp_path), ["ab" * 32], key="k" * 32)
        assert sorted(p.name for p in folder.iterdir()) == sorted([path.name, busy.name])
    finally:
        os.close(fd)
    listed = load_suppression(str(tmp_path), key="k" * 32)
    assert listed is not None and set(listed.hashes) == {"ab" * 32}
