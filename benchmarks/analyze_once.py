"""Issue 8, "compute once": ``analyze`` before and after, interleaved, with its model fits.

Exports two revisions of ``src/`` (``git archive``; by default the last commit before issue
8's engine changes and ``HEAD``, so that uncommitted work in the tree does not count) to a
temporary folder and runs ``analyze`` alternately with each (A B A B ...), each in
a fresh subprocess that counts every model fit (transaction models, Gamma-Gamma and the
ranking's gradient-boosted model) and reports its wall time, the fits and the ranking's
capture of the holdout revenue. The fastest run of each side is kept.

    python -m benchmarks.analyze_once --baseline b3c0fda --after HEAD --repeat 2
    python -m benchmarks.analyze_once --case demo:20000 --case cdnow

Cases: ``cdnow`` (the sample with calibration end 1997-09-30), ``demo:N`` (the demo data
set of N customers, seed 7, as ``corecustomers demo`` analyses it) and ``demo-cal:N`` (the
same with the calibration end 2024-06-30, so that the capture figures exist).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_CHILD = r"""
import collections, datetime as dt, json, sys, time
from pathlib import Path
counts = collections.Counter()
def wrap(cls, label):
    orig = cls.fit
    def fit(self, *a, **k):
        counts[f"{label}:{type(self).__name__}"] += 1
        return orig(self, *a, **k)
    cls.fit = fit
from corecustomers.models._transactions import TransactionModel
from corecustomers.models.gamma_gamma import GammaGammaModel
import sklearn.ensemble
wrap(TransactionModel, "transaction"); wrap(GammaGammaModel, "spend")
wrap(sklearn.ensemble.HistGradientBoostingRegressor, "gbm")
from corecustomers.config import Settings
from corecustomers.service import analyze
case, data, root = sys.argv[1], sys.argv[2], Path(sys.argv[3])
if case == "cdnow":
    settings = Settings(columns={"customer_id": "1", "timestamp": "3", "amount": "5"},
                        calibration_end=dt.date(1997, 9, 30), workspace=str(root / "ws"))
else:
    cal = dt.date(2024, 6, 30) if case.startswith("demo-cal") else None
    settings = Settings(currency="¥", lang="en", workspace=str(root / "ws"), calibration_end=cal)
start = time.perf_counter()
result = analyze(data, root / "out", settings, today=dt.date(2026, 11, 23))
wall = time.perf_counter() - start
s = result.summary
print(json.dumps({
    "wall": wall,
    "fits": dict(counts),
    "transaction_fits": sum(v for k, v in counts.items() if k.startswith("transaction")),
    "core_score": s.get("core_score", {}).get("core_score"),
    "capture": (s.get("capture") or {}).get("capture"),
    "model": s.get("models", {}).get("transaction", {}).get("model"),
}))
"""


def _export(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "archive", revision, "src"], cwd=ROOT, check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def _data(case: str, folder: Path) -> str:
    if case == "cdnow":
        return str(ROOT / "tests" / "fixtures" / "CDNOW_sample.txt")
    from corecustomers.data.demo import write_demo_csv

    n = int(case.split(":")[1])
    path = folder / f"demo-{n}.csv"
    if not path.exists():
        write_demo_csv(path, n_customers=n, seed=7)
    return str(path)


def _run(src: Path, case: str, data: str, folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, case, data, str(folder)],
        env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin", "HOME": str(folder)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="b3c0fda", help="git revision before issue 8")
    parser.add_argument("--after", default="HEAD", help="git revision after")
    parser.add_argument("--case", action="append", help="cdnow | demo:N | demo-cal:N")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)
    cases = args.case or ["cdnow", "demo:20000", "demo-cal:20000"]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="cc-bench-") as tmp:
        work = Path(tmp)
        sides = {
            "before": _export(args.baseline, work / "baseline"),
            "after": _export(args.after, work / "after"),
        }
        for case in cases:
            data = _data(case, work)
            runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
            for i in range(args.repeat):
                for side, src in sides.items():
                    run = _run(src, case, data, work / f"{case}-{side}-{i}".replace(":", "-"))
                    runs[side].append(run)
                    print(
                        f"{case:>16} {side:>6} run {i + 1}: {run['wall']:6.1f} s, "
                        f"{run['transaction_fits']} transaction fits {run['fits']}",
                        flush=True,
                    )
            best = {side: min(r["wall"] for r in rs) for side, rs in runs.items()}
            results[case] = {
                "best_seconds": best,
                "speed_up": best["before"] / best["after"],
                "runs": runs,
            }
            print(
                f"{case:>16}  before {best['before']:.1f} s, after {best['after']:.1f} s, "
                f"x{best['before'] / best['after']:.2f}",
                flush=True,
            )
            for side in ("before", "after"):
                last = runs[side][-1]
                print(
                    f"{'':>16}  {side}: model {last['model']}, core_score "
                    f"{last['core_score']}, capture {json.dumps(last['capture'])}"
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
