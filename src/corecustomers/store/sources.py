"""Source names: which history a snapshot continues.

A workspace can hold the snapshots of several sources (a shop's sales and a wholesale
ledger, say). Each snapshot, run and override belongs to one *source name*; a run reads
its previous snapshot only from its own source. By default the name is the file name
without its extension and without a date stamp, so that the nightly exports
``sales-2024-06-01.csv``, ``sales-2024-06-02.csv`` … continue one history named
``sales``; a table read from a database is named after the table, a query after a hash of
its text.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePath
from typing import Final

__all__ = ["DEFAULT_SOURCE", "default_source_name"]

#: The name used when nothing else names a source (e.g. a file called ``2024-06-01.csv``
#: in a folder without a name).
DEFAULT_SOURCE: Final = "default"

_SQL_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_SUFFIXES = re.compile(
    r"(\.(csv|tsv|txt|dat|xlsx|xlsm|xls|ods|parquet|pq))?(\.(gz|zip|bz2|zst))?$", re.IGNORECASE
)
# A date stamp with an optional time: 2024-06-01, 20240601, 2024_06_01, 2024.06, 2024-06,
# 2024-06-01T0300, 20240601_030000, 2024年6月1日; never part of a longer run of digits.
_DATE_STAMP = re.compile(
    r"(?<!\d)(?:19|20)\d{2}"
    r"(?:[-_.]?(?:0[1-9]|1[0-2])(?:[-_.]?(?:0[1-9]|[12]\d|3[01]))?"
    r"|年\d{1,2}月(?:\d{1,2}日)?)"
    r"(?:[T_\- ]?\d{2}[-:.]?\d{2}(?:[-:.]?\d{2})?)?(?!\d)"
)
_EDGES = "-_. "


def default_source_name(source: str) -> str:
    """The history ``source`` continues when no ``--source-name`` is given.

    Examples
    --------
    >>> default_source_name("exports/sales-2024-06-01.csv")
    'sales'
    >>> default_source_name("sales_20240602.CSV")
    'sales'
    >>> default_source_name("2024-06-01 orders.xlsx")
    'orders'
    >>> default_source_name("store42.csv")
    'store42'
    >>> default_source_name("shop.orders")
    'shop.orders'
    >>> default_source_name("select * from orders")[:6]
    'query-'
    """
    text = source.strip()
    if _SQL_START.match(text):
        digest = hashlib.sha1(" ".join(text.lower().split()).encode("utf-8")).hexdigest()
        return f"query-{digest[:8]}"
    path = PurePath(text.replace("\\", "/"))
    name = _strip_date(_SUFFIXES.sub("", path.name))
    if not name and path.parent.name:
        name = _strip_date(path.parent.name)
    return name or DEFAULT_SOURCE


def _strip_date(name: str) -> str:
    stripped = _DATE_STAMP.sub(" ", name)
    stripped = re.sub(r"[-_. ]{2,}", lambda m: m.group(0)[0], stripped)
    return stripped.strip(_EDGES)
