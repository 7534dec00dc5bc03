"""Tier policies (客户分层策略): the rules that make a customer strategic, key or ordinary.

A policy is an ordered list of **tiers**, best first. The default has three: strategic
(战略客户), key (重点客户) and ordinary (普通客户); names, count and labels (English and
Chinese) are configurable. A customer is placed in the *first* tier one of whose **rules**
holds; the last tier has no rules and takes everyone else (the catch-all).

This module holds :class:`TierRule`, :class:`Tier`, :class:`TierPolicy`, the ``[tiers]``
parser (:func:`policy_from_config`, :func:`condition_from_config`) and the presets. The
conditions themselves -- :class:`Condition`, :func:`rank_pct`, :class:`CustomerColumns`,
:func:`evaluate_condition` and :class:`ConditionResult` -- live in
:mod:`~corecustomers.segments.conditions` and are re-exported here.

Rules and conditions
--------------------
A rule is ``all`` or ``any`` of **conditions**. A condition compares one column of the
scored customers table (``docs/CONTRACTS.md``) with a threshold, ``column op value``, where
``op`` is one of ``>=``, ``>``, ``<=``, ``<``, ``==``, ``in``, ``not in``. The column is
any column of the table -- ``clv``, ``p_alive``, ``tenure_days``, ``abc_class``,
``rfm_segment``, ``alert``, ``influence_score`` or a user column such as ``balance`` -- or
a derived rank:

``rank_pct(COLUMN)``
    the customer's **top share** by ``COLUMN``, higher values being better: near 0 for
    the best customer, near 1 for the worst. It is the mid-distribution rank (as the RFM
    scores use): ``(customers with a higher value + half the customers with the same
    value) / customers with a value``. Equal values always get equal ranks, and nothing
    depends on the row order. "Top 5 %" is ``rank_pct(clv) <= 0.05``; with distinct
    values it holds for exactly the best 5 % (``<`` and ``<=`` agree, since a midrank is
    never a whole share), and a group of tied customers enters or stays out as a whole.
    ``rank_pct(-COLUMN)`` ranks lower values as better (e.g. ``days_since_last_purchase``).
    Customers without a value get no rank.

A missing value never satisfies a condition (``not in`` included).

Absent columns and fallbacks
----------------------------
Optional columns (``clv``, ``p_alive``, ``alert``, user columns...) may be absent, and a
column whose values are all missing counts as absent. A condition over an absent column
uses its ``fallback`` -- another column with the same ``op`` and thresholds (a string), or
a whole condition (a table) -- and the reasons say so; without a fallback the condition
is false for everyone. A policy that cannot work without a column lists it in
``requires``; then its absence is a :class:`~corecustomers.errors.ConfigError`
(:meth:`TierPolicy.check_columns`, called by ``policy_from_config(..., columns=...)`` and by
``assign_tiers``).

Stability: promotion line, demotion line, grace
-----------------------------------------------
Each condition has a **promotion line**, ``value``, that a customer must cross to enter the
tier, and a **demotion line** at which a customer already in the tier leaves it: ``exit``
(explicit, same ``op``, and never stricter than ``value``) or, for the ordering operators,
``value`` moved by the relative ``band`` towards the lenient side (``band`` per condition,
else the policy's ``band``): ``value * (1 - band)`` for ``>=``/``>`` and
``value * (1 + band)`` for ``<=``/``<`` (``|value|`` for negative values; a rank line is
capped at 1). With ``band = 0.4``, "top 5 %" is left only below the top 7 %. ``==`` has no
band; ``in`` may name a wider ``exit`` list (e.g. enter on ``["A"]``, stay on
``["A", "B"]``). Derived lines are rounded to 12 significant digits, so 0.05 with a band of
0.2 is exactly 0.06.

A customer who falls below the demotion line may keep the tier for a **grace period**:
``grace_runs`` (runs below the line, the current one included) or ``grace_days`` (days
since the run that first found them below); per tier, or for the whole policy. See
:mod:`corecustomers.segments.tiers` for how the previous snapshot carries this state.

Configuration
-------------
The ``[tiers]`` table of ``corecustomers.toml``, as ``tomllib`` parses it, goes to
:func:`policy_from_config`. Either name a built-in ``preset`` (and optionally override its
top-level keys), or write the policy out:

.. code-block:: toml

    [tiers]
    preset = "retail"          # optional: start from a built-in policy
    name = "acme-retail"       # required without a preset
    version = "2025.1"         # required without a preset; a string, recorded per customer
    description = "..."        # optional
    band = 0.2                 # optional relative band for every ordering condition
    grace_runs = 1             # optional; or grace_days = 60 (not both)
    requires = ["clv"]         # optional: columns the policy cannot work without

    [[tiers.tier]]
    code = "strategic"         # stable code, stored in snapshots
    label_en = "Strategic"
    label_zh = "战略客户"
    grace_days = 90            # optional, overrides the policy's grace for this tier

    [[tiers.tier.rules]]       # the tier is entered when any of its rules holds
    name = "top predicted value"
    [[tiers.tier.rules.all]]   # a rule: all (or: any) of its conditions
    column = "rank_pct(clv)"
    op = "<="
    value = 0.05               # promotion line: top 5 %
    exit = 0.07                # demotion line: leaves below the top 7 %
    fallback = "rank_pct(total_spend)"
    [[tiers.tier.rules.all]]
    column = "p_alive"
    op = ">="
    value = 0.5
    fallback = { column = "rank_pct(-days_since_last_purchase)", op = "<=", value = 0.6 }

    [[tiers.tier.rules]]
    name = "long-standing A customer"
    all = [
      { column = "abc_class", op = "in", value = ["A"] },
      { column = "tenure_days", op = ">=", value = 730, band = 0.1 },
    ]

    [[tiers.tier]]
    code = "ordinary"          # the last tier has no rules: the catch-all
    label_en = "Ordinary"
    label_zh = "普通客户"

A condition may also carry ``label_en`` / ``label_zh`` (how the reasons name the column;
``{value}`` in the text is replaced by the value, else the value follows) and ``format``
(``money``, ``probability``, ``percent``, ``years``, ``days``, ``count``, ``number``,
``text`` or ``flag``) for columns the reasons do not know. With a ``preset``, changing
``band``, ``grace_*``, ``requires`` or ``tier`` without a new ``version`` makes the version
``<preset version>+<fingerprint>``, so snapshots never record two policies under one name.

The built-in default: ``retail`` (version 2)
--------------------------------------------
=========  ==============================================================================
tier       enters when
=========  ==============================================================================
strategic  top 5 % by ``core_score`` (leaves below the top 6 %)
key        top 20 % by ``core_score`` (leaves below the top 22 %)
ordinary   everyone else
=========  ==============================================================================

Why: the seeds' point is the Pareto head -- a small set of customers carries the
business, and a strategic customer gets an account manager -- so the core tiers are the
top 20 % by the forward-looking ``core_score`` (the core ranking of
:mod:`corecustomers.insights.ranking`: predicted revenue, validated out of time), with
strategic the top 5 %. Without a ``core_score`` the policy ranks by ``clv``. The
demotion lines (band) and ``grace_runs = 1`` keep a customer at the edge from flipping
every run; measured after them over a monthly history the core stays within 15-25 % of
customers. ``retail@1`` (before 2026-12) also made every ABC class A customer key, which
put about 40 % of customers in the core; it is kept as the preset ``retail_v1``, and a
``[tiers]`` that pins ``preset = "retail"`` to ``version = "1"`` is refused with a message
that says so. A snapshot made under an earlier version of the same policy gives no band
or grace: the tiers start afresh.

Presets
-------
``retail`` (the default), ``retail_v1`` (the default before 2026-12), ``catering``,
``finance`` (needs ``balance``), ``b2b`` (needs
``contract_value``) and ``utilities`` (needs ``consumption`` and ``on_time_rate``); see
:mod:`corecustomers.segments.presets` for what each does and why, and
:func:`~corecustomers.segments.presets.preset_text` for its TOML.

Examples
--------
>>> policy = policy_from_config({"preset": "finance"})
>>> policy.codes, policy.policy_version
(('strategic', 'key', 'ordinary'), 'finance@1')
>>> policy.check_columns(["customer_id", "clv"])
Traceback (most recent call last):
...
corecustomers.errors.ConfigError: tier policy 'finance' needs the column(s) balance, ...
>>> rank_pct([10.0, 30.0, 30.0, 20.0]).tolist()
[0.875, 0.25, 0.25, 0.625]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

from corecustomers.errors import ConfigError
from corecustomers.segments.conditions import (
    Condition,
    ConditionResult,
    CustomerColumns,
    Format,
    Op,
    evaluate_condition,
    is_number,
    rank_pct,
)
from corecustomers.segments.presets import PRESET_NAMES, preset_mapping

__all__ = [
    "DEFAULT_POLICY",
    "PRESET_NAMES",
    "Condition",
    "ConditionResult",
    "CustomerColumns",
    "Format",
    "Op",
    "Tier",
    "TierPolicy",
    "TierRule",
    "condition_from_config",
    "evaluate_condition",
    "get_preset",
    "policy_from_config",
    "preset_config",
    "rank_pct",
]


@dataclass(frozen=True, slots=True)
class TierRule:
    """A named rule: ``all`` (``match="all"``) or ``any`` of its conditions must hold."""

    name: str
    conditions: tuple[Condition, ...]
    match: Literal["all", "any"] = "all"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"key 'name' must be a non-empty text, got {self.name!r}")
        if self.match not in ("all", "any"):
            raise ConfigError(
                f"a rule matches 'all' or 'any' of its conditions, not {self.match!r}"
            )
        if not self.conditions:
            raise ConfigError(f"rule {self.name!r} has no conditions; list at least one")


@dataclass(frozen=True, slots=True)
class Tier:
    """A tier: a stable ``code``, its labels, its rules (none for the catch-all) and grace."""

    code: str
    label_en: str = ""
    label_zh: str = ""
    rules: tuple[TierRule, ...] = ()
    grace_runs: int | None = None
    grace_days: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.code, str) or not self.code.strip():
            raise ConfigError(f"key 'code' must be a non-empty text, got {self.code!r}")
        if not self.label_en:
            object.__setattr__(self, "label_en", self.code.capitalize())
        if not self.label_zh:
            object.__setattr__(self, "label_zh", self.label_en)
        _check_grace(self.grace_runs, self.grace_days, optional=True)
        names = [rule.name for rule in self.rules]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(f"rule names must be unique within a tier; repeated: {repeated}")

    def label(self, lang: str = "en") -> str:
        """The label in ``lang`` (``"en"`` or ``"zh"``)."""
        return self.label_zh if lang.startswith("zh") else self.label_en


def _check_grace(runs: object, days: object, *, optional: bool) -> None:
    for key, value in (("grace_runs", runs), ("grace_days", days)):
        if value is None and optional:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"key {key!r} must be a whole number >= 0, got {value!r}")
    if runs and days:
        raise ConfigError("give either 'grace_runs' or 'grace_days', not both")


@dataclass(frozen=True, slots=True)
class TierPolicy:
    """An ordered, first-match list of tiers, best first; the last is the catch-all.

    Parameters
    ----------
    name, version
        Recorded with every decision as ``policy_version = "name@version"``.
    tiers
        At least two; every tier but the last has rules, the last has none.
    band
        Relative band for ordering conditions without their own ``exit`` or ``band``.
    grace_runs, grace_days
        Grace period for tiers without their own (at most one of the two non-zero).
    requires
        Columns without which the policy cannot work (:meth:`check_columns`).
    description
        Free text for people.

    Raises
    ------
    ConfigError
        If the policy is inconsistent; the message names the key.
    """

    name: str
    version: str
    tiers: tuple[Tier, ...]
    band: float = 0.0
    grace_runs: int = 0
    grace_days: int = 0
    requires: tuple[str, ...] = ()
    description: str = ""
    _codes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for key in ("name", "version"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(
                    f'key {key!r} must be a non-empty text (quote numbers: {key} = "1"), '
                    f"got {value!r}"
                )
        if not is_number(self.band) or not 0.0 <= self.band < 1.0:
            raise ConfigError(f"key 'band' must be a number from 0 to below 1, got {self.band!r}")
        _check_grace(self.grace_runs, self.grace_days, optional=False)
        if len(self.tiers) < 2:
            raise ConfigError("a policy needs at least two tiers: one with rules and the catch-all")
        codes = tuple(t.code for t in self.tiers)
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        if repeated:
            raise ConfigError(f"tier codes must be unique; repeated: {repeated}")
        for tier in self.tiers[:-1]:
            if not tier.rules:
                raise ConfigError(
                    f"tier {tier.code!r} has no rules; only the last tier is the catch-all"
                )
        if self.tiers[-1].rules:
            raise ConfigError(
                f"the last tier ({self.tiers[-1].code!r}) is the catch-all and takes no rules; "
                'add a last tier without rules (e.g. code = "ordinary")'
            )
        if isinstance(self.requires, str) or not all(
            isinstance(c, str) and c for c in self.requires
        ):
            raise ConfigError(
                f"key 'requires' must be a list of column names, got {self.requires!r}"
            )
        object.__setattr__(self, "_codes", codes)

    @property
    def codes(self) -> tuple[str, ...]:
        """The tier codes, best first."""
        return self._codes

    @property
    def policy_version(self) -> str:
        """``"name@version"``, recorded with every decision."""
        return f"{self.name}@{self.version}"

    @property
    def fingerprint(self) -> str:
        """Eight hex digits of a hash of the rules, thresholds, bands and grace."""
        body = self.to_config()
        for key in ("name", "version", "description"):
            body.pop(key, None)
        text = json.dumps(body, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]

    def index(self, code: str) -> int:
        """Position of tier ``code`` (0 = best); raise ConfigError naming the codes."""
        try:
            return self._codes.index(code)
        except ValueError:
            raise ConfigError(
                f"tier {code!r} is not a tier of policy {self.name!r} ({', '.join(self._codes)})"
            ) from None

    def tier(self, code: str) -> Tier:
        """The tier with ``code``."""
        return self.tiers[self.index(code)]

    def grace(self, code: str) -> tuple[int, int]:
        """``(grace_runs, grace_days)`` of tier ``code``: its own, else the policy's."""
        tier = self.tier(code)
        if tier.grace_runs is not None or tier.grace_days is not None:
            return tier.grace_runs or 0, tier.grace_days or 0
        return self.grace_runs, self.grace_days

    def columns_used(self) -> tuple[str, ...]:
        """Every column the conditions (and their fallbacks) read, sorted."""
        used = {
            c.source
            for tier in self.tiers
            for rule in tier.rules
            for cond in rule.conditions
            for c in (cond, cond.fallback)
            if c is not None
        }
        return tuple(sorted(used | set(self.requires)))

    def check_columns(self, columns: Sequence[str]) -> None:
        """Raise ConfigError when a column listed in ``requires`` is not in ``columns``."""
        missing = [c for c in self.requires if c not in set(columns)]
        if missing:
            raise ConfigError(
                f"tier policy {self.name!r} needs the column(s) {', '.join(missing)}, which the "
                "customers table does not have; join them in by customer_id (see [columns]) "
                "or choose another policy under [tiers]"
            )

    def to_config(self) -> dict[str, Any]:
        """The policy as a ``[tiers]`` mapping; ``policy_from_config`` reads it back."""
        out: dict[str, Any] = {"name": self.name, "version": self.version}
        if self.description:
            out["description"] = self.description
        out.update(band=self.band, grace_runs=self.grace_runs, grace_days=self.grace_days)
        out["requires"] = list(self.requires)
        tiers: list[dict[str, Any]] = []
        for tier in self.tiers:
            body: dict[str, Any] = {
                "code": tier.code,
                "label_en": tier.label_en,
                "label_zh": tier.label_zh,
            }
            for key in ("grace_runs", "grace_days"):
                if getattr(tier, key) is not None:
                    body[key] = getattr(tier, key)
            if tier.rules:
                body["rules"] = [
                    {"name": r.name, r.match: [c.to_config() for c in r.conditions]}
                    for r in tier.rules
                ]
            tiers.append(body)
        out["tier"] = tiers
        return out


