"""Tiers with reasons, stability and manual overrides (客户分层：原因、稳定性与人工调整).

:func:`assign_tiers` places every customer of the scored customers table in exactly one
tier of a :class:`~corecustomers.segments.policy.TierPolicy`, says why in data and in
words (English and Chinese), and keeps customers near a line from flapping between runs.

How a tier is decided
---------------------
1. **Rules.** The first tier (best first) one of whose rules holds at the *promotion*
   lines; the last tier otherwise (the catch-all).
2. **Band.** A customer whose tier in the previous snapshot is better than that keeps it
   while one of that tier's rules still holds at the *demotion* lines (``exit`` / band;
   see :mod:`~corecustomers.segments.policy`). Promotions are never held back.
3. **Grace.** A customer below every demotion line of their previous tier keeps it during
   the tier's grace period: ``grace_runs`` runs below the line (the current one counted),
   or ``grace_days`` days since the run that first found them below. After that they
   drop to the best lower tier whose demotion line they still meet.
4. **Overrides.** An active manual :class:`Override` wins over all of the above. It is in
   force up to and including its ``until`` date (no date: until removed); an expired one
   is ignored and mentioned in the reasons. Overrides are inputs, kept in a small CSV or
   JSON file (:func:`load_overrides`, :func:`save_overrides`) so they survive reruns.

State carried between runs
--------------------------
``previous`` is the latest snapshot *before* ``as_of`` (one row per customer):

=================  ========  ================================================================
column             type      meaning
=================  ========  ================================================================
``customer_id``    string    required
``tier``           string    required: the tier held (override included)
``tier_since``     date      first run of the current spell in ``tier``
``below_since``    date      first run that found the customer below the demotion line of
                             ``tier`` (null when not below); drives ``grace_days``
``below_runs``     int       consecutive runs below that line (0 when not below); drives
                             ``grace_runs``
``as_of``          date      optional; when present it must be before this run's ``as_of``
=================  ========  ================================================================

Missing optional columns read as null / 0. A previous tier that the policy no longer has
is shown in ``previous_tier`` but gives no band or grace. The output carries the same state
columns, ready to be stored in the snapshot.

Output columns
--------------
The input columns (earlier tier columns replaced) plus: ``tier`` (code), ``tier_label``
(in ``lang``), ``tier_label_en``, ``tier_label_zh``, ``tier_basis`` (``"rule"``,
``"band"``, ``"grace"``, ``"override"`` or ``"default"`` for the catch-all),
``tier_reasons`` (JSON), ``tier_reason_en``, ``tier_reason_zh``, ``previous_tier``,
``tier_since``, ``below_since``, ``below_runs`` and ``policy_version``.

``tier_reasons`` is a JSON list of objects. A condition entry::

    {"tier": "strategic", "rule": "top predicted value", "column": "clv", "op": "<=",
     "threshold": 0.05, "value": 8240.0, "rank_pct": 0.0295, "line": "promotion",
     "met": true}

``rank_pct`` is present for ``rank_pct(...)`` conditions (``threshold`` is then a share);
``line`` is ``"promotion"`` or ``"demotion"``; ``fallback_for`` names the column replaced
by a fallback; ``"available": false`` marks a column that is absent. The catch-all lists
the unmet conditions of the tier above it. Other entries: ``{"rule": "override", "tier",
"by", "reason", "until"}``, ``{"rule": "override expired", ...}`` and ``{"rule": "grace",
"tier", "below_since", "runs_below", "grace_runs" | "grace_days"}``.

Examples
--------
>>> import datetime as dt
>>> import pyarrow as pa
>>> customers = pa.table({
...     "customer_id": ["a", "b", "c"],
...     "clv": [8240.0, 950.0, 120.0],
...     "p_alive": [0.94, 0.80, 0.30],
...     "tenure_days": [1534, 400, 90],
...     "abc_class": ["A", "A", "C"],
... })
>>> out = assign_tiers(customers, as_of=dt.date(2025, 1, 31), currency="¥")
>>> out.column("tier").to_pylist()
['strategic', 'key', 'ordinary']
>>> print(out.column("tier_reason_en")[0])
Strategic: ABC class A, customer for 4.2 years, active with probability 0.94
>>> print(out.column("tier_reason_zh")[2])
普通客户：未达到重点客户标准——预测12个月价值 ¥120（前84%，需前20%）
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.errors import ConfigError, InputError, SourceError
from corecustomers.segments.policy import (
    DEFAULT_POLICY,
    Condition,
    ConditionResult,
    CustomerColumns,
    Format,
    TierPolicy,
    Value,
    evaluate_condition,
)
from corecustomers.segments.schemes import CN8, NAMED, Lang

__all__ = [
    "STATE_COLUMNS",
    "TIER_COLUMNS",
    "Basis",
    "Override",
    "assign_tiers",
    "load_overrides",
    "parse_overrides",
    "save_overrides",
    "split_overrides",
]

logger = logging.getLogger(__name__)

Basis = Literal["rule", "band", "grace", "override", "default"]
"""Why a customer holds their tier: a rule, the band, grace, an override, or the catch-all."""

STATE_COLUMNS: Final = ("customer_id", "tier", "tier_since", "below_since", "below_runs")
"""The columns of the previous snapshot that :func:`assign_tiers` reads."""

TIER_COLUMNS: Final = (
    "tier",
    "tier_label",
    "tier_label_en",
    "tier_label_zh",
    "tier_basis",
    "tier_reasons",
    "tier_reason_en",
    "tier_reason_zh",
    "previous_tier",
    "tier_since",
    "below_since",
    "below_runs",
    "policy_version",
)
"""The columns :func:`assign_tiers` adds (replacing any of the same name)."""

DateArray = NDArray[np.datetime64]
_NAT: Final = np.datetime64("NaT", "D")
_DAYS_PER_YEAR: Final = 365.25


# ------------------------------------------------------------------------------ wording


@dataclass(frozen=True, slots=True)
class _Wording:
    noun_en: str
    noun_zh: str
    fmt: Format
    template_en: str = "{noun} {v}"
    template_zh: str = "{noun} {v}"


_WORDINGS: Final[dict[str, _Wording]] = {
    "clv": _Wording("predicted {h}-month value", "预测{h}个月价值", "money"),
    "total_spend": _Wording("historic spend", "历史消费", "money"),
    "monetary_value": _Wording("average repeat purchase", "平均复购金额", "money"),
    "expected_spend": _Wording("expected spend per purchase", "预计客单价", "money"),
    "expected_purchases": _Wording("expected purchases", "预计购买次数", "number"),
    "p_alive": _Wording(
        "probability of being active", "活跃概率", "probability", "active with probability {v}"
    ),
    "tenure_days": _Wording("time as a customer", "客户时长", "years", "customer for {v}"),
    "days_since_last_purchase": _Wording(
        "days since the last purchase",
        "最近一次消费",
        "days",
        "last purchase {v} ago",
        "最近一次消费在 {v}前",
    ),
    "frequency": _Wording(
        "repeat purchases", "重复购买次数", "count", "{v} repeat purchases", "重复购买 {v} 次"
    ),
    "n_orders": _Wording("orders", "订单数", "count", "{v} orders", "订单 {v} 笔"),
    "r_score": _Wording("R score", "R评分", "count"),
    "f_score": _Wording("F score", "F评分", "count"),
    "m_score": _Wording("M score", "M评分", "count"),
    "rfm_segment": _Wording("RFM segment", "RFM分群", "text"),
    "abc_class": _Wording("ABC class", "ABC分类", "text", "{noun} {v}", "{noun} {v}类"),
    "alert": _Wording("early warning", "流失预警", "flag"),
    "core_score": _Wording("core score", "核心得分", "number"),
    "potential_score": _Wording("potential score", "潜力得分", "number"),
    "influence_score": _Wording("influence score", "影响力得分", "number"),
    "balance": _Wording("account balance", "账户余额", "money"),
    "aum": _Wording("assets under management", "管理资产", "money"),
    "contract_value": _Wording("contract value", "合同金额", "money"),
    "consumption": _Wording("consumption", "用量", "number"),
    "on_time_rate": _Wording("on-time payment rate", "按时缴费率", "percent"),
}
_FLAG_WORDS: Final = {"en": ("yes", "no"), "zh": ("是", "否")}
_OP_EN: Final = {">=": "≥ ", ">": "> ", "<=": "≤ ", "<": "< ", "==": "", "in": "", "not in": "not "}
_OP_ZH: Final = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "为", "in": "为", "not in": "不为"}


def _wording(cond: Condition, horizon: int) -> _Wording:
    known = _WORDINGS.get(cond.source)
    if known is None:
        known = _Wording(cond.source, cond.source, "number")
    fmt = cond.format or known.fmt
    wording = _Wording(
        known.noun_en.replace("{h}", str(horizon)),
        known.noun_zh.replace("{h}", str(horizon)),
        fmt,
        known.template_en,
        known.template_zh,
    )
    for lang in ("en", "zh"):
        label = getattr(cond, f"label_{lang}")
        if label:
            template = label.replace("{value}", "{v}") if "{value}" in label else label + " {v}"
            noun = label.replace("{value}", "").strip()
            wording = (
                _Wording(noun, wording.noun_zh, fmt, template, wording.template_zh)
                if lang == "en"
                else _Wording(wording.noun_en, noun, fmt, wording.template_en, template)
            )
    return wording


def _segment_zh(code: str) -> str:
    for scheme in (NAMED, CN8):
        if code in scheme.codes:
            return scheme.rule(code).label_zh
    return code


def _number(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.2f}"


def _share(x: float) -> str:
    return f"{round(x * 100, 1):g}"


def _fmt(value: Any, fmt: Format, lang: str, currency: str, column: str = "") -> str:
    """One value as the reasons print it; lists join with commas."""
    if isinstance(value, list | tuple):
        sep = "、" if lang == "zh" else ", "
        return sep.join(_fmt(v, fmt, lang, currency, column) for v in value)
    if value is None:
        return "–"
    if isinstance(value, bool | np.bool_) or fmt == "flag":
        yes, no = _FLAG_WORDS[lang]
        return yes if value else no
    if isinstance(value, str):
        return _segment_zh(value) if lang == "zh" and column == "rfm_segment" else value
    x = float(value)
    if not math.isfinite(x):
        return "–"
    if fmt == "money":
        decimals = 0 if abs(x) >= 100 else 2
        sign = "-" if x < 0 and round(abs(x), decimals) else ""
        return f"{sign}{currency}{abs(x):,.{decimals}f}"
    if fmt == "probability":
        return f"{x:.2f}"
    if fmt == "percent":
        return _share(x) + (" %" if lang == "en" else "%")
    if fmt == "years":
        years = x / _DAYS_PER_YEAR
        return f"{years:.1f} years" if lang == "en" else f"{years:.1f} 年"
    if fmt == "days":
        return f"{x:,.0f} days" if lang == "en" else f"{x:,.0f} 天"
    if fmt == "count":
        return _number(round(x, 6))
    return _number(x)


def _top(share: float, lang: str) -> str:
    """A top share as "top 3 %" / "前3%": whole percents, rounded up; tenths below 1 %."""
    pct = round(share * 100, 9)
    shown = math.ceil(pct) if pct >= 1 else math.ceil(pct * 10) / 10
    return f"top {shown:g} %" if lang == "en" else f"前{shown:g}%"


def _rank_line(cond: Condition, threshold: float, lang: str) -> str:
    top = _top(threshold, lang)
    if cond.op in ("<=", "<"):
        return top
    return f"outside the {top}" if lang == "en" else f"{top}以外"


@dataclass(frozen=True, slots=True)
class _Context:
    currency: str
    horizon: int


Mode = Literal["met", "band", "missed", "below"]
_TARGET: Final = {
    "band": ("stays while {}", "保留线{}"),
    "missed": ("needs {}", "需{}"),
    "below": ("needs {} to stay", "保留需{}"),
}
_ALERT_PHRASES: Final = {
    True: ("early warning raised", "已触发流失预警"),
    False: ("no early warning", "未触发流失预警"),
}


def _json_value(value: object) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(value, ensure_ascii=False)


class _Describer:
    """The JSON entries and phrases of one evaluated condition, prepared once per run."""

    def __init__(self, res: ConditionResult, tier: str, rule: str, ctx: _Context) -> None:
        cond = res.used or res.condition
        words = _wording(cond, ctx.horizon)
        self.cond, self.fmt, self.currency = cond, words.fmt, ctx.currency
        self.available = res.used is not None and res.values is not None
        self.values: list[Any] = res.values.tolist() if res.values is not None else []
        self.valid: list[bool] = res.valid.tolist() if res.valid is not None else []
        self.rank: list[float] | None = res.rank.tolist() if res.rank is not None else None
        self.enter: list[bool] = res.enter.tolist()
        self.stay: list[bool] = res.stay.tolist()
        self.templates = (
            words.template_en.replace("{noun}", words.noun_en),
            words.template_zh.replace("{noun}", words.noun_zh),
        )
        self.missing = (f"{words.noun_en} not available", f"无{words.noun_zh}数据")
        self.prefix: dict[str, str] = {}
        self.targets: dict[str, tuple[str, str]] = {}
        for line, threshold in (("promotion", cond.value), ("demotion", res.stay_value)):
            plain = list(threshold) if isinstance(threshold, tuple) else threshold
            head: dict[str, Any] = {"tier": tier, "rule": rule, "column": cond.source}
            head.update(op=cond.op, threshold=plain)
            self.prefix[line] = json.dumps(head, ensure_ascii=False)[:-1]
            if threshold is None:
                continue
            for mode, (en, zh) in _TARGET.items():
                if (line == "promotion") == (mode == "missed"):
                    self.targets[mode] = (
                        en.format(self._target(threshold, "en")),
                        zh.format(self._target(threshold, "zh")),
                    )
        self.fallback: tuple[str, str] | None = None
        self.fallback_json = ""
        if res.fallback_used:
            original = _wording(res.condition, ctx.horizon)
            self.fallback = (
                f"{original.noun_en} not available",
                f"无{original.noun_zh}数据，改用此项",
            )
            self.fallback_json = f', "fallback_for": {json.dumps(res.condition.source)}'

    def _target(self, threshold: Value, lang: str) -> str:
        if self.cond.ranked and not isinstance(threshold, tuple | str | bool):
            top = _top(float(threshold), lang)
            if self.cond.op in ("<=", "<"):
                return top
            return f"outside the {top}" if lang == "en" else f"{top}以外"
        ops = _OP_EN if lang == "en" else _OP_ZH
        return ops[self.cond.op] + _fmt(threshold, self.fmt, lang, self.currency, self.cond.source)

    def describe(self, i: int, mode: Mode) -> tuple[str, str, str]:
        """Customer ``i``'s JSON entry and English and Chinese phrase."""
        line = "promotion" if mode in ("met", "missed") else "demotion"
        if not self.available:
            entry = f'{self.prefix[line]}, "value": null, "line": "{line}", "met": false'
            return entry + ', "available": false}', self.missing[0], self.missing[1]
        value = self.values[i] if self.valid[i] else None
        met = self.enter[i] if line == "promotion" else self.stay[i]
        entry = (
            f'{self.prefix[line]}, "value": {_json_value(value)}, "line": "{line}", '
            f'"met": {"true" if met else "false"}'
        )
        extras_en: list[str] = []
        extras_zh: list[str] = []
        share = self.rank[i] if self.rank is not None else math.nan
        if math.isfinite(share):
            entry += f', "rank_pct": {round(share, 6)!r}'
            extras_en.append(_top(share, "en"))
            extras_zh.append(_top(share, "zh"))
        entry += self.fallback_json + "}"
        if self.cond.source == "alert" and isinstance(value, bool):
            en, zh = _ALERT_PHRASES[value]
        else:
            en = self.templates[0].replace(
                "{v}", _fmt(value, self.fmt, "en", self.currency, self.cond.source)
            )
            zh = self.templates[1].replace(
                "{v}", _fmt(value, self.fmt, "zh", self.currency, self.cond.source)
            )
        if mode != "met" and mode in self.targets:
            extras_en.append(self.targets[mode][0])
            extras_zh.append(self.targets[mode][1])
        if self.fallback is not None:
            extras_en.append(self.fallback[0])
            extras_zh.append(self.fallback[1])
        if extras_en:
            en += f" ({', '.join(extras_en)})"
            zh += f"（{'，'.join(extras_zh)}）"
        return entry, en, zh


