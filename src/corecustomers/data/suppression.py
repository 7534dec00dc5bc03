"""Erased customers and keyed pseudonyms for the engine, without Django.

When the service erases a customer it keeps the erased id only as a keyed hash
(HMAC-SHA256 under the pseudonym key) and writes the whole list into the workspace's
folder, ``.corecustomers/suppression.json`` (beside ``workspace.duckdb``; a workspace
reached by URL: ``.corecustomers/`` of the current folder, as for the run markers)::

    {"format": "corecustomers.suppression/1", "key_check": "9f2c…",
     "hashes": ["5b1e…", …]}

``analyze`` reads it (:func:`load_suppression`) and the validation counts the rows of a
listed customer under the reason ``suppressed`` without writing their values anywhere
(not in ``quarantine.csv`` either), so an erased customer does not come back from an old
source.

The key is a secret setting, never stored beside the data: ``CORECUSTOMERS_PSEUDONYM_KEY``,
or ``CORECUSTOMERS_PSEUDONYM_KEY_FILE`` naming a file that holds it; in development only
(``CORECUSTOMERS_ENV`` unset or ``development``) the key that the service generated for
itself (``.corecustomers/secrets.json``) is used when neither is set, so that the command
line and a development service agree. ``key_check`` (a keyed hash of a constant) lets the
reader tell a wrong key from an empty match.

The same key makes the stable pseudonyms (:func:`pseudonym`, ``p-`` and 16 base32
characters) that stand in for customer ids where personal data is hidden: the service's
analyst views and ``analyze --pseudonymise`` give one customer the same pseudonym.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as project:
...     _ = write_suppression(project, [key_hash("C1", "k")], key="k")
...     listed = load_suppression(project, key="k")
...     sorted(listed.matches(["C1", "C12", "C2"]))
['C1']
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import ibis.expr.types as ir

from corecustomers.data.atomic import replacing
from corecustomers.errors import ConfigError

__all__ = [
    "FORMAT",
    "KEY_FILE_VARIABLE",
    "KEY_VARIABLE",
    "PSEUDONYM_PREFIX",
    "SUPPRESSED",
    "SUPPRESSION_FILE",
    "KeyMissingError",
    "SuppressionList",
    "key_check",
    "key_hash",
    "load_suppression",
    "pseudonym",
    "pseudonym_key",
    "pseudonyms",
    "require_key",
    "suppression_path",
    "write_suppression",
]

KEY_VARIABLE: Final = "CORECUSTOMERS_PSEUDONYM_KEY"
KEY_FILE_VARIABLE: Final = "CORECUSTOMERS_PSEUDONYM_KEY_FILE"
SUPPRESSION_FILE: Final = "suppression.json"
FORMAT: Final = "corecustomers.suppression/1"
PSEUDONYM_PREFIX: Final = "p-"
#: The validation reason of a suppressed customer's rows.
SUPPRESSED: Final = "suppressed"
_FOLDER: Final = ".corecustomers"
_DEV_SECRETS: Final = "secrets.json"


class KeyMissingError(ConfigError):
    """No pseudonym key is configured where one is needed."""


def _folder(location: str | os.PathLike[str]) -> Path | None:
    """The workspace's own folder (``.corecustomers``); ``None`` for an in-memory one."""
    text = os.fspath(location)
    if "://" in text:
        if text.rstrip("/") in {"duckdb:", "duckdb:/"} or text.endswith(":memory:"):
            return None
        return Path(_FOLDER).resolve()
    path = Path(text)
    if path.suffix.lower() in {".duckdb", ".ddb", ".db"}:
        return path.resolve().parent
    return (path / _FOLDER).resolve()


def suppression_path(location: str | os.PathLike[str]) -> Path | None:
    """The suppression file of the workspace at ``location`` (``None``: in memory).

    Examples
    --------
    >>> suppression_path("shop").as_posix().endswith("shop/.corecustomers/suppression.json")
    True
    >>> suppression_path("duckdb://") is None
    True
    """
    folder = _folder(location)
    return None if folder is None else folder / SUPPRESSION_FILE


