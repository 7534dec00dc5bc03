"""Memory the analysis has freed, given back to the system between its big steps.

Freed memory does not leave the process by itself: objects in reference cycles wait for
Python's cycle collector, Arrow's allocator caches the pages it freed for reuse, and
glibc's ``malloc`` keeps what a thread freed in that thread's arena (NumPy's large arrays
come from there once glibc has raised its mmap threshold). After the steps side by side,
on 10M rows, the arenas alone held about 550 MB that the run's end would otherwise add
its million-row tables to (see :func:`give_back_memory`).
"""

from __future__ import annotations

import ctypes
import functools
import gc
import sys
from collections.abc import Callable
from typing import cast

import pyarrow as pa

__all__ = ["give_back_memory"]


def give_back_memory() -> None:
    """Collect reference cycles and return the freed memory of Arrow's pool and of
    glibc's arenas to the system (``malloc_trim``; skipped where there is none).

    Nothing is freed that is still referenced; only the resident size shrinks, and
    later allocations fault their pages in again.

    >>> give_back_memory()
    """
    gc.collect()
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None (another C library or system)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # musl, for one, has no malloc_trim
        return None
    function.argtypes = [ctypes.c_size_t]
    function.restype = ctypes.c_int
    return cast(Callable[[int], int], function)
