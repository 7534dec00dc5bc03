"""Read a customer master-data file and check each row on its own (no database needed).

A master-data file is a table with a header row: CSV (UTF-8, UTF-8 with BOM, GB18030/GBK;
read by the engine's :func:`corecustomers.data.readers.read_source`), Excel (python-calamine)
or Parquet -- or a ``pyarrow.Table`` built in Python. Columns are recognised by their
English or Chinese headers (:data:`HEADERS`); only ``external_id`` is required, and a
column that is absent leaves that field of existing customers as it is.

Row numbers are the ones a person finds in the file: the header is row 1, the first data
row is row 2 (for a CSV the engine's line number, for Excel the row of the sheet).

Checks made here (the database checks -- owner, team, scope -- are in
:mod:`corecustomers.web.customers.masterdata`):

===================  ==============================================================
``missing_id``        the id cell is empty
``placeholder_id``    the id is a placeholder (``NULL``, ``N/A``, ``-``, ``无`` …)
``duplicate_id``      an earlier row of the file has the same id (the first is used)
``bad_email``         the e-mail is not an address
``bad_phone``         the phone holds letters or fewer than 5 / more than 20 digits
``bad_birthday``      the birthday is not a date in a known format, is in the future
                      or before 1900
``bad_relationship``  the relationship is not vendor, partner or alliance (卖主 / 伙伴
                      / 战略联盟)
``too_long``          a value is longer than the field holds
===================  ==============================================================
"""

from __future__ import annotations

import datetime as dt
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from corecustomers.data.mapping import SYNONYMS
from corecustomers.data.readers import ROW_COLUMN, RawSource, read_source
from corecustomers.data.validation import PLACEHOLDER_IDS
from corecustomers.errors import InputError, SourceError

__all__ = [
    "FIELDS",
    "HEADERS",
    "BadRow",
    "MasterDataError",
    "MasterFile",
    "MasterRecord",
    "inspect_master_file",
    "map_headers",
    "parse_birthday",
    "read_master_file",
]

Progress = Callable[[float, str], None]

#: The fields of a master-data row, in the order they are shown.
FIELDS = (
    "external_id",
    "name",
    "company",
    "phone",
    "email",
    "birthday",
    "region",
    "industry",
    "owner",
    "team",
    "relationship",
    "notes",
)

#: Known headers per field, compared after :func:`_normalise`; the first that matches wins.
HEADERS: dict[str, tuple[str, ...]] = {
    "external_id": (
        "external_id",
        "id",
        *SYNONYMS["customer_id"],
        "客户编码",
        "编号",
    ),
    "name": (
        "name",
        "customer_name",
        "full_name",
        "client_name",
        "member_name",
        "姓名",
        "客户名称",
        "客户姓名",
        "会员姓名",
        "顾客姓名",
        "名称",
        "名字",
    ),
    "company": (
        "company",
        "company_name",
        "organisation",
        "organization",
        "employer",
        "公司",
        "公司名称",
        "单位",
        "工作单位",
        "单位名称",
        "企业",
        "企业名称",
    ),
    "phone": (
        "phone",
        "mobile",
        "phone_number",
        "mobile_phone",
        "mobile_number",
        "cell",
        "cellphone",
        "tel",
        "telephone",
        "手机",
        "手机号",
        "手机号码",
        "电话",
        "联系电话",
        "电话号码",
        "移动电话",
    ),
    "email": (
        "email",
        "e_mail",
        "mail",
        "email_address",
        "e_mail_address",
        "邮箱",
        "电子邮箱",
        "电子邮件",
        "邮件",
        "邮箱地址",
    ),
    "birthday": (
        "birthday",
        "birth_date",
        "birthdate",
        "date_of_birth",
        "dob",
        "生日",
        "出生日期",
        "出生年月日",
    ),
    "region": ("region", "area", "territory", "地区", "区域", "大区", "所在地区", "所属区域"),
    "industry": ("industry", "sector", "行业", "所属行业", "行业类别"),
    "owner": (
        "owner",
        "account_owner",
        "owner_username",
        "account_manager",
        "key_account_manager",
        "sales_rep",
        "客户经理",
        "负责人",
        "大客户经理",
        "销售负责人",
        "归属人",
    ),
    "team": ("team", "team_name", "sales_team", "account_team", "团队", "所属团队", "小组"),
    "relationship": (
        "relationship",
        "relationship_level",
        "relation",
        "关系",
        "关系级别",
        "关系等级",
        "客户关系",
    ),
    "notes": ("notes", "note", "remarks", "remark", "comment", "comments", "备注", "说明"),
}

