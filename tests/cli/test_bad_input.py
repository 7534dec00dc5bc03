"""Issue 7: every bad input gets a clear answer, through the installed ``corecustomers``.

Each test runs the console script in a subprocess (as a new user would) and checks the
exit code, the message and the row accounting (``rows_read = rows_accepted +
rows_quarantined``, one ``quarantine.csv`` line per quarantined row).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from corecustomers.cli import app, main
from corecustomers.errors import InputError

CLI = Path(sys.executable).with_name("corecustomers")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    return subprocess.run(
        [str(CLI), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


def summary(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return data


def quarantined(out: Path) -> list[dict[str, str]]:
    text = (out / "quarantine.csv").read_text(encoding="utf-8-sig")
    return list(csv.DictReader(text.splitlines()))


def accounted(out: Path) -> dict[str, Any]:
    """The summary, after checking that every row read is accepted or quarantined."""
    s = summary(out)
    assert s["rows_read"] == s["rows_accepted"] + s["rows_quarantined"]
    assert len(quarantined(out)) == s["rows_quarantined"]
    assert sum(s["quarantine_reasons"].values()) == s["rows_quarantined"]
    return s


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def good_rows(n: int, *, start: int = 1) -> str:
    return "".join(f"G{i},2024-02-{1 + i % 27:02d},{10 + i}\n" for i in range(start, start + n))


HEADER = "customer_id,date,amount\n"


# -- 1. usage errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["analyze", "data.csv"], "Missing option '--out'"),
        (["analyze", "data.csv", "--out", "o", "--bogus"], "No such option: --bogus"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["demo", "--customers", "abc"], "'--customers'"),
        (["demo", "--customers", "0"], "'--customers'"),
        (["history", "data.csv", "--every", "day"], "'--every'"),
        # a command registered on `app` by another module gets the same handling
        (["serve", "--no-such-option"], "No such option"),
    ],
    ids=["no-out", "unknown-option", "unknown-command", "bad-int", "zero", "every", "other"],
)
def test_a_usage_error_prints_the_usage_and_one_reason_and_exits_2(
    tmp_path: Path, args: list[str], reason: str
) -> None:
    write(tmp_path / "data.csv", HEADER + good_rows(3))
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Usage: corecustomers" in result.stderr
    assert reason in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (tmp_path / "o").exists()


def test_usage_handling_covers_commands_registered_later(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``main`` handles commands added to ``app`` after import, as the web module does."""

    def probe(n: int, fail: bool = False) -> None:
        if fail:
            raise InputError("the probe's input is bad [red]x")

    app.command("probe-issue-7")(probe)
    try:
        assert main(["probe-issue-7", "not-a-number"]) == 2
        assert "Usage: corecustomers probe-issue-7" in capsys.readouterr().err
        assert main(["probe-issue-7", "3", "--fail"]) == 2
        assert "the probe's input is bad [red]x" in capsys.readouterr().err
        assert main(["probe-issue-7", "3"]) == 0
    finally:
        app.registered_commands.pop()


# -- 2. quoted line breaks --------------------------------------------------------------------


