"""What this process may use of the machine: its CPUs.

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

__all__ = ["cpus"]


def cpus() -> int:
    """The CPUs this process may run on (its affinity, where the system has one; else
    the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
