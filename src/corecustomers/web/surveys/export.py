"""Write the survey scores into the workspace for the engine (``docs/CONTRACTS.md``,
contract ``corecustomers.survey_scores/1``).

One row per answer, every answer again each time (a full, atomic replacement: written
beside, then renamed), beside the interactions' export in ``.corecustomers/exports/``: the
file needs no lock on the workspace's DuckDB file, and the next analysis reads it through
Ibis (:mod:`corecustomers.store.survey_scores`, which holds the contract's schema) without
knowing Django.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings

from corecustomers.data.atomic import replacing
from corecustomers.store.survey_scores import CONTRACT, SCORES_SCHEMA, scores_path
from corecustomers.web.surveys.models import SurveyResponse

__all__ = ["CONTRACT", "SCORES_SCHEMA", "export_scores", "scores_path"]


def nps_group(kind: str, score: int) -> str | None:
    if kind != "nps":
        return None
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


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
    # One writer at a time, as the interactions export (a killed writer's temporary file,
    # which holds customer ids, is removed by the next one).
    with replacing(target, prefix=".survey-scores-", serial=True) as temporary:
        pq.write_table(table, temporary)
    return {"file": str(target), "rows": table.num_rows}
