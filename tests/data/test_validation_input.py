"""Validation of messy exports at the library level (issue 7): placeholder ids, total lines,
amount conventions, mapping clashes, and the settings that steer them."""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path

import ibis
import pyarrow as pa
import pytest

from corecustomers.config import Settings, init_config_text, load_settings
from corecustomers.data import map_columns
from corecustomers.data.features import returns_only
from corecustomers.data.readers import ROW_COLUMN, RawSource, read_source
from corecustomers.data.validation import (
    PLACEHOLDER_IDS,
    SUMMARY_LABELS,
    count_rows,
    decide_amount_format,
    validate,
)
from corecustomers.errors import ColumnMappingError, ConfigError, SourceError

TODAY = dt.date(2025, 1, 1)


CON = ibis.duckdb.connect()


def memtable(columns: Mapping[str, Sequence[object]]) -> ibis.Table:
    return CON.create_table(ibis.util.gen_name("t"), pa.table(columns), temp=True)


def raw(columns: Mapping[str, Sequence[object]]) -> RawSource:
    n = len(next(iter(columns.values())))
    table = memtable({**columns, ROW_COLUMN: list(range(2, n + 2))})
    return RawSource(table=table, name="t.csv", kind="csv", columns=tuple(columns))


def fates(source: RawSource, **kwargs: object) -> dict[int, str | None]:
    mapping = map_columns(source.columns)
    checked = validate(source, mapping, today=TODAY, **kwargs).checked  # type: ignore[arg-type]
    rows = checked.select(ROW_COLUMN, "__reason").to_pyarrow().to_pylist()
    return {r[ROW_COLUMN]: r["__reason"] for r in rows}


def test_every_placeholder_and_total_label_is_quarantined_in_any_case() -> None:
    ids = [*PLACEHOLDER_IDS, *(p.upper() for p in PLACEHOLDER_IDS), *SUMMARY_LABELS]
    ids += [f" {SUMMARY_LABELS[0].title()}: ", "C1", " C2 ", "合计 1"]
    n = len(ids)
    source = raw({"customer_id": ids, "date": ["2024-01-01"] * n, "amount": ["1"] * n})
    got = fates(source)
    assert [got[i + 2] for i in range(n)] == (
        ["missing_customer_id"] * (2 * len(PLACEHOLDER_IDS))
        + ["summary_row"] * (len(SUMMARY_LABELS) + 1)
        + [None, None, None]  # a real id, a padded one, and a label with more after it
    )


def test_ids_are_trimmed_of_every_space_and_looked_up_in_any_case_and_spacing() -> None:
    """The trim and the placeholder and label look-ups run only where a cheap test of the
    first and last characters says they can matter: every kind of edge must still reach
    them, and ids that only look close must still pass."""
    fate = {
        "\tNuLl\r": "missing_customer_id",
        "\x0bn/A\x0c": "missing_customer_id",
        "\nWALK-IN\n": "missing_customer_id",
        " \t\r\n\x0b\x0c": "missing_customer_id",  # only spaces: empty
        "\x0c—\x0b": "missing_customer_id",  # a non-ASCII placeholder
        " 散客\t": "missing_customer_id",
        "gRaNd ToTaL ：": "summary_row",
        "\r\nSUBTOTAL:\t": "summary_row",
        "合计 :": "summary_row",
        "\u212aelvin": "missing_customer_id",  # the Kelvin sign lower-cases to ASCII k
        "\u00a0NULL": None,  # a no-break space is not trimmed
        "NULL\x01": None,  # nor a control character
        "Nancy": None,  # starts like a placeholder, is not one
        "Summit": None,
        "-1": None,
        "#7": None,
        " C1\t": None,
        "\x0cC2\x0b": None,
        "C\t3": None,
    }
    ids = list(fate)
    n = len(ids)
    source = raw({"customer_id": ids, "date": ["2024-01-01"] * n, "amount": ["1"] * n})
    placeholders = (*PLACEHOLDER_IDS, "KELVIN")
    got = fates(source, placeholder_ids=placeholders)
    assert {ids[row - 2]: reason for row, reason in got.items()} == fate
    v = validate(source, map_columns(source.columns), today=TODAY, placeholder_ids=placeholders)
    kept = v.accepted.order_by(ROW_COLUMN).customer_id.to_pyarrow().to_pylist()
    assert kept == ["\u00a0NULL", "NULL\x01", "Nancy", "Summit", "-1", "#7", "C1", "C2", "C\t3"]