# ------------------------------------------------------------------------------ overrides


@dataclass(frozen=True, slots=True)
class Override:
    """A manual tier decision: who set it, why, and until when (inclusive; None = open).

    Examples
    --------
    >>> import datetime as dt
    >>> o = Override("c42", "key", "Li Na", "key account under renegotiation",
    ...              dt.date(2025, 3, 31))
    >>> o.active(dt.date(2025, 3, 31)), o.active(dt.date(2025, 4, 1))
    (True, False)
    """

    customer_id: str
    tier: str
    by: str
    reason: str
    until: dt.date | None = None

    def active(self, as_of: dt.date) -> bool:
        """True while ``as_of`` is on or before ``until`` (always, without ``until``)."""
        return self.until is None or as_of <= self.until

    def to_record(self) -> dict[str, str | None]:
        """A JSON-ready mapping (``until`` as ``YYYY-MM-DD`` or None)."""
        return {
            "customer_id": self.customer_id,
            "tier": self.tier,
            "by": self.by,
            "reason": self.reason,
            "until": self.until.isoformat() if self.until else None,
        }


_OVERRIDE_FIELDS: Final = ("customer_id", "tier", "by", "reason", "until")


def _parse_date(value: object, what: str) -> dt.date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
            try:
                return dt.datetime.strptime(value.strip(), fmt).date()
            except ValueError:
                continue
    raise ValueError(f"{what} {value!r} is not a date; write it as YYYY-MM-DD")


