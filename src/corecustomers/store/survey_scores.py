"""The service's survey answers as a table the engine reads through Ibis, without Django.

The service writes every answer (NPS 0-10, satisfaction 1-5) into
``.corecustomers/exports/survey_scores.parquet`` beside the interactions' export
(:mod:`corecustomers.store.interactions`); the contract -- columns, types, when it is
written -- is in ``docs/CONTRACTS.md`` ("Survey scores"), and :data:`SCORES_SCHEMA` is its
code form, shared by the writer (``corecustomers.web.surveys.export``) and the readers
here:

* :func:`read_survey_scores` -- the export as an Ibis table (empty, with the contract's
  columns, when the service has written none yet);
* :func:`latest_scores` -- per customer, the latest NPS and satisfaction answers up to a
  date and the NPS answers of the year before it: the survey features of an analysis.

Examples
--------
>>> import datetime as dt, tempfile, pyarrow as pa, pyarrow.parquet as pq
>>> rows = pa.Table.from_pylist(
...     [{"response_id": 1, "customer_id": "c1", "survey": "nps", "kind": "nps", "score": 3,
...       "nps_group": "detractor", "answered_at": dt.datetime(2026, 3, 2, 10),
...       "channel": "link", "tier_at_answer": "key", "alert_raised": True}],
...     schema=SCORES_SCHEMA.with_metadata({"corecustomers.contract": CONTRACT}))
>>> with tempfile.TemporaryDirectory() as project:
...     path = scores_path(project)
...     path.parent.mkdir(parents=True)
...     pq.write_table(rows, path)
...     latest = latest_scores(read_survey_scores(project), as_of=dt.date(2026, 3, 12))
...     latest.to_pyarrow().to_pylist()[0]["last_nps"]
3
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Final

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from corecustomers.data.window import rows_up_to
from corecustomers.store.interactions import interactions_path, read_export

__all__ = [
    "CONTRACT",
    "SCORES_FILE",
    "SCORES_SCHEMA",
    "latest_scores",
    "read_survey_scores",
    "scores_path",
]

#: The contract's name and version, stored in the file's metadata.
CONTRACT: Final = "corecustomers.survey_scores/1"
SCORES_FILE: Final = "survey_scores.parquet"

#: The columns of the export, in this order (``docs/CONTRACTS.md``, "Survey scores").
SCORES_SCHEMA: Final = pa.schema(
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


def scores_path(location: str | os.PathLike[str]) -> Path | None:
    """The export file of the workspace at ``location``; ``None`` for an in-memory one."""
    interactions = interactions_path(location)
    return None if interactions is None else interactions.with_name(SCORES_FILE)


def read_survey_scores(
    location: str | os.PathLike[str], *, con: BaseBackend | None = None
) -> ir.Table:
    """The survey scores export of the workspace at ``location`` as an Ibis table.

    Read with ``con`` (default: an in-memory DuckDB). Without an export yet, an empty
    table with the contract's columns.

    Raises
    ------
    InputError
        The file is not a survey scores export of this contract (another version).
    """
    return read_export(
        scores_path(location),
        SCORES_SCHEMA,
        CONTRACT,
        what="a survey scores export",
        written="after the next answer",
        con=con,
    )


def latest_scores(scores: ir.Table, *, as_of: dt.date) -> ir.Table:
    """Per customer who answered up to ``as_of`` (inclusive): the survey features.

    Columns: ``customer_id``, ``last_nps`` and ``last_nps_at`` (the latest NPS answer),
    ``last_satisfaction`` and ``last_satisfaction_at`` (the latest satisfaction answer),
    ``nps_answers_365d`` and ``detractor_answers_365d`` (NPS answers, and detractor ones,
    in the 365 days up to ``as_of``). A customer who answered only one kind has nulls for
    the other.
    """
    start = ibis.timestamp(dt.datetime.combine(as_of - dt.timedelta(days=364), dt.time()))
    seen = rows_up_to(scores, as_of, column="answered_at")

    def latest(kind: str, name: str) -> ir.Table:
        rows = seen.filter(seen.kind == kind)
        order = ibis.window(
            group_by=rows.customer_id,
            order_by=[ibis.desc(rows.answered_at), ibis.desc(rows.response_id)],
        )
        ranked = rows.mutate(_rank=ibis.row_number().over(order))
        top = ranked.filter(ranked._rank == 0)
        return top.select("customer_id", **{name: top.score, f"{name}_at": top.answered_at})

    nps = latest("nps", "last_nps")
    satisfaction = latest("satisfaction", "last_satisfaction")
    year = seen.filter((seen.kind == "nps") & (seen.answered_at >= start))
    counts = year.group_by("customer_id").aggregate(
        nps_answers_365d=year.count(),
        detractor_answers_365d=(year.nps_group == "detractor").sum(),
    )
    people = seen.select("customer_id").distinct()
    joined = (
        people.left_join(nps, "customer_id")
        .drop("customer_id_right")
        .left_join(satisfaction, "customer_id")
        .drop("customer_id_right")
        .left_join(counts, "customer_id")
        .drop("customer_id_right")
    )
    return joined.mutate(
        nps_answers_365d=joined.nps_answers_365d.fill_null(0),
        detractor_answers_365d=joined.detractor_answers_365d.fill_null(0),
    ).order_by("customer_id")
