"""The tier reasons, built column-wise (issue 8, item 4).

:func:`reason_columns` writes ``tier_reasons`` (JSON), ``tier_reason_en`` and
``tier_reason_zh`` for every customer of :func:`~corecustomers.segments.tiers.assign_tiers`
(the wording is described there). It does not walk the customers one by one: the customers
are grouped by what their reason says -- their tier, why they hold it and, per condition
of the tier, whether and how it is shown -- and each group's texts are templates applied
to arrays: the values are formatted by :func:`~corecustomers.segments.conditions.format_values`
and :func:`~corecustomers.segments.conditions.top_phrases`, and the pieces joined with
Arrow's ``binary_join_element_wise``. Only the customers with a manual override, active or
expired (a handful, entered by hand), get a part of their reason in a Python loop.

The texts are exactly those of the customer-by-customer version this replaced
(``tests/segments/test_tier_reasons_columnwise.py`` compares them with a plain reference).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.segments.conditions import (
    OP_EN,
    OP_ZH,
    ConditionResult,
    Value,
    condition_wording,
    format_value,
    format_values,
    top_phrase,
    top_phrases,
)
from corecustomers.segments.overrides import Override
from corecustomers.segments.phrases import join_present, json_values
from corecustomers.segments.policy import TierPolicy

__all__ = ["ReasonContext", "RuleOutcome", "reason_columns"]

IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]
DateArray = NDArray[np.datetime64]

Mode = Literal["met", "band", "missed", "below"]
_MODES: Final[tuple[Mode, ...]] = ("met", "band", "missed", "below")
_PHRASE: Final = 8  # added to a mode's code when the condition is in the sentence
_TARGET: Final = {
    "band": ("stays while {}", "保留线{}"),
    "missed": ("needs {}", "需{}"),
    "below": ("needs {} to stay", "保留需{}"),
}
#: Customers whose reason texts are written at once (see :func:`reason_columns`).
BLOCK_CUSTOMERS: Final = 1 << 17

_ALERT_PHRASES: Final = {
    True: ("early warning raised", "已触发流失预警"),
    False: ("no early warning", "未触发流失预警"),
}


@dataclass(frozen=True, slots=True)
class ReasonContext:
    """What the wording needs beyond the policy: the currency and the CLV horizon."""

    currency: str
    horizon: int


class RuleOutcome(Protocol):
    """One evaluated rule of a tier (``tiers._RuleResult``)."""

    @property
    def name(self) -> str: ...
    @property
    def conditions(self) -> tuple[ConditionResult, ...]: ...
    @property
    def enter(self) -> BoolArray: ...
    @property
    def stay(self) -> BoolArray: ...


def _text(values: NDArray[Any] | Sequence[str]) -> pa.Array:
    return pa.array(values, pa.string())


def _join(*parts: pa.Array | str) -> pa.Array:
    """Row by row, the parts (arrays or constants) concatenated; at least one array."""
    return pc.binary_join_element_wise(*parts, "")


def _rank_json(shares: NDArray[np.float64]) -> pa.Array:
    """``', "rank_pct": '`` and ``repr(round(share, 6))`` where finite, else ``""``."""
    from corecustomers.segments.phrases import fixed

    out = np.full(len(shares), "", dtype=object)
    ok = np.isfinite(shares)
    if ok.any():
        six = fixed(shares[ok], 6)
        stripped = np.char.rstrip(six, "0")
        text = np.where(np.char.endswith(stripped, "."), np.char.add(stripped, "0"), stripped)
        rounded = text.astype(np.float64)
        small = (rounded != 0) & (np.abs(rounded) < 1e-4)  # repr writes these with an exponent
        if small.any():
            text = text.astype(object)
            text[small] = [repr(round(float(v), 6)) for v in shares[ok][small]]
        out[ok] = np.char.add(', "rank_pct": ', text.astype(str)).astype(object)
    return _text(out)


class ConditionText:
    """The JSON entries and phrases of one evaluated condition, for many customers at once."""

    def __init__(self, res: ConditionResult, tier: str, rule: str, ctx: ReasonContext) -> None:
        cond = res.used or res.condition
        words = condition_wording(cond, ctx.horizon)
        self.cond, self.fmt, self.currency = cond, words.fmt, ctx.currency
        self.res = res
        self.available = res.used is not None and res.values is not None
        self.templates = (
            words.template_en.replace("{noun}", words.noun_en).split("{v}"),
            words.template_zh.replace("{noun}", words.noun_zh).split("{v}"),
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
            original = condition_wording(res.condition, ctx.horizon)
            self.fallback = (
                f"{original.noun_en} not available",
                f"无{original.noun_zh}数据，改用此项",
            )
            self.fallback_json = f', "fallback_for": {json.dumps(res.condition.source)}'

    def _target(self, threshold: Value, lang: str) -> str:
        if self.cond.ranked and not isinstance(threshold, tuple | str | bool):
            top = top_phrase(float(threshold), lang)
            if self.cond.op in ("<=", "<"):
                return top
            return f"outside the {top}" if lang == "en" else f"{top}以外"
        ops = OP_EN if lang == "en" else OP_ZH
        return ops[self.cond.op] + format_value(
            threshold, self.fmt, lang, self.currency, self.cond.source
        )

    def describe(self, rows: IntArray, mode: Mode) -> tuple[pa.Array, pa.Array, pa.Array]:
        """The JSON entry and the English and Chinese phrase of the customers ``rows``."""
        m = len(rows)
        line = "promotion" if mode in ("met", "missed") else "demotion"
        if not self.available:
            entry = f'{self.prefix[line]}, "value": null, "line": "{line}", "met": false'
            return (
                pa.repeat(entry + ', "available": false}', m).cast(pa.string()),
                pa.repeat(self.missing[0], m).cast(pa.string()),
                pa.repeat(self.missing[1], m).cast(pa.string()),
            )
        res = self.res
        if res.values is None or res.valid is None:
            raise RuntimeError("an available condition has values")
        values, valid = res.values[rows], res.valid[rows]
        met = (res.enter if line == "promotion" else res.stay)[rows]
        shares = res.rank[rows] if res.rank is not None else np.full(m, math.nan)
        entry = _join(
            self.prefix[line] + ', "value": ',
            json_values(values, valid),
            f', "line": "{line}", "met": ',
            _text(np.where(met, "true", "false")),
            _rank_json(shares),
            self.fallback_json + "}",
        )
        target = self.targets.get(mode) if mode != "met" else None
        phrases = []
        # numbers in these formats read the same in both languages: format them once
        same = values.dtype.kind == "f" and self.fmt not in ("percent", "years", "days", "flag")
        shown_en = format_values(values, valid, self.fmt, "en", self.currency, self.cond.source)
        for k, lang in enumerate(("en", "zh")):
            before, *after = self.templates[k]
            shown = (
                shown_en
                if k == 0 or same
                else format_values(values, valid, self.fmt, lang, self.currency, self.cond.source)
            )
            text = shown.astype(object)
            if len(after):
                text = before + text
                for piece in after[:-1]:
                    text = text + piece + shown
                text = text + after[-1]
            else:  # a template without {v}: the same text for everyone
                text = np.full(m, before, dtype=object)
            if self.cond.source == "alert" and values.dtype.kind == "b":
                flagged = np.asarray(values, dtype=bool)
                text = np.where(valid, np.where(flagged, *_alert(k)), text)
            extras = [_text(top_phrases(shares, lang))]
            if target is not None:
                extras.append(pa.repeat(target[k], m).cast(pa.string()))
            if self.fallback is not None:
                extras.append(pa.repeat(self.fallback[k], m).cast(pa.string()))
            joined = join_present(extras, ", " if lang == "en" else "，")
            open_, close = (" (", ")") if lang == "en" else ("（", "）")
            wrapped = pc.fill_null(_join(open_, joined, close), "")
            phrases.append(_join(_text(text), wrapped))
        return entry, phrases[0], phrases[1]


def _alert(k: int) -> tuple[str, str]:
    return _ALERT_PHRASES[True][k], _ALERT_PHRASES[False][k]


def _dumps(entry: Mapping[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False)


def _grace_heads(
    policy: TierPolicy, code: str, below_since: DateArray, runs_below: IntArray
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """The grace period's heads (English, Chinese) and JSON entries, column-wise."""
    since = np.datetime_as_string(below_since, unit="D").astype(object)
    runs_text = runs_below.astype(str).astype(object)
    runs, days = policy.grace(code)
    head = f'{{"tier": {json.dumps(code, ensure_ascii=False)}, "rule": "grace", "below_since": "'
    if runs:
        en = " (grace period: below the line since " + since + ", run " + runs_text
        en = en + f" of {runs})"
        zh = "（宽限期：自 " + since + " 起低于保留线，第 " + runs_text + f"/{runs} 次）"
        entry = head + since + '", "runs_below": ' + runs_text + f', "grace_runs": {runs}}}'
    else:
        ends = np.datetime_as_string(below_since + np.timedelta64(days, "D"), unit="D")
        ends = ends.astype(object)
        en = " (grace period: below the line since " + since + ", until " + ends + ")"
        zh = "（宽限期：自 " + since + " 起低于保留线，宽限至 " + ends + "）"
        entry = head + since + '", "runs_below": ' + runs_text + f', "grace_days": {days}}}'
    return _text(en), _text(zh), _text(entry)


