"""Load an ``analyze`` output folder into the service: customers, their state and history.

The folder's ``summary.json`` and ``customers.parquet`` are the contract (the service never
opens the workspace for this). The load is idempotent and resumable: customers, states and
history points are upserted in chunks (each chunk one transaction, so that pages and other
writers are not held up for the whole load), and the :class:`Analysis` row that marks the
import as done is written last. A load that stops half-way is completed by running it
again; a folder already imported is a no-op. Assignments, overrides, notes and anything
people recorded live in other tables and are never touched.

An analysis older than the latest one imported adds its history points only.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from pyarrow import csv

from corecustomers.errors import InputError
from corecustomers.web.audit.log import record
from corecustomers.web.customers import cells
from corecustomers.web.customers.identity import pseudonyms
from corecustomers.web.customers.models import Analysis, Customer, CustomerHistory, CustomerState
from corecustomers.web.customers.signals import analysis_imported

__all__ = ["AnalysisImport", "import_analysis"]

CHUNK = 50_000
"""Rows per transaction: large enough that the per-statement cost vanishes, small enough
that an interrupted load loses little and other writers wait only a moment."""

REQUIRED = ("customer_id", "tier")

#: Columns of ``customers.parquet`` copied into the profile's purchase pattern when present.
PATTERN_COLUMNS = (
    "gap_std_days",
    "spend_last_90d",
    "spend_prev_90d",
    "spend_last_365d",
    "return_share",
    "returns_amount",
    "n_products",
    "n_categories",
    "tenure_days",
    "potential_score",
    "high_potential",
    "influence_score",
    "referral_count",
    "early_adopter",
    "top_products",
    "top_categories",
    "top_channels",
)


@dataclass(frozen=True)
class AnalysisImport:
    """What an import did."""

    run_id: str
    as_of: dt.date
    customers: int
    new_customers: int
    state_updated: bool
    already_imported: bool
    #: Rows of erased customers (privacy suppression list): skipped, values unwritten.
    suppressed: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "customers": self.customers,
            "new_customers": self.new_customers,
            "state_updated": self.state_updated,
            "already_imported": self.already_imported,
            "suppressed": self.suppressed,
        }


def read_summary(folder: Path) -> dict[str, Any]:
    path = folder / "summary.json"
    if not path.is_file():
        raise InputError(
            f"{folder} has no summary.json: give the folder that `corecustomers analyze "
            "… --out FOLDER` wrote"
        )
    try:
        summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path} is not the JSON that analyze writes: {exc}") from exc
    for key in ("run_id", "as_of"):
        if not summary.get(key):
            raise InputError(f"{path} has no {key!r}: run `corecustomers analyze` again")
    return summary


def import_analysis(
    folder: str | Path, *, progress: Callable[[float, str], None] | None = None
) -> AnalysisImport:
    """Import the analysis in ``folder`` (idempotent; see the module docstring)."""
    folder = Path(folder).resolve()
    summary = read_summary(folder)
    run_id = str(summary["run_id"])
    as_of = dt.date.fromisoformat(str(summary["as_of"]))
    report = progress or (lambda fraction, message: None)

    done = Analysis.objects.filter(run_id=run_id).first()
    if done is not None:
        return AnalysisImport(run_id, as_of, done.n_customers, 0, False, True)

    path = folder / "customers.parquet"
    if not path.is_file():
        raise InputError(f"{folder} has no customers.parquet: run `corecustomers analyze` again")
    metadata = pq.read_metadata(path)
    present = set(metadata.schema.to_arrow_schema().names)
    missing = [name for name in REQUIRED if name not in present]
    if missing:
        raise InputError(
            f"{path} lacks the column(s) {', '.join(missing)}: it was not written by "
            "`corecustomers analyze` with a tier policy; run the analysis again"
        )
    latest = Analysis.objects.aggregate(latest=Max("as_of"))["latest"]
    update_state = latest is None or as_of >= latest
    total = metadata.num_rows
    new_customers = suppressed = 0
    for start, rows in _chunks(path):
        kept = _without_suppressed(rows)
        suppressed += rows.num_rows - kept.num_rows
        if kept.num_rows:
            new_customers += _load_chunk(kept, run_id, as_of, update_state)
        done_rows = start + rows.num_rows
        report(done_rows / max(total, 1) * 0.98, f"{done_rows:,} of {total:,}")

    if total and connection.vendor == "postgresql":
        _analyze()
    with transaction.atomic():
        _, created = Analysis.objects.get_or_create(
            run_id=run_id,
            defaults={
                "as_of": as_of,
                "source": str(summary.get("source") or ""),
                "folder": str(folder),
                "n_customers": total,
                "summary": summary,
            },
        )
        if created:
            transaction.on_commit(
                lambda: analysis_imported.send(sender=Analysis, run_id=run_id, as_of=as_of)
            )
            record(
                "import",
                object_type="analysis",
                object_key=run_id,
                message=f"imported the analysis of {as_of} ({total:,} customers) from {folder}",
                row_count=total,
            )
    # The dashboard's aggregates of the new states and history, once (``cells.py``).
    report(0.99, "dashboard aggregates")
    cells.rebuild()
    report(1.0, "done")
    return AnalysisImport(
        run_id, as_of, total, new_customers, update_state, not created, suppressed
    )


def _without_suppressed(rows: pa.Table) -> pa.Table:
    """``rows`` without the customers erased for privacy (their keyed hash is listed)."""
    from corecustomers.web.privacy.models import Suppression
    from corecustomers.web.privacy.suppression import suppressed_ids

    if not Suppression.objects.exists():  # the usual case: no id is read or hashed
        return rows
    ids = pc.cast(rows.column("customer_id"), pa.string()).to_pylist()
    gone = suppressed_ids(i for i in ids if i is not None)
    if not gone:
        return rows
    return rows.filter(pa.array([i not in gone for i in ids], pa.bool_()))


def _analyze() -> None:
    """Fresh planner statistics after a bulk load, so that pages get good plans at once
    instead of after autovacuum's next visit (about 2 s for 1M customers)."""
    with connection.cursor() as cursor:
        for model in (Customer, CustomerState, CustomerHistory):
            cursor.execute(f"ANALYZE {_table(model)}")


