"""Read a transactions source into an Ibis table, numbering every row.

Files: CSV (delimiter and quoting detected; UTF-8, UTF-8 with BOM, GB18030/GBK;
whitespace-separated text such as the CDNOW data), Excel ``.xlsx``/``.xls``, Parquet.
Databases: a table name or a SQL query on any connection Ibis makes (``--source-url``).

Every table returned carries ``_source_row``, the number a person uses to find the row:
the line in a CSV or text file (the header is line 1; a record whose quoted value spans
several lines counts as one, so past it the number is the record's, not the physical
line's), the row in the Excel sheet, the 1-based row in a Parquet file, the 1-based
position in a database result. Files are read
with every column as text so that nothing is lost before validation; typed Parquet and
database columns keep their types.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.types as ir
import pyarrow as pa
from ibis.backends import BaseBackend

from corecustomers.data.connect import connect, is_duckdb
from corecustomers.errors import ConfigError, SourceError

__all__ = ["ROW_COLUMN", "RawSource", "detect_encoding", "read_error", "read_source"]

ROW_COLUMN = "_source_row"
SourceKind = Literal["csv", "text", "excel", "parquet", "sql"]

log = logging.getLogger(__name__)

_SAMPLE_BYTES = 1 << 20
_CHUNK = 1 << 22
_SQL_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)


@dataclass(frozen=True)
class RawSource:
    """A source as read: its original columns plus ``_source_row``."""

    table: ir.Table
    name: str
    kind: SourceKind
    columns: tuple[str, ...]
    encoding: str | None = None
    delimiter: str | None = None
    has_header: bool = True
    #: A hint added to a column-mapping error (e.g. a title row above an Excel header).
    header_hint: str | None = None

    @property
    def row_label(self) -> str:
        """What ``_source_row`` counts, in words, for messages."""
        return "line" if self.kind in ("csv", "text") else "row"


def read_source(
    source: str,
    *,
    con: BaseBackend,
    source_url: str | None = None,
    staging_dir: Path | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
    header: bool | None = None,
    sheet: str | int | None = None,
    header_row: int | None = None,
) -> RawSource:
    """Open ``source`` for the engine ``con``.

    Parameters
    ----------
    source
        A file path, or with ``source_url`` a table name or a SQL query.
    con
        The engine that runs the analysis. Files are read by DuckDB; for another engine
        they are staged as Parquet in ``staging_dir`` (row numbers included) and read there.
    source_url
        A database URL; then ``source`` is a table (``schema.table``) or a query.
    delimiter, encoding, header, sheet
        Overrides for what is otherwise detected.
    header_row
        Excel: the 1-based row of the sheet that holds the headers (rows above it, such as
        a merged title, are skipped); default: the first non-blank row.
    """
    if source_url:
        return _read_sql(source, source_url)
    path = Path(source)
    if not path.exists():
        raise SourceError(
            f"file {source} does not exist; check the path, or give --source-url "
            "to read a table from a database"
        )
    if path.is_dir():
        raise SourceError(f"{source} is a folder; give one file (CSV, Excel or Parquet)")
    duck = con if is_duckdb(con) else ibis.duckdb.connect()
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        raw = _read_parquet(path, duck)
    elif suffix in (".xlsx", ".xlsm", ".xls", ".ods"):
        raw = _read_excel(path, duck, sheet=sheet, header=header, header_row=header_row)
    else:
        raw = _read_text(
            path,
            duck,
            staging_dir=staging_dir,
            delimiter=delimiter,
            encoding=encoding,
            header=header,
        )
    if duck is con:
        return raw
    if staging_dir is None:
        raise SourceError("reading a file for a non-DuckDB engine needs a staging folder")
    staged = staging_dir / "staged.parquet"
    duck.to_parquet(raw.table, staged)
    return RawSource(
        table=con.read_parquet(str(staged)),
        name=raw.name,
        kind=raw.kind,
        columns=raw.columns,
        encoding=raw.encoding,
        delimiter=raw.delimiter,
        has_header=raw.has_header,
    )


def read_error(raw: RawSource, exc: Exception) -> SourceError | ConfigError | None:
    """A :class:`SourceError` for an engine error met while reading the file ``raw``.

    A file is read lazily: a CSV line that breaks the detected layout, bytes that are
    not the detected encoding or a corrupt Parquet page surface only when the rows are
    first scanned. Returns None for database sources and for errors that are not the
    DuckDB engine's (those are not the file's fault). DuckDB running out of memory is
    not the file's fault either: a :class:`ConfigError` says which setting to change.
    """
    if type(exc).__name__ == "OutOfMemoryException":
        return ConfigError(
            f"DuckDB ran out of memory while reading {raw.name} ({_first_line(exc)}); raise "
            "memory_limit in [analysis] of corecustomers.toml (--memory-limit) or leave it "
            "out, and give a temp_directory (--temp-directory) on a disk with room to spill"
        )
    if raw.kind == "sql" or type(exc).__module__.split(".")[0].lstrip("_") != "duckdb":
        return None
    if raw.kind in ("csv", "text"):
        what = "CSV"
        fix = (
            f"check the line it names (the detected delimiter is {raw.delimiter!r}, the "
            f"encoding {raw.encoding}), or give --delimiter / --encoding"
        )
    else:
        what = "Parquet" if raw.kind == "parquet" else "a workbook"
        fix = "the file may be damaged or cut short: write it again, or export it as CSV"
    return SourceError(
        f"file {raw.name} cannot be read to the end as {what} ({_first_line(exc)}); {fix}"
    )


# -- text files ---------------------------------------------------------------------------


def detect_encoding(path: Path) -> str:
    """Guess the text encoding of ``path`` from its first megabyte.

    Returns ``"utf-8"`` (with or without BOM) or ``"gb18030"`` (a superset of GBK and
    GB2312, what Chinese Excel exports).

    Raises
    ------
    SourceError
        When the bytes are neither; the message says how to convert the file.
    """
    with path.open("rb") as fh:
        head = fh.read(_SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for enc in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(enc)().decode(head, final=len(head) < _SAMPLE_BYTES)
        except UnicodeDecodeError:
            continue
        return enc
    raise SourceError(
        f"file {path}: the text is neither UTF-8 nor GB18030/GBK; save it as UTF-8 "
        "(in Excel: Save As → CSV UTF-8) or name the encoding with --encoding"
    )


def _sample_lines(path: Path, encoding: str, n: int = 50) -> list[str]:
    lines: list[str] = []
    with path.open("r", encoding=encoding, errors="replace", newline="") as fh:
        for line in fh:
            if line.strip():
                lines.append(line.lstrip("\ufeff"))
            if len(lines) >= n:
                break
    return lines


def _is_whitespace_separated(lines: list[str]) -> bool:
    if not lines:
        return False
    if any(ch in line for line in lines for ch in ',\t;|"'):
        return False
    return all(len(line.split()) >= 2 for line in lines)


def _transcode(src: Path, dst: Path, *, encoding: str, whitespace: bool) -> None:
    """Rewrite ``src`` as UTF-8 (tab-separated when it was whitespace-separated)."""
    with (
        src.open("r", encoding=encoding, newline="") as fin,
        dst.open("w", encoding="utf-8", newline="") as fout,
    ):
        if whitespace:
            for line in fin:
                fout.write("\t".join(line.split()) + "\n")
        else:
            while chunk := fin.read(_CHUNK):
                fout.write(chunk)


def _read_text(
    path: Path,
    duck: BaseBackend,
    *,
    staging_dir: Path | None,
    delimiter: str | None,
    encoding: str | None,
    header: bool | None,
) -> RawSource:
    enc = (encoding or detect_encoding(path)).lower().replace("_", "-")
    if enc in ("gbk", "gb2312", "cp936"):
        enc = "gb18030"  # a superset: reads all of them
    try:
        codecs.lookup(enc)
    except LookupError as exc:
        raise SourceError(f"unknown encoding {encoding!r}; use utf-8 or gb18030") from exc
    lines = _sample_lines(path, enc)
    if not lines:
        raise SourceError(f"file {path} is empty; export the transactions again")
    whitespace = delimiter is None and _is_whitespace_separated(lines)
    read_path = path
    if whitespace or enc not in ("utf-8", "utf-8-sig"):
        if staging_dir is None:
            raise SourceError("reading this file needs a staging folder")
        read_path = staging_dir / "transcoded.tsv"
        try:
            _transcode(path, read_path, encoding=enc, whitespace=whitespace)
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"file {path}: byte {exc.start} is not valid {enc}; save the file as UTF-8 "
                "or name its encoding with --encoding"
            ) from exc
    kind: SourceKind = "text" if whitespace else "csv"
    sniff = _sniff(duck, read_path, delimiter="\t" if whitespace else delimiter, shown=path)
    has_header = header if header is not None else bool(sniff["HasHeader"])
    options: dict[str, object] = {
        "all_varchar": True,
        "header": has_header,
        "delim": sniff["Delimiter"],
        "null_padding": True,
    }
    quote = sniff.get("Quote")
    if quote and quote != "(empty)":
        options["quote"] = quote
        if _may_quote_newlines(duck, read_path, str(quote)):
            # DuckDB's parallel reader cannot pad short rows when a quoted value holds a
            # line break (legal CSV, common in a notes column): read it in one thread
            options["parallel"] = False
    escape = sniff.get("Escape")
    if escape and escape != "(empty)":
        options["escape"] = escape
    try:
        table = duck.read_csv(str(read_path), **options)
    except Exception as exc:
        message = str(exc).replace(str(read_path), str(path))  # not the transcoded copy
        raise SourceError(f"file {path} cannot be read as CSV: {message}") from exc
    columns = tuple(table.columns)
    if not has_header:
        # positions are how a header-less file is addressed: "1", "2", …
        table = table.rename({str(i + 1): c for i, c in enumerate(columns)})
        columns = tuple(table.columns)
    first_line = 2 if has_header else 1
    table = table.mutate(**{ROW_COLUMN: (ibis.row_number() + first_line).cast("int64")})
    log.info("read %s as %s (encoding %s, delimiter %r)", path, kind, enc, sniff["Delimiter"])
    return RawSource(
        table=table,
        name=str(path),
        kind=kind,
        columns=columns,
        encoding=enc,
        delimiter=str(sniff["Delimiter"]),
        has_header=has_header,
    )


def _may_quote_newlines(duck: BaseBackend, path: Path, quote: str) -> bool:
    """Whether a line of ``path`` holds an odd number of quote characters.

    A quoted value with a line break opens on one line and closes on another, so both
    lines hold an odd number of quotes; doubled quotes inside a value come in pairs. One
    parallel scan by DuckDB, stopping at the first such line; True when in doubt.
    """
    q = _sql_string(quote)
    sql = (
        "SELECT 1 FROM read_csv("
        f"{_sql_string(str(path))}, columns = {{'line': 'VARCHAR'}}, header = false, "
        "delim = '\x01', quote = '', escape = '', auto_detect = false, "
        "strict_mode = false, null_padding = true) "
        f"WHERE (length(line) - length(replace(line, {q}, ''))) % 2 = 1 LIMIT 1"
    )
    try:
        return bool(duck.con.execute(sql).fetchall())
    except Exception:
        return True


def _sniff(
    duck: BaseBackend, path: Path, *, delimiter: str | None, shown: Path | None = None
) -> dict[str, object]:
    """DuckDB's guess of the CSV layout of ``path``; errors name ``shown`` (the file the
    person gave, when ``path`` is a transcoded copy of it)."""
    shown = shown or path
    args = "sample_size = 20480"
    if delimiter:
        args += ", delim = " + _sql_string(delimiter)
    raw = duck.con
    try:
        rel = raw.execute(f"SELECT * FROM sniff_csv({_sql_string(str(path))}, {args})")
        cols = [d[0] for d in rel.description]
        row = rel.fetchone()
    except Exception as exc:
        message = str(exc).replace(str(path), str(shown))
        raise SourceError(
            f"file {shown}: cannot detect the CSV layout ({message}); give --delimiter"
        ) from exc
    if row is None:
        raise SourceError(f"file {shown}: no rows found")
    return dict(zip(cols, row, strict=True))


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# -- Excel --------------------------------------------------------------------------------


def _cell_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat(sep=" ") if hasattr(value, "hour") else value.isoformat())
    return str(value)


# The first bytes of the workbook formats: .xlsx/.xlsm/.ods are ZIP files, .xls is OLE2.
_WORKBOOK_MAGIC = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")


def _first_line(exc: BaseException) -> str:
    """The first line of an engine's message, without the SQL or context it appends."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _read_excel(
    path: Path,
    duck: BaseBackend,
    *,
    sheet: str | int | None,
    header: bool | None,
    header_row: int | None = None,
) -> RawSource:
    try:
        from python_calamine import CalamineWorkbook
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise SourceError(
            "reading Excel needs python-calamine: pip install python-calamine"
        ) from exc
    with path.open("rb") as fh:
        magic = fh.read(8)
    if not magic.startswith(_WORKBOOK_MAGIC):
        looks_like = "text" if _is_text(magic) else "something else"
        raise SourceError(
            f"file {path} is named like an Excel workbook but is not one (it holds "
            f"{looks_like}). If it is a CSV export, rename it to .csv; otherwise open it in "
            "Excel and save it again as .xlsx"
        )
    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:
        raise SourceError(
            f"file {path} cannot be read as an Excel workbook ({_first_line(exc)}); open it "
            "in Excel and save it again as .xlsx, or export it as CSV"
        ) from exc
    names = list(book.sheet_names)
    try:
        if sheet is None:
            ws = book.get_sheet_by_index(0)
        elif isinstance(sheet, int) or str(sheet).isdigit():
            ws = book.get_sheet_by_index(int(sheet) - 1 if str(sheet) != "0" else 0)
        else:
            ws = book.get_sheet_by_name(str(sheet))
        rows = ws.to_python(skip_empty_area=False)
    except Exception as exc:
        raise SourceError(
            f"file {path}: there is no sheet {sheet!r} ({_first_line(exc)}); "
            f"the sheets are: {', '.join(names) or 'none'}"
        ) from exc
    if header_row is not None:
        # the rows above the header (a title, a merged banner) are not data
        start = header_row - 1
        if start >= len(rows):
            raise SourceError(
                f"file {path}: header row {header_row} is below the last row of the sheet "
                f"({len(rows)}); check header_row"
            )
    else:
        # leading blank rows are the sheet's top margin, not data
        start = 0
        while start < len(rows) and all(_cell_text(v) is None for v in rows[start]):
            start += 1
    rows = rows[start:]
    if not rows:
        raise SourceError(f"file {path}: the sheet is empty")
    width = max(len(r) for r in rows)
    has_header = header if header is not None else True
    if has_header:
        names = _unique_names([_cell_text(v) for v in rows[0]], width)
        body = rows[1:]
        first = start + 2
    else:
        names = [str(i + 1) for i in range(width)]
        body = rows
        first = start + 1
    data = {
        name: pa.array([_cell_text(r[i]) if i < len(r) else None for r in body], type=pa.string())
        for i, name in enumerate(names)
    }
    data[ROW_COLUMN] = pa.array(range(first, first + len(body)), type=pa.int64())
    table = duck.create_table(ibis.util.gen_name("excel"), pa.table(data), temp=True)
    filled = sum(_cell_text(v) is not None for v in rows[0]) if has_header else width
    return RawSource(
        table=table,
        name=str(path),
        kind="excel",
        columns=tuple(names),
        has_header=has_header,
        header_hint=(
            f"row {start + 1} of the sheet, taken as the header, has {filled} filled "
            f"cell(s) of {width}: if a title sits above the headers, set header_row in "
            "[source] of corecustomers.toml or give --header-row N (the row of the headers)"
            if has_header and filled <= width // 2
            else None
        ),
    )


