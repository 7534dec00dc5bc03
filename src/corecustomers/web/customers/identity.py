"""The stable keyed pseudonym that stands in for a customer id where personal data is hidden.

An HMAC-SHA256 of the external id under the secret ``PSEUDONYM_KEY``: the same id always
gives the same pseudonym (so analysts can follow a customer over time and across exports),
and without the key nobody can go back from a pseudonym to the id.
"""

from __future__ import annotations

from django.conf import settings

from corecustomers.data.suppression import PSEUDONYM_PREFIX
from corecustomers.data.suppression import pseudonym as _keyed_pseudonym
from corecustomers.data.suppression import pseudonyms as _keyed_pseudonyms

__all__ = ["PSEUDONYM_PREFIX", "pseudonym", "pseudonyms"]


def pseudonym(external_id: str, key: str | None = None) -> str:
    """The pseudonym of ``external_id`` under ``key`` (default: the service's ``PSEUDONYM_KEY``).

    The engine's function (:func:`corecustomers.data.suppression.pseudonym`), so that the
    service and ``analyze --pseudonymise`` give the same pseudonym for the same id and key.

    Examples
    --------
    >>> pseudonym("C1", key="k") == pseudonym("C1", key="k") != pseudonym("C2", key="k")
    True
    >>> len(pseudonym("C1", key="k"))
    18
    """
    return _keyed_pseudonym(external_id, key if key is not None else settings.PSEUDONYM_KEY)


def pseudonyms(external_ids: list[str], key: str | None = None) -> list[str]:
    """The pseudonyms of many ids at once (the key is prepared once).

    Examples
    --------
    >>> pseudonyms(["C1", "C2"], key="k") == [pseudonym("C1", key="k"), pseudonym("C2", key="k")]
    True
    """
    return _keyed_pseudonyms(external_ids, key if key is not None else settings.PSEUDONYM_KEY)