#: How the relationship levels may be written (compared lower-case, trimmed).
RELATIONSHIPS: dict[str, str] = {
    "vendor": "vendor",
    "partner": "partner",
    "alliance": "alliance",
    "strategic alliance": "alliance",
    "strategic_alliance": "alliance",
    "卖主": "vendor",
    "供应商": "vendor",
    "伙伴": "partner",
    "合作伙伴": "partner",
    "战略联盟": "alliance",
    "联盟": "alliance",
}

#: The longest value each text field holds (the model's column sizes).
MAX_LENGTH: dict[str, int] = {
    "external_id": 200,
    "name": 200,
    "company": 200,
    "phone": 50,
    "email": 254,
    "region": 100,
    "industry": 100,
    "owner": 150,
    "team": 100,
}

_PLACEHOLDERS = frozenset(PLACEHOLDER_IDS)
_WORKBOOKS = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})
#: How far down a sheet the header row is looked for (a title or a date above it).
_HEADER_SEARCH = 10
_DATE = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[Tt ]+0{1,2}:00(?::00(?:\.0+)?)?)?$"
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_PHONE_SEPARATORS = re.compile(r"[\s\-().·/]")
_PHONE = re.compile(r"^\+?\d{5,20}$")
_email = EmailValidator()


class MasterDataError(InputError):
    """The file cannot be used as master data at all (not a table, no id column …)."""


@dataclass(frozen=True)
class BadRow:
    """One problem in one row: its number (header = row 1), the column and the reason."""

    row: int
    column: str
    code: str
    reason: str
    value: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "code": self.code,
            "reason": self.reason,
            "value": self.value,
        }


@dataclass(frozen=True)
class MasterRecord:
    """A row that passed the file checks: the values of the fields the file has.

    A blank cell is left out of ``values`` (it leaves the stored value as it is).
    """

    row: int
    external_id: str
    values: Mapping[str, Any]


@dataclass(frozen=True)
class MasterFile:
    """A master-data file, read and checked row by row."""

    name: str
    rows: int
    columns: Mapping[str, str]
    ignored_columns: tuple[str, ...]
    records: tuple[MasterRecord, ...]
    bad: tuple[BadRow, ...] = field(default=())


def _normalise(header: str) -> str:
    text = header.strip().lstrip("\ufeff").lower()
    text = re.sub(r"[\s\-./()（）]+", "_", text)
    return text.strip("_")


def map_headers(columns: Sequence[str], *, source: str = "") -> dict[str, str]:
    """Which column of the file feeds each field: ``{field: header}``.

    Raises
    ------
    MasterDataError
        When no column holds the customer id.

    Examples
    --------
    >>> map_headers(["会员号", "姓名", "手机", "客户经理", "关系级别"])
    {'external_id': '会员号', 'name': '姓名', 'phone': '手机', 'owner': '客户经理', \
'relationship': '关系级别'}
    """
    normalised = {column: _normalise(column) for column in columns}
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    for name in FIELDS:
        for synonym in HEADERS[name]:
            hit = next((c for c in columns if c not in taken and normalised[c] == synonym), None)
            if hit is not None:
                chosen[name] = hit
                taken.add(hit)
                break
    if "external_id" not in chosen:
        raise MasterDataError(
            "no column holds the customer id (columns: "
            + (", ".join(columns) or "none")
            + "). Name it customer_id, id, 会员号, 客户编号 or 客户ID; the first row must "
            "be the headers",
            file=source or None,
        )
    return chosen


