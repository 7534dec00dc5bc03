"""The ``corecustomers`` command: a thin shell over :mod:`corecustomers.service`.

Exit codes: 0 success; 2 bad usage or bad input (the message names the file, row and
column and what to do); 1 an unexpected failure.

Everything printed that comes from the data, a file name or the config is escaped, so a
value such as ``[/bold]`` or ``[columns]`` is shown as written, never read as Rich markup.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from corecustomers import __version__
from corecustomers.cli.console import RichProgress, err, handled, out, print_error, write_text
from corecustomers.cli.options import (
    NO_FLAGS,
    Debug,
    Quiet,
    SettingFlags,
    SourceArg,
    settings_options,
)
from corecustomers.cli.snapshots import compare, history, override
from corecustomers.config import CONFIG_FILE, Settings, init_config_text
from corecustomers.errors import CoreCustomersError, OutputError

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

#: The smallest demo that yields every part of the report.
DEMO_MIN_CUSTOMERS = 50


# -- commands ---------------------------------------------------------------------------------


@app.command()
@settings_options("analyze")
def analyze(
    source: SourceArg,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the results.")],
    flags: SettingFlags = NO_FLAGS,
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

    with handled(debug):
        settings = flags.settings()
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
@settings_options("summarize")
def summarize(
    source: SourceArg,
    out_file: Annotated[
        Path, typer.Option("--out", help="Output file: .parquet or .csv.", show_default=False)
    ],
    flags: SettingFlags = NO_FLAGS,
    quiet: Quiet = False,
    debug: Debug = False,
) -> None:
    """Write the per-customer features only (frequency, recency, T, monetary_value, …).

    Quarantined rows go to OUT_STEM.quarantine.csv beside the output.

    Example:

      corecustomers summarize CDNOW_sample.txt --customer-col 1 --date-col 3 --amount-col 5 --calibration-end 1997-09-30 --out cdnow.parquet
    """
    from corecustomers.service import summarize as run

    with handled(debug):
        settings = flags.settings()
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

    with handled(debug):
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

    with handled(debug):
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
            write_text(json_out, json.dumps(fitted.to_dict(), indent=2), "--json file")
            out.print(f"Model written to [bold]{escape(str(json_out))}[/bold]")


# history, compare, override (corecustomers.cli.snapshots), listed after fit in --help
app.command()(history)
app.command()(compare)
app.command()(override)


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
    with handled(debug):
        if path.is_dir():
            raise OutputError(f"--path {path} is a folder; give a file name such as {CONFIG_FILE}")
        if path.exists() and not force:
            raise OutputError(f"{path} exists; use --force to overwrite it")
        write_text(path, init_config_text(), "the config file")
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
    from corecustomers.service.concurrency import quiet_ibis_cache_races  # Ibis: not for --help

    quiet_ibis_cache_races()
    try:
        app(args=argv, prog_name="corecustomers", standalone_mode=True)
    except SystemExit as exc:
        return _exit_code(exc.code)
    except CoreCustomersError as exc:
        print_error(exc)
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
