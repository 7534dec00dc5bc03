"""Hypothesis over the master-data import's parser (``read_master_file``).

Hypothesis writes CSV files (UTF-8, UTF-8 with a byte-order mark, GB18030; English or
Chinese headers; commas, quotes and line breaks inside quoted cells) whose rows mix good
values with blank, placeholder, duplicate and over-long ids, e-mails that are not
addresses, phones with letters or too few digits, birthdays in every documented format and
some that are not dates (or are in the future, or before 1900), relationships in English
and Chinese and some that are not one. Whatever the file, the parser must:

* end normally or with a :class:`~corecustomers.errors.CoreCustomersError` (a clear
  message), never another exception;
* account for every row: ``rows`` is the number written; every row is either accepted
  (one record) or refused (at least one entry naming its row number and column), never
  both; row numbers are unique, increasing in file order, and row 2 is the first data row
  when no cell holds a line break;
* accept no row that breaks an invariant: an accepted row has a non-empty, stripped id
  that is no placeholder, at most 200 characters and unique in the file (the first of a
  duplicate is kept, later ones are refused naming the first's row); its birthday is the
  date the reference parser (written here, independently) reads, between 1900 and today;
  its e-mail has one ``@`` with text on both sides; its phone has 5 to 20 digits; its
  relationship is one of the three levels;
* refuse a row for the reason the reference gives for its id (missing, placeholder,
  too long, duplicate).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corecustomers.errors import CoreCustomersError
from corecustomers.web.customers.master_file import read_master_file

TODAY = dt.date(2025, 6, 30)
PLACEHOLDERS = ["NULL", "null", "N/A", "-", "无", "nan"]
HEADERS = {
    "en": {
        "external_id": "customer_id",
        "name": "name",
        "phone": "phone",
        "email": "email",
        "birthday": "birthday",
        "relationship": "relationship",
        "notes": "notes",
    },
    "zh": {
        "external_id": "会员号",
        "name": "姓名",
        "phone": "手机",
        "email": "邮箱",
        "birthday": "生日",
        "relationship": "关系级别",
        "notes": "备注",
    },
}
LEVELS = {"vendor", "partner", "alliance"}

ids = st.one_of(
    st.from_regex(r"[A-Z]{1,2}[0-9]{1,6}", fullmatch=True),
    st.sampled_from(["", "  ", *PLACEHOLDERS, "C1", "C1 ", " C2", "客户/7", "x" * 201]),
)
#: Free text without control characters: a bare carriage return in an unquoted cell is not
#: CSV (Python's writer leaves it unquoted); such a file is refused as a whole -- see
#: test_a_file_that_cannot_be_read_is_named_as_uploaded.
names = st.one_of(
    st.just(""),
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12),
)
phones = st.one_of(
    st.from_regex(r"\+?[0-9]{5,20}", fullmatch=True),
    st.sampled_from(["", "138-0000-0000", "12ab34", "1234", "1" * 21, "+86 138 0000 0000"]),
)
emails = st.one_of(
    st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.(com|cn)", fullmatch=True),
    st.sampled_from(["", "no-at-sign", "a@", "@b.com", "a@@b.com", "王@例子.中国"]),
)
birthdays = st.one_of(
    st.dates(dt.date(1880, 1, 1), dt.date(2030, 12, 31)).flatmap(
        lambda d: st.sampled_from(
            [
                d.isoformat(),
                f"{d.year}/{d.month}/{d.day}",
                f"{d.year}.{d.month}.{d.day}",
                f"{d.year}年{d.month}月{d.day}日",
                d.strftime("%Y%m%d"),
                f"{d.isoformat()} 00:00:00",
                d.strftime("%d/%m/%Y"),
            ]
        )
    ),
    st.sampled_from(["", "1990-02-30", "2001-13-01", "yesterday", "1990-1-1x", "0000-00-00"]),
)
relationships = st.sampled_from(
    ["", "vendor", "Partner", "ALLIANCE", "卖主", "伙伴", "战略联盟", "friend", "vip"]
)
notes = st.one_of(
    st.just(""), st.sampled_from(['said "hi", then left', "line one\nline two", "a,b;c\tend"])
)
rows = st.lists(
    st.fixed_dictionaries(
        {
            "external_id": ids,
            "name": names,
            "phone": phones,
            "email": emails,
            "birthday": birthdays,
            "relationship": relationships,
            "notes": notes,
        }
    ),
    min_size=1,
    max_size=25,
)

_DATE = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]00:00(?::00)?)?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def reference_birthday(text: str) -> dt.date | None:
    """The birthday the documented formats give, or ``None`` (written independently)."""
    match = _DATE.match(text) or _COMPACT.match(text)
    if not match:
        return None
    try:
        day = dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None
    return day if dt.date(1900, 1, 1) <= day <= TODAY else None


def _write(path: Path, data: list[dict[str, str]], language: str, encoding: str) -> None:
    headers = HEADERS[language]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([headers[f] for f in headers])
    for row in data:
        writer.writerow([row[f] for f in headers])
    path.write_bytes(buffer.getvalue().encode(encoding))


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    data=rows,
    language=st.sampled_from(["en", "zh"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]),
)
def test_every_row_is_accounted_for_and_no_accepted_row_breaks_an_invariant(
    data: list[dict[str, str]], language: str, encoding: str
) -> None:
    if encoding == "gb18030":  # only text GB18030 can hold (it holds all of these)
        data = [
            {k: v.encode("gb18030", "ignore").decode("gb18030") for k, v in r.items()} for r in data
        ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "customers.csv"
        _write(path, data, language, encoding)
        parsed = read_master_file(path, today=TODAY)  # the id column is always there
    check(parsed, data)


def check(parsed: Any, data: list[dict[str, str]]) -> None:
    assert parsed.rows == len(data)
    accepted = {r.row: r for r in parsed.records}
    refused: dict[int, list[Any]] = {}
    for bad in parsed.bad:
        refused.setdefault(bad.row, []).append(bad)
        assert bad.code and bad.reason and bad.column
    assert not set(accepted) & set(refused), "a row both accepted and refused"
    numbers = sorted(set(accepted) | set(refused))
    assert len(numbers) == len(data), "a row neither accepted nor refused"
    multiline = any("\n" in v for row in data for v in row.values())
    if not multiline:
        assert numbers == list(range(2, len(data) + 2))
    seen: dict[str, int] = {}
    for number, row in zip(numbers, data, strict=True):
        text_id = row["external_id"].strip()
        codes = {b.code for b in refused.get(number, [])}
        expected_id_code = None
        if not text_id:
            expected_id_code = "missing_id"
        elif text_id.lower() in {p.lower() for p in PLACEHOLDERS}:
            expected_id_code = "placeholder_id"
        elif len(text_id) > 200:
            expected_id_code = "too_long"
        elif text_id in seen:
            expected_id_code = "duplicate_id"
            if number in refused:
                dup = next(b for b in refused[number] if b.code == "duplicate_id")
                assert str(seen[text_id]) in dup.reason
        else:
            seen[text_id] = number
        if expected_id_code:
            assert expected_id_code in codes, (row, codes)
        if number not in accepted:
            assert codes, f"row {number} refused without a reason"
            continue
        record = accepted[number]
        assert expected_id_code is None
        assert record.external_id == text_id and record.external_id
        values = record.values
        birthday = row["birthday"].strip()
        if birthday:
            assert values["birthday"] == reference_birthday(birthday), (birthday, values)
        if row["email"].strip():
            local, _, domain = values["email"].partition("@")
            assert local and domain and "@" not in domain
        if row["phone"].strip():
            digits = re.sub(r"\D", "", values["phone"])
            assert 5 <= len(digits) <= 20
        if row["relationship"].strip():
            assert values["relationship"] in LEVELS
    assert len({r.external_id for r in parsed.records}) == len(parsed.records)


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_a_file_with_no_id_column_is_refused_with_a_clear_error(
    tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes("姓名,手机\n王芳,13800000000\n".encode(encoding))
    with pytest.raises(CoreCustomersError, match="no column holds the customer id"):
        read_master_file(path, today=TODAY)


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_a_file_that_cannot_be_read_is_named_as_uploaded(tmp_path: Path, encoding: str) -> None:
    """A CSV the reader cannot make out (a bare carriage return in a cell) is refused with
    a message that names the file the person uploaded -- not a temporary copy."""
    path = tmp_path / "客户名单.csv"
    path.write_bytes("会员号,姓名\nC1,王\r芳\nC2,李\nC3,张\n".encode(encoding))
    with pytest.raises(CoreCustomersError) as refused:
        read_master_file(path, today=TODAY)
    message = str(refused.value)
    assert "客户名单.csv" in message, message[:300]
    assert "transcoded" not in message, message[:300]
