"""Paging of the API's lists: the ``limit``/``offset`` query and one page of rows.

Every list endpoint answers ``{"items": [...], "count": N, "limit": L, "offset": O}``;
:func:`page_of` builds that body from a query set (or an already built list) so the
slicing and counting are written once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypedDict, TypeVar

from django.db.models import QuerySet
from ninja import Field, Schema

from corecustomers.web.customers.queries import MAX_LIMIT

__all__ = ["PageOut", "PageQuery", "page_of", "rows_of"]

T = TypeVar("T")


class PageQuery(Schema):
    """The ``limit``/``offset`` query parameters of every list."""

    limit: int = Field(50, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, le=10_000_000)


class PageOut(TypedDict):
    """One page of a list, as the list endpoints return it."""

    items: list[Any]
    count: int
    limit: int
    offset: int


def rows_of(rows: QuerySet[Any] | Sequence[T], page: PageQuery) -> tuple[list[T], int]:
    """The rows of ``page`` and the number of rows in all pages.

    A query set is sliced in the database (one query for the page, one ``COUNT``); a
    list is sliced in memory.
    """
    shown = list(rows[page.offset : page.offset + page.limit])
    count = rows.count() if isinstance(rows, QuerySet) else len(rows)
    return shown, count


def page_of(
    rows: QuerySet[Any] | Sequence[T], page: PageQuery, convert: Callable[[T], Any]
) -> PageOut:
    """The list body of ``page``: each of its rows through ``convert``, and the count."""
    shown, count = rows_of(rows, page)
    return {
        "items": [convert(row) for row in shown],
        "count": count,
        "limit": page.limit,
        "offset": page.offset,
    }