def parse_birthday(text: str, *, today: dt.date) -> tuple[dt.date | None, str]:
    """A birthday and ``""``, or ``None`` and why it is not one.

    Understood: ``1980-05-17``, ``1980/5/17``, ``1980.5.17``, ``1980年5月17日``,
    ``19800517`` (a midnight time after the date, as Excel writes it, is allowed).

    Examples
    --------
    >>> parse_birthday("1980年5月17日", today=dt.date(2025, 1, 1))
    (datetime.date(1980, 5, 17), '')
    >>> parse_birthday("2030-01-01", today=dt.date(2025, 1, 1))[1]
    'the birthday 2030-01-01 is in the future'
    """
    value = text.strip()
    match = _DATE.match(value) or _COMPACT.match(value)
    if match is None:
        return None, f"{value!r} is not a date: write it as YYYY-MM-DD (e.g. 1980-05-17)"
    year, month, day = (int(part) for part in match.groups())
    try:
        date = dt.date(year, month, day)
    except ValueError:
        return None, f"{value!r} is not a day of the calendar"
    if date > today:
        return None, f"the birthday {date.isoformat()} is in the future"
    if date.year < 1900:
        return None, f"the birthday {date.isoformat()} is before 1900"
    return date, ""


def _check_field(name: str, text: str, today: dt.date) -> tuple[Any, str, str]:
    """``(value, code, reason)``; ``code`` empty when the value is good."""
    limit = MAX_LENGTH.get(name)
    if limit is not None and len(text) > limit:
        return None, "too_long", f"longer than {limit} characters ({len(text)})"
    if name == "email":
        try:
            _email(text)
        except ValidationError:
            return None, "bad_email", f"{text!r} is not an e-mail address"
        return text, "", ""
    if name == "phone":
        digits = _PHONE_SEPARATORS.sub("", text)
        if not _PHONE.match(digits):
            return (
                None,
                "bad_phone",
                f"{text!r} is not a phone number (5 to 20 digits, spaces, dashes and a "
                "leading + allowed)",
            )
        return text, "", ""
    if name == "birthday":
        date, reason = parse_birthday(text, today=today)
        return (date, "", "") if date is not None else (None, "bad_birthday", reason)
    if name == "relationship":
        level = RELATIONSHIPS.get(text.lower())
        if level is None:
            return (
                None,
                "bad_relationship",
                f"{text!r} is not a relationship level: use vendor, partner or alliance "
                "(卖主, 伙伴, 战略联盟)",
            )
        return level, "", ""
    return text, "", ""


def check_rows(
    rows: Sequence[Mapping[str, Any]],
    columns: Mapping[str, str],
    *,
    today: dt.date,
    progress: Progress | None = None,
) -> tuple[list[MasterRecord], list[BadRow]]:
    """Check rows (each with the file's headers and ``_source_row``); good and bad ones."""
    report = progress or (lambda fraction, message: None)
    records: list[MasterRecord] = []
    bad: list[BadRow] = []
    first_row: dict[str, int] = {}
    id_column = columns["external_id"]
    total = len(rows)
    for index, row in enumerate(rows):
        number = int(row[ROW_COLUMN])
        problems: list[BadRow] = []
        raw_id = row.get(id_column)
        external_id = "" if raw_id is None else str(raw_id).strip()
        if not external_id:
            problems.append(BadRow(number, id_column, "missing_id", "the customer id is empty"))
        elif external_id.lower() in _PLACEHOLDERS:
            problems.append(
                BadRow(
                    number,
                    id_column,
                    "placeholder_id",
                    f"{external_id!r} is a placeholder, not a customer id",
                    external_id,
                )
            )
        elif len(external_id) > MAX_LENGTH["external_id"]:
            problems.append(
                BadRow(
                    number,
                    id_column,
                    "too_long",
                    f"the customer id is longer than {MAX_LENGTH['external_id']} characters",
                    external_id[:50],
                )
            )
        elif external_id in first_row:
            problems.append(
                BadRow(
                    number,
                    id_column,
                    "duplicate_id",
                    f"the id {external_id!r} is already in row {first_row[external_id]}; "
                    "give each customer one row",
                    external_id,
                )
            )
        else:
            first_row[external_id] = number
        values: dict[str, Any] = {}
        for name, header in columns.items():
            if name == "external_id":
                continue
            cell = row.get(header)
            text = "" if cell is None else str(cell).strip()
            if not text:
                continue
            value, code, reason = _check_field(name, text, today)
            if code:
                problems.append(BadRow(number, header, code, reason, text[:200]))
            else:
                values[name] = value
        if problems:
            bad.extend(problems)
        else:
            records.append(MasterRecord(number, external_id, values))
        if index % 5000 == 4999:
            report((index + 1) / max(total, 1), f"checked {index + 1:,} of {total:,} rows")
    return records, bad


