"""Open a workspace's DuckDB file, waiting while another process holds it.

DuckDB lets one process at a time open a file for writing. The service's worker and the
command line (``analyze``, ``override``) share a workspace, each holding it only briefly;
whoever finds it taken waits with exponential backoff (0.2 s doubling to 5 s) instead of
failing at once, and gives up with a message that says what to do after
``CORECUSTOMERS_WORKSPACE_WAIT`` seconds (default 300).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from ibis.backends import BaseBackend

from corecustomers.errors import SourceError

__all__ = ["WAIT_VARIABLE", "is_lock_conflict", "open_duckdb", "wait_seconds"]

log = logging.getLogger("corecustomers.store")

#: The environment variable that bounds the wait, in seconds.
WAIT_VARIABLE: Final = "CORECUSTOMERS_WORKSPACE_WAIT"
_DEFAULT_WAIT: Final = 300.0
_FIRST_DELAY: Final = 0.2
_MAX_DELAY: Final = 5.0


def wait_seconds() -> float:
    """How long to wait for a busy workspace (``CORECUSTOMERS_WORKSPACE_WAIT``, seconds)."""
    text = os.environ.get(WAIT_VARIABLE, "").strip()
    if not text:
        return _DEFAULT_WAIT
    try:
        return max(0.0, float(text))
    except ValueError:
        log.warning("%s=%r is not a number of seconds; waiting %s s", WAIT_VARIABLE, text, 300)
        return _DEFAULT_WAIT


def is_lock_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` says that another process holds the DuckDB file.

    Examples
    --------
    >>> is_lock_conflict(OSError('IO Error: Could not set lock on file "w.duckdb": '
    ...                          'Conflicting lock is held in python (PID 42)'))
    True
    >>> is_lock_conflict(OSError("IO Error: Permission denied"))
    False
    """
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set lock" in text)


def open_duckdb(
    path: Path,
    *,
    wait: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> BaseBackend:
    """Connect to the DuckDB file ``path``; wait with backoff while it is locked.

    Parameters
    ----------
    path
        The workspace file.
    wait
        Seconds to keep trying (default: :func:`wait_seconds`).
    sleep, clock
        Injection points for tests.

    Raises
    ------
    SourceError
        The file cannot be opened, or it stayed locked for ``wait`` seconds.
    """
    import ibis

    limit = wait_seconds() if wait is None else wait
    started = clock()
    delay = _FIRST_DELAY
    warned = False
    while True:
        try:
            return ibis.duckdb.connect(str(path))
        except Exception as exc:  # duckdb.IOException when another process holds the lock
            waited = clock() - started
            if not is_lock_conflict(exc):
                raise SourceError(f"cannot open the workspace {path}: {exc}") from exc
            if waited >= limit:
                raise SourceError(
                    f"the workspace {path} stayed in use by another process for "
                    f"{waited:.0f} s ({exc}). Wait for the other corecustomers command or "
                    f"the service's worker to finish, or set {WAIT_VARIABLE} to wait longer."
                ) from exc
            if not warned:
                log.warning(
                    "the workspace %s is in use by another process; waiting up to %.0f s",
                    path,
                    limit,
                )
                warned = True
            pause = min(delay, max(limit - waited, 0.0))
            sleep(pause)
            delay = min(delay * 2, _MAX_DELAY)
