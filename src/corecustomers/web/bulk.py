"""Insert and update many rows at once, where ``bulk_create`` is too slow.

Django's ``bulk_create`` builds a model instance per row and compiles every value through
the ORM: for the tens of thousands of rows an import writes inside *one* transaction that
is most of the time the transaction holds the database. These helpers send plain
``executemany`` statements instead; values that need the backend's conversion (dates,
times, JSON) are converted by the model field, everything else is passed as it is. They
write no signals and call no ``save()``: use them for inserts and updates a use case has
already validated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

__all__ = ["insert_rows", "update_rows"]

BATCH = 1000
_PLAIN = (str, int, bool, float)


def _preparer(field: Any) -> Callable[[Any], Any]:
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself, not the proxy
    if isinstance(field, models.JSONField):
        return lambda value: field.get_db_prep_save(value, db)
    seen: dict[Any, Any] = {}  # dates and times repeat (one "now" per import)

    def prepare(value: Any) -> Any:
        if value is None or type(value) in _PLAIN:
            return value
        if value not in seen:
            seen[value] = field.get_db_prep_save(value, db)
        return seen[value]

    return prepare


def _columns(model: type[models.Model], names: Sequence[str]) -> tuple[list[str], list[Any]]:
    fields = [model._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    return [quote(field.column) for field in fields], [_preparer(field) for field in fields]


def _execute(sql: str, rows: Iterable[Sequence[Any]], preparers: list[Any]) -> int:
    count = 0
    batch: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.append(tuple(prep(value) for prep, value in zip(preparers, row, strict=True)))
            if len(batch) >= BATCH:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def insert_rows(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Insert ``rows`` (values in the order of ``fields``, field names); how many.

    PostgreSQL: one ``COPY … FROM STDIN`` (Django's client-side parameter binding spends
    seconds rendering large statements). Others: many rows per ``INSERT … VALUES (…),
    (…)`` statement, as many as the backend's limit on query parameters allows.
    """
    columns, preparers = _columns(model, fields)
    table = connection.ops.quote_name(model._meta.db_table)
    if connection.vendor == "postgresql":
        return _copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN", rows, preparers)
    limit = connection.features.max_query_params or 65_535
    per_statement = max(1, min(BATCH, limit // len(columns)))
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    full_sql = head + ", ".join([one] * per_statement)
    count = 0
    batch: list[Any] = []
    with connection.cursor() as cursor:
        for row in rows:
            batch.extend(prep(value) for prep, value in zip(preparers, row, strict=True))
            count += 1
            if len(batch) == per_statement * len(columns):
                cursor.execute(full_sql, batch)
                batch = []
        if batch:
            n = len(batch) // len(columns)
            cursor.execute(head + ", ".join([one] * n), batch)
    return count


def _copy(sql: str, rows: Iterable[Sequence[Any]], preparers: list[Any]) -> int:
    count = 0
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([prep(value) for prep, value in zip(preparers, row, strict=True)])
            count += 1
    return count


def update_rows(
    model: type[models.Model], fields: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Set ``fields`` of each row: every row is ``(*values, pk)``; how many rows."""
    columns, preparers = _columns(model, fields)
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)  # type: ignore[union-attr]
    assignments = ", ".join(f"{column} = %s" for column in columns)
    sql = f"UPDATE {table} SET {assignments} WHERE {pk} = %s"
    return _execute(sql, rows, [*preparers, lambda value: value])