def _override_reason(o: Override, label_en: str, label_zh: str) -> tuple[str, str, str]:
    until = o.until.isoformat() if o.until else None
    entry = _dumps(
        {"tier": o.tier, "rule": "override", "by": o.by, "reason": o.reason, "until": until}
    )
    en = label_en + f": override by {o.by} " + (f"until {until}" if until else "(no end date)")
    zh = label_zh + f"：{o.by} 人工指定" + (f"，有效至 {until}" if until else "（无截止日期）")
    return entry, en + ": " + o.reason, zh + "：" + o.reason


def _expired_reason(o: Override) -> tuple[str, str, str]:
    until = o.until.isoformat() if o.until else ""
    entry = _dumps(
        {"tier": o.tier, "rule": "override expired", "by": o.by, "reason": o.reason, "until": until}
    )
    return entry, f"override by {o.by} expired after {until}", f"{o.by} 的人工指定已于 {until} 到期"


def reason_columns(
    policy: TierPolicy,
    rules: Sequence[Sequence[RuleOutcome]],
    tier: IntArray,
    basis: NDArray[np.object_],
    below_since: DateArray,
    below_runs: IntArray,
    active: Mapping[int, Override],
    expired: Mapping[int, Override],
    ctx: ReasonContext,
) -> tuple[pa.ChunkedArray, pa.ChunkedArray, pa.ChunkedArray]:
    """``tier_reasons``, ``tier_reason_en`` and ``tier_reason_zh`` of every customer.

    ``rules[t]`` are the evaluated rules of tier ``t``; ``tier``, ``basis``,
    ``below_since`` and ``below_runs`` the assignment; ``active`` and ``expired`` the
    overrides by customer position. The texts are written :data:`BLOCK_CUSTOMERS`
    customers at a time (one chunk each), so that the NumPy, Python and Arrow strings a
    block goes through are freed before the next: the working set is a block's, not a
    copy of every customer's texts per step (1M customers: 0.9 GB above the start).
    """
    n = len(tier)
    texts: dict[tuple[int, int, int], ConditionText] = {}

    def text_of(t: int, r: int, c: int) -> ConditionText:
        if (t, r, c) not in texts:
            rule = rules[t][r]
            texts[t, r, c] = ConditionText(rule.conditions[c], policy.tiers[t].code, rule.name, ctx)
        return texts[t, r, c]

    is_expired = np.zeros(n, dtype=bool)
    is_expired[np.fromiter(expired, dtype=np.int64, count=len(expired))] = True
    chunks: tuple[list[pa.Array], list[pa.Array], list[pa.Array]] = ([], [], [])
    for start in range(0, n, BLOCK_CUSTOMERS):
        block = np.arange(start, min(n, start + BLOCK_CUSTOMERS), dtype=np.int64)
        parts: list[tuple[IntArray, pa.Array, pa.Array, pa.Array]] = []
        for i, o in active.items():
            if not start <= i < start + len(block):
                continue
            current = policy.tiers[int(tier[i])]
            entry, en, zh = _override_reason(o, current.label_en, current.label_zh)
            if i in expired:
                e_entry, e_en, e_zh = _expired_reason(expired[i])
                entry, en, zh = entry + ", " + e_entry, en + ", " + e_en, zh + "，" + e_zh
            row = np.array([i], dtype=np.int64)
            parts.append((row, _text(["[" + entry + "]"]), _text([en]), _text([zh])))
        tiers, bases = tier[block], basis[block]
        for why in ("rule", "band", "grace", "default"):
            for t in np.unique(tiers[bases == why]).tolist():
                rows = block[(tiers == t) & (bases == why)]
                parts.extend(
                    _group(
                        policy,
                        rules,
                        text_of,
                        t,
                        why,
                        rows,
                        below_since,
                        below_runs,
                        is_expired,
                        expired,
                    )
                )
        where = np.concatenate([p[0] for p in parts])
        if len(where) != len(block):
            raise RuntimeError("every customer gets one reason")
        order = pa.array(np.argsort(where, kind="stable"))
        for k, out in enumerate(chunks, start=1):
            out.append(pa.concat_arrays([p[k] for p in parts]).take(order))
    reasons, en, zh = (pa.chunked_array(c, pa.string()) for c in chunks)
    return reasons, en, zh


