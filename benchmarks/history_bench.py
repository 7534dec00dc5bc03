"""The ``history`` group: a monthly history of the demo against one ``analyze`` of it.

Issue 8's figure: ``corecustomers history`` over the 20,000-customer demo
(``corecustomers demo``'s data: seed 7, 2022-01-01 .. 2024-12-31, 36 month ends), timed
as a whole command from outside, against one ``corecustomers analyze`` of the same file
(the baseline: the history as a multiple of one analysis), interleaved A B A B so that
both meet the same load. With ``--history-baseline REV`` the history of that git
revision (its ``src/`` exported with ``git archive``, so uncommitted work does not
count) runs in the same rounds, for the figure before a change.

Target: the history under 60 s. Each run records the 1-minute load average before and
after it (``details["load_average"]``): the machine is shared.

    python -m benchmarks --only history
    python -m benchmarks --only history --history-baseline 0e4ed99
    python -m benchmarks.history_bench --customers 20000 --rounds 2 --baseline 0e4ed99 --after HEAD
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

from benchmarks.runner import DATA, ROOT, Measurement, log, run_command

#: Runs longer than this are not repeated (as in the rest of the suite).
REPEAT_BELOW = 120.0

HISTORY_TARGET_SECONDS = 60.0

DEMO_SEED = 7  # corecustomers demo's default


def demo_file(customers: int) -> Path:
    """The demo transactions of ``customers`` customers (made once, then reused)."""
    path = DATA / f"demo-{customers}-seed{DEMO_SEED}.csv"
    if not path.exists():
        from corecustomers.data.demo import write_demo_csv

        log(f"  writing {path.name} ...")
        DATA.mkdir(parents=True, exist_ok=True)
        write_demo_csv(path, n_customers=customers, seed=DEMO_SEED)
    return path


def _export(revision: str, into: Path) -> Path:
    """``revision``'s ``src/`` exported into ``into``; ``path:DIR`` names a ``src`` folder
    already made (say, a revision with a fix applied by hand), used as it is."""
    if revision.startswith("path:"):
        return Path(revision[len("path:") :])
    archive = subprocess.run(
        ["git", "archive", revision, "src"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _command(src: Path | None, *args: str) -> list[str]:
    """``python -m corecustomers ARGS``, from ``src`` when given (else the installed)."""
    if src is None:
        return [sys.executable, "-m", "corecustomers", *args]
    code = (
        f"import runpy, sys; sys.path.insert(0, {str(src)!r}); "
        "runpy.run_module('corecustomers', run_name='__main__', alter_sys=True)"
    )
    return [sys.executable, "-c", code, *args]


def _load() -> float:
    return os.getloadavg()[0]


def measure_history(
    customers: int = 20_000,
    *,
    rounds: int = 2,
    baseline: str | None = None,
    after: str | None = None,
    timeout: float = 3600.0,
) -> list[Measurement]:
    """``history`` (and the baseline revision's), and one ``analyze``, interleaved.

    ``after``: the revision measured as ``history`` and ``analyze`` (exported like the
    baseline); by default the installed package, i.e. the working tree.
    """
    data = demo_file(customers)
    with tempfile.TemporaryDirectory(prefix="cc-history-bench-") as tmp:
        work = Path(tmp)
        ours = _export(after, work / "after") if after else None
        sides: list[tuple[str, Path | None]] = [("history", ours)]
        if baseline:
            sides.append((f"history@{baseline}", _export(baseline, work / "baseline")))
        jobs: list[tuple[str, Path | None, str]] = [(n, s, "history") for n, s in sides]
        jobs.append(("analyze.demo", ours, "analyze"))
        best: dict[str, Measurement] = {}
        runs: dict[str, list[float]] = {name: [] for name, _, _ in jobs}
        loads: dict[str, list[list[float]]] = {name: [] for name, _, _ in jobs}
        active = {name for name, _, _ in jobs}
        for r in range(rounds):
            for name, src, kind in jobs:
                if name not in active:
                    continue
                folder = work / f"{name}-{r}".replace("@", "-")
                shutil.rmtree(folder, ignore_errors=True)
                args = [
                    kind,
                    str(data),
                    "--out",
                    str(folder / "out"),
                    "--workspace",
                    str(folder / "ws"),
                    "--quiet",
                ]
                if kind == "history":
                    args[2:2] = ["--every", "month"]
                before = _load()
                m = run_command(name, _command(src, *args), timeout=timeout)
                loads[name].append([round(before, 2), round(_load(), 2)])
                if m.ok and m.seconds is not None:
                    runs[name].append(round(m.seconds, 2))
                if name not in best or (
                    m.ok and (not best[name].ok or m.wall_seconds < best[name].wall_seconds)
                ):
                    best[name] = m
                if not m.ok or m.wall_seconds >= REPEAT_BELOW:
                    active.discard(name)
                if kind == "history" and m.ok:
                    m.details["snapshots"] = _snapshots(folder / "out" / "history.json")
    out = []
    for name, _, _ in jobs:
        m = best[name]
        m.details.update(runs=runs[name], load_average=loads[name], customers=customers)
        out.append(m)
    return out


def _snapshots(path: Path) -> int | None:
    try:
        return len(json.loads(path.read_text(encoding="utf-8"))["snapshots"])
    except (OSError, ValueError, KeyError):
        return None


def run_history(
    report: object, *, baseline: str | None = None, after: str | None = None, rounds: int = 2
) -> None:
    """Measure the group into ``report`` (a :class:`benchmarks.suite.Report`)."""
    from benchmarks.suite import Comparison, Report

    assert isinstance(report, Report)
    log("history: monthly history of the 20k-customer demo vs one analyze of it")
    measured = measure_history(
        baseline=baseline, after=after, rounds=rounds, timeout=report.options.timeout
    )
    for m in measured:
        report.add(m)
    ours = report.measurements["history"]
    if ours.ok and ours.seconds:
        report.comparisons.append(
            Comparison(
                "history: 36 month ends of the 20k demo",
                "history",
                f"{HISTORY_TARGET_SECONDS:.0f} s budget",
                HISTORY_TARGET_SECONDS / ours.seconds,
                1.0,
                f"< {HISTORY_TARGET_SECONDS:.0f} s",
                "speed-up = budget / seconds",
            )
        )
    report.compare(
        "history vs one analyze of the same file",
        "history",
        "analyze.demo",
        0.0,
        "(for scale: history = 1 / speed-up analyses)",
        "interleaved, fastest of each",
    )
    if baseline:
        report.compare(
            f"history vs history at {baseline}",
            "history",
            f"history@{baseline}",
            1.0,
            "> 1x (faster than before)",
            "interleaved, fastest of each",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--baseline", help="git revision whose history also runs")
    parser.add_argument("--after", help="git revision measured (default: the working tree)")
    args = parser.parse_args(argv)
    measured = measure_history(
        args.customers, rounds=args.rounds, baseline=args.baseline, after=args.after
    )
    for m in measured:
        print(json.dumps(m.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
