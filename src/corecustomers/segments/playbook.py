"""Next-best action (一对一服务): one recommended action per customer, with channel and due date.

A **playbook** is an ordered list of **plays**. Each customer gets the action of the first
play that matches them; the last play matches everyone (the catch-all), so every customer
gets exactly one action. A play matches on any combination of:

* ``tier`` -- the customer's tier (from :func:`~corecustomers.segments.tiers.assign_tiers`),
  any of a list;
* ``segment`` -- the RFM segment code (``rfm_segment``: ``named``, ``cn8`` or your own
  scheme's codes), any of a list;
* ``at_risk`` -- true or false: the customer is **at risk** when the early warning fired
  (``alert`` is true), or their RFM segment is one of the playbook's ``risk_segments``,
  or ``p_alive`` is below ``risk_p_alive`` (each only when the column is present);
* ``when`` -- further conditions, as in a tier policy
  (:class:`~corecustomers.segments.policy.Condition`, ``rank_pct(...)`` included).

An absent ``alert``, ``p_alive`` or ``rfm_segment`` column simply does not count towards
``at_risk`` (or matches no ``segment``); only ``tier`` is required when a play uses it.

The default playbook
--------------------
=====================  ===================================  =======  ========  ============
play                   matches                              channel  deadline  action code
=====================  ===================================  =======  ========  ============
strategic at risk      strategic, at risk                   visit    7 days    AM_VISIT
strategic new          strategic, new segment               visit    14 days   AM_WELCOME
strategic              strategic                            visit    30 days   QBR
key at risk            key, at risk                         call     7 days    RETENTION_CALL
key new                key, new segment                     call     7 days    WELCOME_CALL
key                    key                                  email    14 days   KEY_CARE
ordinary lost          ordinary, lost segment               none     --        NO_ACTION
ordinary at risk       ordinary, at risk                    email    14 days   WINBACK_OFFER
ordinary promising     ordinary, promising segment          app      14 days   TARGETED_OFFER
everyone else          (catch-all)                          email    30 days   NEWSLETTER
=====================  ===================================  =======  ========  ============

"New" segments are New and Promising (``named``) and the development classes (``cn8``);
"lost" are Lost and Hibernating (``named``) and General win-back (``cn8``); "promising"
are New, Promising and Potential Loyalist, and the cn8 development classes. Risk segments:
At Risk, Can't Lose Them, About to Sleep, Hibernating and Lost (``named``), Important
retention, Important win-back, General retention and General win-back (``cn8``);
``risk_p_alive`` is 0.3. Lost ordinary customers get no action on purpose: reaching them
costs more than it is likely to bring back. The default refers to the tiers ``strategic``,
``key`` and ``ordinary``; :func:`default_playbook` maps them onto another policy's tiers
by position (first, middle, last). Whether a customer may be contacted on a channel
(consent, frequency limits) is decided by the contact plan, not here.

Configuration
-------------
The ``[playbook]`` table of ``corecustomers.toml`` goes to :func:`playbook_from_config`.
Without ``play`` entries the default plays are kept (with your risk settings):

.. code-block:: toml

    [playbook]
    name = "acme"                   # optional
    version = "2025.1"              # optional, a string
    risk_segments = ["At Risk", "Can't Lose Them"]
    risk_p_alive = 0.3              # or false: do not use p_alive

    [[playbook.play]]
    name = "strategic at risk"
    tier = ["strategic"]            # a code or a list of codes
    at_risk = true
    action_code = "AM_VISIT"
    action_en = "Account-manager visit: find out what changed and agree a recovery plan"
    action_zh = "客户经理上门拜访：了解变化，商定挽回方案"
    channel = "visit"               # visit, call, sms, email, app or none
    deadline_days = 7               # required unless channel = "none"

    [[playbook.play]]
    name = "big spenders"
    when = [{ column = "rank_pct(total_spend)", op = "<=", value = 0.01 }]
    action_code = "THANK_YOU"
    action_en = "Thank-you note from the manager"
    action_zh = "店长亲笔感谢信"
    channel = "email"
    deadline_days = 14

    [[playbook.play]]
    name = "everyone else"          # the last play has no tier, segment, at_risk or when
    action_code = "NONE"
    action_en = "No action"
    action_zh = "暂不跟进"
    channel = "none"

Examples
--------
>>> import datetime as dt
>>> import pyarrow as pa
>>> customers = pa.table({
...     "customer_id": ["a", "b", "c"],
...     "tier": ["strategic", "key", "ordinary"],
...     "rfm_segment": ["At Risk", "New", "Lost"],
... })
>>> out = next_best_actions(customers, as_of=dt.date(2025, 1, 31))
>>> out.column("action_code").to_pylist()
['AM_VISIT', 'WELCOME_CALL', 'NO_ACTION']
>>> [str(d) for d in out.column("due").to_pylist()]
['2025-02-07', '2025-02-07', 'None']
>>> print(out.column("action_zh")[1])
欢迎电话：致谢并介绍会员权益
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from corecustomers.errors import ConfigError, InputError
from corecustomers.segments.policy import (
    Condition,
    CustomerColumns,
    TierPolicy,
    condition_from_config,
    evaluate_condition,
)
from corecustomers.segments.schemes import Lang

__all__ = [
    "ACTION_COLUMNS",
    "DEFAULT_PLAYBOOK",
    "Channel",
    "Play",
    "Playbook",
    "action_counts",
    "default_playbook",
    "next_best_actions",
    "playbook_from_config",
]

Channel = Literal["visit", "call", "sms", "email", "app", "none"]
"""How the action reaches the customer; ``"none"`` for no action."""

ACTION_COLUMNS: Final = (
    "at_risk",
    "action_rule",
    "action_code",
    "action_en",
    "action_zh",
    "next_best_action",
    "channel",
    "deadline_days",
    "due",
)
"""The columns :func:`next_best_actions` adds (replacing any of the same name)."""

_CHANNELS: Final = get_args(Channel)
_MAX_DEADLINE: Final = 366
BoolArray = NDArray[np.bool_]

NEW_SEGMENTS: Final = ("New", "Promising", "Important development", "General development")
LOST_SEGMENTS: Final = ("Lost", "Hibernating", "General win-back")
PROMISING_SEGMENTS: Final = (
    "New",
    "Promising",
    "Potential Loyalist",
    "Important development",
    "General development",
)
RISK_SEGMENTS: Final = (
    "At Risk",
    "Can't Lose Them",
    "About to Sleep",
    "Hibernating",
    "Lost",
    "Important retention",
    "Important win-back",
    "General retention",
    "General win-back",
)


@dataclass(frozen=True, slots=True)
class Play:
    """One playbook entry: whom it matches and the action it recommends.

    Parameters
    ----------
    name
        Unique within the playbook; recorded as ``action_rule``.
    action_code, action_en, action_zh
        A stable code and the action in English and Chinese.
    channel
        ``visit``, ``call``, ``sms``, ``email``, ``app`` or ``none``.
    deadline_days
        Days from ``as_of`` to the due date (0 to 366); None only with channel ``none``.
    tiers, segments
        Tier codes / RFM segment codes, any of which matches; empty matches all.
    at_risk
        True or False to match only customers at risk / not at risk; None for both.
    when
        Further conditions, all of which must hold.

    Raises
    ------
    ConfigError
        If a field is invalid; the message names it.
    """

    name: str
    action_code: str
    action_en: str
    action_zh: str
    channel: Channel
    deadline_days: int | None = None
    tiers: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    at_risk: bool | None = None
    when: tuple[Condition, ...] = ()

    def __post_init__(self) -> None:
        for key in ("name", "action_code", "action_en", "action_zh"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"key {key!r} must be a non-empty text, got {value!r}")
        if self.channel not in _CHANNELS:
            raise ConfigError(
                f"key 'channel' must be one of {', '.join(_CHANNELS)}; got {self.channel!r}"
            )
        days = self.deadline_days
        if days is None:
            if self.channel != "none":
                raise ConfigError(
                    f"key 'deadline_days' is needed for channel {self.channel!r} (days from "
                    "the run to the due date)"
                )
        elif isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= _MAX_DEADLINE:
            raise ConfigError(
                f"key 'deadline_days' must be a whole number from 0 to {_MAX_DEADLINE}, "
                f"got {days!r}"
            )
        for key in ("tiers", "segments"):
            values = getattr(self, key)
            if isinstance(values, str) or not all(isinstance(v, str) and v for v in values):
                raise ConfigError(f"key {key[:-1]!r} must be a code or a list of codes")
        if self.at_risk is not None and not isinstance(self.at_risk, bool):
            raise ConfigError(f"key 'at_risk' must be true or false, got {self.at_risk!r}")

    @property
    def catch_all(self) -> bool:
        """True when the play matches every customer."""
        return not (self.tiers or self.segments or self.when) and self.at_risk is None

    def action(self, lang: Lang = "en") -> str:
        """The action text in ``lang``."""
        return self.action_zh if str(lang).startswith("zh") else self.action_en


@dataclass(frozen=True, slots=True)
class Playbook:
    """An ordered, first-match list of plays ending in a catch-all, and what "at risk" means.

    Raises
    ------
    ConfigError
        If there are no plays, names repeat, the last play is not a catch-all or a
        catch-all hides the plays after it.
    """

    plays: tuple[Play, ...]
    name: str = "default"
    version: str = "1"
    risk_segments: tuple[str, ...] = RISK_SEGMENTS
    risk_p_alive: float | None = 0.3

    def __post_init__(self) -> None:
        if not self.plays:
            raise ConfigError("a playbook needs at least one play; end with a catch-all play")
        names = [p.name for p in self.plays]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(f"play names must be unique; repeated: {repeated}")
        for play in self.plays[:-1]:
            if play.catch_all:
                raise ConfigError(
                    f"play {play.name!r} matches every customer, so the plays after it never "
                    "run; give it a tier, segment, at_risk or when, or move it to the end"
                )
        if not self.plays[-1].catch_all:
            raise ConfigError(
                f"the last play ({self.plays[-1].name!r}) must match everyone (no tier, "
                "segment, at_risk or when), so that every customer gets an action"
            )
        if self.risk_p_alive is not None and (
            isinstance(self.risk_p_alive, bool)
            or not isinstance(self.risk_p_alive, int | float)
            or not 0.0 <= self.risk_p_alive <= 1.0
        ):
            raise ConfigError(
                f"key 'risk_p_alive' must be a probability from 0 to 1 or false, got "
                f"{self.risk_p_alive!r}"
            )
        if isinstance(self.risk_segments, str) or not all(
            isinstance(s, str) for s in self.risk_segments
        ):
            raise ConfigError("key 'risk_segments' must be a list of segment codes")
        for key in ("name", "version"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key):
                raise ConfigError(f"key {key!r} must be a non-empty text")

    def check_tiers(self, policy: TierPolicy) -> None:
        """Raise ConfigError when a play names a tier that ``policy`` does not have."""
        for play in self.plays:
            unknown = [t for t in play.tiers if t not in policy.codes]
            if unknown:
                raise ConfigError(
                    f"[playbook] play {play.name!r}: tier(s) {', '.join(unknown)} are not in "
                    f"tier policy {policy.name!r} ({', '.join(policy.codes)})"
                )


def _p(
    name: str, code: str, en: str, zh: str, channel: Channel, days: int | None, **match: Any
) -> Play:
    return Play(name, code, en, zh, channel, days, **match)


_DEFAULT_PLAYS: Final = (
    _p("strategic at risk", "AM_VISIT",
       "Account-manager visit: find out what changed and agree a recovery plan",
       "客户经理上门拜访：了解变化，商定挽回方案", "visit", 7,
       tiers=("strategic",), at_risk=True),
    _p("strategic new", "AM_WELCOME",
       "Personal welcome from the account manager",
       "客户经理上门欢迎，建立专属联系", "visit", 14,
       tiers=("strategic",), segments=NEW_SEGMENTS),
    _p("strategic", "QBR",
       "Quarterly business review and personal care (exclusive events, birthday and "
       "holiday greetings)",
       "季度业务回顾与专属关怀（专属活动、生日节日问候）", "visit", 30,
       tiers=("strategic",)),
    _p("key at risk", "RETENTION_CALL",
       "Retention call: ask how we can do better and offer help",
       "挽留回访电话：了解原因并提供帮助", "call", 7,
       tiers=("key",), at_risk=True),
    _p("key new", "WELCOME_CALL",
       "Welcome call: thank them and introduce member benefits",
       "欢迎电话：致谢并介绍会员权益", "call", 7,
       tiers=("key",), segments=NEW_SEGMENTS),
    _p("key", "KEY_CARE",
       "Personal recommendations and a points reminder",
       "个性化推荐与积分提醒", "email", 14,
       tiers=("key",)),
    _p("ordinary lost", "NO_ACTION",
       "No action (cost control)",
       "暂不跟进（控制成本）", "none", None,
       tiers=("ordinary",), segments=LOST_SEGMENTS),
    _p("ordinary at risk", "WINBACK_OFFER",
       "Automated win-back offer",
       "自动发送挽回优惠", "email", 14,
       tiers=("ordinary",), at_risk=True),
    _p("ordinary promising", "TARGETED_OFFER",
       "Targeted offer to encourage the next purchase",
       "定向优惠，促成下一次购买", "app", 14,
       tiers=("ordinary",), segments=PROMISING_SEGMENTS),
    _p("everyone else", "NEWSLETTER",
       "Regular member newsletter",
       "常规会员资讯", "email", 30),
)  # fmt: skip

DEFAULT_PLAYBOOK: Final = Playbook(_DEFAULT_PLAYS)
"""The default playbook (see the module docstring), for tiers strategic / key / ordinary."""


def default_playbook(policy: TierPolicy | None = None) -> Playbook:
    """The default playbook, its tier codes mapped onto ``policy``'s tiers by position.

    ``strategic`` becomes the first tier, ``ordinary`` the last and ``key`` every tier in
    between; with two tiers the key plays are left out.

    Examples
    --------
    >>> from corecustomers.segments.policy import policy_from_config
    >>> policy = policy_from_config({"name": "club", "version": "1", "tier": [
    ...     {"code": "gold", "rules": [{"all": [
    ...         {"column": "rank_pct(total_spend)", "op": "<=", "value": 0.1}]}]},
    ...     {"code": "member"}]})
    >>> [p.tiers for p in default_playbook(policy).plays][:3]
    [('gold',), ('gold',), ('gold',)]
    """
    if policy is None or policy.codes == ("strategic", "key", "ordinary"):
        return DEFAULT_PLAYBOOK
    codes = policy.codes
    mapping = {"strategic": codes[:1], "key": codes[1:-1], "ordinary": codes[-1:]}
    plays: list[Play] = []
    for play in _DEFAULT_PLAYS:
        if not play.tiers:
            plays.append(play)
            continue
        tiers = tuple(c for t in play.tiers for c in mapping[t])
        if tiers:
            plays.append(replace(play, tiers=tiers))
    return replace(DEFAULT_PLAYBOOK, plays=tuple(plays), name=f"default for {policy.name}")


_PLAYBOOK_KEYS: Final = frozenset({"name", "version", "risk_segments", "risk_p_alive", "play"})
_PLAY_KEYS: Final = frozenset(
    {"name", "tier", "segment", "at_risk", "when", "action_code", "action_en", "action_zh"}
    | {"channel", "deadline_days"}
)


def _codes(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ConfigError(f"{where} must be a code or a list of codes, got {value!r}")


def _when(value: object, where: str) -> tuple[Condition, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, Mapping) else value
    if isinstance(items, str) or not isinstance(items, Sequence):
        raise ConfigError(f"{where} must be a list of conditions")
    return tuple(
        condition_from_config(item, where=f"{where}, condition {k}")
        for k, item in enumerate(items, start=1)
    )


def playbook_from_config(
    config: Mapping[str, Any] | None = None, *, policy: TierPolicy | None = None
) -> Playbook:
    """Build a :class:`Playbook` from the parsed ``[playbook]`` table (see the module).

    Parameters
    ----------
    config
        The ``[playbook]`` mapping; None or empty gives the default playbook.
    policy
        The tier policy; when given, every tier a play names must be one of its tiers,
        and the default plays are mapped onto its tiers (:func:`default_playbook`).

    Raises
    ------
    ConfigError
        For an unknown key, a missing or invalid value, or an unknown tier; the message
        names the play and the key.

    Examples
    --------
    >>> book = playbook_from_config({"play": [{"name": "all", "action_code": "HI",
    ...     "action_en": "Say hello", "action_zh": "问候", "channel": "sms",
    ...     "deadline_days": 3}]})
    >>> book.plays[0].catch_all
    True
    >>> playbook_from_config({"play": [{"name": "x", "channel": "fax"}]})
    Traceback (most recent call last):
    ...
    corecustomers.errors.ConfigError: [playbook] play 1 ('x'): key 'action_code' is missing
    """
    data = dict(config or {})
    unknown = sorted(set(data) - _PLAYBOOK_KEYS)
    if unknown:
        raise ConfigError(
            f"[playbook]: unknown key(s) {', '.join(unknown)}; known: "
            f"{', '.join(sorted(_PLAYBOOK_KEYS))}"
        )
    base = default_playbook(policy)
    plays = base.plays
    if "play" in data:
        items = data["play"]
        if isinstance(items, str) or not isinstance(items, Sequence):
            raise ConfigError("[playbook] key 'play' must be a list of plays")
        plays = tuple(_play(item, i) for i, item in enumerate(items, start=1))
    risk_p_alive = data.get("risk_p_alive", base.risk_p_alive)
    try:
        book = Playbook(
            plays=plays,
            name=data.get("name", base.name),
            version=data.get("version", base.version),
            risk_segments=_codes(data.get("risk_segments", base.risk_segments), "risk_segments"),
            risk_p_alive=None if risk_p_alive is False else risk_p_alive,
        )
    except ConfigError as exc:
        raise ConfigError(f"[playbook]: {exc}") from None
    if policy is not None:
        book.check_tiers(policy)
    return book


def _play(body: object, number: int) -> Play:
    where = f"[playbook] play {number}"
    if not isinstance(body, Mapping):
        raise ConfigError(f"{where} must be a table of keys, got {body!r}")
    if "name" in body:
        where += f" ({body['name']!r})"
    unknown = sorted(set(body) - _PLAY_KEYS)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_PLAY_KEYS))}"
        )
    for key in ("name", "action_code", "action_en", "action_zh", "channel"):
        if key not in body:
            raise ConfigError(f"{where}: key {key!r} is missing")
    try:
        return Play(
            name=body["name"],
            action_code=body["action_code"],
            action_en=body["action_en"],
            action_zh=body["action_zh"],
            channel=body["channel"],
            deadline_days=body.get("deadline_days"),
            tiers=_codes(body.get("tier"), "key 'tier'"),
            segments=_codes(body.get("segment"), "key 'segment'"),
            at_risk=body.get("at_risk"),
            when=_when(body.get("when"), "key 'when'"),
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _text(table: pa.Table, name: str) -> pa.ChunkedArray | None:
    """The column ``name`` as strings (None when ``table`` lacks it)."""
    if name not in table.column_names:
        return None
    return table.column(name).cast(pa.string())


def _among(values: pa.ChunkedArray, wanted: Sequence[str]) -> BoolArray:
    """Whether each of ``values`` is one of ``wanted`` (a missing value is not): Arrow's
    lookup, not a NumPy one over a million Python strings."""
    hit = pc.is_in(values, value_set=pa.array(list(wanted), pa.string()), skip_nulls=True)
    return np.asarray(hit.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _at_risk(table: pa.Table, book: Playbook, segments: pa.ChunkedArray | None) -> BoolArray:
    risk = np.zeros(table.num_rows, dtype=bool)
    if "alert" in table.column_names:
        flags = table.column("alert").cast(pa.bool_()).fill_null(False)
        risk |= np.asarray(flags.to_numpy(zero_copy_only=False), dtype=bool)
    if segments is not None and book.risk_segments:
        risk |= _among(segments, book.risk_segments)
    if book.risk_p_alive is not None and "p_alive" in table.column_names:
        p = np.asarray(table.column("p_alive").cast(pa.float64()).to_numpy(), dtype=np.float64)
        with np.errstate(invalid="ignore"):
            risk |= p < book.risk_p_alive
    return risk


def next_best_actions(
    customers: pa.Table,
    playbook: Playbook | None = None,
    *,
    as_of: dt.date,
    lang: Lang = "en",
) -> pa.Table:
    """Recommend exactly one action per customer: the first play that matches.

    Parameters
    ----------
    customers
        The customers with their tiers (:func:`~corecustomers.segments.tiers.assign_tiers`)
        and, when present, ``rfm_segment``, ``alert``, ``p_alive`` and the ``when`` columns.
    playbook
        The playbook; None uses :data:`DEFAULT_PLAYBOOK`.
    as_of
        The date of the run; ``due = as_of + deadline_days``.
    lang
        Language of ``next_best_action`` (``"en"`` or ``"zh"``).

    Returns
    -------
    pyarrow.Table
        ``customers`` plus :data:`ACTION_COLUMNS`: ``at_risk`` (bool), ``action_rule``
        (the play's name), ``action_code``, ``action_en``, ``action_zh``,
        ``next_best_action`` (in ``lang``), ``channel``, ``deadline_days`` (int, null for
        no action) and ``due`` (date, null for no action).

    Raises
    ------
    InputError
        If a play names tiers and ``customers`` has no ``tier`` column.
    ConfigError
        If ``as_of`` is no date or a ``when`` condition does not fit its column.
    """
    book = playbook or DEFAULT_PLAYBOOK
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    if not isinstance(as_of, dt.date):
        raise ConfigError(f"as_of must be a date (datetime.date), got {as_of!r}")
    n = customers.num_rows
    tiers = _text(customers, "tier")
    if tiers is None and any(p.tiers for p in book.plays):
        raise InputError("the customers have no tier column; run assign_tiers first", column="tier")
    segments = _text(customers, "rfm_segment")
    risk = _at_risk(customers, book, segments)
    columns = CustomerColumns(customers)
    chosen = np.full(n, -1, dtype=np.int64)
    for j, play in enumerate(book.plays):
        open_ = chosen < 0
        if not open_.any():
            break
        hit = open_.copy()
        if play.tiers and tiers is not None:
            hit &= _among(tiers, play.tiers)
        if play.segments:
            if segments is None:
                continue
            hit &= _among(segments, play.segments)
        if play.at_risk is not None:
            hit &= risk == play.at_risk
        for cond in play.when:
            hit &= evaluate_condition(cond, columns).enter
        chosen[hit] = j
    # Column-wise: each field is an array over the plays, taken by the chosen play's index
    # (-1, no play matched, is the last play, as Python indexing had it).
    pick = pa.array(np.where(chosen < 0, len(book.plays) + chosen, chosen))

    def field(values: list[Any]) -> pa.Array:
        return pa.array(values, pa.string()).take(pick)

    deadline = np.array(
        [-1 if p.deadline_days is None else p.deadline_days for p in book.plays], dtype=np.int64
    )[pick.to_numpy()]
    none = deadline < 0
    due = np.datetime64(as_of, "D") + np.where(none, 0, deadline).astype("timedelta64[D]")
    new = {
        "at_risk": pa.array(risk, pa.bool_()),
        "action_rule": field([p.name for p in book.plays]),
        "action_code": field([p.action_code for p in book.plays]),
        "action_en": field([p.action_en for p in book.plays]),
        "action_zh": field([p.action_zh for p in book.plays]),
        "next_best_action": field([p.action(lang) for p in book.plays]),
        "channel": field([p.channel for p in book.plays]),
        "deadline_days": pa.array(deadline, pa.int64(), mask=none),
        "due": pa.array(due, pa.date32(), mask=none),
    }
    table = customers.drop_columns([c for c in ACTION_COLUMNS if c in customers.column_names])
    for name, column in new.items():
        table = table.append_column(name, column)
    return table


def action_counts(actions: pa.Table) -> dict[str, int]:
    """How many customers got each action code (for ``summary.json``).

    Examples
    --------
    >>> action_counts(pa.table({"action_code": ["QBR", "NO_ACTION", "QBR"]}))
    {'NO_ACTION': 1, 'QBR': 2}
    """
    counts = pc.value_counts(actions.column("action_code")).to_pylist()
    return dict(sorted((str(c["values"]), int(c["counts"])) for c in counts))