def pseudonym_key(workspace: str | os.PathLike[str] | None = None) -> str | None:
    """The pseudonym key from the environment (see the module docstring); ``None`` if unset.

    Raises
    ------
    ConfigError
        ``CORECUSTOMERS_PSEUDONYM_KEY_FILE`` names a file that cannot be read or is empty.
    """
    value = os.environ.get(KEY_VARIABLE, "").strip()
    if value:
        return value
    named = os.environ.get(KEY_FILE_VARIABLE, "").strip()
    if named:
        try:
            text = Path(named).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"{KEY_FILE_VARIABLE}={named!r}: cannot read the key file ({exc.strerror})"
            ) from None
        if not text:
            raise ConfigError(f"{KEY_FILE_VARIABLE}={named!r}: the key file is empty")
        return text
    if os.environ.get("CORECUSTOMERS_ENV", "development") == "development" and workspace:
        folder = _folder(workspace)
        secrets = folder / _DEV_SECRETS if folder is not None else None
        if secrets is not None and secrets.is_file():
            try:
                stored = json.loads(secrets.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            key = stored.get("pseudonym_key") if isinstance(stored, dict) else None
            return str(key) if key else None
    return None


def require_key(workspace: str | os.PathLike[str] | None, why: str) -> str:
    """:func:`pseudonym_key`, or :class:`KeyMissingError` saying how to set one."""
    key = pseudonym_key(workspace)
    if key is None:
        raise KeyMissingError(
            f"{why} needs the pseudonym key: set {KEY_VARIABLE} (or {KEY_FILE_VARIABLE} to a "
            "file holding it) to the same secret the service uses, kept outside the data"
        )
    return key


def key_hash(external_id: str, key: str) -> str:
    """The keyed hash of an erased id: HMAC-SHA256 of ``suppress:`` and the id, hex.

    Examples
    --------
    >>> key_hash("C1", "k") == key_hash("C1", "k") != key_hash("C12", "k")
    True
    >>> len(key_hash("C1", "k"))
    64
    """
    return hmac.new(
        key.encode("utf-8"), b"suppress:" + external_id.encode("utf-8"), hashlib.sha256
    ).hexdigest()


def key_check(key: str) -> str:
    """A keyed hash of a constant: tells whether two parties hold the same key."""
    return hmac.new(key.encode("utf-8"), b"corecustomers:key-check", hashlib.sha256).hexdigest()[
        :16
    ]


def pseudonym(external_id: str, key: str) -> str:
    """The stable pseudonym of ``external_id``: ``p-`` and 16 base32 characters (80 bits).

    Examples
    --------
    >>> pseudonym("C1", "k") == pseudonym("C1", "k") != pseudonym("C2", "k")
    True
    >>> len(pseudonym("C1", "k"))
    18
    """
    digest = hmac.new(key.encode("utf-8"), external_id.encode("utf-8"), hashlib.sha256).digest()
    return PSEUDONYM_PREFIX + base64.b32encode(digest[:10]).decode("ascii").lower()


def pseudonyms(external_ids: Iterable[str], key: str) -> list[str]:
    """The pseudonyms of many ids (the key is prepared once).

    Examples
    --------
    >>> pseudonyms(["C1", "C2"], "k") == [pseudonym("C1", "k"), pseudonym("C2", "k")]
    True
    """
    keyed = hmac.new(key.encode("utf-8"), digestmod=hashlib.sha256)
    out = []
    for external_id in external_ids:
        mac = keyed.copy()
        mac.update(external_id.encode("utf-8"))
        out.append(PSEUDONYM_PREFIX + base64.b32encode(mac.digest()[:10]).decode("ascii").lower())
    return out


@dataclass(frozen=True)
class SuppressionList:
    """The keyed hashes of erased ids, and the key to hash candidates with."""

    hashes: frozenset[str]
    key: str

    def __len__(self) -> int:
        return len(self.hashes)

    def matches(self, external_ids: Iterable[str]) -> set[str]:
        """Which of ``external_ids`` are on the list."""
        if not self.hashes:
            return set()
        keyed = hmac.new(self.key.encode("utf-8"), b"suppress:", hashlib.sha256)
        hit = set()
        for external_id in external_ids:
            mac = keyed.copy()
            mac.update(external_id.encode("utf-8"))
            if mac.hexdigest() in self.hashes:
                hit.add(external_id)
        return hit

    def ids_in(self, ids: ir.StringColumn, *, batch_size: int = 200_000) -> list[str]:
        """The distinct values of the column ``ids`` that are on the list (sorted).

        One query for the distinct ids (streamed); nothing is read while the list is empty.
        """
        if not self.hashes:
            return []
        distinct = ids.name("id").as_table().distinct()
        found: set[str] = set()
        for batch in distinct.to_pyarrow_batches(chunk_size=batch_size):
            values = [v for v in batch.column(0).to_pylist() if v is not None]
            found |= self.matches(values)
        return sorted(found)


def load_suppression(
    location: str | os.PathLike[str], *, key: str | None = None
) -> SuppressionList | None:
    """The suppression list of the workspace at ``location``; ``None`` when it has none.

    Raises
    ------
    KeyMissingError
        The list holds ids but no key is configured (the rows cannot be checked, and an
        analysis must not bring erased customers back silently).
    ConfigError
        The file is damaged, or the key is not the one the list was written with.
    """
    path = suppression_path(location)
    if path is None or not path.is_file():
        return None
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        hashes = frozenset(str(h) for h in body["hashes"])
        check = body.get("key_check")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"the suppression list {path} cannot be read ({exc}); restore it from a backup "
            "or let the service write it again (`corecustomers privacy sync`)"
        ) from None
    if not hashes:
        return None
    secret = key if key is not None else require_key(location, "honouring erased customers")
    if check and not hmac.compare_digest(str(check), key_check(secret)):
        raise ConfigError(
            f"the pseudonym key differs from the one that wrote {path}: set "
            f"{KEY_VARIABLE} to the service's key"
        )
    return SuppressionList(hashes=hashes, key=secret)


def write_suppression(location: str | os.PathLike[str], hashes: Iterable[str], *, key: str) -> Path:
    """Replace the suppression list of the workspace at ``location`` (atomically).

    Raises
    ------
    ConfigError
        The workspace is an in-memory one (nowhere to write).
    """
    path = suppression_path(location)
    if path is None:
        raise ConfigError("an in-memory workspace has no folder for the suppression list")
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"format": FORMAT, "key_check": key_check(key), "hashes": sorted(set(hashes))}
    with replacing(path, prefix=".suppression-") as temporary:
        temporary.write_text(json.dumps(body, indent=0), encoding="utf-8")
    return path
