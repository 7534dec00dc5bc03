"""Signals other apps listen to (so that ``customers`` never imports them)."""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["analysis_imported"]

#: Sent once an analysis import has committed; kwargs ``run_id`` and ``as_of``.
analysis_imported = Signal()
