"""Built-in tier policies (分层策略预设), written as the ``[tiers]`` table of corecustomers.toml.

Each preset is the TOML a user would write, so :func:`preset_text` can be pasted into
``corecustomers.toml`` and edited; :func:`corecustomers.segments.policy.get_preset` builds
the policy. Presets that read user columns list them under ``requires``; join those
columns into the customers table by ``customer_id``.

=========  ========================================================  ======================
preset     idea                                                      needs (besides the
                                                                     scored customers)
=========  ========================================================  ======================
retail     the Pareto head: top 20 % by core_score, top 5 %          --
           strategic (the default: see
           :mod:`corecustomers.segments.policy`)
retail_v1  the default before 2026-12: predicted value first, every  --
           ABC class A customer key (about 40 % core)
catering   regulars count as much as predicted value: the top 5 %    --
           by visits, seen within 30 days, are strategic
finance    balance / assets under management and tenure; balances    ``balance``
           swing at month end, hence 90 days of grace
b2b        contract value, tenure and influence; contracts move      ``contract_value``
           slowly, hence 180 days of grace                           (``influence_score``
                                                                     used when present)
utilities  consumption and on-time payment rate (a share, 0 to 1)    ``consumption``,
                                                                     ``on_time_rate``
=========  ========================================================  ======================

Examples
--------
>>> print(preset_text("b2b").splitlines()[1])
name = "b2b"
"""

from __future__ import annotations

import copy
import functools
import tomllib
from typing import Any, Final

__all__ = ["PRESET_NAMES", "preset_mapping", "preset_text"]

_RETAIL: Final = """\
[tiers]
name = "retail"
version = "2"
description = "Retail default: the core is the Pareto head, top 20 % by core_score."
band = 0.1
grace_runs = 1

[[tiers.tier]]
code = "strategic"
label_en = "Strategic"
label_zh = "战略客户"

[[tiers.tier.rules]]
name = "top 5 % by core score"
[[tiers.tier.rules.all]]
column = "rank_pct(core_score)"
op = "<="
value = 0.05
exit = 0.06
fallback = "rank_pct(clv)"

[[tiers.tier]]
code = "key"
label_en = "Key"
label_zh = "重点客户"

[[tiers.tier.rules]]
name = "top 20 % by core score"
[[tiers.tier.rules.all]]
column = "rank_pct(core_score)"
op = "<="
value = 0.2
exit = 0.22
fallback = "rank_pct(clv)"

[[tiers.tier]]
code = "ordinary"
label_en = "Ordinary"
label_zh = "普通客户"
"""

_RETAIL_V1: Final = """\
[tiers]
name = "retail_v1"
version = "1"
description = "The retail default before 2026-12 (retail@1): every ABC class A is key."
band = 0.2
grace_runs = 1

[[tiers.tier]]
code = "strategic"
label_en = "Strategic"
label_zh = "战略客户"

[[tiers.tier.rules]]
name = "top predicted value"
[[tiers.tier.rules.all]]
column = "rank_pct(clv)"
op = "<="
value = 0.05
exit = 0.07
fallback = "rank_pct(total_spend)"
[[tiers.tier.rules.all]]
column = "p_alive"
op = ">="
value = 0.5
fallback = { column = "rank_pct(-days_since_last_purchase)", op = "<=", value = 0.6 }

[[tiers.tier.rules]]
name = "long-standing A customer"
[[tiers.tier.rules.all]]
column = "abc_class"
op = "in"
value = ["A"]
[[tiers.tier.rules.all]]
column = "tenure_days"
op = ">="
value = 730
[[tiers.tier.rules.all]]
column = "p_alive"
op = ">="
value = 0.7
fallback = { column = "rank_pct(-days_since_last_purchase)", op = "<=", value = 0.4 }

[[tiers.tier]]
code = "key"
label_en = "Key"
label_zh = "重点客户"
rules = [
  { name = "high predicted value", all = [
    { column = "rank_pct(clv)", op = "<=", value = 0.2, fallback = "rank_pct(total_spend)" },
  ] },
  { name = "ABC class A", all = [{ column = "abc_class", op = "in", value = ["A"] }] },
]

[[tiers.tier]]
code = "ordinary"
label_en = "Ordinary"
label_zh = "普通客户"
"""

_CATERING: Final = """\
[tiers]
name = "catering"
version = "1"
description = "Restaurants and cafes: regulars count as much as predicted value."
band = 0.2
grace_runs = 1

[[tiers.tier]]
code = "strategic"
label_en = "Strategic"
label_zh = "战略客户"

[[tiers.tier.rules]]
name = "top predicted value"
[[tiers.tier.rules.all]]
column = "rank_pct(clv)"
op = "<="
value = 0.05
exit = 0.07
fallback = "rank_pct(total_spend)"
[[tiers.tier.rules.all]]
column = "p_alive"
op = ">="
value = 0.5
fallback = { column = "rank_pct(-days_since_last_purchase)", op = "<=", value = 0.6 }

[[tiers.tier.rules]]
name = "regular"
all = [
  { column = "rank_pct(frequency)", op = "<=", value = 0.05 },
  { column = "days_since_last_purchase", op = "<=", value = 30 },
]

[[tiers.tier]]
code = "key"
label_en = "Key"
label_zh = "重点客户"
rules = [
  { name = "high predicted value", all = [
    { column = "rank_pct(clv)", op = "<=", value = 0.2, fallback = "rank_pct(total_spend)" },
  ] },
  { name = "frequent guest", all = [
    { column = "rank_pct(frequency)", op = "<=", value = 0.2 },
    { column = "days_since_last_purchase", op = "<=", value = 60 },
  ] },
]

[[tiers.tier]]
code = "ordinary"
label_en = "Ordinary"
label_zh = "普通客户"
"""

