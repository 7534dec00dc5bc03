"""The service's commands: ``serve``, ``worker``, ``createuser``, ``token``, ``import-analysis``,
``backup`` and ``restore``; and the service half of ``demo --serve``.

Registered on the one ``app`` of :mod:`corecustomers.cli.app`. Django is imported only when
one of these commands runs, so the analysis commands start as fast as before.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from corecustomers.cli.app import app
from corecustomers.errors import CoreCustomersError

__all__ = ["open_service", "serve_demo"]

err = Console(stderr=True)
out = Console()

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Service database URL: sqlite:///FILE or postgresql://USER@HOST:PORT/NAME "
        "[default: .corecustomers/service.sqlite3 in the workspace folder].",
        envvar="CORECUSTOMERS_DB",
    ),
]
WorkspaceOpt = Annotated[
    str,
    typer.Option(
        "--workspace",
        help="Project folder whose .corecustomers/ holds the workspace [default: .].",
        envvar="CORECUSTOMERS_WORKSPACE",
    ),
]
ROLES = ("admin", "manager", "account_manager", "analyst")


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except CoreCustomersError as exc:
        err.print(f"[bold red]Error:[/bold red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None


def open_service(workspace: str, db: str | None, *, migrate: bool = True) -> None:
    """Set Django up on ``db`` and ``workspace`` and bring the database schema up to date."""
    from corecustomers.web.runtime import ServiceConfig, configure

    configure(ServiceConfig(workspace=workspace, db=db))
    if migrate:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)


@app.command()
def serve(
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0 = any free port).")] = 8000,
    threads: Annotated[int, typer.Option("--threads", help="Request threads.", min=1)] = 8,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Start the background worker too.")
    ] = True,
) -> None:
    """Serve the web pages and the API (applies migrations, starts the worker).

    Example:

      corecustomers serve --port 8000 --db postgresql://crm@localhost/crm
    """
    with _errors():
        open_service(workspace, db)
        _serve(workspace, db, host, port, threads, worker)


def _serve(
    workspace: str,
    db: str | None,
    host: str,
    port: int,
    threads: int,
    worker: bool,
    banner: Callable[[str], None] | None = None,
) -> None:
    from django.conf import settings
    from django.core.management import call_command
    from waitress.server import create_server

    if not settings.DEBUG:
        call_command("collectstatic", interactive=False, verbosity=0)
    from corecustomers.web.wsgi import application

    server = create_server(application, host=host, port=port, threads=threads)
    bound = server.effective_port  # type: ignore[union-attr]
    child = _start_worker(workspace, db) if worker else None
    # `kill` (SIGTERM) stops the server as Ctrl-C does, so the worker is stopped too
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    shown = "127.0.0.1" if host in {"0.0.0.0", ""} else host
    url = f"http://{shown}:{bound}/"
    if banner is not None:
        banner(url)
    out.print(f"Serving at [bold]{url}[/bold]  (Ctrl-C stops)", soft_wrap=True)
    sys.stdout.flush()
    from corecustomers.web.backup import serving

    try:
        with serving(url):
            server.run()
    except KeyboardInterrupt:
        out.print("Stopped.")
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _start_worker(workspace: str, db: str | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "corecustomers", "worker", "--workspace", workspace]
    if db:
        command += ["--db", db]
    return subprocess.Popen(command, env=os.environ.copy())


@app.command()
def worker(
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
    batch: Annotated[
        bool, typer.Option("--batch", help="Run the waiting jobs, then exit.")
    ] = False,
) -> None:
    """Run background jobs (imports, analysis runs); `serve` starts one for you.

    Every CORECUSTOMERS_WATCH_SECONDS (default 30) it also queues the import of each
    analysis that `corecustomers analyze` finished on the workspace since.

    Example:

      corecustomers worker --db postgresql://crm@localhost/crm
    """
    with _errors():
        open_service(workspace, db)
        import threading

        from corecustomers.web.customers.watch import queue_new_runs, start_watch
        from corecustomers.web.jobs.worker import run_worker

        stop = threading.Event()
        if batch:
            queue_new_runs()
        else:
            start_watch(stop)
        try:
            run_worker(batch=batch)
        finally:
            stop.set()


@app.command()
def createuser(
    name: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[
        str, typer.Option("--role", help="admin, manager, account_manager or analyst.")
    ],
    team: Annotated[
        list[str] | None,
        typer.Option("--team", help="A team to join (created if new); repeat for more."),
    ] = None,
    email: Annotated[str, typer.Option("--email", help="E-mail for notifications.")] = "",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
) -> None:
    """Create a user (or update the role, teams and password of an existing one).

    Example:

      corecustomers createuser li.na --role account_manager --team East
    """
    if role not in ROLES:
        raise typer.BadParameter(
            f"{role!r} is not a role; use one of {', '.join(ROLES)}", param_hint="--role"
        )
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {name}: ")
        if getpass.getpass("Again: ") != password:
            err.print("[red]The passwords differ.[/red] Nothing was changed.")
            raise typer.Exit(2)
    with _errors():
        open_service(workspace, db)
        from corecustomers.web.accounts.users import create_or_update_user

        user, created = create_or_update_user(
            name, role=role, password=password, teams=team or [], email=email
        )
    verb = "Created" if created else "Updated"
    out.print(f"{verb} {escape(user.username)} ({escape(role)}).")


@app.command()
def token(
    name: Annotated[str, typer.Argument(help="An existing user's login name.")],
    scope: Annotated[str, typer.Option("--scope", help="read or write.")] = "read",
    expires: Annotated[
        int | None, typer.Option("--expires", help="Days until it expires [default: never].", min=1)
    ] = None,
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
) -> None:
    """Print a new API token for a user (shown once; only its hash is kept).

    Example:

      corecustomers token am1 --scope write --expires 90
    """
    if scope not in {"read", "write"}:
        raise typer.BadParameter(f"{scope!r}: use read or write", param_hint="--scope")
    with _errors():
        open_service(workspace, db)
        from django.utils import timezone

        from corecustomers.web.accounts.models import ApiToken, User

        user = User.objects.filter(username=name).first()
        if user is None:
            err.print(
                f"[red]No user {escape(name)!s}.[/red] Create one first: "
                f"corecustomers createuser {escape(name)} --role analyst"
            )
            raise typer.Exit(2)
        until = timezone.now() + dt.timedelta(days=expires) if expires else None
        _, raw = ApiToken.issue(user, scope=scope, expires=until, name="command line")
    print(raw)


@app.command("import-analysis")
def import_analysis_command(
    folder: Annotated[Path, typer.Argument(help="An `analyze --out` folder.")],
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
) -> None:
    """Load an analysis (customers.parquet, summary.json) into the service.

    Example:

      corecustomers import-analysis results
    """
    with _errors():
        open_service(workspace, db)
        from corecustomers.web.audit.context import Actor, acting
        from corecustomers.web.customers.analysis_import import import_analysis

        with acting(Actor(channel="cli")):
            result = import_analysis(folder)
    if result.already_imported:
        out.print(f"Already imported: run {result.run_id} of {result.as_of}; nothing changed.")
    else:
        out.print(
            f"Imported {result.customers:,} customers of {result.as_of} "
            f"({result.new_customers:,} new) from {escape(str(folder))}."
        )


def serve_demo(
    *, out_dir: Path, analysis: Path, customers: int, seed: int, host: str, port: int
) -> None:
    """``corecustomers demo --serve``: load the demo into the service here and serve it.

    Called by ``demo`` once the demo analysis is written. Writes the demo customers' master
    data beside the transactions, loads analysis and master data into the service whose
    database and workspace are in the current folder, creates the demo users with new
    passwords, prints them and serves until Ctrl-C.
    """
    import secrets

    from corecustomers.data.demo import generate_demo
    from corecustomers.data.demo_people import generate_demo_people, write_demo_people_csv

    with _errors():
        # the demo's notifications go nowhere (no mail server is assumed)
        os.environ.setdefault(
            "CORECUSTOMERS_EMAIL_BACKEND", "django.core.mail.backends.dummy.EmailBackend"
        )
        people_file = out_dir / "demo-customers.csv"
        people = generate_demo_people(generate_demo(n_customers=customers, seed=seed), seed=seed)
        write_demo_people_csv(people_file, people)
        open_service(".", None)
        from corecustomers.web.demo import DEMO_USERS, set_up_demo

        passwords = {name: f"demo-{secrets.token_hex(4)}" for name, *_ in DEMO_USERS}
        setup = set_up_demo(analysis, people_file, passwords=passwords)
    out.print(
        f"Master data: [bold]{escape(str(people_file))}[/bold] "
        f"({setup.master_data:,} customers); the service holds {setup.customers:,} "
        "analysed customers."
    )
    for name, size in setup.books.items():
        out.print(
            f"{name} owns {size} core customers ({setup.alerts[name]} with an open alert "
            "and a due action)."
        )

    def banner(url: str) -> None:
        table = Table(title="Demo logins (new passwords each run)", title_justify="left")
        for column in ("user", "password", "role", "sees"):
            table.add_column(column)
        for login in setup.logins:
            table.add_row(login.username, login.password, login.role, escape(login.sees))
        out.print(table)
        out.print(
            f"Open [bold]{url}[/bold] and log in as [bold]am1[/bold] (an account manager's "
            "book) or [bold]manager[/bold]. An API token: corecustomers token am1",
            soft_wrap=True,
        )

    with _errors():
        _serve(".", None, host, port, 8, True, banner=banner)


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="The backup file to write (replaced).")],
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
) -> None:
    """Back up the service database into one file, while the service runs.

    SQLite: the online backup API; PostgreSQL: pg_dump (custom format).

    Example:

      corecustomers backup backups/service-2025-01-31.db
    """
    with _errors():
        open_service(workspace, db, migrate=False)
        from corecustomers.web.backup import backup as run_backup

        result = run_backup(file)
    out.print(
        f"Backed up the {result.engine} database ({result.tables} tables, "
        f"{result.size / 1e6:,.1f} MB) to [bold]{escape(str(result.file))}[/bold]."
    )


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A file that `corecustomers backup` wrote.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Restore even while a server uses the database."),
    ] = False,
    db: DbOpt = None,
    workspace: WorkspaceOpt = ".",
) -> None:
    """Replace the service database with a backup (stop the server first).

    Example:

      corecustomers restore backups/service-2025-01-31.db
    """
    with _errors():
        open_service(workspace, db, migrate=False)
        from django.core.management import call_command

        from corecustomers.web.backup import restore as run_restore

        result = run_restore(file, force=force)
        call_command("migrate", interactive=False, verbosity=0)  # a backup from an older version
    out.print(
        f"Restored the {result.engine} database ({result.tables} tables) from "
        f"[bold]{escape(str(result.file))}[/bold]."
    )
