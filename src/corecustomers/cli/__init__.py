"""The ``corecustomers`` command line."""

from __future__ import annotations

from corecustomers.cli.app import app, main

__all__ = ["app", "main"]
