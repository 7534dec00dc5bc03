"""Conditions (条件): one comparison of a customer column with a threshold, and its evaluation.

A :class:`Condition` is ``column op value`` with a promotion line (``value``), a demotion
line (``exit`` or ``value`` moved by a band) and an optional fallback for an absent column;
:mod:`~corecustomers.segments.policy` explains the rules and the ``[tiers]`` keys that
build one. This module holds

* :class:`Condition` -- the comparison and its lines;
* :func:`rank_pct` -- the tie-aware top share behind ``rank_pct(COLUMN)``;
* :class:`CustomerColumns`, :func:`evaluate_condition`, :class:`ConditionResult` -- typed,
  cached access to a customers table and who is over each line;
* the wording of a condition's column and values in the tier reasons (private helpers for
  :mod:`~corecustomers.segments.tiers`).

Tier policies (:mod:`~corecustomers.segments.policy`) and playbooks
(:mod:`~corecustomers.segments.playbook`) are built from these conditions; the names are
also importable from :mod:`corecustomers.segments.policy`.

Examples
--------
>>> import pyarrow as pa
>>> cond = Condition("rank_pct(total_spend)", "<=", 0.5, band=0.2)
>>> cond.stay_value()
0.6
>>> table = pa.table({"total_spend": [10.0, 30.0, 20.0, None]})
>>> res = evaluate_condition(cond, CustomerColumns(table))
>>> res.enter.tolist(), res.rank.tolist()
([False, True, True, False], [0.8333333333333334, 0.16666666666666666, 0.5, nan])
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.errors import ConfigError
from corecustomers.segments.schemes import CN8, NAMED

__all__ = [
    "OP_EN",
    "OP_ZH",
    "Condition",
    "ConditionResult",
    "CustomerColumns",
    "Format",
    "Op",
    "Scalar",
    "Value",
    "Wording",
    "condition_wording",
    "evaluate_condition",
    "format_value",
    "format_values",
    "is_number",
    "rank_pct",
    "top_phrase",
    "top_phrases",
]

Op = Literal[">=", ">", "<=", "<", "==", "in", "not in"]
"""The comparison of a condition."""
Format = Literal[
    "money", "probability", "percent", "years", "days", "count", "number", "text", "flag"
]
"""How the reasons print a column's values."""
Scalar = int | float | str | bool
Value = Scalar | tuple[Scalar, ...]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_OPS: Final = get_args(Op)
_ORDERING: Final = (">=", ">", "<=", "<")
_FORMATS: Final = get_args(Format)
_RANK = re.compile(r"^rank_pct\(\s*(-?)\s*([^()\s][^()]*?)\s*\)$")
_SIGNIFICANT: Final = 12

_DAYS_PER_YEAR: Final = 365.25