def _is_text(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return b"\x00" not in head
    return True


def _unique_names(raw: list[str | None], width: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    for i in range(width):
        base = (raw[i] if i < len(raw) else None) or f"column{i + 1}"
        base = base.strip() or f"column{i + 1}"
        name, k = base, 1
        while name in seen:
            k += 1
            name = f"{base}_{k}"
        seen.add(name)
        names.append(name)
    return names


# -- Parquet and databases ------------------------------------------------------------------


def _read_parquet(path: Path, duck: BaseBackend) -> RawSource:
    with path.open("rb") as fh:
        head = fh.read(4)
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 4))
        tail = fh.read(4)
    if head != b"PAR1" or tail != b"PAR1":
        raise SourceError(
            f"file {path} is not a complete Parquet file (a Parquet file starts and ends "
            "with PAR1); it may be cut short or be another format: write it again, or "
            "export the data as CSV"
        )
    try:
        table = duck.read_parquet(str(path), file_row_number=True)
    except Exception as exc:
        raise SourceError(
            f"file {path} cannot be read as Parquet ({_first_line(exc)}); write it again, "
            "or export the data as CSV"
        ) from exc
    columns = tuple(c for c in table.columns if c != "file_row_number")
    table = table.mutate(**{ROW_COLUMN: (table.file_row_number + 1).cast("int64")}).drop(
        "file_row_number"
    )
    return RawSource(table=table, name=str(path), kind="parquet", columns=columns)


def _read_sql(source: str, url: str) -> RawSource:
    con = connect(url)
    try:
        if _SQL_START.match(source):
            table = con.sql(source)
        elif "." in source:
            db, name = source.rsplit(".", 1)
            table = con.table(name, database=db)
        else:
            table = con.table(source)
    except Exception as exc:
        raise SourceError(
            f"cannot read {source!r} from the database: {exc}. Give a table name "
            "(schema.table) or a query starting with SELECT"
        ) from exc
    columns = tuple(table.columns)
    table = table.mutate(**{ROW_COLUMN: (ibis.row_number() + 1).cast("int64")})
    return RawSource(table=table, name=source, kind="sql", columns=columns)
