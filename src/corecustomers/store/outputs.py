"""Where each analysis wrote its files: one small marker per run beside the workspace.

``analyze`` writes ``customers.parquet`` and ``summary.json`` into its ``--out`` folder,
which the workspace does not know. So that the service can load every analysis run on its
workspace -- including one started from the command line while the service runs -- the
run leaves a marker ``.corecustomers/runs/<run_id>.json`` beside the workspace file once
its output folder is complete::

    {"run_id": "3f2a…", "folder": "/abs/path/results", "as_of": "2024-12-31",
     "source_name": "sales", "written_at": "2025-01-02T09:30:00+00:00"}

A marker is written last and atomically (a temporary file renamed into place), so a
marker always points at a finished folder; reading markers needs no lock on the workspace
(the DuckDB file that one process at a time may open). A workspace reached by URL keeps its
markers in ``.corecustomers/runs`` of the current folder, where the service keeps its own
files; an in-memory workspace (``duckdb://``) keeps none.

Examples
--------
>>> import tempfile, pathlib
>>> with tempfile.TemporaryDirectory() as project:
...     _ = record_output(project, run_id="r1", folder=pathlib.Path(project) / "out",
...                       as_of="2024-12-31", source_name="sales")
...     [(o.run_id, o.folder.name, o.as_of) for o in recorded_outputs(project)]
[('r1', 'out', datetime.date(2024, 12, 31))]
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from corecustomers.store.snapshots import DEFAULT_DIRECTORY, Workspace

__all__ = ["RUNS_DIRECTORY", "RunOutput", "record_output", "recorded_outputs", "runs_directory"]

log = logging.getLogger(__name__)

#: The folder of run markers, beside the workspace file.
RUNS_DIRECTORY: Final = "runs"
_SAFE_ID: Final = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class RunOutput:
    """A finished analysis run and the folder holding its files."""

    run_id: str
    folder: Path
    as_of: dt.date | None
    source_name: str
    written_at: str


def runs_directory(location: str | os.PathLike[str]) -> Path | None:
    """The marker folder of the workspace at ``location``; ``None`` for an in-memory one.

    Examples
    --------
    >>> runs_directory("shop").as_posix().endswith("shop/.corecustomers/runs")
    True
    >>> runs_directory("duckdb://") is None
    True
    """
    text = os.fspath(location)
    if "://" in text:
        if text.rstrip("/") in {"duckdb:", "duckdb:/"} or text.endswith(":memory:"):
            return None
        return (Path(DEFAULT_DIRECTORY) / RUNS_DIRECTORY).resolve()
    return (Workspace.default_path(text).parent / RUNS_DIRECTORY).resolve()


def record_output(
    location: str | os.PathLike[str],
    *,
    run_id: str,
    folder: Path,
    as_of: str | dt.date | None,
    source_name: str = "",
) -> Path | None:
    """Leave the marker of run ``run_id`` (files in ``folder``); its path, or ``None``.

    A marker that cannot be written is logged, never raised: the analysis itself is done,
    and ``corecustomers import-analysis FOLDER`` loads it by hand.
    """
    directory = runs_directory(location)
    if directory is None or not _SAFE_ID.match(run_id):
        return None
    body = {
        "run_id": run_id,
        "folder": str(Path(folder).resolve()),
        "as_of": as_of.isoformat() if isinstance(as_of, dt.date) else as_of,
        "source_name": source_name,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    target = directory / f"{run_id}.json"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".marker-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(body, handle, ensure_ascii=False)
        os.replace(temporary, target)
    except OSError as exc:
        log.warning(
            "could not note where run %s wrote its files (%s); a running service will "
            "not load it by itself: run `corecustomers import-analysis %s`",
            run_id,
            exc,
            folder,
        )
        return None
    return target


def recorded_outputs(location: str | os.PathLike[str]) -> list[RunOutput]:
    """The runs that left a marker at the workspace ``location``, oldest first.

    Unreadable markers are skipped with a logged warning.
    """
    directory = runs_directory(location)
    if directory is None or not directory.is_dir():
        return []
    found: list[RunOutput] = []
    for path in directory.glob("*.json"):
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
            as_of = body.get("as_of")
            found.append(
                RunOutput(
                    run_id=str(body["run_id"]),
                    folder=Path(body["folder"]),
                    as_of=dt.date.fromisoformat(as_of) if as_of else None,
                    source_name=str(body.get("source_name") or ""),
                    written_at=str(body.get("written_at") or ""),
                )
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("skipping the unreadable run marker %s: %s", path, exc)
    return sorted(found, key=lambda o: (o.written_at, o.run_id))