def _chunks(path: Path) -> Iterator[tuple[int, pa.Table]]:
    """``customers.parquet`` in slices of :data:`CHUNK` rows, read one slice at a time."""
    start = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK):
        yield start, pa.Table.from_batches([batch])
        start += batch.num_rows


def _load_chunk(rows: pa.Table, run_id: str, as_of: dt.date, update_state: bool) -> int:
    """Upsert one slice in one transaction; the number of customers it added.

    The slice goes into a temporary staging table in one bulk write (``COPY`` on
    PostgreSQL, one ``executemany`` elsewhere), and three ``INSERT … SELECT … ON
    CONFLICT`` statements take it from there: new customers (existing ones untouched),
    history points and -- for the latest analysis -- states (replaced).
    """
    stage = _staging_table(rows)
    with transaction.atomic(), connection.cursor() as cursor:
        _stage(cursor, stage)
        cursor.execute(*_insert_customers())
        added = max(cursor.rowcount, 0)
        cursor.execute(*_upsert_history(run_id, as_of))
        if update_state:
            cursor.execute(*_upsert_states(run_id, as_of))
        cursor.execute(f"DROP TABLE {STAGE}")
    return added


STAGE = "cc_analysis_stage"

#: How each field of :class:`CustomerState` is read from ``customers.parquet``: the
#: column and its conversion (``text``: missing is empty; ``num``: not finite is missing;
#: ``int0``: missing is 0; ``bool``: missing is false; ``recs`` and ``pattern``: JSON).
STATE_COLUMNS: dict[str, tuple[str, str]] = {
    "tier": ("tier", "text"),
    "previous_tier": ("previous_tier", "text"),
    "tier_since": ("tier_since", "date"),
    "tier_reason_en": ("tier_reason_en", "text"),
    "tier_reason_zh": ("tier_reason_zh", "text"),
    "tier_basis": ("tier_basis", "text"),
    "core": ("core", "bool"),
    "core_score": ("core_score", "num"),
    "clv": ("clv", "num"),
    "p_alive": ("p_alive", "num"),
    "expected_purchases": ("expected_purchases", "num"),
    "value_at_stake": ("value_at_stake", "num"),
    "total_spend": ("total_spend", "num"),  # missing is 0 for the state, kept for history
    "frequency": ("frequency", "int0"),
    "n_orders": ("n_orders", "int0"),
    "monetary_value": ("monetary_value", "num"),
    "days_since_last_purchase": ("days_since_last_purchase", "int"),
    "first_purchase": ("first_purchase", "date"),
    "last_purchase": ("last_purchase", "date"),
    "mean_gap_days": ("mean_gap_days", "num"),
    "spend_trend": ("spend_trend", "num"),
    "expected_next_purchase": ("expected_next_purchase", "date"),
    "rfm_segment": ("rfm_segment", "text"),
    "rfm_segment_label": ("rfm_segment_label", "text"),
    "r_score": ("r_score", "int"),
    "f_score": ("f_score", "int"),
    "m_score": ("m_score", "int"),
    "abc_class": ("abc_class", "text"),
    "alert": ("alert", "bool"),
    "alert_code": ("alert_reason", "text"),
    "alert_reason_en": ("alert_reason_en", "text"),
    "alert_reason_zh": ("alert_reason_zh", "text"),
    "action_code": ("action_code", "text"),
    "action_en": ("action_en", "text"),
    "action_zh": ("action_zh", "text"),
    "action_channel": ("channel", "text"),
    "action_due": ("due", "date"),
    "recommendations": ("recommended_products", "recs"),
    "pattern": ("", "pattern"),
}

