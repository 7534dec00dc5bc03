"""``quarantine.csv``: the quarantined rows of a validation, each with the column at fault
and a sentence saying what is wrong and what to do, in source order.

:func:`write_quarantine` writes the file (UTF-8 with BOM, so Excel shows Chinese)
atomically and returns the first rows for the report; :func:`iter_quarantine` gives the
rows batch by batch. The rows and their reasons come from
:class:`~corecustomers.data.validation.Validated`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from corecustomers.data.atomic import replacing
from corecustomers.data.readers import ROW_COLUMN
from corecustomers.data.validation import REASONS, Validated

__all__ = ["iter_quarantine", "write_quarantine"]


def _messages(batch: pa.RecordBatch, validated: Validated) -> pa.Array:
    """One sentence per quarantined row: what is wrong, where, and what to do."""
    mapping = validated.mapping
    reasons = batch.column("reason")
    out = pa.nulls(len(batch), pa.string())
    for code, (field, todo) in REASONS.items():
        column = mapping.get(field) or field
        if code == "ambiguous_amount":
            todo = (
                f"read with the {validated.amount_format.short()}, its separators do not "
                'form a number; correct the value, or set decimal = "," or "." in [source] '
                "of corecustomers.toml"
            )
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
    examples: list[dict[str, Any]] = []
    schema_names = ["source_row", "reason", "column", "message", *validated.raw.columns]
    # a killed writer's half-written copy (customer data) is removed by the next one
    with replacing(path, prefix=f".{path.name}.", mode=0o644) as tmp, tmp.open("wb") as fh:
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
    return examples
