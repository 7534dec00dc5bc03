"""Fuzz the readers and validation with messy exports (issue 7).

Hypothesis writes CSV (encodings, delimiters, quoting, line breaks inside quoted notes),
Excel and Parquet files holding ids (padded, blank, placeholders), dates in every
documented format and some that are not dates, amounts written with the decimal point
or the decimal comma (plus ambiguous and non-numeric ones) and trailing total lines. A
plain-Python reference, written independently of the engine's regular expressions,
decides each row's fate; every run must then hold:

* it ends normally or with a :class:`~corecustomers.errors.CoreCustomersError` (exit 2),
  never another exception (exit 1);
* ``rows_read = rows_accepted + rows_quarantined`` = the rows written;
* every quarantined row has its source row and the reason the reference gives;
* the revenue (plus the amount of returns-only customers) is the sum of the accepted
  amounts up to the as-of date;
* the per-customer result does not depend on the row order.

Example counts are bounded and the profile is derandomised (``tests/conftest.py``); a
handful of generated files also go through the installed ``corecustomers`` command.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import random
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corecustomers.config import Settings
from corecustomers.errors import CoreCustomersError
from corecustomers.service.analysis import summarize

TODAY = dt.date(2025, 1, 1)
PLACEHOLDERS = ["NULL", "null", "nan", "-", "None", "N/A", "#N/A", "无", "空", "未知", "散客"]
TOTALS = ["合计", "Total", "总计", "Grand Total:"]

# -- the reference ------------------------------------------------------------------------

_POINT = re.compile(r"[+-]?(\d{1,3}(,\d{3})+(\.\d*)?|\d+\.?\d*|\.\d+)")
_COMMA = re.compile(r"[+-]?(\d{1,3}(\.\d{3})+(,\d*)?|\d+,?\d*|,\d+)")
_DIGITS = re.compile(r"[+-]?[\d.,]*\d[\d.,]*")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y-%m-%d %H:%M:%S", "%Y年%m月%d日")


def _clean(text: str) -> tuple[str, bool]:
    text = text.strip()
    negative = text.startswith("(") and text.endswith(")")
    for mark in ("(", ")", "¥", "€", "$", " "):
        text = text.replace(mark, "")
    return text, negative


def ref_amount(text: str | None, mark: str) -> tuple[float | None, bool]:
    """(value, ambiguous) of an amount text with the decimal ``mark``."""
    if text is None:
        return None, False
    clean, negative = _clean(text)
    pattern = _POINT if mark == "." else _COMMA
    if not pattern.fullmatch(clean):
        return None, bool(_DIGITS.fullmatch(clean))
    digits = clean.replace(",", "") if mark == "." else clean.replace(".", "").replace(",", ".")
    value = float(digits)
    return (-abs(value) if negative else value), False


def ref_mark(amounts: list[str | None]) -> str:
    """The decimal mark the column is read with: the comma only when it is consistent."""
    point = comma = 0
    for text in amounts:
        if text is None:
            continue
        clean, _ = _clean(text)
        p, c = bool(_POINT.fullmatch(clean)), bool(_COMMA.fullmatch(clean))
        point += p and not c
        comma += c and not p
    return "," if comma and not point else "."


def ref_date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    return None


@dataclass
class Row:
    customer: str | None
    date: str | None
    amount: str | None
    note: str = ""


@dataclass
class Expected:
    reasons: dict[int, str] = field(default_factory=dict)  # source row -> reason
    accepted: list[tuple[str, dt.date, float]] = field(default_factory=list)


def expected(rows: list[Row], first_row: int) -> Expected:
    mark = ref_mark([r.amount for r in rows])
    out = Expected()
    for i, row in enumerate(rows):
        customer = (row.customer or "").strip()
        day = ref_date(row.date)
        value, ambiguous = ref_amount(row.amount, mark)
        lowered = customer.lower().rstrip(":：").strip()
        reason = None
        if lowered in {t.lower().rstrip(":") for t in TOTALS}:
            reason = "summary_row"
        elif not customer or customer.lower() in {p.lower() for p in PLACEHOLDERS}:
            reason = "missing_customer_id"
        elif day is None:
            reason = "unparseable_date"
        elif ambiguous:
            reason = "ambiguous_amount"
        elif value is None:
            reason = "non_numeric_amount"
        elif day > TODAY:
            reason = "future_date"
        if reason is None:
            assert day is not None and value is not None
            out.accepted.append((customer, day, value))
        else:
            out.reasons[first_row + i] = reason
    return out


# -- the generators -----------------------------------------------------------------------

ids = st.one_of(
    st.sampled_from([f"C{i}" for i in range(1, 8)]),
    st.sampled_from([f" C{i} " for i in range(1, 4)]),
    st.sampled_from([*PLACEHOLDERS, "", "  "]),
)


@st.composite
def dates(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(["", "not-a-date", "2024-13-01", "2024-02-30", "2031-05-01"]))
    day = dt.date(2023, 1, 1) + dt.timedelta(days=draw(st.integers(0, 700)))
    fmt = draw(st.sampled_from(_DATE_FORMATS))
    return day.strftime(fmt) if "年" not in fmt else f"{day.year}年{day.month}月{day.day}日"


@st.composite
def amounts(draw: st.DrawFn, mark: str) -> str:
    kind = draw(st.integers(0, 19))
    if kind == 0:
        return draw(st.sampled_from(["", "abc", "n/a", "1,2,3", "--5"]))
    cents = draw(st.integers(-50_000, 500_000))
    whole, frac = divmod(abs(cents), 100)
    sep = "," if mark == "." else "."
    grouped = f"{whole:,}".replace(",", sep) if draw(st.booleans()) else str(whole)
    text = f"{grouped}{mark}{frac:02d}"
    if cents < 0:
        text = f"({text})" if draw(st.booleans()) else f"-{text}"
    return draw(st.sampled_from(["", "¥", "€ "])) + text


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Row], str]:
    mark = draw(st.sampled_from([".", ","]))
    n = draw(st.integers(3, 25))
    rows = [
        Row(
            customer=draw(ids),
            date=draw(dates()),
            amount=draw(amounts(mark)),
            note=draw(st.sampled_from(["", "ok", "two\nlines", 'say "hi"', "a,b;c|d"])),
        )
        for _ in range(n)
    ]
    if draw(st.booleans()):
        rows.append(Row(customer=draw(st.sampled_from(TOTALS)), date="", amount="99999"))
    return rows, mark


# -- the writers ---------------------------------------------------------------------------


def write_csv(
    path: Path, rows: list[Row], *, delimiter: str, encoding: str, quote_all: bool
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=delimiter,
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
        lineterminator="\n",
    )
    writer.writerow(["customer_id", "date", "amount", "note"])
    for r in rows:
        writer.writerow([r.customer or "", r.date or "", r.amount or "", r.note])
    path.write_bytes(buffer.getvalue().encode(encoding))


def write_excel(path: Path, rows: list[Row]) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["customer_id", "date", "amount", "note"])
    for r in rows:
        sheet.append([r.customer or None, r.date or None, r.amount or None, r.note or None])
    book.save(path)


def write_parquet(path: Path, rows: list[Row]) -> None:
    pq.write_table(
        pa.table(
            {
                "customer_id": [r.customer for r in rows],
                "date": [r.date for r in rows],
                "amount": [r.amount for r in rows],
                "note": [r.note for r in rows],
            }
        ),
        path,
    )


# -- the check -----------------------------------------------------------------------------


def check(source: Path, rows: list[Row], first_row: int, out: Path) -> dict[str, Any] | None:
    """Run the library on ``source`` and check every invariant against the reference."""
    want = expected(rows, first_row)
    config = Settings(max_bad_share=1.0, workspace=str(out.parent / "ws"))
    try:
        features, prepared = summarize(str(source), out, config, today=TODAY)
    except CoreCustomersError as exc:
        # exit 2: only when no row survives
        assert not want.accepted, f"{type(exc).__name__}: {exc}"
        return None
    counts = prepared.counts
    assert counts.rows_read == len(rows)
    assert counts.rows_read == counts.rows_accepted + counts.rows_quarantined
    quarantine = list(
        csv.DictReader(
            out.with_name(out.stem + ".quarantine.csv").read_text("utf-8-sig").splitlines()
        )
    )
    got = {int(q["source_row"]): q["reason"] for q in quarantine}
    assert len(got) == len(quarantine) == counts.rows_quarantined
    assert got == want.reasons
    assert all(q["message"] and q["column"] for q in quarantine)
    as_of = prepared.as_of
    in_window = [v for _, day, v in want.accepted if day <= as_of]
    revenue = float(sum(features.column("total_spend").to_pylist()))
    only = [w for w in prepared.warnings if w["code"] == "returns_only_customers"]
    returns_only = only[0]["amount"] if only else 0.0
    assert revenue + returns_only == pytest.approx(sum(in_window), abs=1e-6)
    return {
        r["customer_id"]: (r["frequency"], round(r["total_spend"], 6), r["recency"])
        for r in features.to_pylist()
    }


FUZZ = settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(
    table=tables(),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
    quote_all=st.booleans(),
)
def test_csv_exports(
    tmp_path_factory: pytest.TempPathFactory,
    table: tuple[list[Row], str],
    delimiter: str,
    encoding: str,
    quote_all: bool,
) -> None:
    rows, _ = table
    folder = tmp_path_factory.mktemp("csv")
    source = folder / "export.csv"
    write_csv(source, rows, delimiter=delimiter, encoding=encoding, quote_all=quote_all)
    check(source, rows, first_row=2, out=folder / "f.parquet")


@settings(FUZZ, max_examples=10)
@given(table=tables(), seed=st.integers(0, 2**16))
def test_row_order_does_not_change_the_result(
    tmp_path_factory: pytest.TempPathFactory, table: tuple[list[Row], str], seed: int
) -> None:
    rows, _ = table
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    results = []
    for name, order in (("a", rows), ("b", shuffled)):
        folder = tmp_path_factory.mktemp(name)
        source = folder / "export.csv"
        write_csv(source, order, delimiter=",", encoding="utf-8", quote_all=False)
        results.append(check(source, order, first_row=2, out=folder / "f.parquet"))
    assert results[0] == results[1]


@settings(FUZZ, max_examples=8)
@given(table=tables())
def test_excel_exports(
    tmp_path_factory: pytest.TempPathFactory, table: tuple[list[Row], str]
) -> None:
    rows, _ = table
    folder = tmp_path_factory.mktemp("xlsx")
    source = folder / "export.xlsx"
    write_excel(source, rows)
    check(source, rows, first_row=2, out=folder / "f.parquet")


@settings(FUZZ, max_examples=8)
@given(table=tables())
def test_parquet_exports(
    tmp_path_factory: pytest.TempPathFactory, table: tuple[list[Row], str]
) -> None:
    rows, _ = table
    folder = tmp_path_factory.mktemp("parquet")
    source = folder / "export.parquet"
    write_parquet(source, rows)
    check(source, rows, first_row=1, out=folder / "f.parquet")


# -- a handful through the installed command -------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_exports_through_the_command(tmp_path: Path, seed: int) -> None:
    rows, _ = _fixed_table(seed)
    delimiter = [",", ";", "\t", "|"][seed % 4]
    write_csv(tmp_path / "export.csv", rows, delimiter=delimiter, encoding="utf-8", quote_all=False)
    (tmp_path / "corecustomers.toml").write_text(
        "[analysis]\nmax_bad_share = 1.0\n", encoding="utf-8"
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("corecustomers")),
            "analyze",
            "export.csv",
            "--out",
            "o",
            "-q",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
    )
    assert result.returncode in (0, 2), result.stderr
    want = expected(rows, first_row=2)
    if result.returncode == 2:
        assert not want.accepted and "Error:" in result.stderr
        return
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert summary["rows_read"] == len(rows)
    assert summary["rows_read"] == summary["rows_accepted"] + summary["rows_quarantined"]
    assert summary["rows_accepted"] == len(want.accepted)
    assert summary["quarantine_reasons"] == _count(want.reasons.values())


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _fixed_table(seed: int) -> tuple[list[Row], str]:
    """A messy export from a seeded generator (the same file on every run)."""
    rng = random.Random(seed)
    mark = "." if seed % 2 else ","
    rows = []
    for _ in range(40):
        customer = rng.choice([f"C{rng.randint(1, 9)}", " C1 ", rng.choice(PLACEHOLDERS), ""])
        day = dt.date(2023, 1, 1) + dt.timedelta(days=rng.randint(0, 700))
        date = rng.choice(
            [day.isoformat(), day.strftime("%Y/%m/%d"), day.strftime("%Y%m%d"), "bad"]
        )
        whole, frac = rng.randint(0, 5000), rng.randint(0, 99)
        amount = rng.choice(
            [f"{whole}{mark}{frac:02d}", f"-{whole}{mark}{frac:02d}", "1,2,3", "abc"]
        )
        rows.append(Row(customer, date, amount, rng.choice(["", "two\nlines", "x"])))
    rows.append(Row("合计", "", "99999"))
    return rows, mark
