"""What this process may use of the machine: its CPUs, its memory, and the thread limits
of the libraries that bring their own thread pools (OpenBLAS, OpenMP).

Like :mod:`corecustomers.units`, this module sits at the bottom, outside the layers of
``[tool.importlinter]``: it imports nothing from the package, so the insights (how many
threads score the trees) and the service (whether the churn risk gets a thread of its
own, how many processes a history starts) ask the same question the same way.

Examples
--------
>>> cpus() >= 1
True
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import AbstractContextManager
from typing import Any, Literal

__all__ = ["cpus", "memory_bytes", "thread_limit"]


def cpus() -> int:
    """The CPUs this process may run on (its affinity, where the system has one; else
    the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def memory_bytes() -> int:
    """The machine's physical memory in bytes (where the system says; else 4 GiB).

    >>> memory_bytes() > 0
    True
    """
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # no sysconf, or not these names
        return 4 << 30


_controller: tuple[int, Any] | None = None
_controller_lock = threading.Lock()


def thread_limit(limits: int, user_api: Literal["blas", "openmp"]) -> AbstractContextManager[Any]:
    """``threadpoolctl.threadpool_limits(limits, user_api)``, without finding the loaded
    libraries again on every call.

    ``threadpool_limits`` walks the process' shared libraries each time (4-10 ms); a
    history's fits ask for their limits about a thousand times (4.8 CPU-s of a monthly
    history of 20,000 customers). The controller made by that walk is kept and made
    again only once a module was imported since: a thread-pool library (OpenBLAS,
    OpenMP) is loaded by an import (NumPy, SciPy, scikit-learn), so a kept controller
    knows every library a new walk would find.
    """
    from threadpoolctl import ThreadpoolController

    global _controller
    with _controller_lock:
        modules = len(sys.modules)
        if _controller is None or _controller[0] != modules:
            _controller = (modules, ThreadpoolController())
        controller = _controller[1]
    return controller.limit(limits=limits, user_api=user_api)