def is_number(value: object) -> bool:
    """Whether ``value`` is a finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _kind_of(value: Scalar) -> str:
    if isinstance(value, bool):
        return "flag"
    return "text" if isinstance(value, str) else "number"


def _round(x: float) -> float:
    return float(f"{x:.{_SIGNIFICANT}g}")


@dataclass(frozen=True, slots=True)
class Condition:
    """One comparison ``column op value``, with its demotion line and fallback.

    Parameters
    ----------
    column
        A column name, or ``rank_pct(COLUMN)`` / ``rank_pct(-COLUMN)`` for the top share.
    op
        ``>=``, ``>``, ``<=``, ``<``, ``==``, ``in`` or ``not in``.
    value
        The promotion line: a number (0..1 for a rank), a text or true/false; a tuple for
        ``in`` / ``not in``.
    exit
        The demotion line (same ``op``), never stricter than ``value``; None derives it
        from ``band``.
    band
        Relative band for this condition (0 <= band < 1); None uses the policy's.
    fallback
        The condition used when ``column`` is absent (it cannot have its own fallback).
    label_en, label_zh
        How the reasons name the column (``{value}`` is replaced by the value).
    format
        How the reasons print the values; None picks one from the column name.

    Raises
    ------
    ConfigError
        If the parts do not fit together; the message names the key.
    """

    column: str
    op: Op
    value: Value
    exit: Value | None = None
    band: float | None = None
    fallback: Condition | None = None
    label_en: str = ""
    label_zh: str = ""
    format: Format | None = None
    _parsed: tuple[str, bool, bool] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column.strip():
            raise ConfigError(f"key 'column' must be a column name, got {self.column!r}")
        match = _RANK.match(self.column.strip())
        parsed = (
            (match.group(2), True, bool(match.group(1)))
            if match
            else (self.column.strip(), False, False)
        )
        object.__setattr__(self, "_parsed", parsed)
        if self.op not in _OPS:
            raise ConfigError(f"key 'op' must be one of {', '.join(_OPS)}; got {self.op!r}")
        if isinstance(self.value, list):
            object.__setattr__(self, "value", tuple(self.value))
        if isinstance(self.exit, list):
            object.__setattr__(self, "exit", tuple(self.exit))
        self._check_value(self.value, "value")
        if self.exit is not None and self.band is not None:
            raise ConfigError("give either 'exit' or 'band', not both")
        if self.exit is not None:
            self._check_value(self.exit, "exit")
            self._check_exit()
        if self.band is not None:
            if not is_number(self.band) or not 0.0 <= self.band < 1.0:
                raise ConfigError(
                    f"key 'band' must be a number from 0 to below 1, got {self.band!r}"
                )
            if self.op not in _ORDERING:
                raise ConfigError(f"key 'band' applies to >=, >, <=, < only, not to {self.op!r}")
        if self.fallback is not None and self.fallback.fallback is not None:
            raise ConfigError("a fallback cannot have its own fallback")
        if self.format is not None and self.format not in _FORMATS:
            raise ConfigError(
                f"key 'format' must be one of {', '.join(_FORMATS)}; got {self.format!r}"
            )
        for key in ("label_en", "label_zh"):
            if not isinstance(getattr(self, key), str):
                raise ConfigError(f"key {key!r} must be a text")

    def _check_value(self, value: object, key: str) -> None:
        if self.op in ("in", "not in"):
            items = value if isinstance(value, tuple) else ()
            ok = all(is_number(v) or isinstance(v, str | bool) for v in items)
            if not items or not ok or len({_kind_of(v) for v in items}) != 1:
                raise ConfigError(
                    f"key {key!r} must be a non-empty list of numbers, texts or true/false "
                    f"(one kind) for op {self.op!r}, got {_plain(cast(Value, value))!r}"
                )
        elif self.op == "==":
            if not (is_number(value) or isinstance(value, str | bool)):
                raise ConfigError(f"key {key!r} must be a number, a text or true/false")
        elif not is_number(value):
            raise ConfigError(f"key {key!r} must be a number for op {self.op!r}, got {value!r}")
        if self.ranked and self.op in _ORDERING and not 0.0 <= float(cast(float, value)) <= 1.0:
            raise ConfigError(f"key {key!r} of a rank_pct condition is a share from 0 to 1")

    def _check_exit(self) -> None:
        value, exit_ = self.value, self.exit
        if self.op == "==":
            raise ConfigError("'exit' needs an ordering op or 'in'; write op = 'in' with lists")
        if self.op in _ORDERING:
            lenient = float(cast(float, exit_)) - float(cast(float, value))
            if self.op in (">=", ">") and lenient > 0:
                raise ConfigError(
                    f"'exit' ({exit_}) must not be above 'value' ({value}) for {self.op}"
                )
            if self.op in ("<=", "<") and lenient < 0:
                raise ConfigError(
                    f"'exit' ({exit_}) must not be below 'value' ({value}) for {self.op}"
                )
            return
        given, out = set(cast(tuple[Scalar, ...], value)), set(cast(tuple[Scalar, ...], exit_))
        if {_kind_of(v) for v in given | out} != {_kind_of(next(iter(given)))}:
            raise ConfigError("'exit' must list the same kind of values as 'value'")
        if self.op == "in" and not given <= out:
            raise ConfigError("'exit' of an 'in' condition must include every entry of 'value'")
        if self.op == "not in" and not out <= given:
            raise ConfigError("'exit' of a 'not in' condition must be part of 'value'")

    @property
    def ranked(self) -> bool:
        """True for a ``rank_pct(...)`` column."""
        return self._parsed[1]

    @property
    def source(self) -> str:
        """The table column the condition reads (inside ``rank_pct(...)`` for a rank)."""
        return self._parsed[0]

    @property
    def ascending(self) -> bool:
        """True for ``rank_pct(-COLUMN)``: lower values rank better."""
        return self._parsed[2]

    def stay_value(self, band: float = 0.0) -> Value:
        """The demotion line: ``exit``, else ``value`` moved by the band (see the module)."""
        if self.exit is not None:
            return self.exit
        if self.op not in _ORDERING:
            return self.value
        width = self.band if self.band is not None else band
        value = float(cast(float, self.value))
        if not width:
            return self.value
        shift = width * abs(value)
        line = value - shift if self.op in (">=", ">") else value + shift
        if self.ranked:
            line = min(max(line, 0.0), 1.0)
        return _round(line)

    def to_config(self) -> dict[str, Any]:
        """The condition as a TOML-ready mapping (the inverse of the parser)."""
        out: dict[str, Any] = {"column": self.column, "op": self.op, "value": _plain(self.value)}
        if self.exit is not None:
            out["exit"] = _plain(self.exit)
        if self.band is not None:
            out["band"] = self.band
        if self.fallback is not None:
            out["fallback"] = self.fallback.to_config()
        for key in ("label_en", "label_zh", "format"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


def _plain(value: Value) -> Scalar | list[Scalar]:
    return list(value) if isinstance(value, tuple) else value


# ---------------------------------------------------------------------------- evaluation


def rank_pct(values: Any, *, ascending: bool = False) -> FloatArray:
    """Each value's top share: ``(higher values + half the equal values) / valid values``.

    Near 0 is best. Ties share one rank and the result does not depend on the order of
    the values. Missing (NaN) and infinite values get NaN and are not counted.

    Parameters
    ----------
    values
        Numbers, one per customer.
    ascending
        Rank lower values as better.

    Returns
    -------
    numpy.ndarray of float64

    Examples
    --------
    >>> rank_pct([5.0, 1.0, 3.0, 3.0, float("nan")]).tolist()
    [0.125, 0.875, 0.5, 0.5, nan]
    >>> rank_pct([5.0, 1.0], ascending=True).tolist()
    [0.75, 0.25]
    """
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    out = np.full(len(x), np.nan)
    ok = np.isfinite(x)
    n = int(ok.sum())
    if n == 0:
        return out
    keyed = x[ok] if ascending else -x[ok]
    _, inverse, counts = np.unique(keyed, return_inverse=True, return_counts=True)
    better = np.cumsum(counts) - counts
    out[ok] = ((better + counts / 2.0) / n)[inverse.reshape(-1)]
    return out


@dataclass(frozen=True, slots=True)
class _Column:
    kind: str  # "number", "text", "flag" or the arrow type for anything else
    values: NDArray[Any]
    valid: BoolArray


class CustomerColumns:
    """Typed access to the columns of a customers table for conditions; ranks are cached.

    Numbers (any integer, float or decimal type) become float64 with NaN for missing;
    texts an object array with None; booleans a bool array. A column that is absent or
    entirely missing reads as None.
    """

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.n = table.num_rows
        self._columns: dict[str, _Column | None] = {}
        self._ranks: dict[tuple[str, bool], FloatArray] = {}

    def column(self, name: str) -> _Column | None:
        """The column ``name``, or None when absent or all missing."""
        if name not in self._columns:
            self._columns[name] = self._read(name)
        return self._columns[name]

    def _read(self, name: str) -> _Column | None:
        if name not in self.table.column_names:
            return None
        col = self.table.column(name)
        if self.n and col.null_count == self.n:
            return None
        kind = col.type
        if pa.types.is_dictionary(kind):
            col = col.cast(kind.value_type)
            kind = kind.value_type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            values = np.asarray(col.cast(pa.float64()).to_numpy(), dtype=np.float64)
            valid = np.isfinite(values)
            if self.n and not valid.any():
                return None
            return _Column("number", np.where(valid, values, np.nan), valid)
        valid = np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)
        if pa.types.is_boolean(kind):
            flags = np.asarray(col.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
            return _Column("flag", flags, valid)
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return _Column("text", np.asarray(col.to_pylist(), dtype=object), valid)
        return _Column(str(kind), np.asarray(col.to_pylist(), dtype=object), valid)

    def rank(self, name: str, *, ascending: bool = False) -> FloatArray:
        """``rank_pct`` of the numeric column ``name`` (which must be present)."""
        key = (name, ascending)
        if key not in self._ranks:
            col = self.column(name)
            if col is None or col.kind != "number":
                raise ConfigError(
                    f"rank_pct({name}) needs a numeric column {name!r} with values; "
                    f"fix the condition or the column"
                )
            self._ranks[key] = rank_pct(col.values, ascending=ascending)
        return self._ranks[key]


@dataclass(frozen=True, slots=True, eq=False)
class ConditionResult:
    """One condition evaluated on a table: what was read and who is over each line.

    ``used`` is the condition actually evaluated -- the condition itself, its fallback, or
    None when neither column exists (then ``enter`` and ``stay`` are all False). ``values``
    are the raw values of ``used.source``, ``rank`` the top shares for a rank condition.
    """

    condition: Condition
    used: Condition | None
    values: NDArray[Any] | None
    valid: BoolArray | None
    rank: FloatArray | None
    enter: BoolArray
    stay: BoolArray
    stay_value: Value | None

    @property
    def fallback_used(self) -> bool:
        """True when the fallback was evaluated instead of the condition."""
        return self.used is not None and self.used is not self.condition


def _compare(subject: NDArray[Any], op: str, value: Value) -> BoolArray:
    if op in ("in", "not in"):
        allowed = set(cast(tuple[Scalar, ...], value))
        hit = np.fromiter((v in allowed for v in subject.tolist()), dtype=bool, count=len(subject))
        return ~hit if op == "not in" else hit
    if op == "==":
        return np.asarray(subject == value, dtype=bool)
    v = float(cast(float, value))
    if op == ">=":
        return np.asarray(subject >= v, dtype=bool)
    if op == ">":
        return np.asarray(subject > v, dtype=bool)
    if op == "<=":
        return np.asarray(subject <= v, dtype=bool)
    return np.asarray(subject < v, dtype=bool)


def _value_kind(cond: Condition) -> str:
    first = cond.value[0] if isinstance(cond.value, tuple) else cond.value
    return "number" if cond.op in _ORDERING else _kind_of(first)


def evaluate_condition(
    condition: Condition, columns: CustomerColumns, *, band: float = 0.0
) -> ConditionResult:
    """Evaluate ``condition`` (or its fallback) on ``columns`` at both lines.

    Raises
    ------
    ConfigError
        If the column's type cannot be compared with the condition's value (a text column
        with a number, a rank over texts...).
    """
    used: Condition | None = condition
    col = columns.column(condition.source)
    if col is None and condition.fallback is not None:
        used = condition.fallback
        col = columns.column(used.source)
    if col is None or used is None:
        none = np.zeros(columns.n, dtype=bool)
        return ConditionResult(condition, None, None, None, None, none, none, None)
    want = "number" if used.ranked else _value_kind(used)
    if col.kind != want:
        raise ConfigError(
            f"condition '{used.column} {used.op} {_plain(used.value)!r}' needs a {want} column, "
            f"but {used.source!r} holds {col.kind} values; fix the condition or the column"
        )
    rank = columns.rank(used.source, ascending=used.ascending) if used.ranked else None
    subject = rank if rank is not None else col.values
    valid = np.isfinite(rank) if rank is not None else col.valid
    stay_value = used.stay_value(band)
    with np.errstate(invalid="ignore"):
        enter = _compare(subject, used.op, used.value) & valid
        stay = (_compare(subject, used.op, stay_value) & valid) | enter
    return ConditionResult(condition, used, col.values, col.valid, rank, enter, stay, stay_value)


# ------------------------------------------------------------------------------ wording


@dataclass(frozen=True, slots=True)
class Wording:
    """A column's noun and value templates in English and Chinese, and its format."""

    noun_en: str
    noun_zh: str
    fmt: Format
    template_en: str = "{noun} {v}"
    template_zh: str = "{noun} {v}"


