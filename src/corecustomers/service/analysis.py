"""The use cases the CLI (and later the web service) share: ``summarize`` and ``analyze``.

One call goes from a source to files: read → map → validate (quarantine) → features (lazy
Ibis, one materialisation) → RFM / ABC → (models) → ``customers.parquet``/``.csv``,
``summary.json``, ``quarantine.csv`` and ``report.html``. Outputs are written to a
temporary name and moved into place at the end, so a failed run never corrupts the
results of an earlier one.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from corecustomers.config import Settings
from corecustomers.data.connect import connect_engine
from corecustomers.data.connect import keep_rows as keep_rows_in
from corecustomers.data.features import (
    customer_features,
    materialize,
    orders_are_rows,
    returns_only,
)
from corecustomers.data.mapping import ColumnMapping, map_columns
from corecustomers.data.parsing import parse_utc_offset
from corecustomers.data.quarantine import write_quarantine
from corecustomers.data.readers import RawSource, read_error, read_source
from corecustomers.data.suppression import load_suppression
from corecustomers.data.validation import (
    AmountFormat,
    ValidationCounts,
    accepted_as_read,
    accepted_orders_distinct,
    count_rows,
    exact_duplicate_rows,
    validate,
)
from corecustomers.data.window import rows_after
from corecustomers.errors import (
    ColumnMappingError,
    InputError,
    OutputError,
    TooManyBadRowsError,
)
from corecustomers.ids import by_id
from corecustomers.service.output_files import CUSTOMER_FILES, CustomerFiles, write_table
from corecustomers.service.progress import NullProgress, Progress
from corecustomers.store import Workspace, default_source_name
from corecustomers.store.outputs import record_output
from corecustomers.units import days_per

if TYPE_CHECKING:  # the models, scoring and core steps are imported by analyze only,
    # so that summarize (and its process start) does without SciPy and scikit-learn
    from corecustomers.insights.fitted import FittedValue
    from corecustomers.service.core import CoreOptions
    from corecustomers.service.scoring import Scored
    from corecustomers.service.summary import AnalysisSummary, Overview
    from corecustomers.service.valuation import Valuation

__all__ = [
    "AnalysisResult",
    "Prepared",
    "analyze",
    "ensure_output_dir",
    "prepare",
    "source_name_of",
    "staging_dir",
    "summarize",
]

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """A validated source, ready for features."""

    raw: RawSource
    mapping: ColumnMapping
    transactions: ir.Table
    counts: ValidationCounts
    as_of: _dt.date
    calibration_end: _dt.date | None
    rows_after_as_of: int
    warnings: list[dict[str, Any]]
    quarantine_sample: list[dict[str, Any]]
    amount_format: AmountFormat = field(default_factory=lambda: AmountFormat(".", "default"))


@dataclass
class AnalysisResult:
    """What ``analyze`` produced: ``summary`` is ``summary.json``'s content, ``steps``
    the typed results it was serialised from."""

    summary: dict[str, Any]
    customers: pa.Table
    files: dict[str, Path] = field(default_factory=dict)
    steps: AnalysisSummary | None = None


@contextmanager
def staging_dir() -> Iterator[Path]:
    """A temporary folder for files being written, removed on exit whatever happens."""
    path = Path(tempfile.mkdtemp(prefix="corecustomers-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def prepare(
    source: str,
    settings: Settings,
    *,
    staging_dir: Path,
    quarantine_path: Path,
    progress: Progress | None = None,
    today: _dt.date | None = None,
    keep_rows: bool = True,
) -> Prepared:
    """Read, map and validate ``source``; write the quarantine file; fix the dates.

    With ``keep_rows`` the accepted rows are parsed once and kept (on DuckDB in a Parquet
    file in ``staging_dir``: :func:`~corecustomers.data.connect.keep_rows`), for callers
    that read them many times (``analyze``, ``history``), or, when a typed Parquet source
    holds them as they are, read from it
    (:func:`~corecustomers.data.validation.accepted_as_read`); without it they stay a lazy
    expression over the source, so that one pass (``summarize``'s features) reads the
    file itself and no copy of every row is made. Kept rows in which no two rows share
    an order id are given without their ``order_id`` column
    (:func:`~corecustomers.data.features.orders_are_rows`): the features are the same,
    and cheaper. Without a product column that is known from the validation (repeated
    order ids are quarantined:
    :attr:`~corecustomers.data.validation.Validated.orders_distinct`), with no count;
    with one, often from the validation's first aggregate
    (:func:`~corecustomers.data.validation.accepted_orders_distinct`).

    Raises
    ------
    TooManyBadRowsError
        When more than ``settings.max_bad_share`` of the rows is quarantined (the
        quarantine file is written first).
    """
    progress = progress or NullProgress()
    offset = parse_utc_offset(settings.timezone)
    if today is None:
        now = _dt.datetime.now(_dt.UTC) + _dt.timedelta(minutes=offset)
        today = now.date()
    with progress.step(f"Reading {source}"):
        memory = {"memory_limit": settings.memory_limit, "temp_directory": settings.temp_directory}
        con = connect_engine(settings.engine, **memory) if not settings.source_url else None
        raw = read_source(
            source,
            con=con if con is not None else connect_engine("duckdb", **memory),
            source_url=settings.source_url,
            staging_dir=staging_dir,
            delimiter=settings.delimiter,
            encoding=settings.encoding,
            header=settings.header,
            sheet=settings.sheet,
            header_row=settings.header_row,
        )
        try:
            mapping = map_columns(raw.columns, settings.columns, source=raw.name)
        except ColumnMappingError as exc:
            if raw.header_hint is None:
                raise
            raise ColumnMappingError(f"{exc}. Note: {raw.header_hint}") from exc
    for name, column in mapping.describe().items():
        progress.note(f"{name} ← {column!r}" + (" (detected)" if name in mapping.detected else ""))
    validated = validate(
        raw,
        mapping,
        today=today,
        business_offset_minutes=offset,
        decimal=settings.decimal,
        placeholder_ids=settings.placeholder_ids,
        suppression=load_suppression(settings.workspace),
    )
    progress.note(f"amounts: {validated.amount_format.describe()}")
    with progress.step("Validating rows"):
        try:
            counts = count_rows(validated)
        except Exception as exc:
            unreadable = read_error(raw, exc)
            if unreadable is None:
                raise
            raise unreadable from exc
    with progress.step("Writing quarantine.csv"):
        sample = write_quarantine(validated, quarantine_path)
    if counts.rows_read == 0:
        raise InputError("the source has no rows; export the transactions again", file=raw.name)
    if counts.bad_share > settings.max_bad_share:
        top, n = next(iter(counts.reasons.items()))
        first = sample[0] if sample else None
        where = (
            f" The first is {raw.row_label} {first['source_row']}: {first['message']}."
            if first
            else ""
        )
        raise TooManyBadRowsError(
            f"{counts.rows_quarantined:,} of {counts.rows_read:,} rows "
            f"({counts.bad_share:.1%}) were quarantined, more than the allowed "
            f"{settings.max_bad_share:.0%}; most often {top} ({n:,} rows).{where} "
            f"See {quarantine_path}. Fix the source or the column mapping "
            "(--customer-col/--date-col/--amount-col), or raise max_bad_share in "
            "corecustomers.toml.",
            file=raw.name,
            row=first["source_row"] if first else None,
            column=first["column"] if first else None,
        )
    if counts.last_date is None:
        raise InputError("no valid transactions to analyse", file=raw.name)
    as_of = settings.as_of or counts.last_date
    cal_end = settings.calibration_end
    if cal_end is not None and counts.first_date is not None and cal_end < counts.first_date:
        raise InputError(
            f"calibration end {cal_end} is before the first transaction "
            f"({counts.first_date}); choose a later --calibration-end",
            file=raw.name,
        )
    if cal_end is not None and cal_end >= as_of:
        raise InputError(
            f"calibration end {cal_end} must be before the as-of date {as_of}", file=raw.name
        )
    tx = validated.accepted
    if keep_rows:
        with progress.step("Keeping the accepted rows for the analysis"):
            # every later step reads these rows: parse and de-duplicate them once, unless
            # the source's own columns are those rows already (a typed Parquet file with
            # nothing to quarantine or trim): then they are read from it, no copy made
            as_read = accepted_as_read(validated, counts)
            tx = validated.accepted if as_read is None else as_read
            distinct = accepted_orders_distinct(validated, counts)  # None: count them
            if mapping.get("order_id") is not None and (
                distinct if distinct is not None else orders_are_rows(tx)
            ):
                # each row its own order: the features count the same orders without
                # the column, and every feature query (the analysis', the ranking's and
                # the churn risk's shifted cuts, each date of a history) skips its
                # grouping by order; nor is the column written (distinct ids are the
                # dearest column to encode: 10M rows, 4.5 of 15 s of CPU)
                tx = tx.drop("order_id")
            if as_read is None:
                tx = keep_rows_in(tx, staging_dir, name="accepted")
    with progress.step("Checking dates and duplicates"):
        # without a set as-of date it is the last valid date: no row is after it
        after = (
            rows_after(tx, as_of).count().to_pyarrow().as_py() if settings.as_of is not None else 0
        )
        dupes = exact_duplicate_rows(tx) if mapping.get("order_id") is None else 0
        only_returns = returns_only(tx, as_of=as_of).to_pyarrow().to_pylist()[0]
        if keep_rows and mapping.get("order_id") is None:
            # no order column: every order id is NULL (kept for the exact duplicates
            # above), and the features need not group by it either
            tx = tx.drop("order_id")
    warnings: list[dict[str, Any]] = []
    if only_returns["customers"]:
        n, rows = int(only_returns["customers"]), int(only_returns["rows"])
        amount = float(only_returns["amount"])
        warnings.append(
            {
                "code": "returns_only_customers",
                "count": n,
                "rows": rows,
                "amount": amount,
                "message": (
                    f"{n:,} customer(s) have only returns up to {as_of} ({rows:,} rows, "
                    f"{amount:,.2f} in all) and no purchase: they are not in customers.* "
                    "and their returns are not in the revenue. Their purchases may be in "
                    "another export."
                ),
            }
        )
    if counts.reasons.get("ambiguous_amount"):
        fmt = validated.amount_format
        warnings.append(
            {
                "code": "ambiguous_amount",
                "count": counts.reasons["ambiguous_amount"],
                "message": (
                    f"{counts.reasons['ambiguous_amount']:,} amounts do not form a number "
                    f"with the {fmt.describe()}; they were quarantined, not guessed. Set "
                    'decimal = "," or "." in [source] of corecustomers.toml if the column '
                    "is written the other way."
                ),
            }
        )
    if dupes:
        warnings.append(
            {
                "code": "exact_duplicate_rows",
                "count": int(dupes),
                "message": (
                    f"{dupes:,} rows repeat an earlier row exactly and have no order id; "
                    "they were kept as repeat purchases. Map an order column "
                    "(--order-col) if they are copies."
                ),
            }
        )
    if after:
        warnings.append(
            {
                "code": "after_as_of",
                "count": int(after),
                "message": (
                    f"{after:,} valid rows are after the as-of date {as_of} and were left out"
                ),
            }
        )
    return Prepared(
        raw=raw,
        mapping=mapping,
        transactions=tx,
        counts=counts,
        as_of=as_of,
        calibration_end=cal_end,
        rows_after_as_of=int(after),
        warnings=warnings,
        quarantine_sample=sample,
        amount_format=validated.amount_format,
    )


def _features(prepared: Prepared, settings: Settings, progress: Progress) -> pa.Table:
    expr = customer_features(
        prepared.transactions,
        as_of=prepared.as_of,
        calibration_end=prepared.calibration_end,
        time_unit=settings.time_unit,
    )
    with progress.step("Computing per-customer features"):
        return materialize(expr)


def summarize(
    source: str,
    out: Path,
    settings: Settings,
    *,
    progress: Progress | None = None,
    today: _dt.date | None = None,
) -> tuple[pa.Table, Prepared]:
    """Write the per-customer features of ``source`` to ``out`` (.parquet or .csv).

    The quarantined rows go to ``<out stem>.quarantine.csv`` beside it.
    """
    progress = progress or NullProgress()
    _check_suffix(out, (".parquet", ".csv"))
    if out.is_dir():
        raise OutputError(f"--out {out} is a folder; give a file name ending in .parquet or .csv")
    ensure_output_dir(out.parent)
    with staging_dir() as staging:
        prepared = prepare(
            source,
            settings,
            staging_dir=staging,
            quarantine_path=out.with_name(out.stem + ".quarantine.csv"),
            progress=progress,
            today=today,
            keep_rows=False,
        )
        table = _features(prepared, settings, progress)
        with progress.step(f"Writing {out}"):
            write_table(table, out)
    return table, prepared


def analyze(
    source: str,
    out_dir: Path,
    settings: Settings,
    *,
    progress: Progress | None = None,
    today: _dt.date | None = None,
) -> AnalysisResult:
    """Run the whole analysis of ``source`` and write its files into ``out_dir``."""
    progress = progress or NullProgress()
    ensure_output_dir(out_dir)
    with staging_dir() as staging, CustomerFiles(out_dir) as customer_files:
        prepared = prepare(
            source,
            settings,
            staging_dir=staging,
            quarantine_path=out_dir / "quarantine.csv",
            progress=progress,
            today=today,
        )
        with open_workspace(settings) as workspace:
            # the customers' files are written from the moment their table is final,
            # beside the snapshot, and moved into place by _write_outputs
            customers, steps = analyse_prepared(
                prepared,
                settings,
                workspace=workspace,
                progress=progress,
                on_final=customer_files.start,
            )
        summary = steps.to_json()
        files = _write_outputs(
            out_dir, customers, summary, prepared, settings, progress, customer_files
        )
    # last: tells a service on this workspace where the finished run's files are
    record_output(
        settings.workspace,
        run_id=steps.run_id,
        folder=out_dir,
        as_of=steps.as_of,
        source_name=steps.source_name,
    )
    return AnalysisResult(summary=summary, customers=customers, files=files, steps=steps)


def ensure_output_dir(path: Path) -> None:
    """Create the output folder ``path``, or say why it cannot be one.

    Raises
    ------
    OutputError
        ``path`` is a file, cannot be created, or cannot be written to.
    """
    if path.exists() and not path.is_dir():
        raise OutputError(
            f"--out {path} is a file; give a folder for the results (it is created when missing)"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the output folder {path}: {exc.strerror or exc}; choose another --out"
        ) from exc
    probe = path / f".corecustomers-write-test-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(
            f"cannot write into the output folder {path}: {exc.strerror or exc}; choose "
            "another --out"
        ) from exc


def source_name_of(prepared: Prepared, settings: Settings) -> str:
    """The history this run's snapshots belong to: ``settings.source_name``, else the
    source's name without a date stamp (see :func:`corecustomers.store.default_source_name`).
    """
    return settings.source_name or default_source_name(prepared.raw.name)


@contextmanager
def open_workspace(settings: Settings) -> Iterator[Workspace]:
    """The workspace of ``settings`` (snapshots and overrides), closed afterwards."""
    workspace = Workspace.open(settings.workspace)
    try:
        yield workspace
    finally:
        workspace.close()


def analyse_prepared(
    prepared: Prepared,
    settings: Settings,
    *,
    workspace: Workspace | None,
    options: CoreOptions | None = None,
    progress: Progress | None = None,
    start: FittedValue | None = None,
    on_final: Callable[[pa.Table], None] | None = None,
) -> tuple[pa.Table, AnalysisSummary]:
    """Features, scores, lifetime value and core identification for one as-of date.

    The features are computed once; the valuation fits the models once; the core
    identification reuses both. Each step's result is typed, and they are assembled
    here into the run's :class:`~corecustomers.service.summary.AnalysisSummary`.
    ``start`` is a fit to start the valuation's from (``history``: the previous date's).
    ``on_final`` is called with the customers table this returns as soon as it is final,
    before the snapshot is saved (``analyze``: :class:`CustomerFiles`).
    """
    from corecustomers.service.core import activity_windows_of, identify_core
    from corecustomers.service.scoring import score_customers
    from corecustomers.service.side_steps import side_steps_started
    from corecustomers.service.summary import AnalysisSummary

    progress = progress or NullProgress()
    end = prepared.calibration_end or prepared.as_of
    mapped = frozenset(prepared.mapping.describe())
    final: list[pa.Table] = []

    def finished(customers: pa.Table) -> None:
        final.append(_plain_texts(customers))  # converted once, for the caller and here
        if on_final is not None:
            on_final(final[-1])

    # the steps that only query the transactions (purchase mix, recommendations …) start
    # now, beside the features, scores and fits the core identification needs
    with side_steps_started(
        prepared.transactions,
        end=end,
        as_of=prepared.as_of,
        calibration_end=prepared.calibration_end,
        mapped=mapped,
        options=options,
        windows=activity_windows_of(settings, first_day=prepared.counts.first_date, end=end),
    ) as started:
        features = _by_id(_features(prepared, settings, progress))
        if features.num_rows == 0:
            raise InputError(
                "no customer has a purchase up to the calibration end / as-of date; "
                "check --as-of and --calibration-end",
                file=prepared.raw.name,
            )
        with progress.step("Scoring customers (RFM, ABC)"):
            scored = score_customers(features, settings)
        generated_at = _dt.datetime.now(_dt.UTC)
        overview = build_summary(prepared, settings, scored)
        run_id = uuid.uuid4().hex[:12]
        valuation = _value_customers(scored, settings, prepared, progress, start)
        customers, core = identify_core(
            valuation.customers,
            settings,
            fitted=valuation.fitted,
            run_id=run_id,
            transactions=prepared.transactions,
            end=end,
            as_of=prepared.as_of,
            calibration_end=prepared.calibration_end,
            workspace=workspace,
            mapped=mapped,
            source=prepared.raw.name,
            source_name=overview.source_name,
            options=options,
            progress=progress,
            started=started,
            on_final=finished,
        )
    customers = final[-1] if final else _plain_texts(customers)
    return customers, AnalysisSummary(run_id, generated_at, overview, valuation, core)


def _by_id(features: pa.Table) -> pa.Table:
    """``features`` in the order of the customers' ids: every later table of the
    analysis keeps this order (and the customers' files are written in it), so most of
    the tables the steps join are aligned already, each join an equality check instead
    of a lookup of a million ids; the frames of the ranking and the churn risk, which
    read the customers in id order, need no sort either."""
    return by_id(features)


def _plain_texts(customers: pa.Table) -> pa.Table:
    """``customers`` with its dictionary-encoded text columns (the purchase mix, held so
    through the analysis: :func:`~corecustomers.insights.mix.mix_table`) as plain
    ``string`` columns, the type the outputs have always had."""
    for i, field_ in enumerate(customers.schema):
        if pa.types.is_dictionary(field_.type) and pa.types.is_string(field_.type.value_type):
            plain = customers.column(i).cast(pa.string())
            customers = customers.set_column(i, pa.field(field_.name, pa.string()), plain)
    return customers


def _value_customers(
    scored: Scored,
    settings: Settings,
    prepared: Prepared,
    progress: Progress,
    start: FittedValue | None = None,
) -> Valuation:
    """Lifetime-value models: fitted once, with their predictions in the customers."""
    from corecustomers.service.valuation import value_customers

    counts = None
    period = 1.0
    if prepared.calibration_end is not None and settings.model != "none":
        with progress.step("Counting holdout purchases per week"):
            counts = holdout_week_counts(
                prepared.transactions, prepared.calibration_end, prepared.as_of
            )
        period = 7.0 / days_per(settings.time_unit)
    with progress.step("Fitting lifetime-value models"):
        return value_customers(
            scored.customers,
            settings,
            holdout_counts=counts,
            holdout_period=period,
            start=start,
        )


def holdout_week_counts(
    tx: ir.Table, calibration_end: _dt.date, as_of: _dt.date
) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Purchase days in each week of the holdout, of the customers first seen by its start.

    Week ``k`` (from 0) covers holdout days ``7k + 1 … 7k + 7`` after the calibration end.
    """
    days = (
        tx.filter(tx.amount >= 0)
        .select(customer_id=tx.customer_id, day=tx.timestamp.date())
        .distinct()
    )
    first = days.group_by("customer_id").aggregate(first=days.day.min())
    cohort = first.filter(first.first <= calibration_end).select("customer_id")
    held = days.filter((days.day > calibration_end) & (days.day <= as_of)).semi_join(
        cohort, "customer_id"
    )
    offset = held.day.delta(ibis.date(calibration_end), unit="day") - 1
    weekly = held.group_by(week=(offset // 7).cast("int64")).aggregate(n=held.count())
    rows = weekly.to_pyarrow().to_pylist()
    n_weeks = max(1, math.ceil((as_of - calibration_end).days / 7))
    out = np.zeros(n_weeks)
    for row in rows:
        out[int(row["week"])] = float(row["n"])
    return out


def build_summary(prepared: Prepared, settings: Settings, scored: Scored) -> Overview:
    """The run's overview: what was read and scored (the summary's first keys)."""
    from corecustomers.service.summary import Overview

    counts = prepared.counts
    customers = scored.customers
    revenue = float(np.sum(customers.column("total_spend").to_numpy(zero_copy_only=False)))
    return Overview(
        source=prepared.raw.name,
        source_name=source_name_of(prepared, settings),
        source_kind=prepared.raw.kind,
        encoding=prepared.raw.encoding,
        amount_format=prepared.amount_format.to_dict(),
        columns=prepared.mapping.describe(),
        as_of=prepared.as_of,
        calibration_end=prepared.calibration_end,
        time_unit=settings.time_unit,
        currency=settings.currency,
        rows_read=counts.rows_read,
        rows_accepted=counts.rows_accepted,
        rows_quarantined=counts.rows_quarantined,
        rows_after_as_of=prepared.rows_after_as_of,
        quarantine_reasons=counts.reasons,
        warnings=list(prepared.warnings),
        customers=customers.num_rows,
        revenue=revenue,
        concentration=scored.concentration,
        segments={"scheme": scored.scheme, "table": scored.segment_table},
        abc={
            "thresholds": {"A": settings.abc_a, "B": settings.abc_b},
            "value": settings.abc_value,
            "table": scored.abc_table,
        },
        settings=settings.to_dict(),
    )


def _jsonable(value: Any) -> Any:
    """Strict JSON: NaN and infinities (e.g. an undefined standard error) become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, (_dt.date, _dt.datetime)):
        return value.isoformat()
    return value


def write_json(path: Path, data: Any) -> None:
    """Write strict JSON (UTF-8, NaN as null) under a temporary name, then rename it."""
    tmp = path.with_name(path.name + ".tmp")
    text = json.dumps(_jsonable(data), ensure_ascii=False, indent=2, allow_nan=False)
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _check_suffix(path: Path, allowed: tuple[str, ...]) -> None:
    if path.suffix.lower() not in allowed:
        raise InputError(
            f"the output file must end in {' or '.join(allowed)}, got {path.name!r}",
            file=str(path),
        )


def _write_outputs(
    out_dir: Path,
    customers: pa.Table,
    summary: dict[str, Any],
    prepared: Prepared,
    settings: Settings,
    progress: Progress,
    customer_files: CustomerFiles,
) -> dict[str, Path]:
    """summary.json and report.html, written while ``customer_files`` finish the
    customers' files (started when the table was final: :class:`CustomerFiles`), which
    are then moved into place; their paths by name, with quarantine.csv's."""
    from corecustomers.report import write_report

    files = {
        "summary.json": out_dir / "summary.json",
        "quarantine.csv": out_dir / "quarantine.csv",
        "report.html": out_dir / "report.html",
    }
    with progress.step("Writing customers and summary"):
        if not customer_files.started:
            customer_files.start(customers)
        write_json(files["summary.json"], summary)
    with progress.step("Rendering report.html"):
        write_report(
            files["report.html"],
            summary,
            customers,
            lang=settings.lang,
            quarantine=prepared.quarantine_sample,
        )
        files.update(customer_files.publish())
    return {name: files[name] for name in dict.fromkeys((*CUSTOMER_FILES, *files))}