HISTORY_FIELDS = ("tier", "core_score", "clv", "p_alive", "total_spend")


def _staging_table(rows: pa.Table) -> pa.Table:
    """The slice as the staging table's columns: ids, pseudonyms and every state field."""
    ids = pc.cast(rows.column("customer_id"), pa.string()).combine_chunks()
    id_list = ids.to_pylist()
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "external_id": ids,
        "pseudonym": pa.array(pseudonyms(id_list), pa.string()),
    }
    for field, (source, kind) in STATE_COLUMNS.items():
        columns[field] = _convert(rows, source, kind)
    return pa.table(columns)


def _convert(rows: pa.Table, source: str, kind: str) -> pa.Array | pa.ChunkedArray:
    n = rows.num_rows
    if kind == "pattern":
        return _patterns(rows)
    if source not in rows.column_names:
        column: pa.ChunkedArray | pa.Array = pa.nulls(n)
    else:
        column = rows.column(source)
    if kind == "text":
        return pc.fill_null(pc.cast(column, pa.string()), "")
    if kind == "num":
        number = pc.cast(column, pa.float64())
        return pc.if_else(pc.is_finite(number), number, pa.scalar(None, pa.float64()))
    if kind in {"int", "int0"}:
        whole = pc.cast(column, pa.int64(), safe=False)
        return pc.fill_null(whole, 0) if kind == "int0" else whole
    if kind == "bool":
        return pc.fill_null(pc.cast(column, pa.bool_()), False)
    if kind == "date":
        return pc.cast(column, pa.date32())
    if kind == "recs":
        listed = _per_value(column, lambda value: json.dumps(_recommendations(value)))
        return pc.fill_null(listed, "[]")
    raise ValueError(f"unknown conversion {kind!r}")


def _patterns(rows: pa.Table) -> pa.Array:
    """The profile's purchase pattern of each row as JSON text, built column by column.

    The same object as ``{name: _jsonable(value)}`` over the present, non-null
    :data:`PATTERN_COLUMNS` (a value that is not finite is ``null``), without a Python
    loop over the rows: each column becomes its ``"name": value`` fragments in Arrow, and
    the fragments of a row are joined.
    """
    fragments = [
        pc.binary_join_element_wise(json.dumps(name) + ": ", _json_values(rows.column(name)), "")
        for name in PATTERN_COLUMNS
        if name in rows.column_names
    ]
    if not fragments:
        return pa.array(["{}"] * rows.num_rows, pa.string())
    body = pc.binary_join_element_wise(*fragments, ", ", null_handling="skip")
    return pc.binary_join_element_wise("{", body, "}", "")


