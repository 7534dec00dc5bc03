"""The report tests' inputs have the shape that ``analyze`` writes, so they cannot drift.

``conftest.py`` builds its summary and customers table by hand; here they are compared with
the summaries and tables of real runs (:mod:`analyses`): every key the fixture has, the run
has too, with a value of the same kind, and every code the fixture uses (quarantine
reasons, models and their parameters, segments, tiers, actions) is one the code defines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from analyses import Analysis

from corecustomers.data.validation import REASONS
from corecustomers.models.selection import MODEL_REGISTRY, TRANSACTION_MODELS
from corecustomers.segments.playbook import DEFAULT_PLAYBOOK
from corecustomers.segments.schemes import get_scheme

Inputs = tuple[dict[str, Any], pa.Table, list[dict[str, Any]]]
RealAnalysis = Callable[[str], Analysis]

#: Dicts whose keys are data (codes, tiers, column roles, parameters), not the schema:
#: their keys become ``*``; the codes they hold are checked on their own below.
KEYED_BY_DATA = {
    ".quarantine_reasons",
    ".actions",
    ".settings.columns",
    ".models.transaction.params",
    ".models.transaction.standard_errors",
    ".migration.customers_list",
    ".migration.gone.by_tier",
    ".migration.new.by_tier",
    ".migration.time_in_tier",
    ".migration.time_in_tier.*.buckets",
    ".migration_series.series.tier_sizes",
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def shape(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """``(path, kind)`` for ``value`` and everything in it; list items share ``path[]``."""
    yield path, _kind(value)
    if isinstance(value, dict):
        for key, item in value.items():
            yield from shape(item, f"{path}.{'*' if path in KEYED_BY_DATA else key}")
    elif isinstance(value, list):
        for item in value:
            yield from shape(item, f"{path}[]")


def kinds(*summaries: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for summary in summaries:
        for path, kind in shape(summary):
            out.setdefault(path, set()).add(kind)
    return out


@pytest.fixture(scope="module")
def real_summaries(real_analysis: RealAnalysis) -> list[dict[str, Any]]:
    """A run with models, holdout and migration (CDNOW) and one with quarantine and
    recommendations (the demo): between them, every part of the summary."""
    return [real_analysis("cdnow-en").summary, real_analysis("demo").summary]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_summary_key_of_the_fixture_is_one_analyze_writes(
    inputs: Callable[[str], Inputs], real_summaries: list[dict[str, Any]], lang: str
) -> None:
    real = kinds(*real_summaries)
    fixture = kinds(inputs(lang)[0])
    unknown = sorted(path for path in fixture if path not in real)
    assert unknown == []
    # a value the runs never hold as that kind (None is allowed where a run has one)
    clashes = {
        path: (sorted(kind), sorted(real[path]))
        for path, kind in fixture.items()
        if not kind <= real[path] | {"null"}
    }
    assert clashes == {}


def test_the_real_runs_cover_every_part_of_the_summary(
    full_inputs: Inputs, real_summaries: list[dict[str, Any]]
) -> None:
    """Only keys with nothing to compare are left to the fixture alone."""
    assert set(full_inputs[0]) <= {key for summary in real_summaries for key in summary}


def test_every_customer_column_of_the_fixture_is_one_analyze_writes(
    full_inputs: Inputs, real_analysis: RealAnalysis
) -> None:
    real: dict[str, pa.DataType] = {}
    for kind in ("cdnow-en", "demo"):
        schema = pq.read_schema(real_analysis(kind).out_dir / "customers.parquet")
        real.update({name: schema.field(name).type for name in schema.names})
    _, customers, _ = full_inputs
    assert sorted(set(customers.column_names) - set(real)) == []

    def family(t: pa.DataType) -> str:
        return "number" if pa.types.is_integer(t) or pa.types.is_floating(t) else str(t)

    differ = {
        name: (str(customers.schema.field(name).type), str(real[name]))
        for name in customers.column_names
        if family(customers.schema.field(name).type) != family(real[name])
    }
    assert differ == {}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_codes_in_the_fixture_are_the_codes_the_code_defines(
    inputs: Callable[[str], Inputs], real_summaries: list[dict[str, Any]], lang: str
) -> None:
    summary, customers, quarantine = inputs(lang)
    assert set(summary["quarantine_reasons"]) <= set(REASONS)
    assert {row["reason"] for row in quarantine} <= set(REASONS)
    # models: registered names, and parameters a model of that class is rebuilt from
    selection = summary["models"]["selection"]
    assert selection["name"] in TRANSACTION_MODELS
    for candidate in selection["candidates"]:
        assert candidate["name"] in TRANSACTION_MODELS
        assert MODEL_REGISTRY[candidate["name"]].__name__ == candidate["model"]
    for key, registered in (("transaction", selection["name"]), ("spend", "gg")):
        fitted = summary["models"][key]
        model = MODEL_REGISTRY[registered].from_dict(fitted)
        assert set(fitted["params"]) == set(model.params_) == set(fitted["standard_errors"])
    # segments: the built-in scheme's codes and labels
    scheme = get_scheme(summary["segments"]["scheme"])
    labels = dict(zip(scheme.codes, scheme.labels(lang), strict=True))
    assert {row["segment"]: row["label"] for row in summary["segments"]["table"]}.items() <= (
        labels.items()
    )
    assert set(customers.column("rfm_segment").to_pylist()) <= set(scheme.codes)
    # tiers and actions: the default policy's tiers and the default playbook's codes
    real_tiers = real_summaries[0]["tiers"]
    assert [row["tier"] for row in summary["tiers"]["table"]] == [
        row["tier"] for row in real_tiers["table"]
    ]
    assert summary["tiers"]["core_tiers"] == real_tiers["core_tiers"]
    codes = {play.action_code for play in DEFAULT_PLAYBOOK.plays}
    assert set(summary["actions"]) <= codes
    assert set(customers.column("action_code").to_pylist()) <= codes
