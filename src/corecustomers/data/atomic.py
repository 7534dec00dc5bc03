"""Replace a file whole or not at all: written beside it, then renamed into place.

The one way the project's writers of shared files (the interactions and survey exports,
the suppression list, the erasure's cleaned copies and journals, the demo's people file
and CSV, the quarantine file, the HTML report, the simulator's Parquet, the file outbox)
replace a file that readers may open at any moment:

1. with ``serial=True``, wait for an exclusive lock on the file's folder (``flock``),
   held until the new file is in place, so that writers follow one another (the last to
   take the lock writes last: an export that reads its source when it runs leaves the
   newest one); the lock goes with the process, so a killed writer does not hold it;
2. remove the temporary files that earlier writers killed mid-way left beside the target
   (:func:`remove_leftovers`: a temporary file is locked by its writer from its creation
   to its rename, so one nobody holds is a dead writer's);
3. create the temporary file (``prefix…suffix``, readable by the owner only unless a
   ``mode`` is given) and lock it; the caller writes it through the path it is given;
4. on a clean exit: set the mode, ``fsync`` the file, rename it onto the target
   (``os.replace``: a reader sees the old file or the new one, never half of one) and
   ``fsync`` the folder; on an error: remove the temporary file and re-raise.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> with tempfile.TemporaryDirectory() as folder:
...     target = Path(folder) / "list.json"
...     _ = (Path(folder) / ".list-k1ll3d.tmp").write_text("{")  # a killed writer's
...     with replacing(target, prefix=".list-") as temporary:
...         _ = temporary.write_text('{"ok": true}')
...     sorted(p.name for p in Path(folder).iterdir()), oct(target.stat().st_mode & 0o777)
(['list.json'], '0o600')
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

__all__ = ["remove_leftovers", "replacing"]


def remove_leftovers(folder: Path, prefix: str, suffix: str = ".tmp") -> list[Path]:
    """Remove the temporary files ``prefix*suffix`` in ``folder`` that no writer holds.

    A writer of :func:`replacing` holds a lock on its temporary file until it is renamed,
    so a file whose lock can be taken at once was left by a writer killed mid-way (it may
    hold customer data: it must not stay). A file being written is left alone. Returns
    the files removed.
    """
    removed: list[Path] = []
    for stale in folder.glob(f"{prefix}*{suffix}"):
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to open
            fd = os.open(stale, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                stale.unlink()
                removed.append(stale)
            finally:
                os.close(fd)
    return removed


@contextlib.contextmanager
def replacing(
    target: Path,
    *,
    prefix: str,
    suffix: str = ".tmp",
    mode: int = 0o600,
    serial: bool = False,
) -> Iterator[Path]:
    """A temporary path beside ``target`` to write; renamed onto ``target`` on a clean exit.

    Parameters
    ----------
    target
        The file to replace; its folder must exist.
    prefix, suffix
        The temporary file's name is ``prefix`` + random + ``suffix``; the prefix names
        the writer, so that its killed predecessors' files are found and removed.
    mode
        The new file's permission bits (default: the owner's only, for files holding
        customer data).
    serial
        Wait for the other writers of the folder that ask for it too (see the module).
    """
    folder_fd = os.open(target.parent, os.O_RDONLY)
    try:
        if serial:
            fcntl.flock(folder_fd, fcntl.LOCK_EX)
        remove_leftovers(target.parent, prefix, suffix)
        fd, name = _locked_temporary(target.parent, prefix, suffix)
        temporary = Path(name)
        try:
            yield temporary
            os.chmod(temporary, mode)
            _fsync(temporary)
            os.replace(temporary, target)
            os.fsync(folder_fd)  # the rename itself
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        finally:
            os.close(fd)
    finally:
        os.close(folder_fd)  # releases the folder lock


def _fsync(path: Path) -> None:
    """Flush ``path``'s data to disk (opened anew: the caller wrote it through its path)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _locked_temporary(folder: Path, prefix: str, suffix: str) -> tuple[int, str]:
    """A new temporary file, locked; its descriptor and name.

    Between its creation and the lock another writer's :func:`remove_leftovers` may take
    it for a dead writer's and remove it: then the name no longer leads to the file
    locked, and another one is made.
    """
    while True:
        fd, name = tempfile.mkstemp(dir=folder, prefix=prefix, suffix=suffix)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.stat(name).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd, name
        os.close(fd)
