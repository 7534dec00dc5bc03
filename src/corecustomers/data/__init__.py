"""Transactions in: connections, readers, column mapping, validation, per-customer features.

Everything here is Ibis expressions until :func:`materialize`, the one place where the
per-customer summary (a few numbers per customer) comes into Python as Arrow.
"""

from __future__ import annotations

from corecustomers.data.connect import connect, connect_engine
from corecustomers.data.features import customer_features, materialize
from corecustomers.data.mapping import ColumnMapping, map_columns
from corecustomers.data.quarantine import write_quarantine
from corecustomers.data.readers import RawSource, read_source
from corecustomers.data.validation import count_rows, validate

__all__ = [
    "ColumnMapping",
    "RawSource",
    "connect",
    "connect_engine",
    "count_rows",
    "customer_features",
    "map_columns",
    "materialize",
    "read_source",
    "validate",
    "write_quarantine",
]