def parse_overrides(
    records: Iterable[Override | Mapping[str, Any]],
    *,
    file: str | None = None,
    first_row: int = 1,
) -> list[Override]:
    """Validate override records (mappings with the fields of :class:`Override`).

    Parameters
    ----------
    records
        :class:`Override` objects or mappings with ``customer_id``, ``tier``, ``by``,
        ``reason`` and optionally ``until`` (a date, ``YYYY-MM-DD``, or empty).
    file, first_row
        Where the records come from, for the messages (row of the first record).

    Returns
    -------
    list of Override

    Raises
    ------
    InputError
        Naming the file, row and field: a missing or empty field, an unknown field, a bad
        date, or a second override for the same customer.

    Examples
    --------
    >>> parse_overrides([{"customer_id": "c1", "tier": "key", "by": "Li Na",
    ...                   "reason": "renegotiation", "until": "2025-03-31"}])[0].until
    datetime.date(2025, 3, 31)
    >>> parse_overrides([{"customer_id": "c1", "tier": "key", "by": "", "reason": "x"}])
    Traceback (most recent call last):
    ...
    corecustomers.errors.InputError: row 1, column 'by': must name who set the override...
    """
    out: list[Override] = []
    seen: dict[str, int] = {}
    for row, record in enumerate(records, start=first_row):
        if isinstance(record, Override):
            record = {k: getattr(record, k) for k in _OVERRIDE_FIELDS}
        if not isinstance(record, Mapping):
            raise InputError(
                f"an override must be a table of fields, got {record!r}", file=file, row=row
            )
        unknown = sorted(set(record) - set(_OVERRIDE_FIELDS))
        if unknown:
            raise InputError(
                f"unknown field(s) {', '.join(map(str, unknown))}; an override has "
                f"{', '.join(_OVERRIDE_FIELDS)}",
                file=file,
                row=row,
            )
        text: dict[str, str] = {}
        for key, what in (
            ("customer_id", "the customer"),
            ("tier", "the tier code"),
            ("by", "who set the override"),
            ("reason", "why"),
        ):
            value = record.get(key)
            if (
                isinstance(value, bool)
                or not isinstance(value, str | int)
                or not str(value).strip()
            ):
                raise InputError(
                    f"must name {what}; it is empty or missing", file=file, row=row, column=key
                )
            text[key] = str(value).strip()
        try:
            until = _parse_date(record.get("until"), "until")
        except ValueError as exc:
            raise InputError(str(exc), file=file, row=row, column="until") from None
        cid = text["customer_id"]
        if cid in seen:
            raise InputError(
                f"customer {cid!r} already has an override in row {seen[cid]}; keep one per "
                "customer",
                file=file,
                row=row,
                column="customer_id",
            )
        seen[cid] = row
        out.append(Override(cid, text["tier"], text["by"], text["reason"], until))
    return out


