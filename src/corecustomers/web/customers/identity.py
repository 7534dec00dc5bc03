"""The stable keyed pseudonym that stands in for a customer id where personal data is hidden.

An HMAC-SHA256 of the external id under the secret ``PSEUDONYM_KEY``: the same id always
gives the same pseudonym (so analysts can follow a customer over time and across exports),
and without the key nobody can go back from a pseudonym to the id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from django.conf import settings

__all__ = ["PSEUDONYM_PREFIX", "pseudonym", "pseudonyms"]

PSEUDONYM_PREFIX = "p-"


def pseudonym(external_id: str, key: str | None = None) -> str:
    """The pseudonym of ``external_id``: ``p-`` and 16 base32 characters (80 bits).

    Examples
    --------
    >>> pseudonym("C1", key="k") == pseudonym("C1", key="k") != pseudonym("C2", key="k")
    True
    >>> len(pseudonym("C1", key="k"))
    18
    """
    secret = (key if key is not None else settings.PSEUDONYM_KEY).encode("utf-8")
    digest = hmac.new(secret, external_id.encode("utf-8"), hashlib.sha256).digest()
    return PSEUDONYM_PREFIX + base64.b32encode(digest[:10]).decode("ascii").lower()


def pseudonyms(external_ids: list[str], key: str | None = None) -> list[str]:
    """The pseudonyms of many ids at once (the key is prepared once: about twice as fast).

    Examples
    --------
    >>> pseudonyms(["C1", "C2"], key="k") == [pseudonym("C1", key="k"), pseudonym("C2", key="k")]
    True
    """
    secret = (key if key is not None else settings.PSEUDONYM_KEY).encode("utf-8")
    keyed = hmac.new(secret, digestmod=hashlib.sha256)
    out = []
    for external_id in external_ids:
        mac = keyed.copy()
        mac.update(external_id.encode("utf-8"))
        out.append(PSEUDONYM_PREFIX + base64.b32encode(mac.digest()[:10]).decode("ascii").lower())
    return out
