"""The command line end to end: outputs, exit codes, messages, help."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corecustomers.cli import app, main

FIXTURES = Path(__file__).parents[1] / "fixtures"
CDNOW = FIXTURES / "CDNOW_sample.txt"
CDNOW_FLAGS = ["--customer-col", "1", "--date-col", "3", "--amount-col", "5"]
README = Path(__file__).parents[2] / "README.md"


def _chinese_gbk_csv(path: Path, rows: int = 60) -> Path:
    lines = ["会员号,姓名,下单时间,实付金额,订单号"]
    for i in range(rows):
        day = 1 + i % 28
        lines.append(
            f'M{i % 17:04d},王芳,2024年{1 + i % 12}月{day}日,"￥{(i * 37) % 900 + 10:,}.50",D{i}'
        )
    lines.append("M0001,李伟,not-a-date,12,D-bad")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))
    return path


def test_analyze_cdnow_writes_every_output(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["analyze", str(CDNOW), *CDNOW_FLAGS, "--out", str(out), "--quiet"]) == 0
    for name in (
        "customers.parquet",
        "customers.csv",
        "summary.json",
        "quarantine.csv",
        "report.html",
    ):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["rows_read"] == 6919
    assert summary["rows_accepted"] + summary["rows_quarantined"] == summary["rows_read"]
    assert summary["customers"] == 2357
    assert summary["as_of"] == "1998-06-30"
    assert summary["revenue"] == pytest.approx(244091.94, abs=0.01)  # sum of column 5
    assert {w["code"] for w in summary["warnings"]} == {"exact_duplicate_rows"}
    customers = pq.read_table(out / "customers.parquet")
    assert customers.num_rows == 2357
    for col in (
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "r_score",
        "f_score",
        "m_score",
        "rfm_segment",
        "abc_class",
    ):
        assert col in customers.column_names, col
    assert customers.column("rfm_segment").null_count == 0
    assert set(customers.column("abc_class").to_pylist()) == {"A", "B", "C"}
    seg_total = sum(s["customers"] for s in summary["segments"]["table"])
    assert seg_total == 2357
    assert sum(c["customers"] for c in summary["abc"]["table"]) == 2357


def test_analyze_gbk_csv_with_chinese_headers_needs_no_flags(tmp_path: Path) -> None:
    src = _chinese_gbk_csv(tmp_path / "销售.csv")
    out = tmp_path / "out"
    assert main(["analyze", str(src), "--out", str(out), "--lang", "zh", "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["columns"]["customer_id"] == "会员号"
    assert summary["columns"]["amount"] == "实付金额"
    assert summary["encoding"] == "gb18030"
    assert summary["rows_read"] == 61
    assert summary["quarantine_reasons"] == {"unparseable_date": 1}
    rows = list(
        csv.DictReader((out / "quarantine.csv").read_text(encoding="utf-8-sig").splitlines())
    )
    assert rows[0]["source_row"] == "62" and rows[0]["下单时间"] == "not-a-date"
    assert 'lang="zh' in (out / "report.html").read_text(encoding="utf-8")


def test_missing_file_exits_2_with_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unmapped_column_exits_2_naming_file_and_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "x.csv"
    src.write_text("who,when,paid\na,2024-01-01,1\n", encoding="utf-8")
    assert main(["analyze", str(src), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "x.csv" in err and "--customer-col" in err


def test_too_many_bad_rows_stops_after_quarantine_and_keeps_earlier_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.csv"
    good.write_text("customer,date,amount\na,2024-01-01,1\nb,2024-01-02,2\n", encoding="utf-8")
    out = tmp_path / "out"
    assert main(["analyze", str(good), "--out", str(out), "--quiet"]) == 0
    before = (out / "customers.parquet").read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "customer,date,amount\na,2024-01-01,1\nb,someday,2\nc,2024-01-03,lots\n", encoding="utf-8"
    )
    assert main(["analyze", str(bad), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "bad.csv" in err and "row 3" in err and "20%" in err
    assert (out / "customers.parquet").read_bytes() == before
    rows = list(
        csv.DictReader((out / "quarantine.csv").read_text(encoding="utf-8-sig").splitlines())
    )
    assert [r["reason"] for r in rows] == ["unparseable_date", "non_numeric_amount"]


def test_summarize_writes_features_only(tmp_path: Path) -> None:
    out = tmp_path / "cdnow.csv"
    args = [
        "summarize",
        str(CDNOW),
        *CDNOW_FLAGS,
        "--calibration-end",
        "1997-09-30",
        "--out",
        str(out),
        "--quiet",
    ]
    assert main(args) == 0
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert len(rows) == 2357
    assert {
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "frequency_holdout",
        "duration_holdout",
    } <= set(rows[0])
    assert "r_score" not in rows[0]


def test_bad_output_suffix(tmp_path: Path) -> None:
    assert main(["summarize", str(CDNOW), *CDNOW_FLAGS, "--out", str(tmp_path / "x.json")]) == 2


def test_init_then_config_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    text = (tmp_path / "corecustomers.toml").read_text(encoding="utf-8")
    assert "[columns]" in text and "max_bad_share" in text
    assert main(["init"]) == 2  # will not overwrite
    (tmp_path / "corecustomers.toml").write_text(
        text.replace('# customer_id = "会员号"', 'customer_id = "1"')
        .replace('# timestamp = "下单时间"', 'timestamp = "3"')
        .replace('# amount = "实付金额"', 'amount = "5"'),
        encoding="utf-8",
    )
    assert main(["summarize", str(CDNOW), "--out", "f.parquet", "--quiet"]) == 0
    assert pq.read_table(tmp_path / "f.parquet").num_rows == 2357


def test_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text("[analysis]\ntime_unit = 'fortnight'\n", encoding="utf-8")
    assert (
        main(
            [
                "summarize",
                str(CDNOW),
                *CDNOW_FLAGS,
                "--out",
                str(tmp_path / "f.csv"),
                "--config",
                str(cfg),
            ]
        )
        == 2
    )
    assert "time_unit" in capsys.readouterr().err


def test_demo_small(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--customers", "400", "--quiet"]) == 0
    summary = json.loads((out / "analysis" / "summary.json").read_text(encoding="utf-8"))
    assert summary["customers"] > 300
    assert summary["rows_quarantined"] > 0  # the demo carries a few bad rows on purpose
    assert summary["columns"]["customer_id"] == "会员号"


def _commands() -> list[str]:
    import typer.main

    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", _commands())
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--help"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"Examples?:", text), text
    assert "corecustomers " + command in text


def test_readme_documents_every_command_and_option() -> None:
    import typer.main

    readme = README.read_text(encoding="utf-8")
    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert f"corecustomers {name}" in readme, name
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--help":
                    assert opt in readme, f"{name} {opt} is not in the README"


def test_analyze_with_calibration_adds_models_holdout_and_value(tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [
        "analyze",
        str(CDNOW),
        *CDNOW_FLAGS,
        "--calibration-end",
        "1997-09-30",
        "--out",
        str(out),
        "-q",
    ]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    models = summary["models"]
    assert models["selection"]["criterion"] == "holdout"
    assert {c["name"] for c in models["selection"]["candidates"]} == {"bgnbd", "pnbd", "mbgnbd"}
    # Gamma-Gamma on the 946 repeat customers: p = 6.25, q = 3.74, gamma = 15.44
    # (Fader, Hardie & Lee 2005, "RFM and CLV", as reproduced by lifetimes' docs)
    spend = models["spend"]["params"]
    assert (round(spend["p"], 2), round(spend["q"], 2), round(spend["gamma"], 2)) == (
        6.25,
        3.74,
        15.44,
    )
    holdout = summary["holdout"]
    assert holdout["actual_purchases"] == 1882  # purchase days of the cohort after 1997-09-30
    # regression pin: the selected Pareto/NBD's 39-week conditional expectations, summed (as run)
    assert holdout["predicted_purchases"] == pytest.approx(1665.513, rel=1e-5)
    assert len(holdout["by_frequency"]) == 8
    assert len(holdout["tracking"]["actual"]) == 39
    assert holdout["tracking"]["actual"][-1] == 1882
    customers = pq.read_table(out / "customers.parquet")
    for col in ("p_alive", "expected_purchases", "expected_spend", "clv"):
        values = customers.column(col).to_pylist()
        assert all(v is not None and v == v and v >= 0 for v in values), col
    report = (out / "report.html").read_text(encoding="utf-8")
    assert 'data-chart="holdout-tracking"' in report and 'data-chart="clv"' in report


def test_fit_bgnbd_on_a_summary_reproduces_the_published_estimates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # BG/NBD on the CDNOW calibration summary: r = 0.243, alpha = 4.414, a = 0.793,
    # b = 2.426, LL = -9582.43 (Fader, Hardie & Lee 2005, "Counting your customers the easy way")
    summary = tmp_path / "cdnow.parquet"
    args = [
        "summarize",
        str(CDNOW),
        *CDNOW_FLAGS,
        "--calibration-end",
        "1997-09-30",
        "--out",
        str(summary),
        "-q",
    ]
    assert main(args) == 0
    capsys.readouterr()
    model_json = tmp_path / "m.json"
    assert main(["fit", str(summary), "--model", "bgnbd", "--json", str(model_json)]) == 0
    text = capsys.readouterr().out
    assert "-9582.43" in text
    params = json.loads(model_json.read_text())["params"]
    assert [round(params[k], 3) for k in ("r", "alpha", "a", "b")] == [0.243, 4.414, 0.793, 2.426]


def test_fit_rejects_a_table_without_the_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n", encoding="utf-8")
    assert main(["fit", str(bad), "--model", "pnbd"]) == 2
    assert "frequency" in capsys.readouterr().err
