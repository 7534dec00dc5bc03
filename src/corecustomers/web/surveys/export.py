"""Write the survey scores into the workspace for the engine (``docs/CONTRACTS.md``,
contract ``corecustomers.survey_scores/1``).

One row per answer, every answer again each time (a full, atomic replacement: written
beside, then renamed), beside the interactions' export in ``.corecustomers/exports/``: the
file needs no lock on the workspace's DuckDB file, and the next analysis reads it through
Ibis (``ibis.read_parquet``) without knowing Django.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import zoneinfo
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings

from corecustomers.store.interactions import interactions_path
from corecustomers.web.surveys.models import SurveyResponse

__all__ = ["CONTRACT", "SCORES_SCHEMA", "export_scores", "scores_path"]

CONTRACT = "corecustomers.survey_scores/1"

SCORES_SCHEMA = pa.schema(
    [
        pa.field("response_id", pa.int64(), nullable=False),
        pa.field("customer_id", pa.string(), nullable=False),
        pa.field("survey", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("score", pa.int32(), nullable=False),
        pa.field("nps_group", pa.string()),
        pa.field("answered_at", pa.timestamp("us"), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("tier_at_answer", pa.string()),
        pa.field("alert_raised", pa.bool_(), nullable=False),
    ]
)


def nps_group(kind: str, score: int) -> str | None:
    if kind != "nps":
        return None
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def scores_path(location: str | os.PathLike[str]) -> Path | None:
    """The export file of the workspace at ``location``; ``None`` for an in-memory one."""
    interactions = interactions_path(location)
    return None if interactions is None else interactions.with_name("survey_scores.parquet")


def export_scores(location: str | None = None) -> dict[str, Any]:
    """Write every answer to the workspace's export; where and how many."""
    target = scores_path(location or settings.WORKSPACE)
    if target is None:
        return {"file": None, "rows": 0}
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    columns: dict[str, list[Any]] = {name: [] for name in SCORES_SCHEMA.names}
    rows = (
        SurveyResponse.objects.order_by("pk")
        .values_list(
            "pk", "customer__external_id", "survey__code", "survey__kind", "score", "at",
            "channel", "tier", "alert_id",
        )
        .iterator(chunk_size=5000)
    )  # fmt: skip
    for pk, customer, code, kind, score, at, channel, tier, alert in rows:
        local = at.astimezone(zone).replace(tzinfo=None) if at.tzinfo else at
        for name, value in zip(
            SCORES_SCHEMA.names,
            (pk, customer, code, kind, score, nps_group(kind, score), local, channel,
             tier or None, alert is not None),
            strict=True,
        ):  # fmt: skip
            columns[name].append(value)
    exported = dt.datetime.now(dt.UTC).isoformat()
    schema = SCORES_SCHEMA.with_metadata(
        {"corecustomers.contract": CONTRACT, "corecustomers.exported_at": exported}
    )
    table = pa.Table.from_pydict(columns, schema)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    os.close(handle)
    try:
        pq.write_table(table, temporary)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return {"file": str(target), "rows": table.num_rows}