def test_order_ids_and_other_text_are_trimmed_the_same_way() -> None:
    orders = ["O1", " O1", "O1\t", "\x0bO1\x0c", "O 1", "  ", "\r\n"]
    n = len(orders)
    source = raw(
        {
            "customer_id": ["C1"] * n,
            "date": ["2024-01-01"] * n,
            "amount": ["1"] * n,
            "order_id": orders,
            "channel": [" web", "web\n", "\tweb\t", "web", " ", "", "app"],
        }
    )
    got = fates(source)
    dupe = "duplicate_order_id"
    assert got == {2: None, 3: dupe, 4: dupe, 5: dupe, 6: None, 7: None, 8: None}
    v = validate(source, map_columns(source.columns), today=TODAY)
    kept = v.accepted.order_by(ROW_COLUMN).to_pyarrow().to_pylist()
    assert [(r["order_id"], r["channel"]) for r in kept] == [
        ("O1", "web"),
        ("O 1", None),
        (None, None),
        (None, "app"),
    ]


def test_the_placeholder_list_can_be_replaced_or_emptied() -> None:
    source = raw(
        {"customer_id": ["0", "NULL", ""], "date": ["2024-01-01"] * 3, "amount": ["1"] * 3}
    )
    assert fates(source, placeholder_ids=("0",)) == {
        2: "missing_customer_id",
        3: None,
        4: "missing_customer_id",
    }
    assert fates(source, placeholder_ids=()) == {2: None, 3: None, 4: "missing_customer_id"}


@pytest.mark.parametrize(
    ("values", "setting", "mark", "decided_by"),
    [
        (["1.234,56", "12,5", "7"], None, ",", "detected"),
        (["1,234.56", "12.5", "7"], None, ".", "default"),
        (["1.234", "7"], None, ".", "default"),  # valid both ways: nothing to detect
        (["1.234,56", "12.5"], None, ".", "default"),  # mixed: the point, comma ones flagged
        (["1.234"], ",", ",", "setting"),
    ],
)
def test_the_decimal_mark_is_set_or_detected(
    values: list[str], setting: str | None, mark: str, decided_by: str
) -> None:
    table = memtable({"a": values})
    found = decide_amount_format(table, "a", setting)
    assert (found.decimal_mark, found.decided_by) == (mark, decided_by)
    assert found.describe()


def test_numeric_columns_need_no_decimal_mark() -> None:
    found = decide_amount_format(memtable({"a": [1.5, 2.0]}), "a", ",")
    assert (found.decimal_mark, found.decided_by) == (None, "numbers")


def test_ambiguous_amounts_are_quarantined_and_accepted_ones_exact() -> None:
    amounts = ["1.234,56", "12,34", "1,2,3", "1,234.50", "abc", "(12.50)"]
    n = len(amounts)
    source = raw({"customer_id": ["c"] * n, "date": ["2024-01-01"] * n, "amount": amounts})
    mapping = map_columns(source.columns)
    validated = validate(source, mapping, today=TODAY)
    assert validated.amount_format.decimal_mark == "."
    counts = count_rows(validated)
    assert counts.reasons == {"ambiguous_amount": 3, "non_numeric_amount": 1}
    assert sorted(validated.accepted.amount.to_pyarrow().to_pylist()) == [-12.5, 1234.5]
    comma = validate(source, mapping, today=TODAY, decimal=",")
    # with the comma, 1,234.50 and (12.50) are the ambiguous ones
    assert sorted(comma.accepted.amount.to_pyarrow().to_pylist()) == [12.34, 1234.56]


