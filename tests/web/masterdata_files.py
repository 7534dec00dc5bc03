"""Master-data files for the import tests: good rows with every field, and bad rows of
every kind at known row numbers (header = row 1)."""

from __future__ import annotations

import contextlib
import csv
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENGLISH = {
    "external_id": "customer_id",
    "name": "name",
    "company": "company",
    "phone": "phone",
    "email": "email",
    "birthday": "birthday",
    "region": "region",
    "industry": "industry",
    "owner": "owner",
    "team": "team",
    "relationship": "relationship",
    "notes": "notes",
}
CHINESE = {
    "external_id": "会员号",
    "name": "姓名",
    "company": "公司",
    "phone": "手机",
    "email": "邮箱",
    "birthday": "出生日期",
    "region": "地区",
    "industry": "行业",
    "owner": "客户经理",
    "team": "团队",
    "relationship": "关系级别",
    "notes": "备注",
}

#: The kinds of bad row, in turn: (code, field, the bad value).
BAD_KINDS: tuple[tuple[str, str, str], ...] = (
    ("missing_id", "external_id", ""),
    ("placeholder_id", "external_id", "N/A"),
    ("bad_email", "email", "li.na@"),
    ("bad_phone", "phone", "call me"),
    ("bad_birthday", "birthday", "17.5.1980x"),
    ("bad_birthday", "birthday", "2999-01-01"),
    ("unknown_owner", "owner", "nobody"),
    ("bad_relationship", "relationship", "best friend"),
    ("duplicate_id", "external_id", "<dup>"),
    ("placeholder_id", "external_id", "NULL"),
    ("unknown_team", "team", "Narnia"),
)
SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = "伟芳娜敏静丽强磊军洋"
RELATIONS_EN = ("vendor", "partner", "alliance")
RELATIONS_ZH = ("卖主", "伙伴", "战略联盟")


@dataclass
class MasterData:
    """Rows (by field) and the expected bad rows ``{row number: code}``."""

    rows: list[dict[str, str]]
    bad: dict[int, str]

    @property
    def good(self) -> list[dict[str, str]]:
        return [row for number, row in enumerate(self.rows, start=2) if number not in self.bad]


def make_master_data(
    n: int,
    *,
    seed: int = 7,
    bad_share: float = 0.05,
    chinese_values: bool = False,
    prefix: str = "C",
) -> MasterData:
    """``n`` rows, ``bad_share`` of them bad (the kinds in :data:`BAD_KINDS` in turn)."""
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    for i in range(n):
        name = (
            rng.choice(SURNAMES) + rng.choice(GIVEN) if chinese_values or i % 2 else f"Customer {i}"
        )
        rows.append(
            {
                "external_id": f"{prefix}{i:06d}",
                "name": name,
                "company": f"Company {i % 97}",
                "phone": f"+86 138-{rng.randrange(10_000_000):08d}" if i % 3 else f"1{i:010d}",
                "email": f"user{i}@example.com",
                "birthday": (
                    f"{1950 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}"
                    if i % 4
                    else f"{1950 + i % 50}年{1 + i % 12}月{1 + i % 28}日"
                ),
                "region": ("east", "west", "north")[i % 3],
                "industry": ("retail", "finance", "制造业")[i % 3],
                "owner": ("am1", "am2", "")[i % 3],
                "team": ("East", "West", "")[i % 3],
                "relationship": (RELATIONS_ZH if chinese_values else RELATIONS_EN)[i % 3],
                "notes": "" if i % 5 else f"note {i}, with a comma",
            }
        )
    n_bad = round(n * bad_share)
    step = n // max(n_bad, 1)
    bad: dict[int, str] = {}
    for k in range(n_bad):
        index = 3 + k * step  # never the first rows: a duplicate needs an earlier row
        if index >= n:
            break
        code, field, value = BAD_KINDS[k % len(BAD_KINDS)]
        if value == "<dup>":
            value = rows[index - 1]["external_id"]
        rows[index][field] = value
        bad[index + 2] = code
    return MasterData(rows, bad)


def write_csv(
    data: MasterData,
    path: Path,
    *,
    headers: dict[str, str] = ENGLISH,
    encoding: str = "utf-8",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([headers[f] for f in ENGLISH])
        for row in data.rows:
            writer.writerow([row[f] for f in ENGLISH])
    return path


def write_excel(data: MasterData, path: Path, *, headers: dict[str, str] = ENGLISH) -> Path:
    import datetime as dt

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([headers[f] for f in ENGLISH])
    for row in data.rows:
        values: list[Any] = []
        for f in ENGLISH:
            value: Any = row[f]
            if f == "birthday" and value[:4].isdigit() and value[4:5] == "-":
                with contextlib.suppress(ValueError):
                    value = dt.date.fromisoformat(value)  # a real date cell
            values.append(value if value != "" else None)
        sheet.append(values)
    book.save(path)
    return path
