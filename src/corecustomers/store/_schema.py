"""The workspace tables: their columns, and the conversion of a caller's table into rows.

Three tables live in a workspace (names fixed, see ``docs/CONTRACTS.md`` → "Snapshot row"):

``snapshots``
    One row per customer per as-of date: the snapshot row of the contract plus ``extra``,
    a JSON object holding every further column the caller passed (see :func:`snapshot_rows`).
``runs``
    One row per (run, as-of date) written: where the data came from, when, the policy
    version, the settings (JSON), the number of customers and per-tier counts (JSON), and
    the Arrow types of the extra columns (so that reading gives them back typed).
``overrides``
    At most one manual tier override per customer and source: who set it, why, until when.

Snapshots, runs and overrides belong to a named source (``source_name``): the history a
snapshot continues. The snapshot row of the contract does not carry it; the table does.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corecustomers.errors import InputError
from corecustomers.ids import all_distinct
from corecustomers.segments.phrases import join_present, json_values

__all__ = [
    "EXTRA_COLUMN",
    "OVERRIDES_SCHEMA",
    "RUNS_SCHEMA",
    "SNAPSHOT_COLUMNS",
    "SNAPSHOT_SCHEMA",
    "SNAPSHOT_TABLE_SCHEMA",
    "SOURCE_COLUMN",
    "decode_extra",
    "extra_schema_from_text",
    "extra_schema_to_text",
    "snapshot_rows",
    "tier_counts",
    "to_json",
]

EXTRA_COLUMN: Final = "extra"

#: The snapshot row of ``docs/CONTRACTS.md`` in the order it is stored, then ``extra``.
SNAPSHOT_SCHEMA: Final = pa.schema(
    [
        pa.field("as_of", pa.date32(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("tier", pa.string(), nullable=False),
        pa.field("previous_tier", pa.string()),
        pa.field("tier_since", pa.date32()),
        pa.field("tier_reasons", pa.string()),
        pa.field("core_score", pa.float64()),
        pa.field("clv", pa.float64()),
        pa.field("p_alive", pa.float64()),
        pa.field("total_spend", pa.float64()),
        pa.field("frequency", pa.int64()),
        pa.field("days_since_last_purchase", pa.int64()),
        pa.field("r_score", pa.int64()),
        pa.field("f_score", pa.int64()),
        pa.field("m_score", pa.int64()),
        pa.field("rfm_segment", pa.string()),
        pa.field("abc_class", pa.string()),
        pa.field("alert", pa.bool_()),
        pa.field("alert_reason", pa.string()),
        pa.field("policy_version", pa.string(), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field(EXTRA_COLUMN, pa.string()),
    ]
)

#: The contract columns (everything but ``extra``).
SNAPSHOT_COLUMNS: Final = tuple(name for name in SNAPSHOT_SCHEMA.names if name != EXTRA_COLUMN)

#: The source (history) a snapshot, run or override belongs to; see ``default_source_name``.
SOURCE_COLUMN: Final = "source_name"

#: The stored ``snapshots`` table: the snapshot row plus its source.
SNAPSHOT_TABLE_SCHEMA: Final = SNAPSHOT_SCHEMA.append(pa.field(SOURCE_COLUMN, pa.string()))

RUNS_SCHEMA: Final = pa.schema(
    [
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("as_of", pa.date32(), nullable=False),
        pa.field("source", pa.string()),
        pa.field("created_at", pa.timestamp("us"), nullable=False),
        pa.field("policy_version", pa.string(), nullable=False),
        pa.field("settings", pa.string(), nullable=False),
        pa.field("n_customers", pa.int64(), nullable=False),
        pa.field("counts", pa.string(), nullable=False),
        pa.field("extra_schema", pa.string()),
        pa.field(SOURCE_COLUMN, pa.string()),
    ]
)

OVERRIDES_SCHEMA: Final = pa.schema(
    [
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("tier", pa.string(), nullable=False),
        pa.field("by", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("until", pa.date32()),
        pa.field("created_at", pa.timestamp("us"), nullable=False),
        # null: the override holds in every source of the workspace
        pa.field(SOURCE_COLUMN, pa.string()),
    ]
)

# Columns that the arguments of ``write_snapshot`` set; a table may carry them only with
# the same value on every row.
_FROM_ARGUMENTS: Final = ("as_of", "policy_version", "run_id")
_REQUIRED: Final = ("customer_id", "tier")
_JSON_COLUMNS: Final = ("tier_reasons",)


def to_json(value: Any) -> str:
    """JSON text for settings, counts and reasons: sorted keys, UTF-8 kept, dates in ISO.

    Examples
    --------
    >>> import datetime as dt
    >>> to_json({"b": 1, "a": dt.date(2024, 1, 31)})
    '{"a": "2024-01-31", "b": 1}'
    """
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if hasattr(value, "__fspath__"):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def snapshot_rows(
    table: pa.Table, *, as_of: dt.date, run_id: str, policy_version: str
) -> tuple[pa.Table, pa.Schema | None]:
    """Turn a caller's customer table into rows of :data:`SNAPSHOT_SCHEMA`.

    ``customer_id`` and ``tier`` are required (no nulls; one row per customer); every
    other contract column is optional and becomes null when absent, and is cast to its
    contract type (``frequency`` 3.0 becomes 3; 3.5 is an error). ``tier_reasons`` that is
    not text (a struct or list column) is encoded as JSON. ``as_of``, ``run_id`` and
    ``policy_version`` come from the arguments; a table may carry them only with that
    value on every row. Every other column goes into the JSON ``extra`` column; its Arrow
    types are returned so that reading gives the columns back typed.

    Returns
    -------
    rows, extra_schema
        The rows to store and the schema of the extra columns (``None`` when there are
        none).

    Raises
    ------
    InputError
        A required column is missing or null, a customer appears twice, a value cannot
        be cast to its contract type, or an extra column has a type that JSON cannot
        carry back.

    Examples
    --------
    >>> import datetime as dt
    >>> import pyarrow as pa
    >>> rows, extra = snapshot_rows(
    ...     pa.table({"customer_id": ["a"], "tier": ["key"], "balance": [1200.5]}),
    ...     as_of=dt.date(2024, 1, 31), run_id="r1", policy_version="retail-1",
    ... )
    >>> rows.column("extra").to_pylist(), extra.names
    (['{"balance": 1200.5}'], ['balance'])
    """
    n = table.num_rows
    if n == 0:
        raise InputError("the snapshot has no customers; nothing to store")
    missing = [name for name in _REQUIRED if name not in table.column_names]
    if missing:
        raise InputError(
            f"a snapshot needs the column(s) {', '.join(missing)}; "
            f"the table has {', '.join(table.column_names) or 'no columns'}"
        )
    if EXTRA_COLUMN in table.column_names:
        raise InputError(
            f"the column name {EXTRA_COLUMN!r} is reserved for the workspace; rename it",
            column=EXTRA_COLUMN,
        )
    fixed = {"as_of": as_of, "run_id": run_id, "policy_version": policy_version}
    for name in _FROM_ARGUMENTS:
        if name in table.column_names:
            _check_constant(table.column(name), fixed[name], name)

    columns: dict[str, pa.ChunkedArray | pa.Array] = {}
    for field in SNAPSHOT_SCHEMA:
        name = field.name
        if name == EXTRA_COLUMN:
            continue
        if name in fixed:
            columns[name] = pa.repeat(pa.scalar(fixed[name], field.type), n)
        elif name in table.column_names:
            columns[name] = _cast(table.column(name), field, name)
        else:
            columns[name] = pa.nulls(n, type=field.type)
    for name in _REQUIRED:
        if columns[name].null_count:
            raise InputError(
                f"{columns[name].null_count} row(s) have no value; every customer needs one",
                column=name,
            )
    ids = columns["customer_id"]
    if not all_distinct(ids):
        counts = pc.value_counts(ids)
        twice = [row["values"] for row in counts.to_pylist() if row["counts"] > 1][:3]
        raise InputError(
            f"customers appear more than once (e.g. {', '.join(map(repr, twice))}); "
            "a snapshot has one row per customer",
            column="customer_id",
        )

    extra_names = [name for name in table.column_names if name not in SNAPSHOT_SCHEMA.names]
    extra_schema = pa.schema([table.schema.field(name) for name in extra_names])
    extra_schema = pa.schema([_extra_field(field) for field in extra_schema])
    if extra_names:
        extras = table.select(extra_names).cast(extra_schema)
        columns[EXTRA_COLUMN] = _encode_extra(extras)
    else:
        columns[EXTRA_COLUMN] = pa.nulls(n, type=pa.string())
    rows = pa.Table.from_arrays(
        [columns[name] for name in SNAPSHOT_SCHEMA.names], schema=SNAPSHOT_SCHEMA
    )
    return rows, (extra_schema if extra_names else None)


def _check_constant(column: pa.ChunkedArray, expected: Any, name: str) -> None:
    values = set(column.to_pylist())
    if values != {expected}:
        shown = ", ".join(sorted(map(str, values))[:3])
        raise InputError(
            f"the table says {shown} but the snapshot is written with {expected}; drop the "
            "column or pass the matching argument",
            column=name,
        )


def _cast(column: pa.ChunkedArray, field: pa.Field, name: str) -> pa.ChunkedArray:
    if name in _JSON_COLUMNS and not _is_text(column.type):
        return pa.chunked_array(
            [pa.array([None if v is None else to_json(v) for v in column.to_pylist()])],
            type=pa.string(),
        )
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    try:
        return column.cast(field.type)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(
            f"cannot store {column.type} values as {field.type} ({exc}); "
            "convert the column or rename it to keep it as an extra column",
            column=name,
        ) from exc


def _is_text(type_: pa.DataType) -> bool:
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    return bool(pa.types.is_string(type_) or pa.types.is_large_string(type_))


# ---------------------------------------------------------------------------------------
# Extra columns: JSON per row, Arrow types kept in the run.


def _extra_field(field: pa.Field) -> pa.Field:
    """The stored type of an extra column; reject types JSON cannot carry back."""
    type_ = field.type
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    if pa.types.is_large_string(type_):
        type_ = pa.string()
    if (
        pa.types.is_boolean(type_)
        or pa.types.is_integer(type_)
        or pa.types.is_floating(type_)
        or pa.types.is_string(type_)
        or pa.types.is_date(type_)
        or pa.types.is_timestamp(type_)
        or pa.types.is_decimal(type_)
    ):
        return pa.field(field.name, type_)
    raise InputError(
        f"extra columns may hold numbers, text, booleans, dates, timestamps or decimals, "
        f"not {field.type}; convert the column first",
        column=field.name,
    )


def _encode_extra(extras: pa.Table) -> pa.Array:
    """One JSON object per row; nulls (and NaN, which JSON lacks) are left out.

    Column-wise: each column gives its ``"name": value`` pieces (null where the value is
    left out) and the pieces of a row are joined; the text is exactly what ``json.dumps``
    of the row's object writes. Booleans, integers and floats are written by Arrow and
    NumPy (:func:`~corecustomers.segments.phrases.json_values`), other types once per
    distinct value by ``json.dumps``.
    """
    pieces = []
    for name in extras.column_names:
        column = extras.column(name).combine_chunks()
        key = json.dumps(name, ensure_ascii=False) + ": "
        pieces.append(pc.binary_join_element_wise(key, _json_texts(column), ""))
    n = extras.num_rows
    if not pieces:
        return pa.repeat("{}", n).cast(pa.string())
    body = pc.fill_null(join_present(pieces, ", "), "")
    return pc.binary_join_element_wise("{", body, "}", "")


def _json_texts(column: pa.Array) -> pa.Array:
    """Each value of ``column`` as JSON; null where it is null or not a finite number."""
    valid = np.asarray(pc.is_valid(column).to_numpy(zero_copy_only=False), dtype=bool)
    kind = column.type
    if pa.types.is_boolean(kind) or pa.types.is_floating(kind):
        filler = False if pa.types.is_boolean(kind) else np.nan
        values = np.asarray(pc.fill_null(column, filler).to_numpy(zero_copy_only=False))
        if pa.types.is_floating(kind):
            values = values.astype(np.float64)
            valid &= np.isfinite(values)
        texts = json_values(values, valid)
    elif pa.types.is_integer(kind):
        texts = pc.cast(column, pa.string())
    else:
        # each distinct value written once, then placed by the dictionary's indices: no
        # Python object per row (a million customers' tier basis and dates)
        encoded = pc.dictionary_encode(column)
        words = [
            json.dumps(_json_scalar(value), ensure_ascii=False)
            for value in encoded.dictionary.to_pylist()
        ]
        return pa.array(words, pa.string()).take(encoded.indices)
    return pc.if_else(pa.array(valid), texts, pa.nulls(len(column), pa.string()))


def _json_scalar(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def decode_extra(text: pa.ChunkedArray | pa.Array, schema: pa.Schema | None) -> pa.Table:
    """The extra columns back from their JSON text, typed by ``schema``.

    Keys not in ``schema`` (written by an older run) come back as text columns holding
    their JSON value.

    Examples
    --------
    >>> import pyarrow as pa
    >>> schema = pa.schema([("balance", pa.float64()), ("since", pa.date32())])
    >>> decode_extra(pa.array(['{"balance": 2.5, "since": "2020-05-01"}', None]), schema)
    pyarrow.Table
    balance: double
    since: date32[day]
    ----
    balance: [[2.5,null]]
    since: [[2020-05-01,null]]
    """
    # one parse of all the rows as a JSON array (an empty object for a missing text), not
    # a parse per row: the same objects (the same parser), 1M rows 1.02 -> 0.45 s
    objects = json.loads("[" + ",".join(value or "{}" for value in text.to_pylist()) + "]")
    fields = list(schema) if schema is not None else []
    known = {field.name for field in fields}
    untyped: set[str] = set()
    for obj in objects:
        for key in obj:
            if key not in known:
                known.add(key)
                untyped.add(key)
                fields.append(pa.field(key, pa.string()))
    arrays: list[pa.Array] = []
    for field in fields:
        values = [obj.get(field.name) for obj in objects]
        type_ = field.type
        if pa.types.is_date(type_) or pa.types.is_timestamp(type_) or pa.types.is_decimal(type_):
            arrays.append(pa.array(values, type=pa.string()).cast(type_))
        elif field.name in untyped:
            arrays.append(
                pa.array([None if v is None else json.dumps(v) for v in values], pa.string())
            )
        else:
            arrays.append(pa.array(values, type=type_))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def extra_schema_to_text(schema: pa.Schema) -> str:
    """Serialise an Arrow schema as base64 text (kept in ``runs.extra_schema``)."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def extra_schema_from_text(text: str | None) -> pa.Schema | None:
    """Inverse of :func:`extra_schema_to_text`; ``None`` stays ``None``."""
    if not text:
        return None
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def tier_counts(rows: pa.Table) -> Mapping[str, Any]:
    """Per-tier customer counts and the number of alerts, for ``runs.counts``."""
    tiers = pc.value_counts(rows.column("tier")).to_pylist()
    alerts = rows.column("alert")
    return {
        "tiers": {
            row["values"]: int(row["counts"])
            for row in sorted(tiers, key=lambda r: str(r["values"]))
        },
        "alerts": None if alerts.null_count == len(alerts) else int(pc.sum(alerts).as_py() or 0),
    }