def load_overrides(path: str | os.PathLike[str]) -> list[Override]:
    """Read overrides from a ``.csv`` (header ``customer_id,tier,by,reason,until``) or a
    ``.json`` file (a list of objects, or ``{"overrides": [...]}``).

    Raises
    ------
    SourceError
        If the file does not exist or cannot be read.
    InputError
        Naming the file and row (the line in a CSV, the entry in JSON) of a bad record.
    ConfigError
        If the file is neither ``.csv`` nor ``.json``.
    """
    file = Path(path)
    suffix = _suffix(file)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SourceError(f"cannot read the overrides file {file}: {exc}") from exc
    if suffix == ".json":
        try:
            data = json.loads(text) if text.strip() else []
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=str(file), row=exc.lineno) from None
        if isinstance(data, Mapping):
            data = data.get("overrides", [])
        if not isinstance(data, list):
            raise InputError("expected a list of overrides", file=str(file))
        return parse_overrides(data, file=str(file))
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [f for f in _OVERRIDE_FIELDS[:4] if f not in header]
    if text.strip() and missing:
        raise InputError(
            f"the header lacks {', '.join(missing)}; write customer_id,tier,by,reason,until",
            file=str(file),
            row=1,
        )
    reader.fieldnames = header
    rows = [
        {k: (v or "") for k, v in row.items() if k is not None}
        for row in reader
        if any((v or "").strip() for v in row.values() if isinstance(v, str))
    ]
    return parse_overrides(rows, file=str(file), first_row=2)