_WORDINGS: Final[dict[str, Wording]] = {
    "clv": Wording("predicted {h}-month value", "预测{h}个月价值", "money"),
    "total_spend": Wording("historic spend", "历史消费", "money"),
    "monetary_value": Wording("average repeat purchase", "平均复购金额", "money"),
    "expected_spend": Wording("expected spend per purchase", "预计客单价", "money"),
    "expected_purchases": Wording("expected purchases", "预计购买次数", "number"),
    "p_alive": Wording(
        "probability of being active", "活跃概率", "probability", "active with probability {v}"
    ),
    "tenure_days": Wording("time as a customer", "客户时长", "years", "customer for {v}"),
    "days_since_last_purchase": Wording(
        "days since the last purchase",
        "最近一次消费",
        "days",
        "last purchase {v} ago",
        "最近一次消费在 {v}前",
    ),
    "frequency": Wording(
        "repeat purchases", "重复购买次数", "count", "{v} repeat purchases", "重复购买 {v} 次"
    ),
    "n_orders": Wording("orders", "订单数", "count", "{v} orders", "订单 {v} 笔"),
    "r_score": Wording("R score", "R评分", "count"),
    "f_score": Wording("F score", "F评分", "count"),
    "m_score": Wording("M score", "M评分", "count"),
    "rfm_segment": Wording("RFM segment", "RFM分群", "text"),
    "abc_class": Wording("ABC class", "ABC分类", "text", "{noun} {v}", "{noun} {v}类"),
    "alert": Wording("early warning", "流失预警", "flag"),
    "core_score": Wording("core score", "核心得分", "number"),
    "potential_score": Wording("potential score", "潜力得分", "number"),
    "influence_score": Wording("influence score", "影响力得分", "number"),
    "balance": Wording("account balance", "账户余额", "money"),
    "aum": Wording("assets under management", "管理资产", "money"),
    "contract_value": Wording("contract value", "合同金额", "money"),
    "consumption": Wording("consumption", "用量", "number"),
    "on_time_rate": Wording("on-time payment rate", "按时缴费率", "percent"),
}
_FLAG_WORDS: Final = {"en": ("yes", "no"), "zh": ("是", "否")}
OP_EN: Final = {">=": "≥ ", ">": "> ", "<=": "≤ ", "<": "< ", "==": "", "in": "", "not in": "not "}
OP_ZH: Final = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "为", "in": "为", "not in": "不为"}
"""How the reasons print each comparison before a value, in English and Chinese."""