def _group(
    policy: TierPolicy,
    rules: Sequence[Sequence[RuleOutcome]],
    text_of: Any,
    t: int,
    why: str,
    rows: IntArray,
    below_since: DateArray,
    below_runs: IntArray,
    is_expired: BoolArray,
    expired: Mapping[int, Override],
) -> list[tuple[IntArray, pa.Array, pa.Array, pa.Array]]:
    """The reasons of the customers ``rows``, who hold tier ``t`` on the basis ``why``."""
    current = policy.tiers[t]
    u = t - 1 if why == "default" else t  # whose conditions are described
    slots: list[tuple[int, int]] = []
    codes: list[NDArray[np.int8]] = []
    if why == "default":
        for r, rule in enumerate(rules[u]):
            for c, res in enumerate(rule.conditions):
                code = _code("missed") + (_PHRASE if r == 0 else 0)
                slots.append((r, c))
                codes.append(np.where(res.enter[rows], 0, code).astype(np.int8))
    else:
        shown = [
            rule.enter[rows] if why == "rule" else rule.stay[rows] if why == "band" else None
            for rule in rules[u]
        ]
        included = np.stack(
            [np.ones(len(rows), bool) if s is None else s for s in shown]
            or [np.zeros(len(rows), bool)]
        )
        first = np.where(included.any(axis=0), np.argmax(included, axis=0), -1)
        for r, rule in enumerate(rules[u]):
            for c, res in enumerate(rule.conditions):
                enter, stay = res.enter[rows], res.stay[rows]
                if why == "rule":
                    mode = np.where(enter, _code("met"), 0)
                elif why == "band":
                    mode = np.where(enter, _code("met"), np.where(stay, _code("band"), 0))
                else:
                    mode = np.where(stay, 0, _code("below"))
                mode = np.where(included[r], mode, 0)
                phrase = np.where((first == r) & (mode > 0), _PHRASE, 0)
                slots.append((r, c))
                codes.append((mode + phrase).astype(np.int8))
    distinct, inverse = _signatures(codes, is_expired[rows])

    head_en, head_zh = current.label_en, current.label_zh
    grace: tuple[pa.Array, pa.Array, pa.Array] | None = None
    if why == "default":
        above = policy.tiers[t - 1]
        head_en += f": below the line for {above.label_en} —"
        head_zh += f"：未达到{above.label_zh}标准——"
    elif why == "band":
        head_en += " (kept within the band)"
        head_zh += "（缓冲区内保留）"
    elif why == "grace":
        grace = _grace_heads(policy, current.code, below_since[rows], below_runs[rows])
    sep_en = " " if why != "grace" and head_en.endswith("—") else ": "
    sep_zh = "" if why != "grace" and head_zh.endswith("——") else "："

    out = []
    for j, key in enumerate(distinct):
        pick = np.flatnonzero(inverse == j)
        members = rows[pick]
        m = len(members)
        entries: list[pa.Array] = []
        en_parts: list[pa.Array] = []
        zh_parts: list[pa.Array] = []
        if grace is not None:
            entries.append(grace[2].take(pa.array(pick)))
        for (r, c), code in zip(slots, key[:-1], strict=True):
            if code == 0:
                continue
            entry, p_en, p_zh = text_of(u, r, c).describe(members, _MODES[(code % _PHRASE) - 1])
            entries.append(entry)
            if code >= _PHRASE:
                en_parts.append(p_en)
                zh_parts.append(p_zh)
        if key[-1]:  # an expired override, mentioned last
            words = [_expired_reason(expired[i]) for i in members.tolist()]
            entries.append(_text([w[0] for w in words]))
            en_parts.append(_text([w[1] for w in words]))
            zh_parts.append(_text([w[2] for w in words]))
        if grace is not None:
            en_head: pa.Array | str = _join(head_en, grace[0].take(pa.array(pick)))
            zh_head: pa.Array | str = _join(head_zh, grace[1].take(pa.array(pick)))
        else:
            en_head, zh_head = head_en, head_zh
        body = (
            pc.binary_join_element_wise(*entries, ", ")
            if entries
            else pa.repeat("", m).cast(pa.string())
        )
        reasons = _join("[", body, "]")
        en = _join(en_head, sep_en, *_list(en_parts, ", ")) if en_parts else _repeat(en_head, m)
        zh = _join(zh_head, sep_zh, *_list(zh_parts, "，")) if zh_parts else _repeat(zh_head, m)
        out.append((members, reasons, en, zh))
    return out