def save_overrides(
    path: str | os.PathLike[str], overrides: Iterable[Override | Mapping[str, Any]]
) -> None:
    """Validate ``overrides`` and write them to a ``.csv`` or ``.json`` file (atomically).

    CSV is written as UTF-8 with a byte-order mark, so spreadsheet programs show Chinese
    text correctly; :func:`load_overrides` reads both files back unchanged.
    """
    file = Path(path)
    suffix = _suffix(file)
    items = parse_overrides(overrides)
    if suffix == ".json":
        body = json.dumps([o.to_record() for o in items], ensure_ascii=False, indent=2) + "\n"
        encoding = "utf-8"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_OVERRIDE_FIELDS, lineterminator="\n")
        writer.writeheader()
        for o in items:
            writer.writerow({k: v or "" for k, v in o.to_record().items()})
        body, encoding = buffer.getvalue(), "utf-8-sig"
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=file.name, suffix=".tmp", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            handle.write(body)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _suffix(file: Path) -> str:
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ConfigError(f"overrides file {file} must end in .csv or .json")
    return suffix


def split_overrides(
    overrides: Iterable[Override], as_of: dt.date
) -> tuple[list[Override], list[Override]]:
    """``(active, expired)`` on ``as_of``.

    Examples
    --------
    >>> o = Override("c1", "key", "Li Na", "x", dt.date(2025, 3, 31))
    >>> [len(part) for part in split_overrides([o], dt.date(2025, 4, 1))]
    [0, 1]
    """
    items = list(overrides)
    return [o for o in items if o.active(as_of)], [o for o in items if not o.active(as_of)]


# ------------------------------------------------------------------------------ assignment


@dataclass(frozen=True, slots=True)
class _Previous:
    tier: NDArray[np.object_]  # previous tier code or None
    index: NDArray[np.int64]  # its position in the policy, -1 if none or unknown
    since: DateArray
    below_since: DateArray
    below_runs: NDArray[np.int64]


def _as_date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise ConfigError(f"as_of must be a date (datetime.date), got {value!r}")


def _customer_ids(table: pa.Table, what: str) -> pa.Array:
    if "customer_id" not in table.column_names:
        raise InputError(f"the {what} table has no customer_id column", column="customer_id")
    ids = table.column("customer_id")
    if ids.null_count:
        raise InputError(
            f"the {what} table has {ids.null_count} missing customer_id(s)", column="customer_id"
        )
    ids = ids.cast(pa.string()).combine_chunks()
    if pc.count_distinct(ids).as_py() != len(ids):
        counts = pc.value_counts(ids)
        repeated = [v["values"] for v in counts.to_pylist() if v["counts"] > 1][:3]
        raise InputError(
            f"the {what} table must have one row per customer; repeated: {repeated}",
            column="customer_id",
        )
    return ids


