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
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.errors import ConfigError, InputError
from corecustomers.ids import all_distinct
from corecustomers.segments._tier_reasons import ReasonContext, reason_columns
from corecustomers.segments.conditions import ConditionResult, CustomerColumns, evaluate_condition
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
    "TierDecision",
    "assign_tiers",
    "decide_tiers",
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
    if not all_distinct(ids):
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

    held = previous.column("tier").cast(pa.string()).combine_chunks()
    tier = pick(np.asarray(held.to_numpy(zero_copy_only=False), dtype=object), None)
    # each previous tier's position in the policy, -1 for none or one it does not have
    code_of = pc.index_in(held, value_set=pa.array(policy.codes, pa.string())).fill_null(-1)
    index = pick(np.asarray(code_of.to_numpy(zero_copy_only=False), np.int64), -1)
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
    return decide_tiers(
        customers,
        policy,
        previous=previous,
        overrides=overrides,
        as_of=as_of,
        currency=currency,
        lang=lang,
        horizon_months=horizon_months,
    ).table()


def decide_tiers(
    customers: pa.Table,
    policy: TierPolicy | None = None,
    *,
    previous: pa.Table | None = None,
    overrides: Sequence[Override | Mapping[str, Any]] | None = None,
    as_of: dt.date,
    currency: str = "",
    lang: Lang = "en",
    horizon_months: int = 12,
) -> TierDecision:
    """Decide every customer's tier as :func:`assign_tiers` does, without writing the
    reason texts yet: :meth:`TierDecision.table` writes them and gives the same table.

    For a caller that holds the decision while other work runs and wants the texts (the
    largest of the tier columns: about 350 bytes a customer) only afterwards. The
    parameters and the errors are those of :func:`assign_tiers`.
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

    return TierDecision(
        customers=customers,
        policy=policy,
        rules=rules,
        tier=tier,
        basis=basis,
        below_since=below_since,
        below_runs=below_runs,
        tier_since=tier_since,
        previous_tier=prev.tier,
        active=active,
        expired=expired,
        context=ReasonContext(currency, horizon_months),
        lang=lang_key,
    )


@dataclass(frozen=True, slots=True, eq=False)
class TierDecision:
    """Every customer's tier and why (:func:`decide_tiers`), before the reason texts."""

    customers: pa.Table
    policy: TierPolicy
    rules: list[list[_RuleResult]]
    tier: NDArray[np.int64]  # position in the policy
    basis: NDArray[np.object_]
    below_since: DateArray
    below_runs: NDArray[np.int64]
    tier_since: DateArray
    previous_tier: NDArray[np.object_]
    active: dict[int, Override]
    expired: dict[int, Override]
    context: ReasonContext
    lang: str

    def table(self) -> pa.Table:
        """``customers`` with the columns of :data:`TIER_COLUMNS` (the reasons written
        now): :func:`assign_tiers`' result."""
        policy, tier, n = self.policy, self.tier, len(self.tier)
        reasons, en, zh = reason_columns(
            policy,
            self.rules,
            tier,
            self.basis,
            self.below_since,
            self.below_runs,
            self.active,
            self.expired,
            self.context,
        )
        at = pa.array(tier)

        def per_tier(values: list[str]) -> pa.Array:
            return pa.array(values, pa.string()).take(at)

        labels = {lang: [t.label(lang) for t in policy.tiers] for lang in ("en", "zh")}
        tier_since, below_since = self.tier_since, self.below_since
        new = {
            "tier": per_tier(list(policy.codes)),
            "tier_label": per_tier(labels[self.lang]),
            "tier_label_en": per_tier(labels["en"]),
            "tier_label_zh": per_tier(labels["zh"]),
            "tier_basis": pa.array(self.basis, pa.string()),
            "tier_reasons": reasons,
            "tier_reason_en": en,
            "tier_reason_zh": zh,
            "previous_tier": pa.array(self.previous_tier.tolist(), pa.string()),
            "tier_since": pa.array(tier_since, pa.date32(), mask=np.isnat(tier_since)),
            "below_since": pa.array(below_since, pa.date32(), mask=np.isnat(below_since)),
            "below_runs": pa.array(self.below_runs, pa.int64()),
            "policy_version": pa.repeat(policy.policy_version, n).cast(pa.string()),
        }
        customers = self.customers
        table = customers.drop_columns([c for c in TIER_COLUMNS if c in customers.column_names])
        for name, column in new.items():
            table = table.append_column(name, column)
        # the texts' intermediate strings are freed: give the allocator's cache back
        pa.default_memory_pool().release_unused()
        return table
