"""The suppression list: erased customer ids, kept only as keyed hashes, that imports skip.

A master-data or analysis import hashes each row's id with the same key and leaves out the
rows on the list, counting them under a reason of their own (``suppressed``) without
writing their values anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

from django.conf import settings

from corecustomers.web.privacy.models import Suppression

__all__ = ["key_hash", "suppress", "suppressed_ids"]


def key_hash(external_id: str, key: str | None = None) -> str:
    """The keyed hash of an id: HMAC-SHA256 under ``PSEUDONYM_KEY``, 64 hex digits.

    Examples
    --------
    >>> key_hash("C1", key="k") == key_hash("C1", key="k") != key_hash("C12", key="k")
    True
    """
    secret = (key if key is not None else settings.PSEUDONYM_KEY).encode("utf-8")
    return hmac.new(secret, b"suppress:" + external_id.encode("utf-8"), hashlib.sha256).hexdigest()


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
