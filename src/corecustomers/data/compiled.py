"""Compile each shape of query once: the SQL of an expression, reused for other dates.

An analysis asks the same questions at many cut dates -- the features, the behaviour, the
activity in a window -- and a ``history`` asks them again for every date of its series.
The expressions differ only in their date and timestamp literals, yet Ibis compiles each
from scratch (tens of milliseconds each, a quarter of a history's time on 20,000
customers). Here an expression's temporal literals are replaced by placeholders; the
placeholder expression (its *template*) is compiled once per connection, and each
later query of the same template gets its SQL by writing its own dates into the
template's.

Safe by construction and by check: a template is used only after its first query's SQL,
made from the template, was found identical to that query compiled directly by Ibis; a
template that fails the check (an engine rendering a date differently in context) is
remembered as unusable and every query of it is compiled directly. Only DuckDB
connections are served this way, and only expressions without in-memory tables (whose
names are unique, so their templates never repeat); everything else is compiled by Ibis
as before.

It pays when one shape is asked many times, so it is switched on where that happens:
:func:`reusing_sql` around a ``history``. Elsewhere :func:`corecustomers.data.features.materialize`
compiles every expression directly, as Ibis does.
"""

from __future__ import annotations

import datetime
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa

__all__ = ["compiled_sql", "reusing", "reusing_sql", "to_pyarrow"]

#: Templates kept per connection (least recently used dropped first).
MAX_TEMPLATES: Final = 512

#: Placeholder values, far from any real date: the ``i``-th temporal literal of an
#: expression is compiled as the ``i``-th of these, then replaced by its own value.
_SENTINEL_YEAR: Final = 1011

#: Placeholder counters, above any Ibis gives its own parameters.
_COUNTER_BASE: Final = 1_000_000_000

_ATTRIBUTE: Final = "_corecustomers_templates"

_UNUSABLE: Final = ""

_REUSING: ContextVar[bool] = ContextVar("corecustomers_reusing_sql", default=False)


@contextmanager
def reusing_sql() -> Iterator[None]:
    """Within this block, :func:`corecustomers.data.features.materialize` reuses the SQL
    of each query shape (see the module docstring)."""
    token = _REUSING.set(True)
    try:
        yield
    finally:
        _REUSING.reset(token)


def reusing() -> bool:
    """Whether :func:`reusing_sql` is in effect."""
    return _REUSING.get()


class _Templates:
    """One connection's compiled templates (template node -> SQL with placeholders)."""

    def __init__(self) -> None:
        self.sql: OrderedDict[ops.Node, str] = OrderedDict()
        self.rendered: dict[tuple[Any, str], str] = {}
        self.hits = 0
        self.misses = 0


def _templates(backend: Any) -> _Templates:
    found = getattr(backend, _ATTRIBUTE, None)
    if isinstance(found, _Templates):
        return found
    made = _Templates()
    setattr(backend, _ATTRIBUTE, made)  # dies with the connection
    return made


def _sentinel(i: int, dtype: Any) -> datetime.date | datetime.datetime:
    day = datetime.date(_SENTINEL_YEAR + i, 1, 1)
    return day if dtype.is_date() else datetime.datetime.combine(day, datetime.time())


def _render(backend: Any, cache: _Templates, value: Any, dtype: Any) -> str:
    """The SQL text of the literal ``value`` of type ``dtype`` on ``backend``."""
    key = (value, str(dtype))
    text = cache.rendered.get(key)
    if text is None:
        sql = backend.compile(ibis.literal(value, type=dtype).name("v"))
        # "SELECT <literal> AS "v"": the literal is what lies between
        head, tail = "SELECT ", ' AS "v"'
        if not (sql.startswith(head) and sql.endswith(tail)):
            raise ValueError(f"unexpected rendering of a literal: {sql!r}")
        text = sql[len(head) : -len(tail)]
        cache.rendered[key] = text
    return text


def compiled_sql(expr: ir.Table) -> str | None:
    """The SQL of ``expr`` on its DuckDB connection, from a template when one fits.

    None when the expression is not served here (not DuckDB, in-memory tables, no
    temporal literal): compile it with Ibis.
    """
    try:
        backend = expr._find_backend(use_default=True)
    except Exception:  # an unbound expression: Ibis says why when it executes
        return None
    if getattr(backend, "name", None) != "duckdb":
        return None
    op = expr.op()
    if op.find(ops.InMemoryTable):
        return None
    literals = list(
        dict.fromkeys(
            node
            for node in op.find(ops.Literal)
            if node.dtype.is_date() or node.dtype.is_timestamp()
        )
    )
    if not literals:
        return None
    placeholders = {
        node: ops.ScalarParameter(node.dtype, counter=_COUNTER_BASE + i)
        for i, node in enumerate(literals)
    }
    template = op.replace(placeholders)
    cache = _templates(backend)
    sql = cache.sql.get(template)
    if sql is not None:
        cache.sql.move_to_end(template)
        if sql == _UNUSABLE:
            return None
        cache.hits += 1
        return _fill(backend, cache, sql, literals)
    cache.misses += 1
    params = {
        ir.Scalar(placeholders[node]): _sentinel(i, node.dtype) for i, node in enumerate(literals)
    }
    with_sentinels = backend.compile(template.to_expr(), params=params)
    direct = backend.compile(expr)
    sentinels = [
        _render(backend, cache, _sentinel(i, n.dtype), n.dtype) for i, n in enumerate(literals)
    ]
    usable = all(with_sentinels.count(s) > 0 for s in sentinels) and len(set(sentinels)) == len(
        sentinels
    )
    if usable:
        try:
            usable = _fill(backend, cache, with_sentinels, literals) == direct
        except ValueError:
            usable = False
    cache.sql[template] = with_sentinels if usable else _UNUSABLE
    if len(cache.sql) > MAX_TEMPLATES:
        cache.sql.popitem(last=False)
    return direct


def _fill(backend: Any, cache: _Templates, sql: str, literals: list[ops.Literal]) -> str:
    """``sql`` with each placeholder's rendering replaced by its literal's."""
    for i, node in enumerate(literals):
        sql = sql.replace(
            _render(backend, cache, _sentinel(i, node.dtype), node.dtype),
            _render(backend, cache, node.value, node.dtype),
        )
    return sql


def to_pyarrow(expr: ir.Table) -> pa.Table:
    """Execute ``expr`` as :meth:`ibis.expr.types.Table.to_pyarrow` does, compiling its
    SQL through :func:`compiled_sql` when it can."""
    sql = compiled_sql(expr)
    if sql is None:
        return expr.to_pyarrow()
    from ibis.backends.duckdb.converter import DuckDBPyArrowData

    backend: Any = expr._find_backend(use_default=True)
    backend._run_pre_execute_hooks(expr)
    table = backend.con.sql(sql).to_arrow_table()
    result: pa.Table = expr.__pyarrow_result__(table, data_mapper=DuckDBPyArrowData)
    return result
