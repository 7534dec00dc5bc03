"""Real analyses for the report tests: what ``corecustomers analyze`` and ``demo`` write.

* ``cdnow-en`` / ``cdnow-zh`` -- the CDNOW sample (tests/fixtures) with the calibration
  end 1997-09-30, so that models, holdout, alerts and capture are all there. An earlier
  run (calibration end 1997-06-30) in the same workspace leaves a snapshot behind, so the
  run compared with it also has the tier migration.
* ``demo`` -- the demo data set (600 customers, seed 7) analysed as ``corecustomers demo``
  does: Chinese headers, bad rows in quarantine, products for the recommendations.

Each is run once per test session, through the service layer the CLI calls.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corecustomers.config import Settings
from corecustomers.data.demo import write_demo_csv
from corecustomers.service import analyze

CDNOW = Path(__file__).parents[1] / "fixtures" / "CDNOW_sample.txt"
CDNOW_COLUMNS = {"customer_id": "1", "timestamp": "3", "amount": "5"}
KINDS = ("cdnow-en", "cdnow-zh", "demo")


@dataclass(frozen=True)
class Analysis:
    """The files of one real run."""

    out_dir: Path

    @property
    def report(self) -> Path:
        return self.out_dir / "report.html"

    @property
    def summary(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.out_dir / "summary.json").read_text("utf-8"))
        return data


def run_analysis(kind: str, root: Path) -> Analysis:
    """Run the analysis ``kind`` (one of :data:`KINDS`) in the folder ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    if kind == "demo":
        data = root / "demo-transactions.csv"
        write_demo_csv(data, n_customers=600, seed=7)
        settings = Settings(currency="¥", lang="en", workspace=str(root))
        analyze(str(data), root / "analysis", settings)
        return Analysis(root / "analysis")
    lang = kind.removeprefix("cdnow-")
    settings = Settings(
        columns=CDNOW_COLUMNS, lang="zh" if lang == "zh" else "en", workspace=str(root)
    )
    earlier = settings.with_overrides(calibration_end=dt.date(1997, 6, 30))
    analyze(str(CDNOW), root / "earlier", earlier)
    analyze(
        str(CDNOW), root / "analysis", settings.with_overrides(calibration_end=dt.date(1997, 9, 30))
    )
    return Analysis(root / "analysis")
