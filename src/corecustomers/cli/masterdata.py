"""``corecustomers import-customers FILE``: customer master data from CSV or Excel.

A thin shell over :func:`corecustomers.web.customers.masterdata.import_master_data`, run in
this process (no worker needed). Exit codes: 0 the file was read (bad rows, if any, are
listed and skipped); 2 the file is unusable (not a table, no customer id column, missing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from corecustomers.cli.app import app
from corecustomers.cli.service import DbOpt, WorkspaceOpt, open_service
from corecustomers.errors import CoreCustomersError

__all__ = ["import_customers_command"]

err = Console(stderr=True)
out = Console()

#: How many bad rows are printed (all of them with --all-bad-rows).
SHOWN = 50


@app.command("import-customers")
def import_customers_command(
    file: Annotated[Path, typer.Argument(help="A CSV or Excel file with a header row.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check the file and list the bad rows; write nothing.")
    ] = False,
    all_bad_rows: Annotated[
        bool, typer.Option("--all-bad-rows", help=f"List every bad row, not the first {SHOWN}.")
    ] = False,
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
) -> None:
    """Import customer master data (names, contacts, birthdays, company, region, owner).

    Headers in English or Chinese (customer_id/会员号/客户编号, name/姓名, phone/手机 …).

    Customers are matched by id: a re-import updates, never duplicates.

    Bad rows are listed with their row number (the header is row 1) and skipped.

    The good rows are applied in one transaction; --dry-run writes nothing.

    Example:

      corecustomers import-customers customers.xlsx --dry-run
    """
    try:
        open_service(workspace, db)
        from corecustomers.web.audit.context import Actor, acting
        from corecustomers.web.customers.masterdata import import_master_data

        with acting(Actor(channel="cli")), _progress() as progress:
            result = import_master_data(file, dry_run=dry_run, progress=progress)
    except CoreCustomersError as exc:
        err.print(f"[bold red]Error:[/bold red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None
    _print(result, all_bad_rows=all_bad_rows)


class _progress:  # noqa: N801  (used as a context manager, like a function)
    """A progress bar on stderr while the file is read, checked and applied."""

    def __enter__(self) -> Any:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        )
        self.bar.__enter__()
        self.task = self.bar.add_task("reading", total=1.0)
        return self.update

    def update(self, fraction: float, message: str) -> None:
        self.bar.update(self.task, completed=fraction, description=message)

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)


def _print(result: Any, *, all_bad_rows: bool) -> None:
    name = escape(result.file)
    bad = list(result.bad_rows)
    if bad:
        table = Table(title=f"Bad rows in {name} (skipped; row 1 is the header)")
        for header in ("row", "column", "value", "reason"):
            table.add_column(header, overflow="fold")
        shown = bad if all_bad_rows else bad[:SHOWN]
        for row in shown:
            table.add_row(str(row.row), escape(row.column), escape(row.value), escape(row.reason))
        out.print(table)
        if len(shown) < len(bad):
            out.print(
                f"… and {len(bad) - len(shown):,} more problems (--all-bad-rows lists them all)"
            )
    verb = "Would create" if result.dry_run else "Created"
    out.print(
        f"{name}: {result.rows:,} rows, {result.good_rows:,} good, "
        f"{result.bad_row_count:,} bad. {verb} {result.created:,}, "
        f"{'would update' if result.dry_run else 'updated'} {result.updated:,}, "
        f"unchanged {result.unchanged:,}.",
        soft_wrap=True,
    )
    out.print(
        f"In the file but in no analysis: {result.not_in_analysis_count:,}; "
        f"analysed customers without master data: {result.analysed_without_master_data:,}.",
        soft_wrap=True,
    )
    if result.suppressed:
        out.print(f"Skipped {result.suppressed:,} rows of erased customers (privacy).")
    if result.dry_run:
        out.print("Dry run: nothing was written. Run again without --dry-run to apply.")
