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
   JSON file (:func:`load_overrides`, :func:`save_overrides`) so they survive reruns; they
   live in :mod:`~corecustomers.segments.overrides` and are re-exported here.

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
...     "customer_id": [f"c{i:02d}" for i in range(40)],
...     "core_score": [100.0 * (40 - i) for i in range(40)],
... })
>>> out = assign_tiers(customers, as_of=dt.date(2025, 1, 31), currency="¥")
>>> out.column("tier").to_pylist()[:10]
['strategic', 'strategic', 'key', 'key', 'key', 'key', 'key', 'key', 'ordinary', 'ordinary']
>>> print(out.column("tier_reason_en")[0])
Strategic: core score 4,000 (top 2 %)
>>> print(out.column("tier_reason_zh")[30])
普通客户：未达到重点客户标准——核心得分 1,000（前77%，需前20%）
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.errors import ConfigError, InputError
from corecustomers.segments.conditions import (
    OP_EN,
    OP_ZH,
    ConditionResult,
    CustomerColumns,
    Value,
    condition_wording,
    evaluate_condition,
    format_value,
    top_phrase,
)
from corecustomers.segments.overrides import (
    Override,
    load_overrides,
    parse_overrides,
    save_overrides,
    split_overrides,
)
from corecustomers.segments.policy import DEFAULT_POLICY, TierPolicy
from corecustomers.segments.schemes import Lang

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


# ------------------------------------------------------------------------------ reasons


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
        words = condition_wording(cond, ctx.horizon)
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
            extras_en.append(top_phrase(share, "en"))
            extras_zh.append(top_phrase(share, "zh"))
        entry += self.fallback_json + "}"
        if self.cond.source == "alert" and isinstance(value, bool):
            en, zh = _ALERT_PHRASES[value]
        else:
            en = self.templates[0].replace(
                "{v}", format_value(value, self.fmt, "en", self.currency, self.cond.source)
            )
            zh = self.templates[1].replace(
                "{v}", format_value(value, self.fmt, "zh", self.currency, self.cond.source)
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


def _base_version(policy_version: str) -> tuple[str, str]:
    """``("retail", "2")`` of ``"retail@2+1a2b3c4d"``: the name and the version before
    any fingerprint of local changes."""
    name, _, version = policy_version.partition("@")
    return name, version.partition("+")[0]


def _replaced_policy(previous: pa.Table, policy: TierPolicy) -> str | None:
    """The previous snapshot's policy version when it is an earlier version of the same
    policy (``retail@1`` before ``retail@2``), whose tiers mean something else: then
    nobody keeps a tier by band or grace. Local changes (``+fingerprint``) keep them."""
    if "policy_version" not in previous.column_names or not previous.num_rows:
        return None
    versions = set(previous.column("policy_version").cast(pa.string()).drop_null().to_pylist())
    name, version = _base_version(policy.policy_version)
    for old in sorted(versions):
        old_name, old_version = _base_version(old)
        if old_name == name and old_version != version:
            return old
    return None


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
    replaced = _replaced_policy(previous, policy)
    if replaced:
        logger.info(
            "the previous snapshot was made under %s, replaced by %s: no band or grace "
            "from it (the tiers start afresh)",
            replaced,
            policy.policy_version,
        )
        index = np.full(n, -1, np.int64)
    unknown = sorted({t for t in tier[(index < 0)].tolist() if t is not None})
    if unknown and not replaced:
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