def _date_column(table: pa.Table, name: str, what: str) -> DateArray:
    if name not in table.column_names:
        return np.full(table.num_rows, _NAT)
    try:
        values = table.column(name).cast(pa.date32()).to_numpy()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InputError(f"the {what} table's {name} must hold dates: {exc}", column=name) from None
    return np.asarray(values, dtype="datetime64[D]")


def _previous(
    previous: pa.Table | None, ids: pa.Array, policy: TierPolicy, day: dt.date
) -> _Previous:
    n = len(ids)
    if previous is None:
        return _Previous(
            np.full(n, None, dtype=object),
            np.full(n, -1, np.int64),
            np.full(n, _NAT),
            np.full(n, _NAT),
            np.zeros(n, np.int64),
        )
    what = "previous snapshot"
    prev_ids = _customer_ids(previous, what)
    if "tier" not in previous.column_names:
        raise InputError("the previous snapshot has no tier column", column="tier")
    if "as_of" in previous.column_names:
        dates = _date_column(previous, "as_of", what)
        if (dates >= np.datetime64(day, "D")).any():
            raise InputError(
                f"the previous snapshot is dated {dates.max()}, not before as_of {day}; pass the "
                "latest snapshot before this run",
                column="as_of",
            )
    pos = np.asarray(pc.index_in(ids, value_set=prev_ids).fill_null(-1).to_numpy(), np.int64)
    found = pos >= 0
    take = np.where(found, pos, 0)

    def pick(values: NDArray[Any], empty: Any) -> NDArray[Any]:
        if not len(values):
            return np.full(n, empty, dtype=values.dtype)
        return np.where(found, values[take], empty)

    tiers = np.asarray(previous.column("tier").cast(pa.string()).to_pylist(), dtype=object)
    tier = pick(tiers, None)
    codes = {code: j for j, code in enumerate(policy.codes)}
    index = np.fromiter((codes.get(t, -1) if t is not None else -1 for t in tier), np.int64, n)
    unknown = sorted({t for t in tier[(index < 0)].tolist() if t is not None})
    if unknown:
        logger.info(
            "previous tier(s) %s are not in policy %s: no band or grace for them",
            unknown,
            policy.policy_version,
        )
    runs = np.zeros(previous.num_rows, np.int64)
    if "below_runs" in previous.column_names:
        runs = np.asarray(
            previous.column("below_runs").cast(pa.int64()).fill_null(0).to_numpy(), np.int64
        )
    return _Previous(
        tier,
        index,
        pick(_date_column(previous, "tier_since", what), _NAT),
        pick(_date_column(previous, "below_since", what), _NAT),
        pick(runs, 0),
    )


@dataclass(frozen=True, slots=True, eq=False)
class _RuleResult:
    tier: int
    name: str
    match: str
    conditions: tuple[ConditionResult, ...]
    enter: NDArray[np.bool_]
    stay: NDArray[np.bool_]


def _evaluate(policy: TierPolicy, columns: CustomerColumns) -> list[list[_RuleResult]]:
    out: list[list[_RuleResult]] = []
    for t, tier in enumerate(policy.tiers):
        rules: list[_RuleResult] = []
        for rule in tier.rules:
            results = tuple(
                evaluate_condition(c, columns, band=policy.band) for c in rule.conditions
            )
            combine = np.logical_and.reduce if rule.match == "all" else np.logical_or.reduce
            enter = np.asarray(combine([r.enter for r in results]), dtype=bool)
            stay = np.asarray(combine([r.stay for r in results]), dtype=bool) | enter
            rules.append(_RuleResult(t, rule.name, rule.match, results, enter, stay))
        out.append(rules)
    return out


