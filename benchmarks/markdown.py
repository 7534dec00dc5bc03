"""Render a ``results.json`` as the Markdown tables of ``benchmarks/README.md``.

``python -m benchmarks.markdown [benchmarks/results.json]``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.runner import BENCH


def render(results: dict[str, Any]) -> str:
    """Machine line, measurements table and comparisons table."""
    machine = results["machine"]
    memory = str(machine["memory"])
    if memory.endswith(" kB"):  # results written before the runner reported GiB
        memory = f"{int(memory.split()[0]) / 1024**2:.1f} GiB"
    lines = [
        f"Machine: {machine['cores']} cores, {memory}, Python {machine['python']}, "
        f"{machine['platform']}.",
        "",
        "| measurement | rows | customers | seconds (best) | all runs | peak MB |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for m in results["measurements"]:
        d = m["details"]
        seconds = f"{m['seconds']:.2f}" if m["seconds"] is not None else "—"
        runs = ", ".join(f"{r:.1f}" for r in d.get("runs", []))
        if m["error"]:
            runs = f"{runs} ({m['error'].splitlines()[0][:60]})".strip()
        peak = f"{m['peak_mb']:.0f}" if m["peak_mb"] is not None else "—"
        rows = f"{d['rows']:,}" if "rows" in d else ""
        customers = f"{d['customers']:,}" if "customers" in d else ""
        lines.append(f"| {m['name']} | {rows} | {customers} | {seconds} | {runs} | {peak} |")
    lines += [
        "",
        "| comparison | speed-up | target | met | note |",
        "|---|---:|---|---|---|",
    ]
    for c in results["comparisons"]:
        speed = f"{c['speedup']:.2f}×" if c["speedup"] is not None else "—"
        met = {True: "yes", False: "**no**", None: "—"}[c["met"]]
        lines.append(f"| {c['name']} | {speed} | {c['target_text']} | {met} | {c['note']} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else BENCH / "results.json"
    print(render(json.loads(path.read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
