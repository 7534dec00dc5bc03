"""The workspace database: snapshots over time, the runs that wrote them, manual overrides.

* :class:`Workspace` -- open with ``Workspace.open(".")`` (DuckDB file
  ``.corecustomers/workspace.duckdb``, created on first use) or
  ``Workspace.open("postgresql://user@host/db")``; ``write_snapshot``, ``read_snapshot``,
  ``snapshot_dates``, ``latest_before``, ``runs``, ``add_override``, ``overrides``,
  ``remove_override``.

Tables (names fixed; columns in this order):

``snapshots``
    ``as_of DATE NOT NULL, customer_id VARCHAR NOT NULL, tier VARCHAR NOT NULL,
    previous_tier VARCHAR, tier_since DATE, tier_reasons VARCHAR (JSON), core_score DOUBLE,
    clv DOUBLE, p_alive DOUBLE, total_spend DOUBLE, frequency BIGINT,
    days_since_last_purchase BIGINT, r_score BIGINT, f_score BIGINT, m_score BIGINT,
    rfm_segment VARCHAR, abc_class VARCHAR, alert BOOLEAN, alert_reason VARCHAR,
    policy_version VARCHAR NOT NULL, run_id VARCHAR NOT NULL, extra VARCHAR (JSON)`` --
    the snapshot row of ``docs/CONTRACTS.md`` plus ``extra``: one JSON object per row with
    every further column the writer passed (nulls left out). Unique on
    ``(as_of, customer_id)``.
``runs``
    ``run_id VARCHAR NOT NULL, as_of DATE NOT NULL, source VARCHAR, created_at TIMESTAMP
    NOT NULL (UTC), policy_version VARCHAR NOT NULL, settings VARCHAR NOT NULL (JSON),
    n_customers BIGINT NOT NULL, counts VARCHAR NOT NULL (JSON: {"tiers": {tier: n},
    "alerts": n}), extra_schema VARCHAR`` (the Arrow schema of the extra columns, base64).
    One row per ``(run_id, as_of)``; rows of replaced snapshots stay as an audit trail.
``overrides``
    ``customer_id VARCHAR NOT NULL, tier VARCHAR NOT NULL, by VARCHAR NOT NULL, reason
    VARCHAR NOT NULL, until DATE (inclusive; null = no end), created_at TIMESTAMP NOT NULL
    (UTC)``. At most one per customer.

Every snapshot, run and override belongs to a source name (``source_name`` columns; see
:mod:`corecustomers.store.sources`), so one workspace keeps one history per source.

Errors: :class:`WorkspaceError` (a workspace table has other columns) and its subclass
:class:`SnapshotNotFoundError`; bad tables raise :class:`~corecustomers.errors.InputError`,
unreachable databases :class:`~corecustomers.errors.SourceError`.
"""

from __future__ import annotations

from corecustomers.store._locking import open_duckdb
from corecustomers.store._schema import (
    OVERRIDES_SCHEMA,
    RUNS_SCHEMA,
    SNAPSHOT_COLUMNS,
    SNAPSHOT_SCHEMA,
)
from corecustomers.store.snapshots import (
    DEFAULT_DIRECTORY,
    DEFAULT_FILE,
    SnapshotNotFoundError,
    Workspace,
    WorkspaceError,
)
from corecustomers.store.sources import DEFAULT_SOURCE, default_source_name

__all__ = [
    "DEFAULT_DIRECTORY",
    "DEFAULT_FILE",
    "DEFAULT_SOURCE",
    "OVERRIDES_SCHEMA",
    "RUNS_SCHEMA",
    "SNAPSHOT_COLUMNS",
    "SNAPSHOT_SCHEMA",
    "SnapshotNotFoundError",
    "Workspace",
    "WorkspaceError",
    "default_source_name",
    "open_duckdb",
]
