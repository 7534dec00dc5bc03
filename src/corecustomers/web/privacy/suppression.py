"""The suppression list: erased customer ids, kept only as keyed hashes, that imports skip.

A master-data or analysis import hashes each row's id with the same key and leaves out the
rows on the list, counting them under a reason of their own (``suppressed``) without
writing their values anywhere.

The list lives twice: in the service database (:class:`~.models.Suppression`) and in the
workspace's folder (``.corecustomers/suppression.json``, written by :func:`write_file`),
where ``analyze`` reads it without Django (:mod:`corecustomers.data.suppression`) and
where a restore of an older database backup finds it again (:func:`reapply`). The hash
is the engine's :func:`corecustomers.data.suppression.key_hash`, so both sides agree.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings

from corecustomers.data import suppression as engine
from corecustomers.errors import ConfigError
from corecustomers.web.privacy.models import Suppression

__all__ = ["file_hashes", "key_hash", "reapply", "suppress", "suppressed_ids", "write_file"]

log = logging.getLogger(__name__)


def key_hash(external_id: str, key: str | None = None) -> str:
    """The keyed hash of an id: HMAC-SHA256 under ``PSEUDONYM_KEY``, 64 hex digits.

    Examples
    --------
    >>> key_hash("C1", key="k") == key_hash("C1", key="k") != key_hash("C12", key="k")
    True
    """
    return engine.key_hash(external_id, key if key is not None else settings.PSEUDONYM_KEY)


def suppress(external_id: str) -> str:
    """Put ``external_id`` on the list (idempotent); its hash."""
    digest = key_hash(external_id)
    Suppression.objects.get_or_create(key_hash=digest)
    return digest


def suppressed_ids(external_ids: Iterable[str]) -> set[str]:
    """Which of ``external_ids`` are on the list (nothing is hashed while it is empty)."""
    if not Suppression.objects.exists():
        return set()
    secret = settings.PSEUDONYM_KEY.encode("utf-8")
    keyed = hmac.new(secret, b"suppress:", hashlib.sha256)
    by_hash: dict[str, str] = {}
    for external_id in set(external_ids):
        mac = keyed.copy()
        mac.update(external_id.encode("utf-8"))
        by_hash[mac.hexdigest()] = external_id
    hashes = list(by_hash)
    hit: set[str] = set()
    for start in range(0, len(hashes), 500):
        chunk = hashes[start : start + 500]
        found = Suppression.objects.filter(key_hash__in=chunk)
        hit.update(found.values_list("key_hash", flat=True))
    return {by_hash[h] for h in hit}


def file_hashes() -> set[str]:
    """The hashes in the workspace's suppression file (empty when there is none).

    Raises
    ------
    ConfigError
        The file was written under another key, or is damaged.
    """
    listed = engine.load_suppression(str(settings.WORKSPACE), key=settings.PSEUDONYM_KEY)
    return set(listed.hashes) if listed is not None else set()


def write_file(extra: Iterable[str] = ()) -> Path | None:
    """Write the workspace's suppression file: the database's list, what the file held
    already, and ``extra``; its path (``None`` for an in-memory workspace)."""
    location = str(settings.WORKSPACE)
    if engine.suppression_path(location) is None:
        return None
    hashes = set(Suppression.objects.values_list("key_hash", flat=True)) | set(extra)
    try:
        hashes |= file_hashes()
    except ConfigError as exc:  # another key: the database's list (this key) wins
        log.warning("rewriting the suppression file: %s", exc)
    return engine.write_suppression(location, hashes, key=settings.PSEUDONYM_KEY)


def reapply(hashes: Iterable[str], *, channel: str = "cli") -> dict[str, Any]:
    """After a restore: put ``hashes`` back on the list and erase again every customer of
    the restored database whose id hashes to one of them (an erasure the backup predates).

    Returns what was done: ``{"hashes": n, "erased": [fulfilment ids]}``.
    """
    from corecustomers.web.customers.models import Customer
    from corecustomers.web.privacy.erase import ERASED_PREFIX, erase_customer

    wanted = set(hashes)
    if not wanted:
        return {"hashes": 0, "erased": []}
    Suppression.objects.bulk_create(
        [Suppression(key_hash=h) for h in sorted(wanted)], ignore_conflicts=True
    )
    secret = settings.PSEUDONYM_KEY.encode("utf-8")
    keyed = hmac.new(secret, b"suppress:", hashlib.sha256)
    back: list[str] = []
    ids = Customer.objects.exclude(external_id__startswith=ERASED_PREFIX).values_list(
        "external_id", flat=True
    )
    for external_id in ids.iterator(chunk_size=5000):
        mac = keyed.copy()
        mac.update(external_id.encode("utf-8"))
        if mac.hexdigest() in wanted:
            back.append(external_id)
    erased = [erase_customer(external_id, None, channel=channel).pk for external_id in back]
    write_file(wanted)
    return {"hashes": len(wanted), "erased": erased}