def test_a_quoted_value_with_a_line_break_is_read(tmp_path: Path) -> None:
    write(
        tmp_path / "m.csv",
        'customer_id,date,amount,note\nC1,2024-01-01,10,"a\nb"\nC2,2024-01-02,20,x\n',
    )
    result = run("analyze", "m.csv", "--out", "o", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    s = accounted(tmp_path / "o")
    assert (s["rows_read"], s["rows_accepted"], s["customers"]) == (2, 2, 2)
    assert s["revenue"] == pytest.approx(30.0)


# -- 3. returns only --------------------------------------------------------------------------


def test_a_customer_with_only_returns_is_reported_with_count_and_amount(tmp_path: Path) -> None:
    write(
        tmp_path / "r.csv",
        HEADER + "C1,2024-01-01,10\nC2,2024-01-05,20\nC3,2024-01-06,-50\nC3,2024-01-07,-20\n",
    )
    result = run("analyze", "r.csv", "--out", "o", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    s = accounted(tmp_path / "o")
    assert (s["rows_read"], s["rows_accepted"], s["customers"]) == (4, 4, 2)
    (warning,) = [w for w in s["warnings"] if w["code"] == "returns_only_customers"]
    assert (warning["count"], warning["rows"], warning["amount"]) == (1, 2, -70.0)
    # every accepted amount is in the revenue or in the warning
    assert s["revenue"] + warning["amount"] == pytest.approx(10 + 20 - 50 - 20)
    assert "only returns" in result.stderr and "-70.00" in result.stderr
    ids = pq.read_table(tmp_path / "o" / "customers.parquet").column("customer_id").to_pylist()
    assert sorted(ids) == ["C1", "C2"]


# -- 4. amounts -------------------------------------------------------------------------------


def test_amounts_that_do_not_fit_the_decimal_point_are_quarantined_not_guessed(
    tmp_path: Path,
) -> None:
    bad = 'B1,2024-01-01,"1.234,56"\nB2,2024-01-02,"12,34"\nB3,2024-01-03,"1,2,3"\n'
    write(tmp_path / "a.csv", HEADER + good_rows(20) + bad + 'G1,2024-01-04,"1,234.50"\n')
    result = run("analyze", "a.csv", "--out", "o", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    s = accounted(tmp_path / "o")
    assert s["quarantine_reasons"] == {"ambiguous_amount": 3}
    assert [r["amount"] for r in quarantined(tmp_path / "o")] == ["1.234,56", "12,34", "1,2,3"]
    assert s["amount_format"]["decimal_mark"] == "."
    assert s["amount_format"]["decided_by"] == "default"
    assert s["revenue"] == pytest.approx(sum(10 + i for i in range(1, 21)) + 1234.5)
    assert "ambiguous_amount" in result.stderr


def test_a_consistently_european_column_is_detected_and_reported(tmp_path: Path) -> None:
    rows = "".join(f'E{i},2024-01-{i:02d},"1.{i:03d},50"\n' for i in range(1, 21))
    write(tmp_path / "eu.csv", HEADER + rows + 'E1,2024-01-25,"12,5"\n')
    result = run("analyze", "eu.csv", "--out", "o", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    s = accounted(tmp_path / "o")
    assert s["rows_quarantined"] == 0
    assert s["amount_format"]["decimal_mark"] == ","
    assert s["amount_format"]["decided_by"] == "detected"
    assert s["revenue"] == pytest.approx(sum(1000 + i + 0.5 for i in range(1, 21)) + 12.5)
    assert "decimal comma" in result.stdout
    assert "decimal comma" in (tmp_path / "o" / "report.html").read_text(encoding="utf-8")


def test_the_decimal_comma_setting_reads_values_valid_both_ways(tmp_path: Path) -> None:
    # 1.234 alone decides nothing: the setting makes it 1234
    write(tmp_path / "c.csv", HEADER + "C1,2024-01-01,1.234\nC2,2024-01-02,7\n")
    write(tmp_path / "cfg.toml", '[source]\ndecimal = ","\n')
    result = run("analyze", "c.csv", "--out", "o", "--config", "cfg.toml", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    s = accounted(tmp_path / "o")
    assert s["amount_format"]["decided_by"] == "setting"
    assert s["revenue"] == pytest.approx(1241.0)


# -- 5. placeholder ids and total lines -------------------------------------------------------

PLACEHOLDERS = ["NULL", "nan", "-", "None", "N/A", "#N/A", "无", "空", "未知", "散客"]


def test_placeholder_ids_and_total_lines_are_quarantined(tmp_path: Path) -> None:
    rows = "".join(f"{p},2024-01-{i + 1:02d},100\n" for i, p in enumerate(PLACEHOLDERS))
    data = HEADER + good_rows(60) + rows + " G1 ,2024-03-01,5\n合计,,9999\nTotal:,2024-03-02,9999\n"
    write(tmp_path / "p.csv", data)
    result = run("analyze", "p.csv", "--out", "o", "--quiet", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    s = accounted(tmp_path / "o")
    assert s["quarantine_reasons"] == {"missing_customer_id": 10, "summary_row": 2}
    ids = set(pq.read_table(tmp_path / "o" / "customers.parquet").column("customer_id").to_pylist())
    assert len(ids) == 60 and not ids & {*PLACEHOLDERS, "合计", "Total:"}
    assert s["revenue"] == pytest.approx(sum(10 + i for i in range(1, 61)) + 5)  # " G1 " is G1


def test_the_placeholder_list_is_configurable(tmp_path: Path) -> None:
    write(tmp_path / "p.csv", HEADER + good_rows(10) + "0,2024-01-01,5\nNULL,2024-01-02,6\n")
    write(tmp_path / "cfg.toml", '[source]\nplaceholder_ids = ["0"]\n')
    result = run("analyze", "p.csv", "--out", "o", "--config", "cfg.toml", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    s = accounted(tmp_path / "o")
    assert s["quarantine_reasons"] == {"missing_customer_id": 1}
    assert quarantined(tmp_path / "o")[0]["customer_id"] == "0"
    assert s["customers"] == 11  # NULL is a customer id here, as the config says


# -- 6. Rich markup in data and config --------------------------------------------------------


def test_data_and_config_values_are_printed_as_written(tmp_path: Path) -> None:
    write(tmp_path / "d.csv", HEADER + "[red]x,[/bold],10\nC2,2024-01-01,5\n")
    result = run("analyze", "d.csv", "--out", "o", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "'[/bold]'" in result.stderr
    rows = quarantined(tmp_path / "o")
    assert [(r["customer_id"], r["reason"]) for r in rows] == [("[red]x", "unparseable_date")]
    write(tmp_path / "cfg.toml", "[columns]\nwho = 'x'\n")
    result = run("analyze", "d.csv", "--out", "o", "--config", "cfg.toml", cwd=tmp_path)
    assert result.returncode == 2
    assert "in [columns]" in result.stderr
    write(tmp_path / "cfg.toml", "[analysis]\ncurrency = '[bold]¥'\n")
    write(tmp_path / "ok.csv", HEADER + good_rows(3))
    result = run("analyze", "ok.csv", "--out", "o2", "--config", "cfg.toml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[bold]¥" in result.stdout


# -- 7. snapshots belong to a source ----------------------------------------------------------


def test_unrelated_files_keep_separate_histories(tmp_path: Path) -> None:
    write(tmp_path / "a.csv", HEADER + good_rows(30))
    write(tmp_path / "b.csv", HEADER + good_rows(30).replace("2024-02", "2024-04"))
    assert run("analyze", "a.csv", "--out", "oa", "-q", cwd=tmp_path).returncode == 0
    result = run("analyze", "b.csv", "--out", "ob", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    history = summary(tmp_path / "ob")["history"]
    assert history == {
        "source_name": "b",
        "previous_as_of": None,
        "message": history["message"],
    }
    assert "starts its history" in result.stdout and "'a'" in result.stdout
    previous = pq.read_table(tmp_path / "ob" / "customers.parquet").column("previous_tier")
    assert previous.null_count == len(previous)  # nothing inherited from a.csv
    # with two sources, compare and override must be told which one
    result = run("compare", "--from", "2024-02-27", "--to", "2024-04-27", cwd=tmp_path)
    assert result.returncode == 2 and "--source-name" in result.stderr
    result = run("override", "G1", "--tier", "key", "--by", "li", "--reason", "x", cwd=tmp_path)
    assert result.returncode == 2 and "--source-name" in result.stderr
    args = ("override", "G1", "--tier", "key", "--by", "li", "--reason", "x", "--source-name", "b")
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "in the source 'b'" in result.stdout


def test_dated_exports_continue_one_history(tmp_path: Path) -> None:
    day1 = HEADER + good_rows(30)
    write(tmp_path / "sales-2024-03-01.csv", day1)
    write(tmp_path / "sales-2024-03-02.csv", day1 + "G1,2024-03-02,50\n")
    assert run("analyze", "sales-2024-03-01.csv", "--out", "o1", "-q", cwd=tmp_path).returncode == 0
    result = run("analyze", "sales-2024-03-02.csv", "--out", "o2", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    s = accounted(tmp_path / "o2")
    assert s["source_name"] == "sales"
    first = summary(tmp_path / "o1")["as_of"]
    assert s["history"]["previous_as_of"] == first
    assert f"Compared with the snapshot of {first} of the source 'sales'" in result.stdout
    previous = pq.read_table(tmp_path / "o2" / "customers.parquet").column("previous_tier")
    assert previous.null_count == 0
    # a run named by hand starts its own history; compare needs no --source-name on a
    # workspace with one source, and takes it with several
    result = run(
        "analyze",
        "sales-2024-03-02.csv",
        "--out",
        "o3",
        "-q",
        "--source-name",
        "trial",
        cwd=tmp_path,
    )
    assert result.returncode == 0 and summary(tmp_path / "o3")["history"]["previous_as_of"] is None
    args = ("compare", "--from", first, "--to", s["as_of"], "--source-name", "sales")
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "sales" in result.stdout


# -- 8. exit codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["analyze", "ok.csv", "--out", "afile"], "is a file; give a folder"),
        (["analyze", "ok.csv", "--out", "/proc/x"], "cannot create the output folder /proc/x"),
        (["summarize", "ok.csv", "--out", "/proc/x.csv"], "/proc"),
        (["analyze", "ok.csv", "--out", "o", "--config", "gbk.toml"], "is not UTF-8 text"),
        (["init", "--path", "/proc/x.toml"], "cannot write the config file /proc/x.toml"),
        (["init", "--path", "adir", "--force"], "is a folder"),
    ],
    ids=["out-file", "out-proc", "summarize-proc", "config-gbk", "init-proc", "init-dir"],
)
def test_unusable_outputs_and_configs_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    write(tmp_path / "ok.csv", HEADER + good_rows(3))
    write(tmp_path / "afile", "keep me")
    (tmp_path / "gbk.toml").write_bytes('[analysis]\ncurrency = "金额"\n'.encode("gbk"))
    (tmp_path / "adir").mkdir()
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr and "Unexpected failure" not in result.stderr
    assert (tmp_path / "afile").read_text(encoding="utf-8") == "keep me"


# -- 9. unclear messages ----------------------------------------------------------------------


def _parquet_cut_short(path: Path) -> Path:
    import pyarrow as pa

    pq.write_table(pa.table({"customer_id": ["a"] * 50, "date": ["2024-01-01"] * 50}), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_clear_messages_for_common_mistakes(tmp_path: Path) -> None:
    write(tmp_path / "ok.csv", HEADER + good_rows(3))
    write(tmp_path / "renamed.xlsx", HEADER + good_rows(3))
    _parquet_cut_short(tmp_path / "cut.parquet")
    write(tmp_path / "lots.toml", '[analysis]\nmax_bad_share = "lots"\n')
    cases = [
        (["analyze", "renamed.xlsx", "--out", "o"], "If it is a CSV export, rename it to .csv"),
        (["analyze", "cut.parquet", "--out", "o"], "is not a complete Parquet file"),
        (
            ["analyze", "ok.csv", "--out", "o", "--config", "lots.toml"],
            "analysis.max_bad_share must be a number; got 'lots'",
        ),
        (
            ["analyze", "ok.csv", "--out", "o", "--customer-col", "1", "--amount-col", "1"],
            "is given for customer_id and amount",
        ),
        (
            ["analyze", "ok.csv", "--out", "o", "--amount-col", "1"],
            "is given for amount, but its header names customer_id",
        ),
        (["analyze", "ok.csv", "--out", "o", "--as-of", ""], "--as-of is empty"),
    ]
    for args, message in cases:
        result = run(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "SELECT" not in result.stderr and "Traceback" not in result.stderr


def test_a_title_row_above_the_excel_headers_gets_a_hint_and_a_way_out(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Sales report 2024"])
    sheet.merge_cells("A1:C1")
    sheet.append(["customer_id", "date", "amount"])
    for i in range(1, 11):
        sheet.append([f"C{i}", f"2024-01-{i:02d}", 10 * i])
    book.save(tmp_path / "t.xlsx")
    result = run("analyze", "t.xlsx", "--out", "o", cwd=tmp_path)
    assert result.returncode == 2
    assert "--header-row N" in result.stderr and "header_row" in result.stderr
    result = run("analyze", "t.xlsx", "--out", "o", "--header-row", "2", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    s = accounted(tmp_path / "o")
    assert (s["rows_read"], s["customers"], s["revenue"]) == (10, 10, 550.0)
    # rows keep the sheet's numbering: the first customer is on row 3
    assert s["rows_quarantined"] == 0


def test_history_builds_the_named_sources_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = "".join(f"C{i % 9},2024-{1 + i % 6:02d}-{1 + i % 27:02d},{5 + i}\n" for i in range(120))
    write(tmp_path / "sales-2024-06-30.csv", HEADER + rows + "C1,2024-06-30,9\n")
    args = ["history", "sales-2024-06-30.csv", "--every", "quarter", "--out", "h", "-q"]
    assert main([*args, "--source-name", "shop"]) == 0
    series = json.loads((tmp_path / "h" / "history.json").read_text(encoding="utf-8"))
    assert series["source_name"] == "shop"
    assert [(s["as_of"], s["previous_as_of"]) for s in series["snapshots"]] == [
        ("2024-03-31", None),
        ("2024-06-30", "2024-03-31"),
    ]
    assert "snapshots of shop" in capsys.readouterr().out
    # without a name the file's own history starts; the workspace now holds two sources
    assert main(args) == 0
    series = json.loads((tmp_path / "h" / "history.json").read_text(encoding="utf-8"))
    assert series["source_name"] == "sales"
    assert series["snapshots"][0]["previous_as_of"] is None
    assert main(["compare", "--from", "2024-03-31", "--to", "2024-06-30"]) == 2
    assert "--source-name" in capsys.readouterr().err
    assert (
        main(["compare", "--from", "2024-03-31", "--to", "2024-06-30", "--source-name", "shop"])
        == 0
    )