def _table_rows(table: pa.Table) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and rows of a table made in Python: header is row 1, data from row 2."""
    columns = [str(name) for name in table.column_names if name != ROW_COLUMN]
    rows = table.select(columns).to_pylist()
    for number, row in enumerate(rows, start=2):
        row[ROW_COLUMN] = number
    return columns, rows


def _check_bytes(path: Path) -> None:
    if not path.is_file():
        raise MasterDataError(f"file {path} does not exist; check the path")
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head.strip():
        raise MasterDataError(f"file {path.name} is empty; export the customers again")
    workbook = path.suffix.lower() in {*_WORKBOOKS, ".parquet", ".pq"}
    if not workbook and b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise MasterDataError(
            f"file {path.name} is not a table (it holds binary data): give a CSV or Excel "
            "file with a header row"
        )


def _excel_header_row(path: Path) -> int | None:
    """The sheet row holding an id header when a title sits above it (else ``None``).

    Chinese exports often start with a title row (客户名单, a merged banner) and a blank
    row; the engine's reader takes the first non-blank row as the header unless told.
    """
    try:
        from python_calamine import CalamineWorkbook

        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)[:_HEADER_SEARCH]
    except Exception:  # the reader says what is wrong with the file
        return None
    for number, row in enumerate(rows, start=1):
        headers = [str(cell).strip() for cell in row if cell not in (None, "")]
        try:
            map_headers(headers)
        except MasterDataError:
            continue
        return number
    return None


@contextmanager
def _opened(path: Path) -> Iterator[RawSource]:
    """The file as the engine reads it (every column as text, rows numbered)."""
    import ibis

    _check_bytes(path)
    header_row = _excel_header_row(path) if path.suffix.lower() in _WORKBOOKS else None
    con = ibis.duckdb.connect()
    try:
        with tempfile.TemporaryDirectory(prefix="cc-masterdata-") as staging:
            try:
                raw = read_source(
                    str(path),
                    con=con,
                    staging_dir=Path(staging),
                    header=True,
                    header_row=header_row,
                )
            except (InputError, SourceError) as exc:
                raise MasterDataError(str(exc)) from exc
            except Exception as exc:
                raise MasterDataError(
                    f"file {path.name} cannot be read as a table "
                    f"({str(exc).splitlines()[0]}); save it as CSV (UTF-8) or .xlsx with a "
                    "header row"
                ) from exc
            yield raw
    finally:
        con.disconnect()


def inspect_master_file(path: Path) -> dict[str, str]:
    """Check that ``path`` is a table with a customer id column; its ``{field: header}``.

    Cheap enough for an upload: a CSV is only sniffed, not read.

    Raises
    ------
    MasterDataError
        With a message that says what is wrong and what to give instead.
    """
    with _opened(path) as raw:
        return map_headers(list(raw.columns), source=path.name)


def _file_rows(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    with _opened(path) as raw:
        try:
            arrow = raw.table.to_pyarrow()
        except Exception as exc:
            raise MasterDataError(
                f"file {path.name} cannot be read as a table ({str(exc).splitlines()[0]}); "
                "save it as CSV (UTF-8) or .xlsx with a header row"
            ) from exc
        return list(raw.columns), arrow.to_pylist()


def read_master_file(
    source: str | Path | pa.Table,
    *,
    today: dt.date,
    progress: Progress | None = None,
) -> MasterFile:
    """Read ``source`` (a path or a ``pyarrow.Table``), map its headers, check every row.

    Raises
    ------
    MasterDataError
        When the file cannot be read as a table or has no customer id column.
    """
    report = progress or (lambda fraction, message: None)
    if isinstance(source, pa.Table):
        name = "table"
        columns, rows = _table_rows(source)
    else:
        path = Path(source)
        name = path.name
        columns, rows = _file_rows(path)
    report(0.1, f"read {len(rows):,} rows")
    mapping = map_headers(columns, source=name)
    used = set(mapping.values())
    ignored = tuple(column for column in columns if column not in used)
    records, bad = check_rows(
        rows,
        mapping,
        today=today,
        progress=lambda fraction, message: report(0.1 + 0.4 * fraction, message),
    )
    return MasterFile(
        name=name,
        rows=len(rows),
        columns=mapping,
        ignored_columns=ignored,
        records=tuple(records),
        bad=tuple(bad),
    )
