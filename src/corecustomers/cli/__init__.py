"""The ``corecustomers`` command line."""

from __future__ import annotations

from corecustomers.cli import masterdata as _masterdata  # noqa: F401  (import-customers)
from corecustomers.cli import privacy as _privacy  # noqa: F401  (privacy export|erase)
from corecustomers.cli import service as _service  # noqa: F401  (registers the service's commands)
from corecustomers.cli import sources as _sources  # noqa: F401  (source add|list|remove, run)
from corecustomers.cli.app import app, main

__all__ = ["app", "main"]
