"""What the commands print: the two consoles, progress, error messages and exit codes.

Everything printed that comes from the data, a file name or the config is escaped, so a
value such as ``[/bold]`` or ``[columns]`` is shown as written, never read as Rich markup.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress as RichBar
from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

from corecustomers.errors import CoreCustomersError, OutputError

__all__ = ["RichProgress", "err", "handled", "out", "print_error", "write_text"]

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
def handled(debug: bool) -> Iterator[None]:
    """Turn errors into messages and exit codes (2 for the user's input, 1 otherwise)."""
    try:
        yield
    except CoreCustomersError as exc:
        print_error(exc)
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


def print_error(exc: BaseException) -> None:
    err.print(f"[bold red]Error:[/bold red] {escape(str(exc))}", soft_wrap=True)


def write_text(path: Path, text: str, what: str) -> None:
    """Write a file the user named, turning an unwritable place into an OutputError."""
    if path.is_dir():
        raise OutputError(f"{what} {path} is a folder; give a file name")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise OutputError(
            f"cannot write {what} {path}: {exc.strerror or exc}; choose another place"
        ) from exc