def test_returns_only_counts_customers_rows_and_amount() -> None:
    tx = memtable(
        {
            "customer_id": ["a", "b", "b", "c", "c"],
            "timestamp": [dt.datetime(2024, 1, d) for d in (1, 2, 3, 4, 30)],
            "amount": [5.0, -1.0, -2.0, -4.0, 9.0],
        }
    )
    # c's purchase is after the as-of date: up to it, c has only a return
    got = returns_only(tx, as_of=dt.date(2024, 1, 10)).to_pyarrow().to_pylist()
    assert got == [{"customers": 2, "rows": 3, "amount": -7.0}]


def test_one_column_for_two_fields_is_refused() -> None:
    with pytest.raises(ColumnMappingError, match="given for customer_id and amount"):
        map_columns(["id", "date", "paid"], {"customer_id": "id", "amount": "1"})
    with pytest.raises(ColumnMappingError, match="given for amount, but its header names"):
        map_columns(["customer_id", "date", "paid"], {"amount": "customer_id"})


def test_quoted_line_breaks_and_record_numbers(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text(
        'customer_id,date,amount,note\nC1,2024-01-01,10,"a\nb"\nC2,2024-01-02,x,y\n',
        encoding="utf-8",
    )
    source = read_source(str(path), con=ibis.duckdb.connect(), staging_dir=tmp_path)
    rows = source.table.order_by(ROW_COLUMN).to_pyarrow().to_pylist()
    assert [(r["customer_id"], r["note"], r[ROW_COLUMN]) for r in rows] == [
        ("C1", "a\nb", 2),
        ("C2", "y", 3),  # the record's number, not its physical line (4)
    ]


def test_files_that_are_not_what_their_name_says(tmp_path: Path) -> None:
    con = ibis.duckdb.connect()
    (tmp_path / "x.xlsx").write_text("customer_id,date,amount\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"rename it to \.csv"):
        read_source(str(tmp_path / "x.xlsx"), con=con)
    (tmp_path / "x.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(SourceError, match="not a complete Parquet file"):
        read_source(str(tmp_path / "x.parquet"), con=con)


def test_excel_header_row_skips_a_title(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Report"])
    sheet.append(["customer_id", "date", "amount"])
    sheet.append(["a", "2024-01-01", 3])
    book.save(tmp_path / "t.xlsx")
    con = ibis.duckdb.connect()
    plain = read_source(str(tmp_path / "t.xlsx"), con=con)
    assert plain.header_hint is not None and "header_row" in plain.header_hint
    fixed = read_source(str(tmp_path / "t.xlsx"), con=con, header_row=2)
    assert fixed.columns == ("customer_id", "date", "amount") and fixed.header_hint is None
    assert fixed.table.to_pyarrow().to_pylist() == [
        {"customer_id": "a", "date": "2024-01-01", "amount": "3", ROW_COLUMN: 3}
    ]


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[analysis]\nmax_bad_share = "lots"\n', "analysis.max_bad_share must be a number"),
        ("[rfm]\nbins = 4.5\n", "rfm.bins must be a whole number"),
        ("[analysis]\ncurrency = 3\n", "analysis.currency must be text"),
        ('[source]\ndecimal = ";"\n', "source.decimal must be one of"),
        ('[source]\nplaceholder_ids = "NULL"\n', "source.placeholder_ids must be a list"),
        ("[source]\nheader_row = 0\n", "source.header_row is a 1-based row"),
        ('[source]\nname = " "\n', "source name is empty"),
    ],
)
def test_mistyped_settings_name_the_setting(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


def test_source_settings_are_read(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[source]\nname = "sales"\ndecimal = ","\nheader_row = 3\nplaceholder_ids = ["0", "x"]\n',
        encoding="utf-8",
    )
    got = load_settings(path)
    assert (got.source_name, got.decimal, got.header_row, got.placeholder_ids) == (
        "sales",
        ",",
        3,
        ("0", "x"),
    )
    assert Settings().placeholder_ids is None  # the built-in list


def test_a_config_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes('[analysis]\ncurrency = "金额"\n'.encode("gbk"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(path)


def test_init_template_parses_and_lists_the_placeholders() -> None:
    text = init_config_text()
    assert all(f'"{p}"' in text for p in PLACEHOLDER_IDS)
    assert "source" in tomllib.loads(text)
