"""``corecustomers privacy export|erase CUSTOMER_ID``: a customer's privacy rights.

Thin shells over :mod:`corecustomers.web.privacy`, run in this process as the command line
(no user: the operator of the machine acts as an administrator). Exit codes: 0 done;
2 no such customer, or the output file cannot be written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from corecustomers.cli.app import app
from corecustomers.cli.service import DbOpt, WorkspaceOpt, open_service
from corecustomers.errors import CoreCustomersError

__all__ = ["privacy_app"]

err = Console(stderr=True)
out = Console()

privacy_app = typer.Typer(
    name="privacy",
    help=(
        "A customer's privacy rights: export everything held about them, or erase it.\n\n"
        "Example: corecustomers privacy export C1001 --out C1001.zip"
    ),
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(privacy_app, name="privacy")


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]Error:[/bold red] {escape(message)}", soft_wrap=True)
    return typer.Exit(2)


@privacy_app.command("export")
def export_command(
    customer_id: Annotated[str, typer.Argument(help="The customer's id (as in the sources).")],
    out_file: Annotated[
        Path, typer.Option("--out", help="Where to write the zip (JSON and CSV per table).")
    ],
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
) -> None:
    """Write everything held about one customer to a zip (audited).

    Example:

      corecustomers privacy export C1001 --out C1001.zip
    """
    try:
        open_service(workspace, db)
        from corecustomers.web.audit.context import Actor, acting
        from corecustomers.web.customers.models import Customer
        from corecustomers.web.privacy.export import export_customer
    except CoreCustomersError as exc:
        raise _fail(str(exc)) from None
    try:
        with acting(Actor(channel="cli")):
            data, done = export_customer(customer_id, None, channel="cli")
    except Customer.DoesNotExist:
        raise _fail(f"there is no customer {customer_id!r}") from None
    try:
        out_file.write_bytes(data)
    except OSError as exc:
        raise _fail(f"--out: cannot write {out_file}: {exc.strerror}") from None
    tables = ", ".join(f"{name} {n:,}" for name, n in done.counts.items() if n)
    out.print(f"Wrote {escape(str(out_file))} ({len(data):,} bytes): {escape(tables)}.")


@privacy_app.command("erase")
def erase_command(
    customer_id: Annotated[str, typer.Argument(help="The customer's id (as in the sources).")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
) -> None:
    """Erase one customer's personal data everywhere in the service; cannot be undone.

    Personal fields are blanked, the id replaced by a keyed hash and put on the suppression
    list (imports skip it from now on); rows stay so that ledgers and totals balance. Prints
    the fulfilment record as JSON.

    Example:

      corecustomers privacy erase C1001 --yes
    """
    if not yes:
        typer.confirm(f"Erase customer {customer_id}'s personal data for good?", abort=True)
    try:
        open_service(workspace, db)
        from corecustomers.web.audit.context import Actor, acting
        from corecustomers.web.customers.models import Customer
        from corecustomers.web.privacy.erase import erase_customer
    except CoreCustomersError as exc:
        raise _fail(str(exc)) from None
    try:
        with acting(Actor(channel="cli")):
            done = erase_customer(customer_id, None, channel="cli")
    except Customer.DoesNotExist:
        raise _fail(f"there is no customer {customer_id!r}") from None
    except CoreCustomersError as exc:  # the workspace stayed busy: nothing was changed
        raise _fail(f"{exc} Nothing was erased; run the command again.") from None
    record = {
        "id": done.pk,
        "kind": done.kind,
        "subject": done.subject,
        "at": done.at.isoformat(),
        "counts": done.counts,
        "details": done.details,
        "pending": done.pending,
        "completed": done.completed.isoformat() if done.completed else None,
    }
    out.print_json(json.dumps(record))


@privacy_app.command("retention")
def retention_command(
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
) -> None:
    """Apply the retention rules now (the worker also runs them daily) and print them.

    Each kind's period is CORECUSTOMERS_RETAIN_<KIND>_DAYS (0 keeps it for ever).

    Example:

      corecustomers privacy retention
    """
    try:
        open_service(workspace, db)
        from corecustomers.web.audit.context import Actor, acting
        from corecustomers.web.privacy.retention import apply_retention, rules

        with acting(Actor(channel="cli")):
            done = apply_retention()
        shown = rules()
    except CoreCustomersError as exc:
        raise _fail(str(exc)) from None
    for rule in shown:
        kept = "for ever" if not rule["days"] else f"{rule['days']} days"
        changed = done[rule["kind"]]["changed"]
        out.print(f"{rule['kind']}: kept {kept} ({rule['setting']}); now: {changed} changed")


@privacy_app.command("sync")
def sync_command(
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
) -> None:
    """Write the workspace's suppression list (.corecustomers/suppression.json) again from
    the service database, for `analyze` to leave erased customers out.

    Example:

      corecustomers privacy sync
    """
    try:
        open_service(workspace, db)
        from corecustomers.web.privacy.suppression import write_file

        path = write_file()
    except CoreCustomersError as exc:
        raise _fail(str(exc)) from None
    out.print(f"Wrote {escape(str(path))}." if path else "An in-memory workspace keeps no list.")
