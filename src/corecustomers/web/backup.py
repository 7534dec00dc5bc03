"""Back up and restore the service database: one file that holds everything people recorded.

* **SQLite** -- SQLite's online backup API (:meth:`sqlite3.Connection.backup`): a
  consistent copy page by page while the server and the worker keep running; the copy is
  written beside the target and renamed into place, so a half-written backup never
  replaces a good one. Restoring copies the file back the same way (one transaction).
* **PostgreSQL** -- ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists
  --single-transaction`` (both must be on the ``PATH``; same major version as the server
  or newer).

A restore replaces everything in the database, so it refuses while a server uses it
(SQLite: the ``<database>.serving`` file that ``serve`` keeps names a live process;
PostgreSQL: another session is connected to the database) unless ``force`` is given.
The workspace (snapshots, overrides) is a separate store with its own file; back up its
``.corecustomers/workspace.duckdb`` by copying it while no command runs.

A restore re-applies the suppression list before anything else can use the database: the
erased ids' keyed hashes held before the restore (the database's list and the workspace's
``suppression.json``, which a restore does not touch) go back on the list, and every
customer of the backup whose id is on it is erased again
(:func:`corecustomers.web.privacy.suppression.reapply`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections

from corecustomers.errors import ConfigError, CoreCustomersError, InputError

__all__ = [
    "BackupError",
    "BackupResult",
    "backup",
    "restore",
    "serving",
    "serving_marker",
]

_SQLITE_HEADER = b"SQLite format 3\x00"
_PG_HEADER = b"PGDMP"


class BackupError(CoreCustomersError):
    """A backup or restore could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    """What was written or restored."""

    file: Path
    engine: str
    tables: int
    size: int


def _database() -> dict[str, Any]:
    db: dict[str, Any] = settings.DATABASES["default"]
    return db


def _engine() -> str:
    engine = str(_database()["ENGINE"])
    if engine.endswith("sqlite3"):
        return "sqlite"
    if "postgresql" in engine:
        return "postgresql"
    raise ConfigError(f"backups support SQLite and PostgreSQL, not {engine}")


def serving_marker() -> Path | None:
    """The file ``serve`` keeps beside an SQLite database while it serves it."""
    if _engine() != "sqlite":
        return None
    return Path(str(_database()["NAME"]) + ".serving")


@contextmanager
def serving(url: str) -> Iterator[None]:
    """Mark the SQLite database as served by this process (``url``) while the block runs."""
    marker = serving_marker()
    if marker is None:
        yield
        return
    marker.write_text(
        json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "url": url}),
        encoding="utf-8",
    )
    try:
        yield
    finally:
        with suppress(OSError):
            marker.unlink()


def _serving_process() -> str | None:
    """Who serves the database now (a description), or ``None``."""
    if _engine() == "postgresql":
        return _other_sessions()
    marker = serving_marker()
    if marker is None or not marker.is_file():
        return None
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
        pid = int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info.get("host") != socket.gethostname():
        return f"a server on {info.get('host')} ({info.get('url', '')})"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # it died without cleaning up
    except PermissionError:
        pass  # alive, someone else's
    return f"corecustomers serve (process {pid}, {info.get('url', '')})"


