"""``summarize`` stays light: its process never imports the models, the report or SciPy.

A user runs ``summarize`` on every export; SciPy, scikit-learn, matplotlib and the report
would add more than a second to each start (issue 8). The command runs in a fresh
interpreter here, so that nothing imported by another test hides an import.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# (pandas is not listed: Ibis' DuckDB backend imports it whatever the caller does)
HEAVY = ("sklearn", "scipy", "matplotlib")
ENGINE_ONLY = ("corecustomers.models", "corecustomers.insights", "corecustomers.report")

_RUN = """
import json, sys
from corecustomers.cli import main
code = main(["summarize", sys.argv[1], "--out", sys.argv[2], "--quiet"])
json.dump({"code": code, "modules": sorted(sys.modules)}, open(sys.argv[3], "w"))
"""


def test_summarize_imports_neither_models_nor_report_nor_scipy(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    good = [f"C{i % 7},2024-0{1 + i % 9}-05,{10 + i}.50,O{i}" for i in range(40)]
    # one bad row (no customer): quarantined, well under the allowed share
    source.write_text(
        "\n".join(["customer,date,amount,order_id", *good, ",2024-01-07,5.00,O99"]) + "\n",
        encoding="utf-8",
    )
    out, dump = tmp_path / "features.parquet", tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(source), str(out), str(dump)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(dump.read_text())
    assert result["code"] == 0, done.stderr
    assert out.exists() and (tmp_path / "features.quarantine.csv").exists()
    modules = result["modules"]
    heavy = [m for m in modules if m.split(".")[0] in HEAVY]
    engine = [m for m in modules if m.startswith(ENGINE_ONLY)]
    assert not heavy, f"summarize imported {sorted({m.split('.')[0] for m in heavy})}"
    assert not engine, f"summarize imported {engine[:10]}"
    # and it did run the data path
    assert "corecustomers.data.validation" in modules
    assert "duckdb" in modules
