"""The demo customers' master data: who the members of the demo chain are.

:func:`generate_demo_people` gives one row per member found in the demo transactions
(:func:`corecustomers.data.demo.generate_demo`), so that master data and analysis
meet on the member id as they do in a real business: the member's name as the till
knows it (Chinese or English), a mobile number, an e-mail address at a reserved example
domain, a birthday, for most of them an employer (Chinese or English company names) and
its industry, and the region of the store the member buys at most (华东, 华北, 华南, 西南,
华中). :func:`write_demo_people_csv` writes it as a CRM export looks: Chinese headers,
UTF-8 with a byte-order mark.

Deterministic: the same transactions and seed always give the same table.

Examples
--------
>>> from corecustomers.data.demo import generate_demo
>>> people = generate_demo_people(generate_demo(n_customers=200, seed=1), seed=1)
>>> people.column_names
['customer_id', 'name', 'company', 'phone', 'email', 'birthday', 'region', 'industry']
>>> people.num_rows == len(set(people["customer_id"].to_pylist()))
True
>>> sorted(set(people["region"].to_pylist()))
['华东', '华中', '华北', '华南', '西南']
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from collections import Counter
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from corecustomers.data.atomic import replacing

__all__ = [
    "PEOPLE_COLUMNS",
    "PEOPLE_CSV_HEADERS",
    "REGIONS",
    "generate_demo_people",
    "write_demo_people_csv",
]

PEOPLE_COLUMNS: Final = (
    "customer_id",
    "name",
    "company",
    "phone",
    "email",
    "birthday",
    "region",
    "industry",
)
"""Columns of :func:`generate_demo_people`, in order."""

PEOPLE_CSV_HEADERS: Final = {
    "customer_id": "会员号",
    "name": "姓名",
    "company": "公司",
    "phone": "手机",
    "email": "邮箱",
    "birthday": "生日",
    "region": "地区",
    "industry": "行业",
}
"""The Chinese header :func:`write_demo_people_csv` writes for each column."""

#: The region of each demo store (Chinese and English store names), by city.
REGIONS: Final = {
    "上海": "华东",
    "杭州": "华东",
    "南京": "华东",
    "苏州": "华东",
    "北京": "华北",
    "深圳": "华南",
    "广州": "华南",
    "成都": "西南",
    "武汉": "华中",
    "Shanghai": "华东",
    "Hangzhou": "华东",
    "Nanjing": "华东",
    "Suzhou": "华东",
    "Beijing": "华北",
    "Shenzhen": "华南",
    "Guangzhou": "华南",
    "Chengdu": "西南",
    "Wuhan": "华中",
}
_REGION_SHARE: Final = {"华东": 0.4, "华北": 0.2, "华南": 0.2, "西南": 0.1, "华中": 0.1}

# Industry (zh), Chinese company suffix, English company suffix.
_INDUSTRIES: Final = (
    ("信息技术", "科技有限公司", "Technology Co., Ltd."),
    ("贸易", "贸易有限公司", "Trading Co., Ltd."),
    ("设计", "设计工作室", "Design Studio"),
    ("法律", "律师事务所", "Law Offices"),
    ("医疗", "医疗管理有限公司", "Healthcare Group"),
    ("咨询", "咨询有限公司", "Consulting"),
    ("教育", "教育科技有限公司", "Education"),
    ("金融", "投资管理有限公司", "Capital Partners"),
    ("建筑", "建筑设计院", "Architects"),
    ("传媒", "文化传媒有限公司", "Media"),
)


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRMS_ZH: Final = _words("明德 华信 远航 嘉禾 中科 恒通 星辰 博远 新丰 天成 瑞丰 凯旋 锦程 汇智")
_FIRMS_EN: Final = _words(
    "Brightway Northstar Bluepeak Evergreen Harbor Summit Lakeside Redwood Silverline "
    "Westbridge Clearwater Goldleaf"
)
_CITIES_ZH: Final = {"华东": "上海", "华北": "北京", "华南": "深圳", "西南": "成都", "华中": "武汉"}
_MOBILE_PREFIXES: Final = _words(
    "133 135 136 137 138 139 150 151 152 155 157 158 159 166 176 177 180 "
    "181 182 183 185 186 187 188 189 191 198 199"
)
_DOMAINS: Final = ("example.com", "example.cn", "example.net", "example.org")


def _member_rows(transactions: pa.Table) -> tuple[list[str], list[str], list[str]]:
    """Each member's id, name and most frequent store, sorted by id."""
    members = transactions.filter(pc.is_valid(transactions["customer_id"]))
    counts = members.group_by(["customer_id", "customer_name", "store"]).aggregate(
        [("store", "count")]
    )
    name: dict[str, str] = {}
    stores: dict[str, Counter[str]] = {}
    for row in counts.to_pylist():
        cid = str(row["customer_id"])
        name.setdefault(cid, str(row["customer_name"] or ""))
        stores.setdefault(cid, Counter())[str(row["store"] or "")] += int(row["store_count"])
    ids = sorted(name)
    home = [
        min(stores[cid].items(), key=lambda item: (-item[1], item[0]))[0] if stores[cid] else ""
        for cid in ids
    ]
    return ids, [name[cid] for cid in ids], home