def assign_tiers(
    customers: pa.Table,
    policy: TierPolicy | None = None,
    *,
    previous: pa.Table | None = None,
    overrides: Sequence[Override | Mapping[str, Any]] | None = None,
    as_of: dt.date,
    currency: str = "",
    lang: Lang = "en",
    horizon_months: int = 12,
) -> pa.Table:
    """Place every customer in one tier, with reasons, band, grace and overrides.

    Parameters
    ----------
    customers
        The scored customers table (one row per ``customer_id``; ``docs/CONTRACTS.md``).
    policy
        The tier policy; None uses :data:`~corecustomers.segments.policy.DEFAULT_POLICY`.
    previous
        The latest snapshot before ``as_of`` (see "State carried between runs"), or None on
        a first run.
    overrides
        Manual overrides (:class:`Override` or mappings); active ones win, expired ones
        are ignored and mentioned in the reasons.
    as_of
        The date of this run.
    currency
        Currency symbol for money in the reasons, e.g. ``"¥"``.
    lang
        Language of the ``tier_label`` column (``"en"`` or ``"zh"``).
    horizon_months
        The horizon of ``clv``, for the wording ("predicted 12-month value").

    Returns
    -------
    pyarrow.Table
        ``customers`` with the columns of :data:`TIER_COLUMNS`.

    Raises
    ------
    ConfigError
        A column the policy requires is missing, a condition does not fit its column's
        type, an override names a tier the policy does not have, or ``as_of`` is no date.
    InputError
        A customers or previous table without ``customer_id`` or with repeated ids, or a
        previous snapshot dated on or after ``as_of``.
    """
    policy = policy or DEFAULT_POLICY
    day = _as_date(as_of)
    today = np.datetime64(day, "D")
    lang_key = "zh" if str(lang).startswith("zh") else "en"
    ids = _customer_ids(customers, "customers")
    n = len(ids)
    policy.check_columns(customers.column_names)
    rules = _evaluate(policy, CustomerColumns(customers))
    k = len(policy.tiers)
    enter = np.ones((k, n), dtype=bool)
    stay = np.ones((k, n), dtype=bool)
    for t in range(k - 1):
        enter[t] = np.logical_or.reduce([r.enter for r in rules[t]])
        stay[t] = np.logical_or.reduce([r.stay for r in rules[t]]) | enter[t]

    # 1. rules  2. band  3. grace
    natural = np.argmax(enter, axis=0).astype(np.int64)
    tier = natural.copy()
    basis = np.where(natural == k - 1, "default", "rule").astype(object)
    below_since = np.full(n, _NAT)
    below_runs = np.zeros(n, np.int64)
    prev = _previous(previous, ids, policy, day)
    cols = np.arange(n)
    down = (prev.index >= 0) & (natural > prev.index)
    prev_idx = np.where(prev.index >= 0, prev.index, 0)
    held = down & stay[prev_idx, cols]
    tier[held] = prev.index[held]
    basis[held] = "band"
    fell = down & ~held
    if fell.any():
        carried = ~np.isnat(prev.below_since)
        since = np.where(carried, prev.below_since, today)
        runs = np.where(carried, prev.below_runs + 1, 1)
        grace = np.array([policy.grace(code) for code in policy.codes], dtype=np.int64)
        g_runs, g_days = grace[prev_idx, 0], grace[prev_idx, 1]
        waited = (today - since).astype(np.int64)
        in_grace = fell & (((g_runs > 0) & (runs <= g_runs)) | ((g_days > 0) & (waited < g_days)))
        tier[in_grace] = prev.index[in_grace]
        basis[in_grace] = "grace"
        below_since[in_grace] = since[in_grace]
        below_runs[in_grace] = runs[in_grace]
        dropped = fell & ~in_grace
        lower = np.arange(k)[:, None] > prev.index[None, :]
        landing = np.argmax(stay & lower, axis=0)
        tier[dropped] = landing[dropped]
        land_enter = enter[landing, cols]
        basis[dropped] = np.where(
            landing == k - 1, "default", np.where(land_enter, "rule", "band")
        )[dropped]

    # 4. overrides
    active: dict[int, Override] = {}
    expired: dict[int, Override] = {}
    if overrides:
        position = {cid: i for i, cid in enumerate(ids.to_pylist())}
        for o in parse_overrides(overrides):
            i = position.get(o.customer_id)
            if i is None:
                logger.info("override for %s ignored: no such customer", o.customer_id)
                continue
            if not o.active(day):
                expired[i] = o
                continue
            try:
                t = policy.index(o.tier)
            except ConfigError as exc:
                raise ConfigError(
                    f"override for customer {o.customer_id!r} (by {o.by}): {exc}"
                ) from None
            active[i] = o
            tier[i] = t
            basis[i] = "override"
            below_since[i] = _NAT
            below_runs[i] = 0
        if expired:
            logger.info("%d expired override(s) ignored on %s", len(expired), day)

    codes = np.asarray(policy.codes, dtype=object)[tier]
    same = (prev.tier == codes) & ~np.isnat(prev.since)
    tier_since = np.where(same, prev.since, today)

    ctx = _Context(currency, horizon_months)
    reasons, en, zh = _reasons(
        policy, rules, tier, basis, below_since, below_runs, active, expired, ctx
    )
    labels = {lang: [t.label(lang) for t in policy.tiers] for lang in ("en", "zh")}
    new = {
        "tier": pa.array(codes.tolist(), pa.string()),
        "tier_label": pa.array([labels[lang_key][t] for t in tier.tolist()], pa.string()),
        "tier_label_en": pa.array([labels["en"][t] for t in tier.tolist()], pa.string()),
        "tier_label_zh": pa.array([labels["zh"][t] for t in tier.tolist()], pa.string()),
        "tier_basis": pa.array(basis.tolist(), pa.string()),
        "tier_reasons": pa.array(reasons, pa.string()),
        "tier_reason_en": pa.array(en, pa.string()),
        "tier_reason_zh": pa.array(zh, pa.string()),
        "previous_tier": pa.array(prev.tier.tolist(), pa.string()),
        "tier_since": pa.array(tier_since, pa.date32(), mask=np.isnat(tier_since)),
        "below_since": pa.array(below_since, pa.date32(), mask=np.isnat(below_since)),
        "below_runs": pa.array(below_runs, pa.int64()),
        "policy_version": pa.array([policy.policy_version] * n, pa.string()),
    }
    table = customers.drop_columns([c for c in TIER_COLUMNS if c in customers.column_names])
    for name, column in new.items():
        table = table.append_column(name, column)
    return table


