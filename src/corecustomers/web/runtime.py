"""Point Django at a database and a workspace, once per process.

The settings module (:mod:`corecustomers.web.settings`) reads its values from environment
variables, so that the server, the worker and the commands started from it agree; this
module writes them from a :class:`ServiceConfig` and calls ``django.setup()``.

Environment variables (all optional in development):

``CORECUSTOMERS_WORKSPACE``
    the project folder whose ``.corecustomers/`` holds the workspace and, by default, the
    service database (default: the current folder).
``CORECUSTOMERS_DB``
    the service database: ``sqlite:///path/file.sqlite3`` or
    ``postgresql://user:password@host:port/name`` (default: ``service.sqlite3`` beside the
    workspace).
``CORECUSTOMERS_ENV``
    ``development`` (default) or ``production``. In production the service refuses to
    start without ``CORECUSTOMERS_SECRET_KEY`` and ``CORECUSTOMERS_PSEUDONYM_KEY``; in
    development both are generated once and kept in ``.corecustomers/secrets.json``.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from corecustomers.errors import ConfigError

__all__ = ["ServiceConfig", "configure", "database_settings", "service_folder"]

SETTINGS_MODULE = "corecustomers.web.settings"


@dataclass(frozen=True)
class ServiceConfig:
    """Where the service keeps its data.

    Parameters
    ----------
    workspace
        The project folder (its ``.corecustomers/`` holds the workspace DuckDB file), or a
        workspace URL (``postgresql://…``).
    db
        The service database URL; ``None`` for the SQLite file beside the workspace.
    """

    workspace: str = "."
    db: str | None = None


def service_folder(workspace: str) -> Path:
    """The folder that holds the service's own files for ``workspace``."""
    if "://" in workspace:
        return Path(".corecustomers").resolve()
    return (Path(workspace) / ".corecustomers").resolve()


def database_settings(url: str | None, workspace: str) -> dict[str, object]:
    """Django's ``DATABASES["default"]`` for a URL (or the default SQLite file).

    Examples
    --------
    >>> database_settings("postgresql://me:pw@db.local:5433/crm", ".")["NAME"]
    'crm'
    >>> database_settings("sqlite:////tmp/x.sqlite3", ".")["ENGINE"]
    'django.db.backends.sqlite3'
    """
    if not url:
        path = service_folder(workspace) / "service.sqlite3"
        return _sqlite(path)
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme == "sqlite":
        raw = unquote(parts.path)
        if not raw or raw == "/":
            raise ConfigError(
                f"--db {url!r} names no file: write sqlite:///relative/path.sqlite3 "
                "or sqlite:////absolute/path.sqlite3"
            )
        return _sqlite(Path(raw[1:] if raw.startswith("/") else raw))
    if scheme in {"postgresql", "postgres"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ConfigError(f"--db {url!r} names no database: add /NAME after the host")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
            # Pages run short queries: PostgreSQL's JIT compiler spent 200 ms of a 960 ms
            # dashboard query compiling it (benchmarks/README.md, the service).
            "OPTIONS": {"options": "-c jit=off"},
        }
    raise ConfigError(
        f"--db {url!r}: the service database must be sqlite:///FILE or "
        "postgresql://USER@HOST:PORT/NAME"
    )


def _sqlite(path: Path) -> dict[str, object]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path.resolve()),
        # The worker and the server write to one file: wait for a lock instead of failing,
        # and take the write lock at the start of a transaction (no upgrade deadlocks).
        "OPTIONS": {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


def development_secrets(workspace: str) -> dict[str, str]:
    """The development secrets of ``workspace``: generated once, kept in its folder."""
    path = service_folder(workspace) / "secrets.json"
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        return stored
    path.parent.mkdir(parents=True, exist_ok=True)
    values = {"secret_key": secrets.token_urlsafe(50), "pseudonym_key": secrets.token_hex(32)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(values, handle)
    return values


_configured = False


def configure(config: ServiceConfig | None = None) -> None:
    """Set the environment for :mod:`corecustomers.web.settings` and set Django up.

    Idempotent within a process: the first call wins (Django cannot be set up twice).
    """
    global _configured
    if _configured:
        return
    if config is not None:
        os.environ["CORECUSTOMERS_WORKSPACE"] = config.workspace
        if config.db:
            os.environ["CORECUSTOMERS_DB"] = config.db
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_MODULE)
    import django

    django.setup()
    _configured = True
