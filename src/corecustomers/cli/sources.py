"""The service's data sources from the command line: ``source add|list|remove`` and ``run``.

A registered source is the engine's named source: ``corecustomers run NAME``, its schedule
in the service and ``corecustomers analyze FILE --source-name NAME`` continue one history.
Registered on the one ``app`` of :mod:`corecustomers.cli.app`; Django is imported only when
one of these commands runs.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from corecustomers.cli.app import app
from corecustomers.cli.service import DbOpt, WorkspaceOpt, open_service
from corecustomers.errors import CoreCustomersError

__all__ = ["source_app"]

err = Console(stderr=True)
out = Console()

source_app = typer.Typer(
    name="source",
    help=(
        "Register the service's data sources (a file, or a table or query in a database).\n\n"
        "Example: corecustomers source add sales exports/sales.csv --schedule daily"
    ),
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(source_app, name="source")


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except CoreCustomersError as exc:
        where = getattr(exc, "field", None)
        prefix = f"{where}: " if where else ""
        err.print(f"[bold red]Error:[/bold red] {prefix}{escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


def _time(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r}: give a time of day such as 02:00", param_hint="--at"
        ) from None


@source_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The source's name (its history's name).")],
    file: Annotated[
        Path | None,
        typer.Argument(help="A CSV, Excel or Parquet file, read again at every run."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url", help="Database: env:NAME, file:/path/to/secret, or a URL without password."
        ),
    ] = None,
    table: Annotated[str | None, typer.Option("--table", help="With --url: a table.")] = None,
    query: Annotated[str | None, typer.Option("--query", help="With --url: a query.")] = None,
    customer_col: Annotated[
        str | None, typer.Option("--customer-col", help="Customer id column (header or position).")
    ] = None,
    date_col: Annotated[str | None, typer.Option("--date-col", help="Date column.")] = None,
    amount_col: Annotated[str | None, typer.Option("--amount-col", help="Amount column.")] = None,
    order_col: Annotated[str | None, typer.Option("--order-col", help="Order id column.")] = None,
    product_col: Annotated[str | None, typer.Option("--product-col", help="Product.")] = None,
    category_col: Annotated[
        str | None, typer.Option("--category-col", help="Category column.")
    ] = None,
    channel_col: Annotated[str | None, typer.Option("--channel-col", help="Channel.")] = None,
    header: Annotated[
        bool | None,
        typer.Option("--header/--no-header", help="Whether the first row holds headers."),
    ] = None,
    time_unit: Annotated[str, typer.Option("--time-unit", help="day | week | month.")] = "week",
    currency: Annotated[str, typer.Option("--currency", help="e.g. CNY.")] = "",
    lang: Annotated[str, typer.Option("--lang", help="Report language: en | zh.")] = "en",
    schedule: Annotated[
        str, typer.Option("--schedule", help="none | daily | weekly | monthly.")
    ] = "none",
    at: Annotated[str, typer.Option("--at", help="Time of day of scheduled runs.")] = "02:00",
    day: Annotated[int, typer.Option("--day", help="Weekly: 1 (Monday) … 7; monthly: 1 … 28.")] = 1,
    replace: Annotated[
        bool, typer.Option("--replace", help="Change the source of this name.")
    ] = False,
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
) -> None:
    """Register a source: a file, or a table or query in a database.

    Examples:

      corecustomers source add cdnow CDNOW_sample.txt --customer-col 1 --date-col 3 \
        --amount-col 5 --no-header

      corecustomers source add shop --url env:SHOP_DB --table orders --schedule daily --at 03:00
    """
    with _errors():
        open_service(workspace, db)
        from corecustomers.web.audit.context import Actor, acting
        from corecustomers.web.sources.registry import SourceSpec, register_source

        spec = SourceSpec(
            name=name,
            file=file,
            url=url or "",
            table=table or "",
            query=query or "",
            columns={
                "customer_id": customer_col or "",
                "timestamp": date_col or "",
                "amount": amount_col or "",
                "order_id": order_col or "",
                "product": product_col or "",
                "category": category_col or "",
                "channel": channel_col or "",
            },
            header=header,
            time_unit=time_unit,
            currency=currency,
            lang=lang,
            schedule=schedule,
            schedule_time=_time(at),
            schedule_day=day,
        )
        with acting(Actor(channel="cli")):
            source, created = register_source(spec, replace_existing=replace)
    verb = "Registered" if created else "Changed"
    out.print(f"{verb} the source {escape(source.name)}. Run it: corecustomers run {source.name}")


@source_app.command("list")
def list_sources(db: DbOpt = None, workspace: WorkspaceOpt = ".") -> None:
    """List the registered sources with their last run (URLs redacted).

    Example:

      corecustomers source list
    """
    with _errors():
        open_service(workspace, db)
        from corecustomers.web.sources.models import Source, SourceRun
        from corecustomers.web.sources.registry import redacted_url

        table = Table("name", "reads", "schedule", "last run")
        for source in Source.objects.order_by("name"):
            last = (
                SourceRun.objects.select_related("job")
                .filter(source_name=source.name)
                .order_by("-created")
                .first()
            )
            reads = source.file_path or f"{redacted_url(source.url)} {source.table or 'query'}"
            when = "" if source.schedule == "none" else f" {source.schedule_time:%H:%M}"
            done = (
                f"{last.job.status} {last.created:%Y-%m-%d %H:%M}"
                + (f" (as of {last.as_of})" if last.as_of else "")
                if last is not None
                else "never"
            )
            table.add_row(escape(source.name), escape(reads), source.schedule + when, done)
    out.print(table)


@source_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="The source's name.")],
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
) -> None:
    """Remove a source (its analyses and snapshots stay).

    Example:

      corecustomers source remove old-shop
    """
    with _errors():
        open_service(workspace, db)
        from corecustomers.web.audit.context import Actor, acting
        from corecustomers.web.sources.registry import remove_source

        with acting(Actor(channel="cli")):
            removed = remove_source(name)
    if not removed:
        err.print(f"[red]No source named {escape(name)}.[/red] See: corecustomers source list")
        raise typer.Exit(2)
    out.print(f"Removed the source {escape(name)}.")


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="A registered source's name.")],
    wait: Annotated[
        bool, typer.Option("--wait", help="Run it here and wait, instead of queuing it.")
    ] = False,
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
) -> None:
    """Run a registered source's analysis (queued for the worker, or here with --wait).

    A run of the source that is queued or running already is answered instead of a second.

    Examples:

      corecustomers run cdnow

      corecustomers run cdnow --wait
    """
    with _errors():
        open_service(workspace, db)
        from corecustomers.web.jobs.models import Job
        from corecustomers.web.jobs.runner import run_job
        from corecustomers.web.sources.models import Source
        from corecustomers.web.sources.runs import request_run

        source = Source.objects.filter(name=name).first()
        if source is None:
            err.print(f"[red]No source named {escape(name)}.[/red] See: corecustomers source list")
            raise typer.Exit(2)
        found, created = request_run(source, channel="cli")
        job_id = found.job.pk
        if not wait:
            what = "Queued" if created else "Already queued or running:"
            out.print(f"{what} run {job_id} of {escape(name)}; the worker runs it.")
            return
        job = run_job(str(job_id))
        while not job.done:  # another worker holds it: follow it
            time.sleep(1)
            job = Job.objects.get(pk=job_id)
    _report(name, job)


def _report(name: str, job: Any) -> None:
    if job.status != "succeeded":
        err.print(f"[bold red]The run of {escape(name)} failed:[/bold red] {escape(job.error)}")
        raise typer.Exit(2 if "Traceback" not in job.error else 1)
    result = job.result or {}
    out.print(
        f"Ran {escape(name)}: {result.get('customers', 0):,} customers as of "
        f"{result.get('as_of')} (run {result.get('run_id')}); "
        f"{result.get('rows_quarantined') or 0:,} rows quarantined, "
        f"{result.get('warnings') or 0} warning(s)."
    )
