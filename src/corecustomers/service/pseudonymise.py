"""``analyze --pseudonymise``: an analysis' output folder without direct identifiers.

After the analysis has written its folder, every customer id in it is replaced by the
customer's stable keyed pseudonym -- the same ``p-…`` the service shows analysts
(:func:`corecustomers.data.suppression.pseudonym`, under the secret pseudonym key) -- in
``customers.parquet`` and ``customers.csv`` (every text column whose values are customer
ids), in ``summary.json`` (every text value that is a customer id), and in ``report.html``
(rendered again from the pseudonymised tables). ``quarantine.csv`` keeps each bad row's
number, reason, column and what to do, but none of the source's values (they may hold
names, phones, e-mails or the id itself); the report's sample of bad rows likewise.

The run's marker for the service (:mod:`corecustomers.store.outputs`) is removed, so a
service on the same workspace never loads pseudonymised customers as customers; the
workspace's snapshot keeps the real ids (it is the history the next analysis and the
service compare with, not an output to hand on).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from corecustomers.data.suppression import pseudonyms
from corecustomers.data.validation import REASONS
from corecustomers.store.outputs import runs_directory

__all__ = ["pseudonymise_outputs"]


def _mapper(ids: pa.Array, key: str) -> tuple[pa.Array, pa.Array]:
    unique = pc.unique(ids.drop_null()).cast(pa.string())
    return unique, pa.array(pseudonyms(unique.to_pylist(), key), pa.string())


def _map_column(column: pa.ChunkedArray, ids: pa.Array, codes: pa.Array) -> pa.ChunkedArray:
    original = column.type
    text = column.cast(pa.string())
    index = pc.index_in(text, value_set=ids)
    if index.null_count == len(index):
        return column
    mapped = pc.if_else(pc.is_valid(index), pc.take(codes, pc.fill_null(index, 0)), text)
    return mapped.cast(original) if original != pa.string() else mapped


def _map_table(table: pa.Table, ids: pa.Array, codes: pa.Array) -> pa.Table:
    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            column = _map_column(column, ids, codes)
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=table.schema)


def _map_json(value: Any, lookup: dict[str, str]) -> Any:
    if isinstance(value, str):
        return lookup.get(value, value)
    if isinstance(value, dict):
        return {lookup.get(k, k): _map_json(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_json(v, lookup) for v in value]
    return value


def _write_csv(table: pa.Table, path: Path) -> None:
    partial = path.with_name(f".{path.name}.partial")
    with partial.open("wb") as handle:
        handle.write(b"\xef\xbb\xbf")
        pacsv.write_csv(table, handle)
    partial.replace(path)


def _quarantine(path: Path) -> list[dict[str, Any]]:
    """Rewrite ``quarantine.csv`` without the source's values; the report's sample."""
    if not path.is_file() or path.stat().st_size <= 3:
        return []
    with path.open("rb") as handle:
        header = handle.readline().decode("utf-8-sig").strip()
    names = next(csv.reader([header]))
    table = pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())),
    )
    rows = [
        {
            "source_row": row.get("source_row"),
            "reason": row.get("reason"),
            "column": row.get("column"),
            "message": (
                f"{str(row.get('reason') or '').replace('_', ' ')}: column "
                f"'{row.get('column')}'; {REASONS.get(str(row.get('reason')), ('', ''))[1]}"
            ),
        }
        for row in table.select(
            [n for n in ("source_row", "reason", "column") if n in names]
        ).to_pylist()
    ]
    schema = pa.schema([(n, pa.string()) for n in ("source_row", "reason", "column", "message")])
    _write_csv(pa.Table.from_pylist(rows, schema=schema), path)
    return [{**row, "raw": {}} for row in rows[:20]]


def pseudonymise_outputs(out_dir: Path, key: str, *, workspace: str | None = None) -> int:
    """Pseudonymise the output folder ``out_dir`` in place (see the module); customers.

    ``workspace``: where the run's marker is (removed, see the module).
    """
    from corecustomers.report import write_report

    summary_path = out_dir / "summary.json"
    summary: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8"))
    if workspace is not None:
        markers = runs_directory(workspace)
        if markers is not None:
            (markers / f"{summary.get('run_id')}.json").unlink(missing_ok=True)
    customers = pq.read_table(out_dir / "customers.parquet")
    ids, codes = _mapper(customers.column("customer_id").combine_chunks(), key)
    customers = _map_table(customers, ids, codes)
    partial = out_dir / ".customers.parquet.partial"
    pq.write_table(customers, partial)
    partial.replace(out_dir / "customers.parquet")
    if (out_dir / "customers.csv").exists():
        _write_csv(customers, out_dir / "customers.csv")
    lookup = dict(zip(ids.to_pylist(), codes.to_pylist(), strict=True))
    summary = _map_json(summary, lookup)
    summary["pseudonymised"] = True
    partial = out_dir / ".summary.json.partial"
    partial.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    partial.replace(summary_path)
    sample = _quarantine(out_dir / "quarantine.csv")
    lang = str((summary.get("settings") or {}).get("lang") or "en")
    write_report(
        out_dir / "report.html",
        summary,
        customers,
        lang="zh" if lang.startswith("zh") else "en",
        quarantine=sample,
    )
    return len(ids)
