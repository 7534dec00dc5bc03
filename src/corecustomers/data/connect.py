"""Connections to the engines that hold the transactions.

DuckDB is the embedded default; Spark (local mode when no cluster is configured) and any
database Ibis connects to (PostgreSQL, a DuckDB file, a warehouse) run the same
expressions.
"""

from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from corecustomers.errors import ConfigError, SourceError

__all__ = ["Engine", "connect", "connect_engine", "is_duckdb", "keep_rows", "redact_url"]

Engine = Literal["duckdb", "spark"]

log = logging.getLogger(__name__)


def connect_engine(
    engine: Engine = "duckdb",
    *,
    spark_master: str | None = None,
    memory_limit: str | None = None,
    temp_directory: str | None = None,
) -> BaseBackend:
    """Open the compute engine that runs the analysis.

    Parameters
    ----------
    engine
        ``"duckdb"`` (embedded, in memory) or ``"spark"`` (a local Spark session unless
        ``spark_master`` or ``SPARK_MASTER`` names a cluster).
    memory_limit, temp_directory
        DuckDB: its memory cap (e.g. ``"4GB"``; default 80 % of the machine's memory) and
        the folder it spills to past the cap (default ``.tmp`` in the working directory).
        Spark sizes its memory through its own configuration (``spark.driver.memory``
        and ``spark.executor.memory``), so they do not apply there.

    Examples
    --------
    >>> con = connect_engine("duckdb")
    >>> con.name
    'duckdb'
    """
    if engine == "duckdb":
        config = {"memory_limit": memory_limit, "temp_directory": temp_directory}
        try:
            return ibis.duckdb.connect(**{k: v for k, v in config.items() if v is not None})
        except Exception as exc:  # DuckDB refuses an amount or a folder it cannot use
            raise ConfigError(
                f"DuckDB cannot use memory_limit={memory_limit!r}, temp_directory="
                f"{temp_directory!r}: {str(exc).splitlines()[0]}; write the limit as e.g. "
                '"4GB" and give a folder that can be created'
            ) from exc
    if engine == "spark":
        return _spark(spark_master or os.environ.get("SPARK_MASTER") or "local[*]")
    raise ConfigError(f"unknown engine {engine!r}; use 'duckdb' or 'spark'")


def _spark(master: str) -> BaseBackend:
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError(
            "the Spark engine needs PySpark: pip install 'corecustomers[spark]' "
            "(and Java 17 on the PATH)"
        ) from exc
    session = (
        SparkSession.builder.master(master)
        .appName("corecustomers")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("SPARK_SHUFFLE_PARTITIONS", "8"))
        .getOrCreate()
    )
    return ibis.pyspark.connect(session)


def connect(url: str) -> BaseBackend:
    """Connect to any database Ibis knows, by URL.

    ``postgresql://user@host:5432/db``, ``duckdb:///path/file.db``, ``sqlite:///f.db`` …

    Raises
    ------
    SourceError
        When the driver for the URL's scheme is not installed (the message names the
        ``pip install`` that adds it), or the database cannot be reached.

    Examples
    --------
    >>> connect("duckdb://").name
    'duckdb'
    """
    try:
        return ibis.connect(url)
    except ImportError as exc:  # Ibis found the backend, not its driver
        raise SourceError(
            f"cannot connect to {redact_url(url)}: the driver for {_scheme(url)!r} URLs is not "
            f"installed; install it with: {_install_hint(url)}"
        ) from exc
    except Exception as exc:
        raise SourceError(
            f"cannot connect to {redact_url(url)}: {exc}. Check the URL "
            "(e.g. postgresql://user@host:5432/dbname or duckdb:///path/file.db) and that "
            "the server is running and accepts this user."
        ) from exc


#: URL schemes with an extra of this package, and the extra's name.
_EXTRAS = {"postgres": "postgres", "postgresql": "postgres", "pyspark": "spark"}


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].split("+", 1)[0].lower() if "://" in url else url


def _install_hint(url: str) -> str:
    """The ``pip install`` that brings the driver for ``url``'s scheme."""
    scheme = _scheme(url)
    if scheme in _EXTRAS:
        return f"pip install 'corecustomers[{_EXTRAS[scheme]}]'"
    return f"pip install 'ibis-framework[{scheme}]'"


def is_duckdb(con: BaseBackend) -> bool:
    """Whether ``con`` is an embedded DuckDB connection."""
    return bool(con.name == "duckdb")


def keep_rows(tx: ir.Table, folder: Path, *, name: str = "rows") -> ir.Table:
    """``tx`` computed once, for the many queries that read it afterwards.

    On DuckDB the rows are written to a Parquet file in ``folder`` (which must outlive
    the queries) and read from it, instead of a temporary table that DuckDB holds in
    memory for the whole run (10M rows: about 1.4 GB resident); each later query
    decodes the columns it reads (the file is ``{name}-<8 hex digits>.parquet``). Other
    engines cache the rows their own way.
    """
    con = tx.get_backend()
    if not is_duckdb(con):
        if con.name == "pyspark":
            # Ibis's PySpark backend caches by running the compiled SQL without first
            # registering the in-memory tables the expression reads (the customers of a
            # sample: corecustomers.insights.shifted), which then fails as "table or view
            # not found"; any execution registers them, and one of no rows costs nothing
            tx.limit(0).to_pyarrow()
        return tx.cache()
    path = folder / f"{name}-{uuid.uuid4().hex[:8]}.parquet"
    con.to_parquet(tx, path)
    return con.read_parquet(path)


def redact_url(url: str) -> str:
    """Hide a password in a connection URL before it is printed."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        cred, host = rest.rsplit("@", 1)
        user = cred.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in cred else url
    return url
