"""Validation that loses nothing: every row is accepted or quarantined with a reason.

Reasons, checked in this order (a row gets the first that applies):

=====================  ==========================================================
``missing_customer_id``  the customer column is empty
``unparseable_date``     the date is empty or not a date in a known format
``non_numeric_amount``   the amount is empty or not a number
``future_date``          the date is after today (in the business time zone)
``date_before_1900``     the date is before 1900-01-01
``duplicate_order_id``   an earlier valid row has the same order id (and the same
                         product, when a product column is mapped); the first copy is
                         kept, so re-running on an appended export never double-counts
=====================  ==========================================================

Exact duplicate rows *without* an order id are kept (they may be real repeat purchases)
and counted as a warning. Negative amounts are returns and are kept.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from corecustomers.data.mapping import OPTIONAL_FIELDS, ColumnMapping
from corecustomers.data.parsing import with_amount, with_timestamp
from corecustomers.data.readers import ROW_COLUMN, RawSource

__all__ = ["REASONS", "Validated", "ValidationCounts", "validate", "write_quarantine"]

REASONS: dict[str, tuple[str, str]] = {
    # code: (field whose column is named in the message, what to do)
    "missing_customer_id": ("customer_id", "fill in the customer id or drop the row"),
    "unparseable_date": (
        "timestamp",
        "write dates as YYYY-MM-DD, YYYYMMDD, YYYY/M/D or YYYY年M月D日 "
        "(optionally with a time and a UTC offset)",
    ),
    "non_numeric_amount": (
        "amount",
        "write a number such as 1234.50, 1,234.50 or ¥1,234.50",
    ),
    "future_date": ("timestamp", "correct the date; it is after today"),
    "date_before_1900": ("timestamp", "correct the date; it is before 1900"),
    "duplicate_order_id": (
        "order_id",
        "nothing: the first copy of this order was kept; remove repeated exports",
    ),
}

_TEXT_OPTIONAL = ("product", "category", "channel", "store", "referred_by")
_NUMERIC_OPTIONAL = ("quantity", "margin")


@dataclass(frozen=True)
class Validated:
    """Lazy tables: the canonical accepted rows and the quarantined rows."""

    accepted: ir.Table
    quarantine: ir.Table
    checked: ir.Table
    raw: RawSource
    mapping: ColumnMapping


@dataclass(frozen=True)
class ValidationCounts:
    """What happened to the rows (computed by one aggregate query)."""

    rows_read: int
    rows_accepted: int
    rows_quarantined: int
    reasons: dict[str, int]
    first_date: _dt.date | None
    last_date: _dt.date | None

    @property
    def bad_share(self) -> float:
        """Share of rows quarantined."""
        return self.rows_quarantined / self.rows_read if self.rows_read else 0.0


def _text(value: ir.Value) -> ir.StringValue:
    return value.cast("string").strip().nullif("")


def validate(
    raw: RawSource,
    mapping: ColumnMapping,
    *,
    today: _dt.date,
    business_offset_minutes: int = 0,
) -> Validated:
    """Parse and check every row of ``raw`` lazily.

    Returns the accepted rows in the canonical schema (``customer_id, timestamp, amount,
    order_id`` and the mapped optional fields, plus ``_source_row``) and the quarantined
    rows (``_source_row, reason`` and every source column as text).
    """
    t = raw.table
    order_col = mapping.get("order_id")
    text_columns: dict[str, ir.Value] = {"__customer": _text(t[mapping["customer_id"]])}
    text_columns["__order"] = _text(t[order_col]) if order_col else ibis.null("string")
    extra: list[str] = []
    for name in OPTIONAL_FIELDS:
        column = mapping.get(name)
        if column is None or name == "order_id":
            continue
        extra.append(name)
        if name not in _NUMERIC_OPTIONAL:
            text_columns[f"__{name}"] = _text(t[column])
    t = t.mutate(**text_columns)
    t = with_timestamp(
        t,
        mapping["timestamp"],
        out="__timestamp",
        business_offset_minutes=business_offset_minutes,
    )
    t = with_amount(t, mapping["amount"], out="__amount")
    for name in extra:
        if name in _NUMERIC_OPTIONAL:
            t = with_amount(t, mapping[name], out=f"__{name}")
    amount, stamp = t["__amount"], t["__timestamp"]
    tomorrow = ibis.timestamp(today + _dt.timedelta(days=1))
    basic = ibis.cases(
        (t["__customer"].isnull(), "missing_customer_id"),
        (stamp.isnull(), "unparseable_date"),
        (amount.isnull() | amount.isnan() | amount.isinf(), "non_numeric_amount"),
        (stamp >= tomorrow, "future_date"),
        (stamp < ibis.timestamp(_dt.datetime(1900, 1, 1)), "date_before_1900"),
        else_=ibis.null("string"),
    )
    parsed = t.mutate(__basic=basic)
    if order_col:
        keys = [parsed["__order"], parsed["__basic"].isnull()]
        if "product" in extra:
            keys.append(parsed["__product"])
        window = ibis.window(group_by=keys, order_by=parsed[ROW_COLUMN])
        copy = ibis.row_number().over(window)
        reason = parsed["__basic"].coalesce(
            ibis.ifelse(
                parsed["__order"].notnull() & (copy > 0), "duplicate_order_id", ibis.null("string")
            )
        )
    else:
        reason = parsed["__basic"]
    checked = parsed.mutate(__reason=reason)
    if checked._find_backend().name != "duckdb":
        # PostgreSQL flattens nested projections and Spark re-plans them for every query,
        # repeating the parse many times over; parse once into a temporary table there.
        checked = checked.cache()
    accepted = checked.filter(checked["__reason"].isnull()).select(
        customer_id=checked["__customer"],
        timestamp=checked["__timestamp"],
        amount=checked["__amount"],
        order_id=checked["__order"],
        **{k: checked[f"__{k}"] for k in extra},
        **{ROW_COLUMN: checked[ROW_COLUMN]},
    )
    quarantine = checked.filter(checked["__reason"].notnull()).select(
        ROW_COLUMN,
        reason=checked["__reason"],
        **{c: checked[c].cast("string") for c in raw.columns},
    )
    return Validated(
        accepted=accepted, quarantine=quarantine, checked=checked, raw=raw, mapping=mapping
    )


def count_rows(validated: Validated) -> ValidationCounts:
    """Rows read, accepted and quarantined by reason; the first and last valid dates."""
    c = validated.checked
    agg = c.group_by(reason=c["__reason"]).aggregate(
        n=c.count(),
        first=c["__timestamp"].min(),
        last=c["__timestamp"].max(),
    )
    rows = agg.to_pyarrow().to_pylist()
    reasons = {str(r["reason"]): int(r["n"]) for r in rows if r["reason"] is not None}
    good = next((r for r in rows if r["reason"] is None), None)
    accepted = int(good["n"]) if good else 0
    bad = sum(reasons.values())

    def day(v: Any) -> _dt.date | None:
        return v.date() if isinstance(v, _dt.datetime) else v

    return ValidationCounts(
        rows_read=accepted + bad,
        rows_accepted=accepted,
        rows_quarantined=bad,
        reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        first_date=day(good["first"]) if good else None,
        last_date=day(good["last"]) if good else None,
    )


def exact_duplicate_rows(accepted: ir.Table) -> int:
    """Accepted rows without an order id that repeat an earlier row exactly."""
    acc = accepted.filter(accepted.order_id.isnull())
    cols = [c for c in acc.columns if c != ROW_COLUMN]
    if not cols:
        return 0
    total = acc.count().to_pyarrow().as_py()
    distinct = acc.select(*cols).distinct().count().to_pyarrow().as_py()
    return int(total) - int(distinct)


def _messages(batch: pa.RecordBatch, validated: Validated) -> pa.Array:
    """One sentence per quarantined row: what is wrong, where, and what to do."""
    mapping = validated.mapping
    reasons = batch.column("reason")
    out = pa.nulls(len(batch), pa.string())
    for code, (field, todo) in REASONS.items():
        column = mapping.get(field) or field
        raw = (
            batch.column(column)
            if column in batch.schema.names
            else pa.nulls(len(batch), pa.string())
        )
        shown = pc.fill_null(raw.cast(pa.string()), "")
        text = pc.binary_join_element_wise(
            f"{code.replace('_', ' ')}: column '{column}' has '", shown, f"'; {todo}", ""
        )
        out = pc.if_else(pc.equal(reasons, code), text, out)
    return out


def iter_quarantine(validated: Validated, *, batch_size: int = 100_000) -> Iterator[pa.RecordBatch]:
    """The quarantined rows with a ``column`` and a ``message``, in source order."""
    expr = validated.quarantine.order_by(ROW_COLUMN)
    field_of = {code: validated.mapping.get(f) or f for code, (f, _) in REASONS.items()}
    for batch in expr.to_pyarrow_batches(chunk_size=batch_size):
        reasons = batch.column("reason")
        columns = pa.array([field_of.get(r) for r in reasons.to_pylist()], pa.string())
        rest = [n for n in batch.schema.names if n not in (ROW_COLUMN, "reason")]
        yield pa.RecordBatch.from_arrays(
            [batch.column(ROW_COLUMN), reasons, columns, _messages(batch, validated)]
            + [batch.column(n) for n in rest],
            names=["source_row", "reason", "column", "message", *rest],
        )


def write_quarantine(validated: Validated, path: Path, *, sample: int = 20) -> list[dict[str, Any]]:
    """Write ``quarantine.csv`` (UTF-8 with BOM, so Excel shows Chinese) atomically.

    Returns the first ``sample`` rows for the report.
    """
    tmp = path.with_name(path.name + ".tmp")
    examples: list[dict[str, Any]] = []
    schema_names = ["source_row", "reason", "column", "message", *validated.raw.columns]
    with tmp.open("wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        writer: pacsv.CSVWriter | None = None
        for batch in iter_quarantine(validated):
            if writer is None:
                writer = pacsv.CSVWriter(fh, batch.schema)
            writer.write_batch(batch)
            for row in batch.slice(0, max(0, sample - len(examples))).to_pylist():
                examples.append(
                    {
                        "source_row": row["source_row"],
                        "reason": row["reason"],
                        "column": row["column"],
                        "message": row["message"],
                        "raw": {c: row[c] for c in validated.raw.columns},
                    }
                )
        if writer is None:
            empty = pa.schema(
                [(n, pa.int64() if n == "source_row" else pa.string()) for n in schema_names]
            )
            writer = pacsv.CSVWriter(fh, empty)
        writer.close()
    tmp.replace(path)
    return examples
