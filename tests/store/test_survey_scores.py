"""The survey scores export read by the engine (no Django): the contract's columns, the
latest answers per customer up to a date, and the year's NPS and detractor answers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corecustomers.errors import InputError
from corecustomers.store.survey_scores import (
    CONTRACT,
    SCORES_SCHEMA,
    latest_scores,
    read_survey_scores,
    scores_path,
)


def _answer(rid: int, who: str, kind: str, score: int, at: dt.datetime) -> dict[str, object]:
    group = None
    if kind == "nps":
        group = "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"
    return {
        "response_id": rid,
        "customer_id": who,
        "survey": kind,
        "kind": kind,
        "score": score,
        "nps_group": group,
        "answered_at": at,
        "channel": "link",
        "tier_at_answer": "key",
        "alert_raised": group == "detractor",
    }


def _write(project: Path, rows: list[dict[str, object]], contract: str = CONTRACT) -> None:
    path = scores_path(project)
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    schema = SCORES_SCHEMA.with_metadata({"corecustomers.contract": contract})
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def test_latest_answers_and_the_years_counts_up_to_a_date(tmp_path: Path) -> None:
    day = dt.datetime
    _write(
        tmp_path,
        [
            _answer(1, "c1", "nps", 10, day(2025, 1, 5, 9)),  # more than a year before
            _answer(2, "c1", "nps", 4, day(2026, 2, 1, 9)),
            _answer(3, "c1", "nps", 9, day(2026, 3, 1, 9)),
            _answer(4, "c1", "satisfaction", 2, day(2026, 2, 10, 9)),
            _answer(5, "c2", "satisfaction", 5, day(2026, 3, 1, 9)),
            _answer(6, "c2", "nps", 0, day(2026, 4, 1, 9)),  # after the date: not seen
        ],
    )
    rows = latest_scores(read_survey_scores(tmp_path), as_of=dt.date(2026, 3, 1)).to_pyarrow()
    got = {r["customer_id"]: r for r in rows.to_pylist()}
    assert set(got) == {"c1", "c2"}
    assert (got["c1"]["last_nps"], got["c1"]["last_satisfaction"]) == (9, 2)
    assert (got["c1"]["nps_answers_365d"], got["c1"]["detractor_answers_365d"]) == (2, 1)
    assert got["c2"]["last_nps"] is None and got["c2"]["last_satisfaction"] == 5
    assert got["c2"]["nps_answers_365d"] == 0


def test_no_export_yet_is_an_empty_table_and_another_contract_is_refused(tmp_path: Path) -> None:
    empty = read_survey_scores(tmp_path).to_pyarrow()
    assert empty.num_rows == 0 and empty.schema.names == SCORES_SCHEMA.names
    _write(tmp_path, [], contract="corecustomers.survey_scores/0")
    with pytest.raises(InputError, match="not a survey scores export"):
        read_survey_scores(tmp_path)