def _reasons(
    policy: TierPolicy,
    rules: list[list[_RuleResult]],
    tier: NDArray[np.int64],
    basis: NDArray[np.object_],
    below_since: DateArray,
    below_runs: NDArray[np.int64],
    active: Mapping[int, Override],
    expired: Mapping[int, Override],
    ctx: _Context,
) -> tuple[list[str], list[str], list[str]]:
    describers: dict[tuple[int, int, int], _Describer] = {}

    def describer(t: int, r: int, c: int) -> _Describer:
        key = (t, r, c)
        if key not in describers:
            rule = rules[t][r]
            describers[key] = _Describer(rule.conditions[c], policy.tiers[t].code, rule.name, ctx)
        return describers[key]

    out_json: list[str] = []
    out_en: list[str] = []
    out_zh: list[str] = []
    for i, (t, why) in enumerate(zip(tier.tolist(), basis.tolist(), strict=True)):
        current = policy.tiers[t]
        entries: list[str] = []
        en_head, zh_head = current.label_en, current.label_zh
        en_parts: list[str] = []
        zh_parts: list[str] = []
        if why == "override":
            o = active[i]
            until = o.until.isoformat() if o.until else None
            entries.append(
                _dumps(
                    {
                        "tier": o.tier,
                        "rule": "override",
                        "by": o.by,
                        "reason": o.reason,
                        "until": until,
                    }
                )
            )
            en_head += f": override by {o.by} " + (f"until {until}" if until else "(no end date)")
            zh_head += f"：{o.by} 人工指定" + (f"，有效至 {until}" if until else "（无截止日期）")
            en_parts.append(o.reason)
            zh_parts.append(o.reason)
        elif why == "default":
            above = policy.tiers[t - 1]
            en_head += f": below the line for {above.label_en} —"
            zh_head += f"：未达到{above.label_zh}标准——"
            for r, rule in enumerate(rules[t - 1]):
                for c, res in enumerate(rule.conditions):
                    if res.enter[i]:
                        continue
                    entry, p_en, p_zh = describer(t - 1, r, c).describe(i, "missed")
                    entries.append(entry)
                    if r == 0:
                        en_parts.append(p_en)
                        zh_parts.append(p_zh)
        else:
            if why == "band":
                en_head += " (kept within the band)"
                zh_head += "（缓冲区内保留）"
            elif why == "grace":
                en_extra, zh_extra, entry_ = _grace(
                    policy, current.code, below_since[i], int(below_runs[i])
                )
                en_head += en_extra
                zh_head += zh_extra
                entries.append(entry_)
            first = True
            for r, rule in enumerate(rules[t]):
                if (why == "rule" and not rule.enter[i]) or (why == "band" and not rule.stay[i]):
                    continue
                for c, res in enumerate(rule.conditions):
                    mode = _mode(why, res, i)
                    if mode is None:
                        continue
                    entry, p_en, p_zh = describer(t, r, c).describe(i, mode)
                    entries.append(entry)
                    if first:
                        en_parts.append(p_en)
                        zh_parts.append(p_zh)
                first = False
        if i in expired:
            o = expired[i]
            until = o.until.isoformat() if o.until else ""
            entries.append(
                _dumps(
                    {
                        "tier": o.tier,
                        "rule": "override expired",
                        "by": o.by,
                        "reason": o.reason,
                        "until": until,
                    }
                )
            )
            en_parts.append(f"override by {o.by} expired after {until}")
            zh_parts.append(f"{o.by} 的人工指定已于 {until} 到期")
        sep_en = " " if en_head.endswith("—") else ": "
        sep_zh = "" if zh_head.endswith("——") else "："
        out_en.append(en_head + (sep_en + ", ".join(en_parts) if en_parts else ""))
        out_zh.append(zh_head + (sep_zh + "，".join(zh_parts) if zh_parts else ""))
        out_json.append("[" + ", ".join(entries) + "]")
    return out_json, out_en, out_zh


def _dumps(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False)


def _grace(
    policy: TierPolicy, code: str, below_since: np.datetime64, runs_below: int
) -> tuple[str, str, str]:
    since = str(below_since)
    runs, days = policy.grace(code)
    entry: dict[str, Any] = {
        "tier": code,
        "rule": "grace",
        "below_since": since,
        "runs_below": runs_below,
    }
    if runs:
        entry["grace_runs"] = runs
        en = f" (grace period: below the line since {since}, run {runs_below} of {runs})"
        zh = f"（宽限期：自 {since} 起低于保留线，第 {runs_below}/{runs} 次）"
    else:
        entry["grace_days"] = days
        ends = str(below_since + np.timedelta64(days, "D"))
        en = f" (grace period: below the line since {since}, until {ends})"
        zh = f"（宽限期：自 {since} 起低于保留线，宽限至 {ends}）"
    return en, zh, _dumps(entry)


def _mode(why: str, res: ConditionResult, i: int) -> Mode | None:
    """How to show a condition of the tier held: None to leave out (unmet in an ``any``)."""
    if why == "rule":
        return "met" if res.enter[i] else None
    if why == "band":
        if res.enter[i]:
            return "met"
        return "band" if res.stay[i] else None
    return None if res.stay[i] else "below"
