"""The ``corecustomers`` command: a thin shell over :mod:`corecustomers.service`.

Exit codes: 0 success; 2 bad usage or bad input (the message names the file, row and
column and what to do); 1 an unexpected failure.

Everything printed that comes from the data, a file name or the config is escaped, so a
value such as ``[/bold]`` or ``[columns]`` is shown as written, never read as Rich markup.
"""

from __future__ import annotations

import datetime as _dt
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress as RichBar
from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from corecustomers import __version__
from corecustomers.config import CONFIG_FILE, Settings, init_config_text, load_settings, parse_date
from corecustomers.errors import ConfigError, CoreCustomersError, OutputError

__all__ = ["app", "main"]

app = typer.Typer(
    name="corecustomers",
    help=(
        "Find, value and keep your core customers: from a transactions table to scored "
        "customers (RFM, ABC/Pareto, lifetime value) and an HTML report.\n\n"
        "Example: corecustomers analyze sales.csv --out results"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

err = Console(stderr=True)
out = Console()


class RichProgress:
    """Progress on stderr: a spinner and the elapsed time per step, a tick when done."""

    def __init__(self, console: Console, *, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        """Show ``description`` while the block runs."""
        if self.quiet:
            yield
            return
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            TimeElapsedColumn(),
        )
        started = _dt.datetime.now()
        if self.console.is_terminal:
            with RichBar(*columns, console=self.console, transient=True) as bar:
                bar.add_task(description, total=None)
                yield
        else:
            yield
        seconds = (_dt.datetime.now() - started).total_seconds()
        self.console.print(f"[green]✓[/green] {escape(description)} [dim]({seconds:.1f} s)[/dim]")

    def note(self, message: str) -> None:
        """Print a dim information line."""
        if not self.quiet:
            self.console.print(f"  [dim]{escape(message)}[/dim]")


@contextmanager
def _handled(debug: bool) -> Iterator[None]:
    """Turn errors into messages and exit codes (2 for the user's input, 1 otherwise)."""
    try:
        yield
    except CoreCustomersError as exc:
        _print_error(exc)
        raise typer.Exit(2) from None
    except (typer.Exit, typer.Abort, typer.BadParameter):
        raise  # exit codes and usage errors: Typer prints the usage and exits with 2
    except KeyboardInterrupt:
        err.print("[red]Interrupted.[/red] Files from earlier runs are unchanged.")
        raise typer.Exit(130) from None
    except Exception as exc:
        if debug:
            raise
        err.print(
            f"[bold red]Unexpected failure:[/bold red] {type(exc).__name__}: "
            f"{escape(str(exc))}\n"
            "Files from earlier runs are unchanged. Rerun with --debug for the traceback "
            "and report it.",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None


def _print_error(exc: BaseException) -> None:
    err.print(f"[bold red]Error:[/bold red] {escape(str(exc))}", soft_wrap=True)


def _date(value: str | None, name: str) -> _dt.date | None:
    if value is None:
        return None
    if not value.strip():
        raise ConfigError(f"{name} is empty; give a date such as 2024-12-31 or leave {name} out")
    return parse_date(value, name)


def _write_text(path: Path, text: str, what: str) -> None:
    """Write a file the user named, turning an unwritable place into an OutputError."""
    if path.is_dir():
        raise OutputError(f"{what} {path} is a folder; give a file name")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(
            f"cannot write {what} {path}: {exc.strerror or exc}; choose another place"
        ) from exc


# -- shared options -------------------------------------------------------------------------

SourceArg = Annotated[
    str,
    typer.Argument(
        help="CSV/TXT, Excel or Parquet file; with --source-url a table name or a SQL query.",
        show_default=False,
    ),
]
CustomerCol = Annotated[
    str | None,
    typer.Option("--customer-col", help="Customer id column (header or 1-based position)."),
]
DateCol = Annotated[
    str | None, typer.Option("--date-col", help="Date/time column (header or position).")
]
AmountCol = Annotated[
    str | None, typer.Option("--amount-col", help="Amount column (header or position).")
]
OrderCol = Annotated[
    str | None,
    typer.Option("--order-col", help="Order id column; repeated orders are quarantined."),
]
AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of", help="Analysis date YYYY-MM-DD [default: last valid transaction date]."
    ),
]
CalEnd = Annotated[
    str | None,
    typer.Option("--calibration-end", help="End of the calibration period (holdout after it)."),
]
TimeUnitOpt = Annotated[
    str | None, typer.Option("--time-unit", help="day | week | month [default: week].")
]
EngineOpt = Annotated[
    str | None, typer.Option("--engine", help="duckdb | spark [default: duckdb].")
]
MemoryLimitOpt = Annotated[
    str | None,
    typer.Option(
        "--memory-limit",
        help="DuckDB's memory cap, e.g. 4GB; past it, it spills to --temp-directory "
        "[default: 80 % of the machine's memory].",
    ),
]
TempDirectoryOpt = Annotated[
    str | None,
    typer.Option(
        "--temp-directory",
        help="Folder DuckDB spills to past --memory-limit [default: .tmp here].",
    ),
]
SourceUrl = Annotated[
    str | None,
    typer.Option(
        "--source-url", help="Database URL, e.g. postgresql://user@host/db or duckdb:///f.db."
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help=f"Config file [default: ./{CONFIG_FILE} when present]."),
]
DelimiterOpt = Annotated[
    str | None, typer.Option("--delimiter", help="CSV delimiter [default: detected].")
]
EncodingOpt = Annotated[
    str | None, typer.Option("--encoding", help="utf-8 | gb18030 (GBK) [default: detected].")
]
WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        help="Where snapshots and overrides live: a folder (holding .corecustomers/), a .duckdb file or a database URL [default: current folder].",
    ),
]
SourceNameOpt = Annotated[
    str | None,
    typer.Option(
        "--source-name",
        help="Name of the history the snapshots belong to [default: the file name without a date stamp].",
    ),
]
HeaderRowOpt = Annotated[
    int | None,
    typer.Option(
        "--header-row",
        min=1,
        help="Excel: the 1-based row that holds the headers, when titles sit above them.",
    ),
]
Debug = Annotated[bool, typer.Option("--debug", help="Show the traceback of unexpected failures.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result.")]