def _signatures(
    codes: list[NDArray[np.int8]], expired: BoolArray
) -> tuple[list[list[int]], IntArray]:
    """The distinct rows of (slot codes..., expired flag) and each customer's row number.

    Up to 15 slots are packed four bits each into one integer per customer (a sort of
    integers); more go through NumPy's row-wise ``unique``.
    """
    if len(codes) <= 15:
        packed = expired.astype(np.int64)
        for code in codes:
            packed = packed * 16 + code
        values, inverse = np.unique(packed, return_inverse=True)
        n = len(codes)
        distinct = [
            [(v >> (4 * (n - 1 - s))) & 15 for s in range(n)] + [v >> (4 * n)]
            for v in values.tolist()
        ]
        return distinct, inverse.reshape(-1).astype(np.int64)
    stacked = np.stack([*codes, expired.astype(np.int8)], axis=1)
    rows, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return rows.tolist(), inverse.reshape(-1).astype(np.int64)


def _code(mode: Mode) -> int:
    return _MODES.index(mode) + 1


def _list(parts: list[pa.Array], separator: str) -> list[pa.Array]:
    return [pc.binary_join_element_wise(*parts, separator)]


def _repeat(head: pa.Array | str, m: int) -> pa.Array:
    return head if isinstance(head, pa.Array) else pa.repeat(head, m).cast(pa.string())
