"""What this process may use of the machine: its CPUs and memory.

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

__all__ = ["cpus", "memory_bytes"]


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