#: The smallest demo that yields every part of the report.
DEMO_MIN_CUSTOMERS = 50


def _settings(config: Path | None, **flags: Any) -> Settings:
    columns = {
        "customer_id": flags.pop("customer_col", None),
        "timestamp": flags.pop("date_col", None),
        "amount": flags.pop("amount_col", None),
        "order_id": flags.pop("order_col", None),
    }
    flags["as_of"] = _date(flags.get("as_of"), "--as-of")
    flags["calibration_end"] = _date(flags.get("calibration_end"), "--calibration-end")
    base = load_settings(config)
    settings = base.with_overrides(columns=columns, **flags)
    return Settings(**{f: getattr(settings, f) for f in settings.__dataclass_fields__})


# -- commands ---------------------------------------------------------------------------------


@app.command()
def analyze(
    source: SourceArg,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the results.")],
    customer_col: CustomerCol = None,
    date_col: DateCol = None,
    amount_col: AmountCol = None,
    order_col: OrderCol = None,
    as_of: AsOf = None,
    calibration_end: CalEnd = None,
    time_unit: TimeUnitOpt = None,
    engine: EngineOpt = None,
    memory_limit: MemoryLimitOpt = None,
    temp_directory: TempDirectoryOpt = None,
    source_url: SourceUrl = None,
    lang: Annotated[str | None, typer.Option("--lang", help="en | zh [default: en].")] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="Transaction model: auto | bgnbd | pnbd | mbgnbd | none [default: auto].",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    source_name: SourceNameOpt = None,
    config: ConfigOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    header_row: HeaderRowOpt = None,
    pseudonymise: Annotated[
        bool,
        typer.Option(
            "--pseudonymise",
            help="Outputs without direct identifiers: customer ids become the service's "
            "keyed pseudonyms (key: CORECUSTOMERS_PSEUDONYM_KEY or _KEY_FILE), "
            "quarantine.csv keeps no source values.",
        ),
    ] = False,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Analyse a transactions table: scored customers, summary and an HTML report.

    Writes OUT/customers.parquet, OUT/customers.csv, OUT/summary.json,
    OUT/quarantine.csv and OUT/report.html, and stores a snapshot of the customers'
    tiers in the workspace.

    Examples:

      corecustomers analyze sales.csv --out results

      corecustomers analyze CDNOW_sample.txt --customer-col 1 --date-col 3 --amount-col 5 --out cdnow

      corecustomers analyze orders --source-url postgresql://me@localhost/shop --out results

      corecustomers analyze sales.csv --out for-analysts --pseudonymise
    """
    from corecustomers.service import analyze as run

    with _handled(debug):
        settings = _settings(
            config,
            customer_col=customer_col,
            date_col=date_col,
            amount_col=amount_col,
            order_col=order_col,
            as_of=as_of,
            calibration_end=calibration_end,
            time_unit=time_unit,
            engine=engine,
            memory_limit=memory_limit,
            temp_directory=temp_directory,
            source_url=source_url,
            lang=lang,
            model=model,
            workspace=workspace,
            source_name=source_name,
            delimiter=delimiter,
            encoding=encoding,
            header_row=header_row,
        )
        key = None
        if pseudonymise:  # before the run: a missing key is a clear error, not a late one
            from corecustomers.data.suppression import require_key

            key = require_key(settings.workspace, "--pseudonymise")
        result = run(source, out_dir, settings, progress=RichProgress(err, quiet=quiet))
        if key is not None:
            from corecustomers.service.pseudonymise import pseudonymise_outputs

            pseudonymise_outputs(out_dir, key, workspace=settings.workspace)
        _print_result(result.summary, result.files)


def _print_result(summary: dict[str, Any], files: dict[str, Path]) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    cur = summary.get("currency") or ""
    conc = summary.get("concentration", {})
    table.add_row("Rows read", f"{summary['rows_read']:,}")
    table.add_row(
        "Accepted / quarantined",
        f"{summary['rows_accepted']:,} / {summary['rows_quarantined']:,}",
    )
    table.add_row("Customers", f"{summary['customers']:,}")
    table.add_row("Revenue", escape(f"{cur}{summary['revenue']:,.2f}"))
    if "top_20pct_share" in conc:
        table.add_row("Top 20 % share of revenue", f"{conc['top_20pct_share']:.1%}")
    table.add_row("As of", str(summary["as_of"]))
    amounts = summary.get("amount_format")
    if amounts and amounts.get("decimal_mark"):
        table.add_row("Amounts", escape(str(amounts["description"])))
    out.print(table)
    history = summary.get("history")
    if history:
        out.print(escape(history["message"]), soft_wrap=True)
    for w in summary.get("warnings", []):
        err.print(f"[yellow]Warning:[/yellow] {escape(str(w['message']))}", soft_wrap=True)
    out.print(f"Report: [bold]{escape(str(files['report.html']))}[/bold]")


@app.command()
def summarize(
    source: SourceArg,
    out_file: Annotated[
        Path, typer.Option("--out", help="Output file: .parquet or .csv.", show_default=False)
    ],
    customer_col: CustomerCol = None,
    date_col: DateCol = None,
    amount_col: AmountCol = None,
    order_col: OrderCol = None,
    as_of: AsOf = None,
    calibration_end: CalEnd = None,
    time_unit: TimeUnitOpt = None,
    engine: EngineOpt = None,
    memory_limit: MemoryLimitOpt = None,
    temp_directory: TempDirectoryOpt = None,
    source_url: SourceUrl = None,
    config: ConfigOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    header_row: HeaderRowOpt = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Write the per-customer features only (frequency, recency, T, monetary_value, …).

    Quarantined rows go to OUT_STEM.quarantine.csv beside the output.

    Example:

      corecustomers summarize CDNOW_sample.txt --customer-col 1 --date-col 3 --amount-col 5 --calibration-end 1997-09-30 --out cdnow.parquet
    """
    from corecustomers.service import summarize as run

    with _handled(debug):
        settings = _settings(
            config,
            customer_col=customer_col,
            date_col=date_col,
            amount_col=amount_col,
            order_col=order_col,
            as_of=as_of,
            calibration_end=calibration_end,
            time_unit=time_unit,
            engine=engine,
            memory_limit=memory_limit,
            temp_directory=temp_directory,
            source_url=source_url,
            delimiter=delimiter,
            encoding=encoding,
            header_row=header_row,
        )
        table, prepared = run(source, out_file, settings, progress=RichProgress(err, quiet=quiet))
        out.print(
            f"{table.num_rows:,} customers from {prepared.counts.rows_accepted:,} rows "
            f"({prepared.counts.rows_quarantined:,} quarantined) → "
            f"[bold]{escape(str(out_file))}[/bold]"
        )
        for w in prepared.warnings:
            err.print(f"[yellow]Warning:[/yellow] {escape(str(w['message']))}", soft_wrap=True)


@app.command()
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for the demo data and results.")
    ] = Path("demo-output"),
    customers: Annotated[
        int, typer.Option("--customers", min=DEMO_MIN_CUSTOMERS, help="Number of customers.")
    ] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 7,
    lang: Annotated[str, typer.Option("--lang", help="en | zh.")] = "en",
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Then load the demo and its customers' master data into the service (its "
            "database and workspace in the current folder), create demo users and serve.",
        ),
    ] = False,
    host: Annotated[str, typer.Option("--host", help="With --serve: address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="With --serve: port (0 = any).")] = 8000,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Generate a realistic demo data set and analyse it (with --serve: and serve it).

    The demo CSV has Chinese headers and a few deliberately bad rows, so every part of
    the report shows something.

    Example:

      corecustomers demo --out demo-output --lang zh

      cd demo-output && corecustomers demo --out . --serve
    """
    from corecustomers.data.demo import write_demo_csv
    from corecustomers.service import analyze as run
    from corecustomers.service.analysis import ensure_output_dir

    with _handled(debug):
        ensure_output_dir(out_dir)
        progress = RichProgress(err, quiet=quiet)
        data = out_dir / "demo-transactions.csv"
        with progress.step(f"Generating demo transactions for {customers:,} customers"):
            write_demo_csv(data, n_customers=customers, seed=seed)
        settings = Settings(
            currency="¥",
            lang="zh" if lang == "zh" else "en",
            workspace="." if serve else str(out_dir),
        )
        result = run(str(data), out_dir / "analysis", settings, progress=progress)
        out.print(f"Demo data: [bold]{escape(str(data))}[/bold]")
        _print_result(result.summary, result.files)
    if serve:
        from corecustomers.cli.service import serve_demo

        serve_demo(
            out_dir=out_dir,
            analysis=out_dir / "analysis",
            customers=customers,
            seed=seed,
            host=host,
            port=port,
        )


@app.command()
def fit(
    summary_file: Annotated[
        Path,
        typer.Argument(help="Per-customer summary (.parquet or .csv), e.g. from summarize."),
    ],
    model: Annotated[str, typer.Option("--model", help="bgnbd | pnbd | mbgnbd | bgbb | sbg | gg.")],
    penalizer: Annotated[
        float, typer.Option("--penalizer", help="L2 penalty on the parameters.")
    ] = 0.0,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the fitted model as JSON.")
    ] = None,
    debug: Debug = False,
) -> None:
    """Fit one model on a summary file; print parameters, standard errors, log-likelihood.

    Columns: frequency, recency, T (bgnbd, pnbd, mbgnbd); frequency, recency, periods,
    weights (bgbb); frequency, monetary_value (gg); duration, churned, weights or alive
    (sbg).

    Example:

      corecustomers fit cdnow.parquet --model bgnbd
    """
    import json

    from corecustomers.service.fitting import fit_summary_file

    with _handled(debug):
        report = fit_summary_file(summary_file, model, penalizer=penalizer)
        fitted = report.model
        table = Table(title=f"{type(fitted).__name__} on {report.used:,} of {report.rows:,} rows")
        table.add_column("parameter")
        table.add_column("estimate", justify="right")
        table.add_column("std. error", justify="right")
        for key, value in fitted.params_.items():
            se = fitted.standard_errors_.get(key)
            table.add_row(escape(key), f"{value:.4f}", "" if se is None else f"{se:.4f}")
        out.print(table)
        out.print(f"log-likelihood: {fitted.log_likelihood_:.2f}")
        out.print(f"converged: {fitted.converged_}")
        for w in report.warnings:
            err.print(f"[yellow]Warning:[/yellow] {escape(str(w))}", soft_wrap=True)
        if json_out is not None:
            _write_text(json_out, json.dumps(fitted.to_dict(), indent=2), "--json file")
            out.print(f"Model written to [bold]{escape(str(json_out))}[/bold]")


@app.command()
def history(
    source: SourceArg,
    every: Annotated[str, typer.Option("--every", help="week | month | quarter.")] = "month",
    date_from: Annotated[
        str | None, typer.Option("--from", help="First date [default: first transaction].")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last date [default: last transaction].")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for history.json and quarantine.csv.")
    ] = Path("history"),
    customer_col: CustomerCol = None,
    date_col: DateCol = None,
    amount_col: AmountCol = None,
    order_col: OrderCol = None,
    time_unit: TimeUnitOpt = None,
    engine: EngineOpt = None,
    source_url: SourceUrl = None,
    workspace: WorkspaceOpt = None,
    source_name: SourceNameOpt = None,
    config: ConfigOpt = None,
    delimiter: DelimiterOpt = None,
    encoding: EncodingOpt = None,
    header_row: HeaderRowOpt = None,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Build a series of past snapshots (one per week, month or quarter end) in one command.

    Each snapshot holds every customer's scores, tier, reasons and policy version as of
    that date, with the previous date's tiers as state (bands, grace).

    Example:

      corecustomers history sales.csv --every month --from 2023-01-01 --to 2024-12-31
    """
    from corecustomers.service.history import history as run

    with _handled(debug):
        if every not in ("week", "month", "quarter"):
            raise typer.BadParameter(
                f"{every!r} is not one of week, month, quarter", param_hint="'--every'"
            )
        settings = _settings(
            config,
            customer_col=customer_col,
            date_col=date_col,
            amount_col=amount_col,
            order_col=order_col,
            time_unit=time_unit,
            engine=engine,
            source_url=source_url,
            workspace=workspace,
            source_name=source_name,
            delimiter=delimiter,
            encoding=encoding,
            header_row=header_row,
        )
        result = run(
            source,
            settings,
            every=every,  # type: ignore[arg-type]
            start=_date(date_from, "--from"),
            end=_date(date_to, "--to"),
            out_dir=out_dir,
            progress=RichProgress(err, quiet=quiet),
        )
        table = Table(
            title=f"{len(result['snapshots'])} snapshots of {escape(result['source_name'])}"
        )
        table.add_column("as of")
        table.add_column("customers", justify="right")
        table.add_column("tiers")
        table.add_column("alerts", justify="right")
        for snap in result["snapshots"]:
            tiers = escape(", ".join(f"{k} {v:,}" for k, v in snap["tiers"].items()))
            table.add_row(snap["as_of"], f"{snap['customers']:,}", tiers, f"{snap['alerted']:,}")
        out.print(table)
        out.print(f"Series: [bold]{escape(str(out_dir / 'history.json'))}[/bold]")


@app.command()
def compare(
    date_from: Annotated[str, typer.Option("--from", help="Date of the earlier snapshot.")],
    date_to: Annotated[str, typer.Option("--to", help="Date of the later snapshot.")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the comparison as JSON.")
    ] = None,
    workspace: WorkspaceOpt = None,
    source_name: SourceNameOpt = None,
    config: ConfigOpt = None,
    debug: Debug = False,
) -> None:
    """Compare two snapshots: tier transition matrix, core customers won/kept/downgraded/lost.

    Example:

      corecustomers compare --from 2024-06-30 --to 2024-12-31
    """
    import json

    from corecustomers.service.history import compare as run

    with _handled(debug):
        settings = _settings(config, workspace=workspace, source_name=source_name)
        start = _date(date_from, "--from")
        end = _date(date_to, "--to")
        if start is None or end is None:  # both options are required: typer gives them
            raise ConfigError("compare needs both --from and --to dates")
        result = run(settings, start=start, end=end)
        tiers = result["tiers"]
        matrix = Table(
            title=f"Customers of {escape(result['source_name'])} by tier: "
            f"{start} (rows) → {end} (columns)"
        )
        matrix.add_column("")
        for t in tiers:
            matrix.add_column(escape(t), justify="right")
        for i, t in enumerate(tiers):
            matrix.add_row(escape(t), *[f"{n:,}" for n in result["matrix"]["customers"][i]])
        out.print(matrix)
        core = result["core"]
        out.print(
            f"Present at both dates: {result['customers']['both']:,} "
            f"(gone {result['customers']['gone']:,}, new {result['customers']['new']:,})"
        )
        flows = {k: core[k]["customers"] for k in ("won", "kept", "downgraded", "lost")}
        out.print(
            "Core customers: "
            + ", ".join(f"{k} {v:,}" for k, v in flows.items())
            + f"; revenue at risk from downgrades: {result['revenue_at_risk'] or 0:,.2f}"
        )
        if json_out is not None:
            text = json.dumps(result, ensure_ascii=False, indent=2, default=str)
            _write_text(json_out, text, "--json file")
            out.print(f"Written to [bold]{escape(str(json_out))}[/bold]")


@app.command()
def override(
    customer_id: Annotated[str, typer.Argument(help="The customer id.")],
    tier: Annotated[str | None, typer.Option("--tier", help="The tier to hold.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who decided.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Last day in force [default: until removed].")
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the override.")] = False,
    workspace: WorkspaceOpt = None,
    source_name: SourceNameOpt = None,
    config: ConfigOpt = None,
    debug: Debug = False,
) -> None:
    """Hold a customer in a tier by hand (who, why, until when); it survives every rerun.

    Example:

      corecustomers override M0001234 --tier strategic --by "Li Na" --reason "renegotiating the contract" --until 2025-03-31
    """
    from corecustomers.service.history import add_override

    with _handled(debug):
        settings = _settings(config, workspace=workspace, source_name=source_name)
        message = add_override(
            settings,
            customer_id,
            tier=tier,
            by=by,
            reason=reason,
            until=_date(until, "--until"),
            remove=remove,
        )
        out.print(escape(message))


@app.command()
def init(
    path: Annotated[Path, typer.Option("--path", help="Where to write the file.")] = Path(
        CONFIG_FILE
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
    debug: Debug = False,
) -> None:
    """Write a commented corecustomers.toml with every setting and its default.

    Example:

      corecustomers init && $EDITOR corecustomers.toml
    """
    with _handled(debug):
        if path.is_dir():
            raise OutputError(f"--path {path} is a folder; give a file name such as {CONFIG_FILE}")
        if path.exists() and not force:
            raise OutputError(f"{path} exists; use --force to overwrite it")
        _write_text(path, init_config_text(), "the config file")
        out.print(
            f"Wrote [bold]{escape(str(path))}[/bold]; edit it, then run corecustomers analyze."
        )


def _version(value: bool) -> None:
    if value:
        out.print(f"corecustomers {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code.

    Runs ``app`` in Typer's standalone mode, so that every command registered on it (here
    or from another module) answers a usage mistake (a missing or unknown option, a bad
    value) with the usage, a one-line reason and exit code 2, never a traceback. A
    :class:`~corecustomers.errors.CoreCustomersError` that a command lets through is
    printed as a message with exit code 2.
    """
    try:
        app(args=argv, prog_name="corecustomers", standalone_mode=True)
    except SystemExit as exc:
        return _exit_code(exc.code)
    except CoreCustomersError as exc:
        _print_error(exc)
        return 2
    return 0


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    err.print(escape(str(code)), soft_wrap=True)
    return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