def _json_values(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """Each value of ``column`` as JSON text, null where it is null (see :func:`_jsonable`)."""
    kind = column.type
    if pa.types.is_floating(kind):
        text = pc.cast(column, pa.string())
        # Python writes a whole float as 1.0, Arrow as 1: keep it a float when read back.
        whole = pc.match_substring_regex(text, r"^-?[0-9]+$")
        text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
        return pc.if_else(pc.is_finite(column), text, "null")
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return pc.cast(column, pa.string())
    if pa.types.is_date(kind):
        return pc.binary_join_element_wise('"', pc.cast(column, pa.string()), '"', "")
    return _per_value(column, lambda value: json.dumps(_jsonable(value)))


def _per_value(column: pa.ChunkedArray | pa.Array, convert: Callable[[Any], str]) -> pa.Array:
    """``convert`` applied to each distinct non-null value once; nulls stay null."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if pa.types.is_null(column.type):
        return pa.nulls(len(column), pa.string())
    encoded = pc.dictionary_encode(column)
    dictionary = pa.array([convert(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return dictionary.take(encoded.indices)


def _stage(cursor: Any, stage: pa.Table) -> None:
    """Create the temporary staging table and fill it with the slice in one bulk write."""
    quote = connection.ops.quote_name
    types = {"external_id": "varchar(200)", "pseudonym": "varchar(24)"}
    for field in STATE_COLUMNS:
        types[field] = str(CustomerState._meta.get_field(field).db_type(connection))
    names = stage.column_names
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {STAGE} ("
        + ", ".join(f"{quote(name)} {types[name]}" for name in names)
        + ")"
    )
    column_list = ", ".join(quote(name) for name in names)
    if connection.vendor == "postgresql":
        buffer = io.BytesIO()
        csv.write_csv(stage, buffer, csv.WriteOptions(include_header=False))
        with cursor.cursor.copy(
            f"COPY {STAGE} ({column_list}) FROM STDIN WITH (FORMAT csv)"
        ) as copy:
            copy.write(buffer.getbuffer())
        return
    for i, name in enumerate(names):  # other databases: dates as ISO text
        if pa.types.is_date(stage.schema.field(i).type):
            stage = stage.set_column(i, name, pc.cast(stage.column(i), pa.string()))
    placeholders = ", ".join(["%s"] * len(names))
    cursor.executemany(
        f"INSERT INTO {STAGE} ({column_list}) VALUES ({placeholders})",
        list(zip(*(column.to_pylist() for column in stage.columns), strict=True)),
    )


def _table(model: type[Any]) -> str:
    return str(connection.ops.quote_name(model._meta.db_table))


def _column(model: type[Any], field: str) -> str:
    return str(connection.ops.quote_name(model._meta.get_field(field).column))


def _insert_customers() -> tuple[str, list[Any]]:
    """New customers from the stage with every other field at its default."""
    now = timezone.now()
    columns, values, params = ["external_id", "pseudonym"], ["s.external_id", "s.pseudonym"], []
    for field in Customer._meta.concrete_fields:
        if field.primary_key or field.name in {"external_id", "pseudonym"}:
            continue
        auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        value = now if auto else field.get_default()
        columns.append(field.column)
        values.append("%s")
        params.append(field.get_db_prep_save(value, connection))
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {_table(Customer)} ({', '.join(quote(c) for c in columns)}) "
        f"SELECT {', '.join(values)} FROM {STAGE} s WHERE TRUE ON CONFLICT DO NOTHING"
    )
    return sql, params


def _keyed() -> str:
    return (
        f"FROM {STAGE} s JOIN {_table(Customer)} c "
        f"ON c.{_column(Customer, 'external_id')} = s.external_id WHERE TRUE"
    )


def _upsert_history(run_id: str, as_of: dt.date) -> tuple[str, list[Any]]:
    quote = connection.ops.quote_name
    fields = list(HISTORY_FIELDS)
    columns = ["customer", "as_of", "run_id", *fields]
    sql = (
        f"INSERT INTO {_table(CustomerHistory)} "
        f"({', '.join(_column(CustomerHistory, f) for f in columns)}) "
        f"SELECT c.{quote(Customer._meta.pk.column)}, %s, %s, "
        + ", ".join(f"s.{quote(f)}" for f in fields)
        + f" {_keyed()} "
        f"ON CONFLICT ({_column(CustomerHistory, 'customer')}, "
        f"{_column(CustomerHistory, 'as_of')}) DO UPDATE SET "
        + ", ".join(
            f"{_column(CustomerHistory, f)} = excluded.{_column(CustomerHistory, f)}"
            for f in [*fields, "run_id"]
        )
    )
    return sql, [_date(as_of), run_id]


def _upsert_states(run_id: str, as_of: dt.date) -> tuple[str, list[Any]]:
    quote = connection.ops.quote_name
    fields = list(STATE_COLUMNS)
    selected = [
        "COALESCE(s.total_spend, 0)" if f == "total_spend" else f"s.{quote(f)}" for f in fields
    ]
    columns = ["customer", "as_of", "run_id", *fields]
    sql = (
        f"INSERT INTO {_table(CustomerState)} "
        f"({', '.join(_column(CustomerState, f) for f in columns)}) "
        f"SELECT c.{quote(Customer._meta.pk.column)}, %s, %s, {', '.join(selected)} "
        f"{_keyed()} "
        f"ON CONFLICT ({_column(CustomerState, 'customer')}) DO UPDATE SET "
        + ", ".join(
            f"{_column(CustomerState, f)} = excluded.{_column(CustomerState, f)}"
            for f in ["as_of", "run_id", *fields]
        )
    )
    return sql, [_date(as_of), run_id]


def _date(value: dt.date) -> Any:
    return CustomerState._meta.get_field("as_of").get_db_prep_save(value, connection)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _recommendations(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, list):
        return [str(item) for item in value]
    text = str(value)
    if text.startswith("["):
        try:
            return [str(item) for item in json.loads(text)]
        except json.JSONDecodeError:
            pass
    return [part.strip() for part in text.split("|") if part.strip()]