def condition_wording(cond: Condition, horizon: int) -> Wording:
    """How the reasons name ``cond``'s column and print its values, in English and Chinese."""
    known = _WORDINGS.get(cond.source)
    if known is None:
        known = Wording(cond.source, cond.source, "number")
    fmt = cond.format or known.fmt
    wording = Wording(
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
                Wording(noun, wording.noun_zh, fmt, template, wording.template_zh)
                if lang == "en"
                else Wording(wording.noun_en, noun, fmt, wording.template_en, template)
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


def format_value(value: Any, fmt: Format, lang: str, currency: str, column: str = "") -> str:
    """One value as the reasons print it; lists join with commas."""
    if isinstance(value, list | tuple):
        sep = "、" if lang == "zh" else ", "
        return sep.join(format_value(v, fmt, lang, currency, column) for v in value)
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


def top_phrase(share: float, lang: str) -> str:
    """A top share as "top 3 %" / "前3%": whole percents, rounded up; tenths below 1 %."""
    pct = round(share * 100, 9)
    shown = math.ceil(pct) if pct >= 1 else math.ceil(pct * 10) / 10
    return f"top {shown:g} %" if lang == "en" else f"前{shown:g}%"


def format_values(
    values: NDArray[Any],
    valid: BoolArray,
    fmt: Format,
    lang: str,
    currency: str,
    column: str = "",
) -> NDArray[np.object_]:
    """:func:`format_value` of every value (``None`` where not ``valid``), column-wise.

    Numbers in the formats ``money``, ``probability``, ``years``, ``days``, ``number``
    (and whole ``count`` values) are formatted with NumPy's string operations
    (:mod:`~corecustomers.segments.phrases`), which give exactly the text of the Python
    format specs :func:`format_value` uses; every other value (texts, flags, percents,
    numbers of 10^15 and more) goes through :func:`format_value` once per distinct value.

    >>> format_values(np.array([1234.5, 12.0, np.nan]), np.array([True, True, False]),
    ...               "money", "en", "¥").tolist()
    ['¥1,234', '¥12.00', '–']
    """
    from corecustomers.segments.phrases import fixed, grouped

    n = len(values)
    out = np.full(n, "–", dtype=object)
    if values.dtype.kind != "f" or fmt in ("percent", "flag"):
        cache: dict[Any, str] = {}
        for i in np.flatnonzero(valid).tolist():
            v = values[i]
            v = v.item() if isinstance(v, np.generic) else v
            key = (type(v), v, isinstance(v, float) and math.copysign(1.0, v) < 0)  # -0.0
            if key not in cache:
                cache[key] = format_value(v, fmt, lang, currency, column)
            out[i] = cache[key]
        return out
    x = np.asarray(values, dtype=np.float64)
    ok = np.asarray(valid, dtype=bool) & np.isfinite(x)
    slow = ok & (np.abs(x) >= 1e15)
    whole = np.floor(x) == x
    if fmt == "count":
        slow |= ok & ~whole
    fast = np.flatnonzero(ok & ~slow)
    v = x[fast]
    if fmt == "money":
        big = np.abs(v) >= 100
        text = np.empty(len(v), dtype=object)
        text[big] = grouped(np.abs(v[big]), 0)
        text[~big] = grouped(np.abs(v[~big]), 2)
        minus = (v < 0) & (text != "0.00")
        out[fast] = np.where(minus, "-", "").astype(object) + currency + text
    elif fmt == "probability":
        out[fast] = fixed(v, 2).astype(object)
    elif fmt == "years":
        unit = " years" if lang == "en" else " 年"
        out[fast] = fixed(v / _DAYS_PER_YEAR, 1).astype(object) + unit
    elif fmt == "days":
        unit = " days" if lang == "en" else " 天"
        out[fast] = grouped(v, 0).astype(object) + unit
    else:  # count (whole values here) and every other format: _number
        w = whole[fast]
        text = np.empty(len(v), dtype=object)
        text[w] = grouped(v[w], 0)
        text[~w] = grouped(v[~w], 2)
        out[fast] = text
    for i in np.flatnonzero(slow).tolist():
        out[i] = format_value(float(x[i]), fmt, lang, currency, column)
    return out


def top_phrases(shares: FloatArray, lang: str) -> NDArray[np.object_]:
    """:func:`top_phrase` of every finite share, column-wise; ``None`` where not finite.

    The rounding up is done in NumPy; shares within 1e-6 (in percent) of a step, where
    NumPy's and Python's rounding of ``share * 100`` to 9 decimals could disagree, go
    through :func:`top_phrase` itself.

    >>> top_phrases(np.array([0.0295, 0.004, np.nan]), "en").tolist()
    ['top 3 %', 'top 0.4 %', None]
    """
    x = np.asarray(shares, dtype=np.float64)
    out = np.full(len(x), None, dtype=object)
    ok = np.isfinite(x)
    pct = x * 100
    steps = np.where(pct >= 1, pct, pct * 10)
    near = ok & ((np.abs(steps - np.rint(steps)) < 1e-6) | (np.abs(pct - 1) < 1e-6))
    fast = np.flatnonzero(ok & ~near)
    p = pct[fast]
    # whole percents from 1, tenths below: the step as an integer count of tenths
    tenths = np.where(p >= 1, np.ceil(p) * 10, np.ceil(p * 10)).astype(np.int64)
    words = np.empty(int(tenths.max()) + 1 if len(tenths) else 0, dtype=object)
    for t in np.flatnonzero(np.bincount(tenths)).tolist():  # shares are in [0, 1]: few steps
        shown = t // 10 if t >= 10 else t / 10  # what top_phrase's ceil gives, int or float
        words[t] = f"top {shown:g} %" if lang == "en" else f"前{shown:g}%"
    out[fast] = words[tenths]
    for i in np.flatnonzero(near).tolist():
        out[i] = top_phrase(float(x[i]), lang)
    return out


def _rank_line(cond: Condition, threshold: float, lang: str) -> str:
    top = top_phrase(threshold, lang)
    if cond.op in ("<=", "<"):
        return top
    return f"outside the {top}" if lang == "en" else f"{top}以外"