def _other_sessions() -> str | None:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*), string_agg(DISTINCT coalesce(nullif(application_name, ''), "
            "client_addr::text, 'local'), ', ') FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        count, who = cursor.fetchone()
    if not count:
        return None
    return f"{count} other session(s) connected to the database ({who})"


def backup(target: Path) -> BackupResult:
    """Write a backup of the service database to ``target`` (replaced if it exists)."""
    target = Path(target)
    if target.is_dir():
        raise InputError(f"{target} is a folder; give a file name for the backup")
    target.parent.mkdir(parents=True, exist_ok=True)
    engine = _engine()
    with _temporary_beside(target) as partial:
        if engine == "sqlite":
            source = sqlite3.connect(str(_database()["NAME"]), timeout=30)
            dest = sqlite3.connect(partial)
            try:
                source.backup(dest)
                dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                tables = _sqlite_tables(dest)
            finally:
                dest.close()
                source.close()
        else:
            _run_pg("pg_dump", "--format=custom", "--no-owner", f"--file={partial}")
            tables = _pg_tables()
        os.replace(partial, target)
    return BackupResult(target, engine, tables, target.stat().st_size)


def restore(source: Path, *, force: bool = False) -> BackupResult:
    """Replace the service database with the backup ``source``.

    Raises
    ------
    BackupError
        A server uses the database (and ``force`` is false), or ``source`` is not a
        backup of this kind of database.
    """
    source = Path(source)
    if not source.is_file():
        raise InputError(f"no backup file {source}")
    engine = _engine()
    head = source.read_bytes()[:16] if source.stat().st_size else b""
    expected = _SQLITE_HEADER if engine == "sqlite" else _PG_HEADER
    if not head.startswith(expected):
        kind = "an SQLite" if engine == "sqlite" else "a pg_dump (custom format)"
        raise BackupError(
            f"{source} is not {kind} backup, which this {engine} database needs; give a "
            "file that `corecustomers backup` wrote for the same kind of database"
        )
    who = _serving_process()
    if who is not None and not force:
        raise BackupError(
            f"the database is in use by {who}: stop the server (and its worker) first, or "
            "add --force to replace the data under it"
        )
    erased = _suppression_list()
    connections.close_all()
    if engine == "sqlite":
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
        live = sqlite3.connect(str(_database()["NAME"]), timeout=30)
        try:
            if not _sqlite_tables(backup_db):
                raise BackupError(f"{source} holds no tables; it is not a service backup")
            backup_db.backup(live)
            tables = _sqlite_tables(live)
        finally:
            live.close()
            backup_db.close()
    else:
        _run_pg(
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            str(source),
        )
        tables = _pg_tables()
    _reapply(erased)
    return BackupResult(source, engine, tables, source.stat().st_size)


def _suppression_list() -> set[str]:
    """The erased ids' hashes before a restore: the database's and the workspace file's."""
    from corecustomers.web.privacy.models import Suppression
    from corecustomers.web.privacy.suppression import file_hashes

    hashes = file_hashes()
    with suppress(DatabaseError):  # a new, empty database has no list yet
        hashes |= set(Suppression.objects.values_list("key_hash", flat=True))
    return hashes


def _reapply(hashes: set[str]) -> None:
    """Bring the restored database up to date and erase again whoever is on the list."""
    if not hashes:
        return
    from django.core.management import call_command

    from corecustomers.web.audit.context import Actor, acting
    from corecustomers.web.privacy.suppression import reapply

    call_command("migrate", interactive=False, verbosity=0)  # a backup from an older version
    with acting(Actor(channel="cli")):
        reapply(hashes)


@contextmanager
def _temporary_beside(target: Path) -> Iterator[str]:
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    os.close(fd)
    os.unlink(name)  # the backup API and pg_dump create it themselves
    try:
        yield name
    finally:
        with suppress(OSError):
            os.unlink(name)


def _sqlite_tables(con: sqlite3.Connection) -> int:
    row = con.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchone()
    return int(row[0])


def _pg_tables() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE'"
        )
        return int(cursor.fetchone()[0])


def _run_pg(program: str, *args: str) -> None:
    executable = shutil.which(program)
    if executable is None:
        raise BackupError(
            f"{program} is not installed: install the PostgreSQL client tools "
            "(Debian: apt-get install postgresql-client) of the server's version or newer"
        )
    db = _database()
    env = {**os.environ}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    command = [executable, f"--dbname={db['NAME']}"]
    if db.get("HOST"):
        command.append(f"--host={db['HOST']}")
    if db.get("PORT"):
        command.append(f"--port={db['PORT']}")
    if db.get("USER"):
        command.append(f"--username={db['USER']}")
    run = subprocess.run([*command, *args], env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise BackupError(f"{program} failed: {run.stderr.strip() or run.returncode}")