def _region(store: str) -> str | None:
    return next((region for city, region in REGIONS.items() if store.startswith(city)), None)


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def generate_demo_people(
    transactions: pa.Table, *, seed: int = 7, as_of: _dt.date = _dt.date(2024, 12, 31)
) -> pa.Table:
    """Master data for every member in ``transactions`` (see the module docstring).

    Parameters
    ----------
    transactions
        :func:`corecustomers.data.demo.generate_demo`'s table (``customer_id``,
        ``customer_name`` and ``store`` are used; rows without a member id are ignored).
    seed
        Random seed.
    as_of
        The date ages are counted to (members are 20 to 65 years old then).

    Returns
    -------
    pyarrow.Table
        :data:`PEOPLE_COLUMNS`, one row per member, sorted by member id. ``company`` and
        ``industry`` are empty for the members who gave no employer; about 10 % gave no
        birthday (null).
    """
    ids, names, home = _member_rows(transactions)
    n = len(ids)
    rng = np.random.default_rng([seed, 20_240_901])
    regions = list(_REGION_SHARE)
    drawn = rng.choice(len(regions), n, p=list(_REGION_SHARE.values())).tolist()
    region = [_region(store) or regions[drawn[i]] for i, store in enumerate(home)]

    prefix = rng.integers(0, len(_MOBILE_PREFIXES), n).tolist()
    line = rng.integers(0, 100_000_000, n).tolist()
    phone = [f"{_MOBILE_PREFIXES[prefix[i]]}{line[i]:08d}" for i in range(n)]

    age_days = rng.integers(20 * 365, 65 * 365, n).tolist()
    no_birthday = (rng.random(n) < 0.1).tolist()
    birthday = [
        None if no_birthday[i] else as_of - _dt.timedelta(days=int(age_days[i])) for i in range(n)
    ]

    employed = (rng.random(n) < 0.65).tolist()
    industry_of = rng.integers(0, len(_INDUSTRIES), n).tolist()
    firm = rng.integers(0, 1_000, n).tolist()
    company: list[str] = []
    industry: list[str] = []
    for i in range(n):
        if not employed[i]:
            company.append("")
            industry.append("")
            continue
        zh, suffix_zh, suffix_en = _INDUSTRIES[industry_of[i]]
        industry.append(zh)
        if _is_chinese(names[i]):
            city = _CITIES_ZH[region[i]]
            company.append(f"{city}{_FIRMS_ZH[firm[i] % len(_FIRMS_ZH)]}{suffix_zh}")
        else:
            company.append(f"{_FIRMS_EN[firm[i] % len(_FIRMS_EN)]} {suffix_en}")

    domain = rng.integers(0, len(_DOMAINS), n).tolist()
    email = []
    for i in range(n):
        local = (
            ids[i].lower()
            if _is_chinese(names[i]) or not names[i]
            else ".".join(names[i].lower().split()) + ids[i][-3:]
        )
        email.append(f"{local}@{_DOMAINS[domain[i]]}")

    return pa.table(
        {
            "customer_id": pa.array(ids, pa.string()),
            "name": pa.array(names, pa.string()),
            "company": pa.array(company, pa.string()),
            "phone": pa.array(phone, pa.string()),
            "email": pa.array(email, pa.string()),
            "birthday": pa.array(birthday, pa.date32()),
            "region": pa.array(region, pa.string()),
            "industry": pa.array(industry, pa.string()),
        }
    )


def write_demo_people_csv(path: str | Path, people: pa.Table) -> int:
    """Write ``people`` (:func:`generate_demo_people`) with Chinese headers; rows written.

    UTF-8 with a byte-order mark, CRLF line ends; birthdays as ``1985-03-07``. The file is
    replaced whole or not at all.
    """
    target = Path(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([PEOPLE_CSV_HEADERS[c] for c in PEOPLE_COLUMNS])
    for row in people.select(list(PEOPLE_COLUMNS)).to_pylist():
        writer.writerow(["" if row[c] is None else str(row[c]) for c in PEOPLE_COLUMNS])
    with replacing(target, prefix=f".{target.name}.") as temporary:
        temporary.write_text(buffer.getvalue(), encoding="utf-8-sig", newline="")
    return people.num_rows
