"""Readers: every format, every encoding, and the row numbers a person can find."""

from __future__ import annotations

from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corecustomers.data.readers import ROW_COLUMN, detect_encoding, read_source
from corecustomers.errors import SourceError

FIXTURES = Path(__file__).parents[1] / "fixtures"
ROWS = [("C1", "2024-01-02", "10.5"), ("客户2", "2024-01-03", "￥1,000")]


def _write_csv(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _values(raw: object) -> list[dict[str, object]]:
    table = raw.table.order_by(ROW_COLUMN)  # type: ignore[attr-defined]
    return table.to_pyarrow().to_pylist()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_encodings(tmp_path: Path, encoding: str) -> None:
    text = "会员号,交易日期,实付金额\n" + "".join(f'{a},{b},"{c}"\n' for a, b, c in ROWS)
    path = _write_csv(tmp_path / "t.csv", text, encoding)
    raw = read_source(str(path), con=ibis.duckdb.connect(), staging_dir=tmp_path)
    assert raw.columns == ("会员号", "交易日期", "实付金额")
    rows = _values(raw)
    assert [(r["会员号"], r["实付金额"], r[ROW_COLUMN]) for r in rows] == [
        ("C1", "10.5", 2),
        ("客户2", "￥1,000", 3),
    ]
    assert raw.encoding in ("utf-8", "gb18030")


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiters_and_quoting(tmp_path: Path, delimiter: str) -> None:
    lines = ["customer,date,amount,note", 'A,2024-01-01,5,"say ""hi"", ok"', "B,2024-01-02,6,plain"]
    text = "\n".join(line.replace(",", delimiter) if delimiter != "," else line for line in lines)
    if delimiter != ",":
        # keep the comma inside the quoted note
        text = text.replace(f'"say ""hi""{delimiter} ok"', '"say ""hi"", ok"')
    path = _write_csv(tmp_path / "t.csv", text + "\n", "utf-8")
    raw = read_source(str(path), con=ibis.duckdb.connect(), staging_dir=tmp_path)
    assert raw.columns == ("customer", "date", "amount", "note")
    rows = _values(raw)
    assert rows[0]["note"] == 'say "hi", ok'
    assert [r[ROW_COLUMN] for r in rows] == [2, 3]


def test_whitespace_separated_text_without_header(tmp_path: Path) -> None:
    raw = read_source(
        str(FIXTURES / "CDNOW_sample.txt"), con=ibis.duckdb.connect(), staging_dir=tmp_path
    )
    assert raw.kind == "text"
    assert raw.columns == ("1", "2", "3", "4", "5")
    assert not raw.has_header
    first = _values(raw)[0]
    assert (first["1"], first["3"], first["5"], first[ROW_COLUMN]) == (
        "00004",
        "19970101",
        "29.33",
        1,
    )
    assert raw.table.count().execute() == 6919


def test_parquet_keeps_types_and_numbers_rows(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"customer_id": ["a", "b"], "amount": [1.0, 2.0]}), path)
    raw = read_source(str(path), con=ibis.duckdb.connect())
    assert raw.table.schema()["amount"].is_floating()
    assert [r[ROW_COLUMN] for r in _values(raw)] == [1, 2]


def test_excel(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["会员号", "下单时间", "实付金额"])
    ws.append(["M1", "2024-03-05", 12.5])
    ws.append(["M2", 20240306, 7])
    path = tmp_path / "t.xlsx"
    wb.save(path)
    raw = read_source(str(path), con=ibis.duckdb.connect())
    assert raw.kind == "excel"
    rows = _values(raw)
    assert [(r["会员号"], r["下单时间"], r["实付金额"], r[ROW_COLUMN]) for r in rows] == [
        ("M1", "2024-03-05", "12.5", 2),
        ("M2", "20240306", "7", 3),
    ]


def test_duckdb_database_table_and_query(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    con = ibis.duckdb.connect(str(db))
    con.create_table("orders", pa.table({"customer": ["a", "b"], "amount": [1.0, 2.0]}))
    con.disconnect()
    url = f"duckdb:///{db}"
    raw = read_source("orders", con=ibis.duckdb.connect(), source_url=url)
    assert raw.kind == "sql"
    assert raw.table.count().execute() == 2
    q = read_source(
        "SELECT * FROM orders WHERE amount > 1", con=ibis.duckdb.connect(), source_url=url
    )
    assert q.table.count().execute() == 1


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        read_source(str(tmp_path / "nope.csv"), con=ibis.duckdb.connect())


def test_encoding_detection(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_bytes("客户,金额\n".encode("gbk"))
    assert detect_encoding(p) == "gb18030"
    p.write_bytes(b"\xef\xbb\xbfa,b\n")
    assert detect_encoding(p) == "utf-8"