_FINANCE: Final = """\
[tiers]
name = "finance"
version = "1"
description = "Banks and wealth managers: balance (assets under management) and tenure."
band = 0.2
grace_days = 90
requires = ["balance"]

[[tiers.tier]]
code = "strategic"
label_en = "Strategic"
label_zh = "战略客户"
rules = [
  { name = "high net worth", all = [
    { column = "rank_pct(balance)", op = "<=", value = 0.02, exit = 0.03 },
  ] },
  { name = "long-standing wealthy client", all = [
    { column = "rank_pct(balance)", op = "<=", value = 0.05 },
    { column = "tenure_days", op = ">=", value = 1826 },
  ] },
]

[[tiers.tier]]
code = "key"
label_en = "Key"
label_zh = "重点客户"
rules = [
  { name = "high balance", all = [{ column = "rank_pct(balance)", op = "<=", value = 0.15 }] },
  { name = "high predicted value", all = [
    { column = "rank_pct(clv)", op = "<=", value = 0.1, fallback = "rank_pct(total_spend)" },
  ] },
]

[[tiers.tier]]
code = "ordinary"
label_en = "Ordinary"
label_zh = "普通客户"
"""

_B2B: Final = """\
[tiers]
name = "b2b"
version = "1"
description = "B2B accounts: contract value, tenure and influence (influence_score if present)."
band = 0.2
grace_days = 180
requires = ["contract_value"]

[[tiers.tier]]
code = "strategic"
label_en = "Strategic"
label_zh = "战略客户"
rules = [
  { name = "largest contracts", all = [
    { column = "rank_pct(contract_value)", op = "<=", value = 0.05, exit = 0.07 },
  ] },
  { name = "large long-term partner", all = [
    { column = "rank_pct(contract_value)", op = "<=", value = 0.1 },
    { column = "tenure_days", op = ">=", value = 730 },
  ] },
  { name = "influential account", all = [
    { column = "rank_pct(influence_score)", op = "<=", value = 0.05 },
    { column = "rank_pct(contract_value)", op = "<=", value = 0.2 },
  ] },
]

[[tiers.tier]]
code = "key"
label_en = "Key"
label_zh = "重点客户"
rules = [
  { name = "large contract", all = [
    { column = "rank_pct(contract_value)", op = "<=", value = 0.3 },
  ] },
  { name = "ABC class A", all = [{ column = "abc_class", op = "in", value = ["A"] }] },
  { name = "influential", all = [
    { column = "rank_pct(influence_score)", op = "<=", value = 0.1 },
  ] },
]

[[tiers.tier]]
code = "ordinary"
label_en = "Ordinary"
label_zh = "普通客户"
"""

_UTILITIES: Final = """\
[tiers]
name = "utilities"
version = "1"
description = "Electricity, gas and water: consumption and on-time payment (a 0..1 share)."
band = 0.2
grace_runs = 2
requires = ["consumption", "on_time_rate"]

[[tiers.tier]]
code = "strategic"
label_en = "Strategic"
label_zh = "战略客户"
rules = [
  { name = "large reliable consumer", all = [
    { column = "rank_pct(consumption)", op = "<=", value = 0.05, exit = 0.07 },
    { column = "on_time_rate", op = ">=", value = 0.95, exit = 0.9 },
  ] },
]

[[tiers.tier]]
code = "key"
label_en = "Key"
label_zh = "重点客户"
rules = [
  { name = "large consumer", all = [
    { column = "rank_pct(consumption)", op = "<=", value = 0.05 },
  ] },
  { name = "sizeable reliable consumer", all = [
    { column = "rank_pct(consumption)", op = "<=", value = 0.2 },
    { column = "on_time_rate", op = ">=", value = 0.8 },
  ] },
]

[[tiers.tier]]
code = "ordinary"
label_en = "Ordinary"
label_zh = "普通客户"
"""

_TEXTS: Final = {
    "retail": _RETAIL,
    "retail_v1": _RETAIL_V1,
    "catering": _CATERING,
    "finance": _FINANCE,
    "b2b": _B2B,
    "utilities": _UTILITIES,
}

PRESET_NAMES: Final = tuple(_TEXTS)
"""The built-in policies, ``retail`` (the default) first."""


def preset_text(name: str) -> str:
    """The TOML of preset ``name`` as it would appear in ``corecustomers.toml``.

    The text starts with ``[tiers]``; ``tomllib.loads(text)["tiers"]`` is the mapping
    :func:`~corecustomers.segments.policy.policy_from_config` takes.

    Raises
    ------
    KeyError
        If ``name`` is not one of :data:`PRESET_NAMES`.
    """
    return _TEXTS[name]


@functools.cache
def _parsed(name: str) -> dict[str, Any]:
    return dict(tomllib.loads(_TEXTS[name])["tiers"])


def preset_mapping(name: str) -> dict[str, Any]:
    """A fresh copy of preset ``name`` as the parsed ``[tiers]`` mapping.

    Raises
    ------
    KeyError
        If ``name`` is not one of :data:`PRESET_NAMES`.

    Examples
    --------
    >>> preset_mapping("utilities")["requires"]
    ['consumption', 'on_time_rate']
    """
    return copy.deepcopy(_parsed(name))