# ---------------------------------------------------------------------------- parsing

_POLICY_KEYS: Final = frozenset(
    {"preset", "name", "version", "description", "band", "grace_runs", "grace_days"}
    | {"requires", "tier"}
)
_TIER_KEYS: Final = frozenset({"code", "label_en", "label_zh", "rules", "grace_runs", "grace_days"})
_RULE_KEYS: Final = frozenset({"name", "all", "any"})
_CONDITION_KEYS: Final = frozenset(
    {"column", "op", "value", "exit", "band", "fallback", "label_en", "label_zh", "format"}
)
_RULE_CHANGING: Final = ("band", "grace_runs", "grace_days", "requires", "tier")


def _unknown(body: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    extra = sorted(set(body) - known)
    if extra:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(extra)}; known: {', '.join(sorted(known))}"
        )


def _table(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table of keys, got {value!r}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise ConfigError(f"{where} must be a list, got {value!r}")
    return list(value)


def _condition(body: object, where: str, *, inherit: Mapping[str, Any] | None = None) -> Condition:
    if isinstance(body, str) and inherit is not None:
        body = {
            **{k: v for k, v in inherit.items() if k in ("op", "value", "exit", "band")},
            "column": body,
        }
    data = _table(body, where)
    if isinstance(data.get("column"), str):
        where = f"{where} ({data['column']!r})"
    _unknown(data, _CONDITION_KEYS, where)
    for key in ("column", "op", "value"):
        if key not in data:
            raise ConfigError(f"{where}: key {key!r} is missing")
    fallback = None
    if data.get("fallback") is not None:
        fallback = _condition(data["fallback"], f"{where}, fallback", inherit=data)
    try:
        return Condition(
            column=data["column"],
            op=data["op"],
            value=data["value"],
            exit=data.get("exit"),
            band=data.get("band"),
            fallback=fallback,
            label_en=data.get("label_en", ""),
            label_zh=data.get("label_zh", ""),
            format=data.get("format"),
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def condition_from_config(body: Mapping[str, Any], *, where: str = "condition") -> Condition:
    """Build one :class:`Condition` from its TOML table (as in a rule's ``all`` list).

    ``where`` starts the error messages (e.g. ``"[playbook] play 2, condition 1"``).

    Examples
    --------
    >>> condition_from_config({"column": "p_alive", "op": ">=", "value": 0.5}).stay_value(0.2)
    0.4
    >>> condition_from_config({"column": "p_alive", "op": "≥", "value": 0.5})
    Traceback (most recent call last):
    ...
    corecustomers.errors.ConfigError: condition ('p_alive'): key 'op' must be one of >=, >, ...
    """
    return _condition(body, where)


def _rule(body: object, where: str, number: int) -> TierRule:
    data = _table(body, where)
    _unknown(data, _RULE_KEYS, where)
    name = data.get("name", f"rule {number}")
    where = f"{where} ({name!r})"
    kinds = [k for k in ("all", "any") if k in data]
    if len(kinds) != 1:
        raise ConfigError(f"{where}: give exactly one of the keys 'all' or 'any'")
    items = _list(data[kinds[0]], f"{where}, key {kinds[0]!r}")
    conditions = tuple(
        _condition(item, f"{where}, condition {k}") for k, item in enumerate(items, start=1)
    )
    try:
        return TierRule(name, conditions, cast(Literal["all", "any"], kinds[0]))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _tier(body: object, where: str) -> Tier:
    data = _table(body, where)
    if "code" not in data:
        raise ConfigError(f"{where}: key 'code' is missing")
    where = f"{where} ({data['code']!r})"
    _unknown(data, _TIER_KEYS, where)
    rules = tuple(
        _rule(item, f"{where}, rule {j}", j)
        for j, item in enumerate(_list(data.get("rules", []), f"{where}, key 'rules'"), start=1)
    )
    for key in ("label_en", "label_zh"):
        if not isinstance(data.get(key, ""), str):
            raise ConfigError(f"{where}: key {key!r} must be a text")
    try:
        return Tier(
            code=data["code"],
            label_en=data.get("label_en", ""),
            label_zh=data.get("label_zh", ""),
            rules=rules,
            grace_runs=data.get("grace_runs"),
            grace_days=data.get("grace_days"),
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def policy_from_config(
    config: Mapping[str, Any] | None = None, *, columns: Sequence[str] | None = None
) -> TierPolicy:
    """Build a :class:`TierPolicy` from the parsed ``[tiers]`` table (see the module).

    Parameters
    ----------
    config
        The ``[tiers]`` mapping; None or empty gives the built-in default (``retail``).
    columns
        The customers table's column names; when given, the policy's ``requires`` are
        checked against them.

    Returns
    -------
    TierPolicy

    Raises
    ------
    ConfigError
        For an unknown key or preset, a missing or invalid value, or a required column
        that is missing; the message names the tier, rule, condition and key.

    Examples
    --------
    >>> p = policy_from_config({
    ...     "name": "vip", "version": "1",
    ...     "tier": [
    ...         {"code": "vip", "rules": [{"all": [
    ...             {"column": "rank_pct(total_spend)", "op": "<=", "value": 0.1}]}]},
    ...         {"code": "rest"},
    ...     ],
    ... })
    >>> p.codes, p.tiers[0].rules[0].name
    (('vip', 'rest'), 'rule 1')
    >>> policy_from_config({"name": "x", "version": 1, "tier": []})
    Traceback (most recent call last):
    ...
    corecustomers.errors.ConfigError: [tiers]: key 'version' must be a non-empty text ...
    """
    given = dict(_table(config or {}, "[tiers]"))
    data = dict(given)
    _unknown(data, _POLICY_KEYS, "[tiers]")
    if "preset" in data:
        preset = data.pop("preset")
        if not isinstance(preset, str) or preset not in PRESET_NAMES:
            raise ConfigError(
                f"[tiers]: unknown preset {preset!r}; choose one of {', '.join(PRESET_NAMES)}"
            )
        base = preset_config(preset)
        _check_retired_version(preset, given.get("version"), base["version"])
        changed = any(k in data and data[k] != base.get(k) for k in _RULE_CHANGING)
        base.update(data)
        data = base
        if changed and "version" not in given:
            data["version"] = f"{data['version']}+{_build(data).fingerprint}"
    elif not data:
        return DEFAULT_POLICY
    policy = _build(data)
    if columns is not None:
        policy.check_columns(columns)
    return policy


#: Earlier versions of a preset whose rules changed: (preset, version) -> what changed.
_RETIRED_VERSIONS: Final = {
    ("retail", "1"): (
        "retail@2 (2026-12) makes the core tiers the Pareto head: strategic is the top 5 % "
        "and key the top 20 % by core_score (about 20 % of customers in all), where "
        "retail@1 also made every ABC class A customer key (about 40 %); write "
        'preset = "retail_v1" to keep the old rules, or drop version to use retail@2'
    ),
}


def _check_retired_version(preset: str, version: object, current: str) -> None:
    """A ``[tiers]`` that pins a preset to a version whose rules are gone is an error."""
    if version is None or str(version) == current:
        return
    why = _RETIRED_VERSIONS.get((preset, str(version)))
    if why is not None:
        raise ConfigError(f"[tiers]: preset {preset!r} version {version!r} is retired: {why}")


def _build(data: Mapping[str, Any]) -> TierPolicy:
    for key in ("name", "version", "tier"):
        if key not in data:
            raise ConfigError(f"[tiers]: key {key!r} is missing (or name a preset)")
    tiers = tuple(
        _tier(item, f"[tiers] tier {i}")
        for i, item in enumerate(_list(data["tier"], "[tiers] key 'tier'"), start=1)
    )
    requires = data.get("requires", ())
    try:
        return TierPolicy(
            name=data["name"],
            version=data["version"],
            tiers=tiers,
            band=data.get("band", 0.0),
            grace_runs=data.get("grace_runs", 0),
            grace_days=data.get("grace_days", 0),
            requires=tuple(_list(requires, "[tiers] key 'requires'")),
            description=str(data.get("description", "")),
        )
    except ConfigError as exc:
        raise ConfigError(f"[tiers]: {exc}") from None


# ---------------------------------------------------------------------------- presets


def preset_config(name: str) -> dict[str, Any]:
    """A copy of preset ``name`` as a ``[tiers]`` mapping, to print or edit.

    Examples
    --------
    >>> preset_config("utilities")["requires"]
    ['consumption', 'on_time_rate']
    """
    if name not in PRESET_NAMES:
        raise ConfigError(f"unknown tier preset {name!r}; choose one of {', '.join(PRESET_NAMES)}")
    return preset_mapping(name)


def get_preset(name: str) -> TierPolicy:
    """The built-in policy ``name`` (one of :data:`PRESET_NAMES`).

    Examples
    --------
    >>> get_preset("b2b").requires
    ('contract_value',)
    """
    return _build(preset_config(name))


DEFAULT_POLICY: Final = get_preset("retail")
"""The built-in default policy (``retail``; see the module docstring)."""
