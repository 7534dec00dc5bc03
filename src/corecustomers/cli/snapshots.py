# ruff: noqa: E501  (the --help examples are one line each, to be copied and pasted)
"""The snapshot commands: ``history`` builds past snapshots, ``compare`` two of them,
``override`` holds a customer in a tier by hand.

Registered on the one ``app`` by :mod:`corecustomers.cli.app`; their settings' options
come from the table of settings (:mod:`corecustomers.cli.options`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from corecustomers.cli.console import RichProgress, err, handled, out, write_text
from corecustomers.cli.options import (
    NO_FLAGS,
    Debug,
    Quiet,
    SettingFlags,
    SourceArg,
    flag_date,
    settings_options,
)
from corecustomers.errors import ConfigError

__all__ = ["compare", "history", "override"]


@settings_options("history")
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
    flags: SettingFlags = NO_FLAGS,
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

    with handled(debug):
        if every not in ("week", "month", "quarter"):
            raise typer.BadParameter(
                f"{every!r} is not one of week, month, quarter", param_hint="'--every'"
            )
        settings = flags.settings()
        result = run(
            source,
            settings,
            every=every,  # type: ignore[arg-type]
            start=flag_date(date_from, "--from"),
            end=flag_date(date_to, "--to"),
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


@settings_options("compare")
def compare(
    date_from: Annotated[str, typer.Option("--from", help="Date of the earlier snapshot.")],
    date_to: Annotated[str, typer.Option("--to", help="Date of the later snapshot.")],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the comparison as JSON.")
    ] = None,
    flags: SettingFlags = NO_FLAGS,
    debug: Debug = False,
) -> None:
    """Compare two snapshots: tier transition matrix, core customers won/kept/downgraded/lost.

    Example:

      corecustomers compare --from 2024-06-30 --to 2024-12-31
    """
    import json

    from corecustomers.service.history import compare as run

    with handled(debug):
        settings = flags.settings()
        start = flag_date(date_from, "--from")
        end = flag_date(date_to, "--to")
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
            write_text(json_out, text, "--json file")
            out.print(f"Written to [bold]{escape(str(json_out))}[/bold]")


@settings_options("override")
def override(
    customer_id: Annotated[str, typer.Argument(help="The customer id.")],
    tier: Annotated[str | None, typer.Option("--tier", help="The tier to hold.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who decided.")] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Last day in force [default: until removed].")
    ] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the override.")] = False,
    flags: SettingFlags = NO_FLAGS,
    debug: Debug = False,
) -> None:
    """Hold a customer in a tier by hand (who, why, until when); it survives every rerun.

    Example:

      corecustomers override M0001234 --tier strategic --by "Li Na" --reason "renegotiating the contract" --until 2025-03-31
    """
    from corecustomers.service.history import add_override

    with handled(debug):
        settings = flags.settings()
        message = add_override(
            settings,
            customer_id,
            tier=tier,
            by=by,
            reason=reason,
            until=flag_date(until, "--until"),
            remove=remove,
        )
        out.print(escape(message))
