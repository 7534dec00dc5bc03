"""``python -m benchmarks``: run the benchmarks, print a table, write ``results.json``.

Examples::

    python -m benchmarks                    # 10M rows, 1M customers (hours: with the cluster)
    python -m benchmarks --skip cluster     # all but the Spark cluster's scaling table
    python -m benchmarks --quick            # 1M rows, 100k customers
    python -m benchmarks --only features    # one group (see benchmarks/suite.py)
    python -m benchmarks --only history --history-baseline 0e4ed99   # history before/after
    python -m benchmarks --only cluster --cluster-customers 100000   # one line of the table
    python -m benchmarks --huge             # 100M rows to Parquet, then the features
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from benchmarks.runner import BENCH, log
from benchmarks.suite import GROUPS, Options, Report, run_suite


def _count(text: str) -> int:
    return int(text.replace("_", "").replace(",", ""))


def parse(argv: list[str]) -> tuple[Options, Path]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rows", type=_count, help="about this many rows (default 10_000_000)")
    parser.add_argument(
        "--customers", type=_count, help="customers to simulate (default rows / 10)"
    )
    parser.add_argument("--quick", action="store_true", help="1M rows, 100k customers")
    parser.add_argument(
        "--huge",
        action="store_true",
        help="only the 100M-row generation and features (not run by default)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=GROUPS,
        metavar="NAME",
        help=f"run only these groups: {', '.join(GROUPS)} (repeatable)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        choices=GROUPS,
        default=[],
        metavar="NAME",
        help="leave out these groups (repeatable), e.g. --skip cluster",
    )
    parser.add_argument(
        "--cluster-customers",
        type=_count,
        action="append",
        metavar="N",
        help="cluster group: customers of one line of the scaling table (repeatable; "
        "default a tenth of --customers and all of them)",
    )
    parser.add_argument(
        "--cap",
        type=float,
        default=1200.0,
        help="seconds after which a lifetimes run is stopped (default 1200)",
    )
    parser.add_argument(
        "--history-baseline",
        metavar="REV",
        help="history group: also run the history of this git revision (before a change)",
    )
    parser.add_argument(
        "--history-after",
        metavar="REV",
        help="history group: measure this git revision instead of the working tree",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=BENCH / "results.json")
    args = parser.parse_args(argv)
    rows = args.rows or (1_000_000 if args.quick else 10_000_000)
    customers = args.customers or max(1, rows // 10)
    if args.only:
        groups = tuple(args.only)
    elif args.huge:
        groups = ("huge",)
    else:
        groups = tuple(g for g in GROUPS if g != "huge")
    groups = tuple(g for g in groups if g not in args.skip)
    options = Options(
        customers=customers,
        groups=groups,
        seed=args.seed,
        cap=args.cap,
        history_baseline=args.history_baseline,
        history_after=args.history_after,
        cluster_customers=tuple(args.cluster_customers or ()),
    )
    return options, args.out


def table(report: Report) -> str:
    """The measurements and the comparisons as plain-text tables."""
    lines = [
        f"{'measurement':38} {'rows':>11} {'customers':>10} {'seconds':>9} {'runs':>4} "
        f"{'peak MB':>8}",
        "-" * 86,
    ]
    for m in report.measurements.values():
        rows = m.details.get("rows", "")
        customers = m.details.get("customers", "")
        seconds = f"{m.seconds:9.2f}" if m.seconds is not None else f"{'-':>9}"
        runs = len(m.details.get("runs", [])) or 1
        peak = f"{m.peak_mb:8.0f}" if m.peak_mb is not None else f"{'-':>8}"
        status = "" if m.ok else f"  ({m.error.splitlines()[0] if m.error else 'failed'})"
        lines.append(
            f"{m.name:38} {rows!s:>11} {customers!s:>10} {seconds} {runs:>4} {peak}{status}"
        )
    lines += [
        "",
        f"{'comparison':66} {'speed-up':>9} {'target':>28} {'met':>4}",
        "-" * 110,
    ]
    for c in report.comparisons:
        speed = f"{c.speedup:8.2f}x" if c.speedup is not None else f"{'-':>9}"
        met = {True: "yes", False: "NO", None: "-"}[c.met]
        lines.append(f"{c.name[:66]:66} {speed} {c.target_text:>28} {met:>4}")
    for extra in report.tables:
        lines += ["", extra]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    options, out = parse(sys.argv[1:] if argv is None else argv)
    log(f"Benchmarks: {', '.join(options.groups)}; results go to {out}")
    report = run_suite(options)
    print(table(report))
    for note in report.notes:
        print(f"note: {note}")
    out.write_text(json.dumps(report.as_dict(), indent=2, default=str) + "\n", encoding="utf-8")
    log(f"Wrote {out}")
    failed = [m.name for m in report.measurements.values() if m.error and "timeout" not in m.error]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
