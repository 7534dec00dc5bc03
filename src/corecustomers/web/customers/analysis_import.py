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
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.db import transaction
from django.db.models import Max

from corecustomers.errors import InputError
from corecustomers.web.audit.log import record
from corecustomers.web.customers.identity import pseudonym
from corecustomers.web.customers.models import Analysis, Customer, CustomerHistory, CustomerState
from corecustomers.web.customers.signals import analysis_imported

__all__ = ["AnalysisImport", "import_analysis"]

CHUNK = 5_000

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

STATE_FIELDS = [
    field.name for field in CustomerState._meta.concrete_fields if field.name not in {"customer"}
]


@dataclass(frozen=True)
class AnalysisImport:
    """What an import did."""

    run_id: str
    as_of: dt.date
    customers: int
    new_customers: int
    state_updated: bool
    already_imported: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "as_of": self.as_of.isoformat(),
            "customers": self.customers,
            "new_customers": self.new_customers,
            "state_updated": self.state_updated,
            "already_imported": self.already_imported,
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
    table = pq.read_table(path)
    missing = [name for name in REQUIRED if name not in table.column_names]
    if missing:
        raise InputError(
            f"{path} lacks the column(s) {', '.join(missing)}: it was not written by "
            "`corecustomers analyze` with a tier policy; run the analysis again"
        )
    latest = Analysis.objects.aggregate(latest=Max("as_of"))["latest"]
    update_state = latest is None or as_of >= latest
    total = table.num_rows
    new_customers = 0
    for start, rows in _chunks(table):
        new_customers += _load_chunk(rows, run_id, as_of, update_state)
        report((start + len(rows)) / max(total, 1) * 0.98, f"{start + len(rows):,} of {total:,}")

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
    report(1.0, "done")
    return AnalysisImport(run_id, as_of, total, new_customers, update_state, not created)


def _chunks(table: pa.Table) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    for start in range(0, table.num_rows, CHUNK):
        yield start, table.slice(start, CHUNK).to_pylist()


def _load_chunk(rows: list[dict[str, Any]], run_id: str, as_of: dt.date, update_state: bool) -> int:
    ids = [str(row["customer_id"]) for row in rows]
    with transaction.atomic():
        before = Customer.objects.filter(external_id__in=ids).count()
        Customer.objects.bulk_create(
            [Customer(external_id=cid, pseudonym=pseudonym(cid)) for cid in ids],
            ignore_conflicts=True,
            batch_size=1000,
        )
        keys = dict(Customer.objects.filter(external_id__in=ids).values_list("external_id", "pk"))
        CustomerHistory.objects.bulk_create(
            [_history(keys[cid], row, run_id, as_of) for cid, row in zip(ids, rows, strict=True)],
            update_conflicts=True,
            unique_fields=["customer", "as_of"],
            update_fields=["tier", "core_score", "clv", "p_alive", "total_spend", "run_id"],
            batch_size=1000,
        )
        if update_state:
            CustomerState.objects.bulk_create(
                [_state(keys[cid], row, run_id, as_of) for cid, row in zip(ids, rows, strict=True)],
                update_conflicts=True,
                unique_fields=["customer"],
                update_fields=STATE_FIELDS,
                batch_size=500,
            )
    return len(ids) - before


def _num(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _history(key: int, row: dict[str, Any], run_id: str, as_of: dt.date) -> CustomerHistory:
    return CustomerHistory(
        customer_id=key,
        as_of=as_of,
        tier=_text(row.get("tier")),
        core_score=_num(row.get("core_score")),
        clv=_num(row.get("clv")),
        p_alive=_num(row.get("p_alive")),
        total_spend=_num(row.get("total_spend")),
        run_id=run_id,
    )


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


def _state(key: int, row: dict[str, Any], run_id: str, as_of: dt.date) -> CustomerState:
    pattern = {name: _jsonable(row[name]) for name in PATTERN_COLUMNS if row.get(name) is not None}
    return CustomerState(
        customer_id=key,
        as_of=as_of,
        run_id=run_id,
        tier=_text(row.get("tier")),
        previous_tier=_text(row.get("previous_tier")),
        tier_since=row.get("tier_since"),
        tier_reason_en=_text(row.get("tier_reason_en")),
        tier_reason_zh=_text(row.get("tier_reason_zh")),
        tier_basis=_text(row.get("tier_basis")),
        core=bool(row.get("core")),
        core_score=_num(row.get("core_score")),
        clv=_num(row.get("clv")),
        p_alive=_num(row.get("p_alive")),
        expected_purchases=_num(row.get("expected_purchases")),
        value_at_stake=_num(row.get("value_at_stake")),
        total_spend=_num(row.get("total_spend")) or 0.0,
        frequency=_int(row.get("frequency")) or 0,
        n_orders=_int(row.get("n_orders")) or 0,
        monetary_value=_num(row.get("monetary_value")),
        days_since_last_purchase=_int(row.get("days_since_last_purchase")),
        first_purchase=row.get("first_purchase"),
        last_purchase=row.get("last_purchase"),
        mean_gap_days=_num(row.get("mean_gap_days")),
        spend_trend=_num(row.get("spend_trend")),
        expected_next_purchase=row.get("expected_next_purchase"),
        rfm_segment=_text(row.get("rfm_segment")),
        rfm_segment_label=_text(row.get("rfm_segment_label")),
        r_score=_int(row.get("r_score")),
        f_score=_int(row.get("f_score")),
        m_score=_int(row.get("m_score")),
        abc_class=_text(row.get("abc_class")),
        alert=bool(row.get("alert")),
        alert_code=_text(row.get("alert_reason")),
        alert_reason_en=_text(row.get("alert_reason_en")),
        alert_reason_zh=_text(row.get("alert_reason_zh")),
        action_code=_text(row.get("action_code")),
        action_en=_text(row.get("action_en")),
        action_zh=_text(row.get("action_zh")),
        action_channel=_text(row.get("channel")),
        action_due=row.get("due"),
        recommendations=_recommendations(row.get("recommended_products")),
        pattern=pattern,
    )
