"""Segment schemes: turn RFM scores into named segments; every customer in exactly one.

A scheme is an ordered list of segments, each a box of score ranges (inclusive; a missing
dimension matches any score). A customer belongs to the first segment whose box holds
their scores. Every :class:`Scheme` is checked when it is built: all score combinations
must fall in some segment, and every segment must be the first match of at least one
combination. Segment *codes* are the English names and never change; *labels* are shown
in the user's language (``lang="en"`` or ``"zh"``).

``"named"`` -- eleven English-practice segments on R and F
-----------------------------------------------------------
The rules are written on a 5-point scale. M is not used: many tables merge F and M into
one "FM" score, but here F already separates one-time from repeat buyers, and value is
left to M, the ``"cn8"`` classes and ABC. The boxes do not overlap, so the order is only
the display order:

=====================  =====  =====  ====================================  ==============
code                   R      F      who                                   label (zh)
=====================  =====  =====  ====================================  ==============
Champions              5      4-5    bought most recently, buy most often  冠军客户
Loyal                  3-4    4-5    buy often, fairly recently            忠诚客户
Potential Loyalist     4-5    2-3    recent, have come back a few times    潜力客户
New                    5      1      bought once, very recently            新客户
Promising              4      1      bought once, recently                 有望客户
Need Attention         3      3      middling recency and frequency        需关注客户
About to Sleep         3      1-2    few purchases, fading                 即将沉睡客户
At Risk                1-2    3-4    bought often, but long ago            风险客户
Can't Lose Them        1-2    5      were the most frequent, long gone     不能失去的客户
Hibernating            2      1-2    few purchases, long ago               沉睡客户
Lost                   1      1-2    few purchases, longest ago            流失客户
=====================  =====  =====  ====================================  ==============

Other bin counts are mapped onto the 5-point scale first. Score ``s`` of ``bins`` stands
for the quantile band ``((s-1)/bins, s/bins]``; it takes the 5-point grade whose band holds
the centre of its own: ``g = floor(5 (2s - 1) / (2 bins)) + 1`` (exact in integers, and
never on a band edge, so the map is symmetric). For F the one-time buyers keep grade 1
and the repeat scores ``2..bins`` are mapped the same way onto ``2..5`` (a band centred
exactly on a grade edge takes the upper grade), so F grade 1 is always the one-time
buyers. With 10 bins, R grades are 1,1,2,2,3,3,4,4,5,5 and F grades
1,2,2,3,3,4,4,4,5,5; with 3 bins both are 1,3,5, so Promising and
Hibernating cannot occur -- three levels cannot tell them apart.

``"cn8"`` -- the Chinese eight classes (RFM八类客户)
---------------------------------------------------
High or low on each of R, F and M against the mean (``threshold="mean"``) or the median
(``threshold="median"``) of all customers. *High* means strictly better than the
threshold: for R strictly *fewer* days since the last purchase than the threshold, for F
(repeat purchases) and M (spend) strictly *more*. A customer exactly at the threshold is
low, so when every customer has the same value, all are low on that dimension. Given the
raw values (``days_since_last_purchase``, ``frequency``, ``monetary``), these are compared;
without them, the R, F and M scores are compared instead (a higher score is better).

=====================  =====  =====  =====  ============
code                   R      F      M      label (zh)
=====================  =====  =====  =====  ============
Important value        high   high   high   重要价值客户
Important development  high   low    high   重要发展客户
Important retention    low    high   high   重要保持客户
Important win-back     low    low    high   重要挽留客户
General value          high   high   low    一般价值客户
General development    high   low    low    一般发展客户
General retention      low    high   low    一般保持客户
General win-back       low    low    low    一般挽留客户
=====================  =====  =====  =====  ============

User-defined schemes
--------------------
A parsed TOML table (see :func:`scheme_from_config`)::

    [segments.scheme]
    name = "mine"
    scale = 5            # optional: the scale the ranges are written on (default: bins)
    [[segments.scheme.segments]]
    name = "VIP"
    label_zh = "贵宾"
    r = [4, 5]
    f = [4, 5]
    [[segments.scheme.segments]]
    name = "Others"      # no r, f, m: the catch-all
    label_zh = "其他"
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NamedTuple

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from corecustomers.errors import ConfigError, InputError
from corecustomers.segments._arrays import (
    MAX_BINS,
    FloatArray,
    IntArray,
    as_float_array,
    check_bins,
    check_same_length,
    table_column,
)
from corecustomers.segments.rfm import Monetary, monetary_values, rfm_scores

__all__ = [
    "CN8",
    "NAMED",
    "Lang",
    "Scheme",
    "SegmentAssignment",
    "SegmentRule",
    "Threshold",
    "assign_segments",
    "get_scheme",
    "normalise_lang",
    "rescale_scores",
    "scheme_from_config",
    "segment_customers",
]

Lang = Literal["en", "zh", "zh-CN"]
"""Label language: English, or Simplified Chinese (``"zh"`` and ``"zh-CN"`` are the same)."""

Threshold = Literal["mean", "median"]
"""What the ``"cn8"`` scheme compares each customer with."""

Range = tuple[int, int]
StrArray = NDArray[np.str_]

_BUILT_IN_NAMES: Final = ("named", "cn8")


def normalise_lang(lang: str) -> Literal["en", "zh"]:
    """``"en"`` or ``"zh"`` for a language code (``zh-CN``, ``zh_CN`` too); else ConfigError."""
    if lang == "en":
        return "en"
    if lang in ("zh", "zh-CN", "zh_CN"):
        return "zh"
    raise ConfigError(f'lang must be "en" or "zh" (also "zh-CN"), got {lang!r}')


@dataclass(frozen=True, slots=True)
class SegmentRule:
    """One segment: a stable code, its labels and the score ranges that select it.

    Parameters
    ----------
    code
        The stable English name; also the English label unless ``label_en`` is given.
    label_zh
        The Chinese label (defaults to ``code``).
    r, f, m
        Inclusive ``(low, high)`` score ranges on the scheme's scale; None matches any.
    label_en
        The English label (defaults to ``code``).
    """

    code: str
    label_zh: str = ""
    r: Range | None = None
    f: Range | None = None
    m: Range | None = None
    label_en: str = ""

    def __post_init__(self) -> None:
        if not self.label_zh:
            object.__setattr__(self, "label_zh", self.code)
        if not self.label_en:
            object.__setattr__(self, "label_en", self.code)

    @property
    def catch_all(self) -> bool:
        """True when the rule has no ranges and so matches every customer."""
        return self.r is None and self.f is None and self.m is None

    def label(self, lang: Lang = "en") -> str:
        """Return the label in ``lang``."""
        return self.label_zh if normalise_lang(lang) == "zh" else self.label_en

    def matches(self, r: IntArray, f: IntArray, m: IntArray) -> NDArray[np.bool_]:
        """Return where the (already rescaled) scores fall inside every range of the rule."""
        hit = np.ones(len(r), dtype=bool)
        for scores, bounds in ((r, self.r), (f, self.f), (m, self.m)):
            if bounds is not None:
                hit &= (scores >= bounds[0]) & (scores <= bounds[1])
        return hit


def _grid(scale: int) -> tuple[IntArray, IntArray, IntArray]:
    axis = np.arange(1, scale + 1, dtype=np.int64)
    r, f, m = np.meshgrid(axis, axis, axis, indexing="ij")
    return r.ravel(), f.ravel(), m.ravel()


def _first_match(rules: Sequence[SegmentRule], r: IntArray, f: IntArray, m: IntArray) -> IntArray:
    """Index of the first rule each customer matches; -1 where none does."""
    chosen = np.full(len(r), -1, dtype=np.int64)
    for i, rule in enumerate(rules):
        chosen[(chosen == -1) & rule.matches(r, f, m)] = i
    return chosen


@dataclass(frozen=True, slots=True)
class Scheme:
    """An ordered, first-match list of segments over scores on ``1..scale``.

    Building a scheme checks it: codes unique, ranges inside ``1..scale``, every score
    combination covered by some segment and every segment reachable. Scores on another
    number of bins are mapped onto ``scale`` with :func:`rescale_scores`.

    Parameters
    ----------
    name
        The scheme's name.
    segments
        The rules, in matching and display order.
    scale
        The score scale the ranges are written on (2 to 10).
    basis
        ``"scores"``: ranges apply to RFM scores; ``"threshold"``: to high (2) / low (1)
        flags against the mean or median (the ``"cn8"`` scheme).

    Raises
    ------
    ConfigError
        If the scheme is inconsistent; the message names the segment or the uncovered
        score combination.
    """

    name: str
    segments: tuple[SegmentRule, ...]
    scale: int = 5
    basis: Literal["scores", "threshold"] = "scores"
    _codes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        where = f"segment scheme {self.name!r}"
        if isinstance(self.scale, bool) or not 2 <= self.scale <= MAX_BINS:
            raise ConfigError(f"{where}: scale must be from 2 to {MAX_BINS}, got {self.scale}")
        if not self.segments:
            raise ConfigError(f"{where} has no segments; list at least one")
        codes = tuple(rule.code for rule in self.segments)
        duplicated = sorted({code for code in codes if codes.count(code) > 1})
        if duplicated:
            raise ConfigError(f"{where}: segment names must be unique; repeated: {duplicated}")
        for rule in self.segments:
            for dim, bounds in (("r", rule.r), ("f", rule.f), ("m", rule.m)):
                if bounds is not None and not 1 <= bounds[0] <= bounds[1] <= self.scale:
                    raise ConfigError(
                        f"{where}, segment {rule.code!r}: {dim} = {list(bounds)} must be "
                        f"[low, high] with 1 <= low <= high <= {self.scale}"
                    )
        r, f, m = _grid(self.scale)
        chosen = _first_match(self.segments, r, f, m)
        if (chosen == -1).any():
            missing = np.flatnonzero(chosen == -1)
            first = int(missing[0])
            more = f" and {len(missing) - 1} more score combination(s)" if len(missing) > 1 else ""
            raise ConfigError(
                f"{where} puts customers with R={r[first]}, F={f[first]}, M={m[first]}{more} "
                "in no segment; widen a range to cover them, or end the list with a "
                'catch-all segment that has no r, f or m (e.g. name = "Others")'
            )
        for i, rule in enumerate(self.segments):
            if not (chosen == i).any():
                raise ConfigError(
                    f"{where}: segment {rule.code!r} can never match, because the segments "
                    "before it take every score combination it covers; move it up or remove it"
                )
        object.__setattr__(self, "_codes", codes)

    @property
    def codes(self) -> tuple[str, ...]:
        """The segment codes in scheme order."""
        return self._codes

    def labels(self, lang: Lang = "en") -> tuple[str, ...]:
        """The segment labels in ``lang``, in scheme order."""
        return tuple(rule.label(lang) for rule in self.segments)

    def rule(self, code: str) -> SegmentRule:
        """Return the segment with ``code``; raise KeyError naming the codes."""
        for rule in self.segments:
            if rule.code == code:
                return rule
        raise KeyError(f"scheme {self.name!r} has no segment {code!r}; it has {self.codes}")


NAMED: Final = Scheme(
    "named",
    (
        SegmentRule("Champions", "冠军客户", r=(5, 5), f=(4, 5)),
        SegmentRule("Loyal", "忠诚客户", r=(3, 4), f=(4, 5)),
        SegmentRule("Potential Loyalist", "潜力客户", r=(4, 5), f=(2, 3)),
        SegmentRule("New", "新客户", r=(5, 5), f=(1, 1)),
        SegmentRule("Promising", "有望客户", r=(4, 4), f=(1, 1)),
        SegmentRule("Need Attention", "需关注客户", r=(3, 3), f=(3, 3)),
        SegmentRule("About to Sleep", "即将沉睡客户", r=(3, 3), f=(1, 2)),
        SegmentRule("At Risk", "风险客户", r=(1, 2), f=(3, 4)),
        SegmentRule("Can't Lose Them", "不能失去的客户", r=(1, 2), f=(5, 5)),
        SegmentRule("Hibernating", "沉睡客户", r=(2, 2), f=(1, 2)),
        SegmentRule("Lost", "流失客户", r=(1, 1), f=(1, 2)),
    ),
    scale=5,
)
"""The eleven named segments on R and F (5-point scale); see the module docstring."""

_HI: Final = (2, 2)
_LO: Final = (1, 1)

CN8: Final = Scheme(
    "cn8",
    (
        SegmentRule("Important value", "重要价值客户", r=_HI, f=_HI, m=_HI),
        SegmentRule("Important development", "重要发展客户", r=_HI, f=_LO, m=_HI),
        SegmentRule("Important retention", "重要保持客户", r=_LO, f=_HI, m=_HI),
        SegmentRule("Important win-back", "重要挽留客户", r=_LO, f=_LO, m=_HI),
        SegmentRule("General value", "一般价值客户", r=_HI, f=_HI, m=_LO),
        SegmentRule("General development", "一般发展客户", r=_HI, f=_LO, m=_LO),
        SegmentRule("General retention", "一般保持客户", r=_LO, f=_HI, m=_LO),
        SegmentRule("General win-back", "一般挽留客户", r=_LO, f=_LO, m=_LO),
    ),
    scale=2,
    basis="threshold",
)
"""The Chinese eight classes on high (2) / low (1) R, F and M; see the module docstring."""


def rescale_scores(scores: Any, *, bins: int, scale: int = 5, frequency: bool = False) -> IntArray:
    """Map scores on ``1..bins`` onto ``1..scale`` by the centre of each score's band.

    Score ``s`` stands for the quantile band ``((s-1)/bins, s/bins]``; it becomes the grade
    of ``1..scale`` whose band holds the centre of that band,
    ``floor(scale (2s - 1) / (2 bins)) + 1``. With ``frequency=True`` score 1 (one-time
    buyers) stays 1 and ``2..bins`` are mapped the same way onto ``2..scale``. A band
    centred exactly on a grade edge (possible only when ``scale``, or ``scale - 1`` for F,
    is even) takes the upper grade.

    Parameters
    ----------
    scores
        Whole-number scores in ``1..bins``.
    bins
        The number of score levels of ``scores`` (3 to 10).
    scale
        The number of grades to map onto (2 to 10).
    frequency
        Keep F = 1 (the one-time buyers) apart, as :func:`rfm_scores` scores F.

    Returns
    -------
    numpy.ndarray of int64
        Grades in ``1..scale``; the identity when ``bins == scale``.

    Examples
    --------
    >>> rescale_scores(range(1, 11), bins=10).tolist()
    [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    >>> rescale_scores([1, 2, 3], bins=3).tolist()
    [1, 3, 5]
    >>> rescale_scores(range(1, 11), bins=10, frequency=True).tolist()
    [1, 2, 2, 3, 3, 4, 4, 4, 5, 5]
    """
    levels = check_bins(bins)
    if isinstance(scale, bool) or not 2 <= scale <= MAX_BINS:
        raise ConfigError(f"scale must be from 2 to {MAX_BINS}, got {scale}")
    s = _check_scores(scores, "scores", levels)
    if not frequency:
        return (scale * (2 * s - 1)) // (2 * levels) + 1
    repeat = s - 1
    return np.where(s == 1, 1, (scale - 1) * (2 * repeat - 1) // (2 * (levels - 1)) + 2).astype(
        np.int64
    )


def _check_scores(scores: Any, name: str, bins: int) -> IntArray:
    values = as_float_array(scores, name)
    if len(values) and (
        (values != np.round(values)).any() or values.min() < 1 or values.max() > bins
    ):
        raise InputError(
            f"scores must be whole numbers from 1 to {bins} (bins={bins}); got values from "
            f"{values.min():g} to {values.max():g}",
            column=name,
        )
    return values.astype(np.int64)


def _scheme_error(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {message}")


def _parse_range(value: object, where: str, dim: str, scale: int) -> Range | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        bounds: list[object] = [value, value]
    elif isinstance(value, Sequence) and not isinstance(value, str):
        bounds = list(value)
    else:
        bounds = []
    ints = [b for b in bounds if isinstance(b, int) and not isinstance(b, bool)]
    if len(bounds) != 2 or len(ints) != 2:
        raise _scheme_error(
            where, f"{dim} must be a score or an inclusive range [low, high], got {value!r}"
        )
    low, high = ints
    if not 1 <= low <= high <= scale:
        raise _scheme_error(
            where,
            f"{dim} = {[low, high]} must have 1 <= low <= high <= {scale} "
            f"(the scores run from 1 to {scale})",
        )
    return (low, high)


def _parse_label(value: object, where: str, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise _scheme_error(where, f"{key} must be a non-empty text, got {value!r}")
    return value.strip()


_SCHEME_KEYS: Final = ("name", "scale", "segments")
_SEGMENT_KEYS: Final = ("name", "label_zh", "label_en", "r", "f", "m")


def scheme_from_config(config: Mapping[str, Any], *, bins: int = 5) -> Scheme:
    """Build a user-defined :class:`Scheme` from a parsed config table, checking every key.

    Parameters
    ----------
    config
        ``{"name": str, "segments": [{"name": str, "label_zh": str, "label_en": str,
        "r": [low, high], "f": [low, high], "m": [low, high]}, ...], "scale": int}``.
        ``name`` and ``segments`` are required, and each segment's ``name`` (its code);
        a range may also be a single score; a missing ``r``, ``f`` or ``m`` matches any
        score, and a segment without any is a catch-all. ``scale`` (3 to 10) is the score
        scale the ranges are written on; it defaults to ``bins``, and scores on another
        number of bins are rescaled with :func:`rescale_scores`.
    bins
        The number of score bins in use (3 to 10), the default ``scale``.

    Returns
    -------
    Scheme

    Raises
    ------
    ConfigError
        For an unknown or ill-typed key, an empty or out-of-scale range, a repeated name, a
        built-in name (``named``, ``cn8``), a score combination no segment covers (named
        in the message) or a segment that can never match.

    Examples
    --------
    >>> scheme = scheme_from_config({
    ...     "name": "mine",
    ...     "segments": [
    ...         {"name": "VIP", "label_zh": "贵宾", "r": [4, 5], "f": [4, 5]},
    ...         {"name": "Others", "label_zh": "其他"},
    ...     ],
    ... })
    >>> scheme.codes, scheme.labels("zh")
    (('VIP', 'Others'), ('贵宾', '其他'))
    >>> scheme_from_config({"name": "gap", "segments": [{"name": "VIP", "r": [4, 5]}]})
    Traceback (most recent call last):
    ...
    corecustomers.errors.ConfigError: segment scheme 'gap' puts customers with R=1, F=1, M=1 \
and 74 more score combination(s) in no segment; widen a range to cover them, or end the \
list with a catch-all segment that has no r, f or m (e.g. name = "Others")
    """
    if not isinstance(config, Mapping):
        raise ConfigError(
            "a segment scheme must be a table with the keys name and segments, got "
            f"{type(config).__name__}"
        )
    name = config.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"a segment scheme needs a name (a non-empty text), got {name!r}")
    name = name.strip()
    where = f"segment scheme {name!r}"
    unknown = sorted(str(k) for k in config if k not in _SCHEME_KEYS)
    if unknown:
        raise _scheme_error(
            where, f"unknown key(s) {unknown}; allowed keys: {', '.join(_SCHEME_KEYS)}"
        )
    if name in _BUILT_IN_NAMES:
        raise _scheme_error(
            where, f"the names {', '.join(_BUILT_IN_NAMES)} are built in; choose another name"
        )
    levels = check_bins(bins)
    scale = check_bins(config["scale"], f"{where}: scale") if "scale" in config else levels
    segments = config.get("segments")
    if (
        not isinstance(segments, Sequence)
        or isinstance(segments, str)
        or not segments
        or not all(isinstance(s, Mapping) for s in segments)
    ):
        raise _scheme_error(
            where, "segments must be a non-empty list of tables ([[...segments]] in TOML)"
        )
    rules: list[SegmentRule] = []
    for i, segment in enumerate(segments, start=1):
        seg_name = segment.get("name")
        if not isinstance(seg_name, str) or not seg_name.strip():
            raise _scheme_error(
                where, f"segment #{i} needs a name (a non-empty text), got {seg_name!r}"
            )
        seg_where = f"{where}, segment #{i} ({seg_name.strip()!r})"
        unknown = sorted(str(k) for k in segment if k not in _SEGMENT_KEYS)
        if unknown:
            raise _scheme_error(
                seg_where, f"unknown key(s) {unknown}; allowed keys: {', '.join(_SEGMENT_KEYS)}"
            )
        rules.append(
            SegmentRule(
                seg_name.strip(),
                label_zh=_parse_label(segment.get("label_zh"), seg_where, "label_zh"),
                label_en=_parse_label(segment.get("label_en"), seg_where, "label_en"),
                r=_parse_range(segment.get("r"), seg_where, "r", scale),
                f=_parse_range(segment.get("f"), seg_where, "f", scale),
                m=_parse_range(segment.get("m"), seg_where, "m", scale),
            )
        )
    return Scheme(name, tuple(rules), scale=scale)


def get_scheme(scheme: str | Scheme | Mapping[str, Any], *, bins: int = 5) -> Scheme:
    """Resolve a scheme: ``"named"``, ``"cn8"``, a :class:`Scheme` or a config table.

    Examples
    --------
    >>> get_scheme("cn8").codes[0]
    'Important value'
    """
    if isinstance(scheme, Scheme):
        return scheme
    if isinstance(scheme, str):
        if scheme == "named":
            return NAMED
        if scheme == "cn8":
            return CN8
        raise ConfigError(
            f"unknown segment scheme {scheme!r}; use named, cn8 or define one in the config "
            "file ([segments.scheme] with name and segments)"
        )
    return scheme_from_config(scheme, bins=bins)


def _mean_or_median(values: FloatArray, threshold: Threshold) -> float:
    if threshold == "median":
        return float(np.median(values))
    # fsum is exact; clipping keeps "all equal" exactly at its value (so all low).
    mean = math.fsum(values.tolist()) / len(values)
    return min(max(mean, float(values.min())), float(values.max()))


def _high_low(
    r: IntArray,
    f: IntArray,
    m: IntArray,
    *,
    threshold: Threshold,
    days_since_last_purchase: Any,
    frequency: Any,
    monetary: Any,
) -> tuple[IntArray, IntArray, IntArray]:
    """High (2) / low (1) flags of R, F and M for the ``"cn8"`` scheme."""
    if threshold not in ("mean", "median"):
        raise ConfigError(f'threshold must be "mean" or "median", got {threshold!r}')
    raw = (days_since_last_purchase, frequency, monetary)
    given = [x is not None for x in raw]
    if any(given) and not all(given):
        raise InputError(
            "the cn8 scheme compares either the raw values or the scores: give all of "
            "days_since_last_purchase, frequency and monetary, or none of them"
        )
    if all(given):
        days = as_float_array(days_since_last_purchase, "days_since_last_purchase")
        freq = as_float_array(frequency, "frequency")
        money = as_float_array(monetary, "monetary")
        check_same_length(r=r, days_since_last_purchase=days, frequency=freq, monetary=money)
        # Fewer days since the last purchase is the better (high) recency.
        good: tuple[FloatArray, FloatArray, FloatArray] = (-days, freq, money)
    else:
        good = (r.astype(np.float64), f.astype(np.float64), m.astype(np.float64))
    if len(r) == 0:
        return r, f, m
    flags = tuple(np.where(x > _mean_or_median(x, threshold), 2, 1).astype(np.int64) for x in good)
    return flags[0], flags[1], flags[2]


class SegmentAssignment(NamedTuple):
    """The result of :func:`assign_segments`; unpacks as ``codes, labels``."""

    codes: StrArray
    """Stable segment codes (the English names), one per customer."""
    labels: StrArray
    """The segment labels in the requested language, one per customer."""


def assign_segments(
    r: Any,
    f: Any,
    m: Any,
    *,
    scheme: str | Scheme | Mapping[str, Any] = "named",
    lang: Lang = "en",
    bins: int = 5,
    days_since_last_purchase: Any = None,
    frequency: Any = None,
    monetary: Any = None,
    threshold: Threshold = "mean",
) -> SegmentAssignment:
    """Put every customer in exactly one segment of ``scheme``.

    Parameters
    ----------
    r, f, m
        RFM scores in ``1..bins`` (from :func:`~corecustomers.segments.rfm_scores`).
    scheme
        ``"named"`` (eleven segments on R and F), ``"cn8"`` (the eight Chinese classes), a
        :class:`Scheme`, or a config table for :func:`scheme_from_config`.
    lang
        Language of the labels: ``"en"`` or ``"zh"`` (``"zh-CN"`` also accepted).
    bins
        The number of score levels of ``r``, ``f`` and ``m`` (3 to 10); the scores are
        rescaled onto the scheme's scale with :func:`rescale_scores`.
    days_since_last_purchase, frequency, monetary
        ``"cn8"`` only: the raw values to compare with the mean or median. Give all three
        or none (then the scores are compared).
    threshold
        ``"cn8"`` only: ``"mean"`` or ``"median"``. High is strictly better than it.

    Returns
    -------
    SegmentAssignment
        ``(codes, labels)``: NumPy string arrays, one entry per customer.

    Raises
    ------
    ConfigError
        For an unknown scheme, language or threshold, or an invalid scheme table.
    InputError
        If the scores are not whole numbers in ``1..bins`` or the arrays differ in length.

    Examples
    --------
    >>> codes, labels = assign_segments([5, 1, 5], [5, 1, 1], [3, 3, 3])
    >>> codes.tolist()
    ['Champions', 'Lost', 'New']
    >>> assign_segments([5, 1, 5], [5, 1, 1], [3, 3, 3], lang="zh").labels.tolist()
    ['冠军客户', '流失客户', '新客户']
    >>> assign_segments(
    ...     [5, 1], [5, 1], [5, 1], scheme="cn8", lang="zh",
    ...     days_since_last_purchase=[3, 300], frequency=[4, 0], monetary=[500.0, 20.0],
    ... ).labels.tolist()
    ['重要价值客户', '一般挽留客户']
    """
    levels = check_bins(bins)
    chosen_lang = normalise_lang(lang)
    resolved = get_scheme(scheme, bins=levels)
    rs = _check_scores(r, "r", levels)
    fs = _check_scores(f, "f", levels)
    ms = _check_scores(m, "m", levels)
    check_same_length(r=rs, f=fs, m=ms)
    if resolved.basis == "threshold":
        rg, fg, mg = _high_low(
            rs,
            fs,
            ms,
            threshold=threshold,
            days_since_last_purchase=days_since_last_purchase,
            frequency=frequency,
            monetary=monetary,
        )
    else:
        rg = rescale_scores(rs, bins=levels, scale=resolved.scale)
        fg = rescale_scores(fs, bins=levels, scale=resolved.scale, frequency=True)
        mg = rescale_scores(ms, bins=levels, scale=resolved.scale)
    chosen = _first_match(resolved.segments, rg, fg, mg)
    codes = np.array(resolved.codes, dtype=np.str_)
    labels = np.array(resolved.labels(chosen_lang), dtype=np.str_)
    return SegmentAssignment(codes=codes[chosen], labels=labels[chosen])


def segment_customers(
    features: pa.Table,
    *,
    scheme: str | Scheme | Mapping[str, Any] = "named",
    lang: Lang = "en",
    bins: int = 5,
    monetary: Monetary = "total",
    threshold: Threshold = "mean",
) -> pa.Table:
    """Score and segment every customer of a features table, in one call.

    Parameters
    ----------
    features
        The per-customer features (``docs/CONTRACTS.md``); needs ``customer_id``,
        ``days_since_last_purchase``, ``frequency`` and ``total_spend``.
    scheme, lang, bins, threshold
        As in :func:`assign_segments`; ``"cn8"`` compares the raw values.
    monetary
        ``"total"`` (``total_spend``) or ``"mean"`` (``total_spend / (frequency + 1)``).

    Returns
    -------
    pyarrow.Table
        ``customer_id``, ``r_score``, ``f_score``, ``m_score`` (int64), ``segment`` (the
        code) and ``segment_label`` (in ``lang``), in the row order of ``features``.

    Examples
    --------
    >>> import pyarrow as pa
    >>> features = pa.table({
    ...     "customer_id": ["a", "b", "c"],
    ...     "days_since_last_purchase": [1, 30, 300],
    ...     "frequency": [3, 0, 0],
    ...     "total_spend": [120.0, 15.0, 40.0],
    ... })
    >>> segment_customers(features, bins=3).column("segment").to_pylist()
    ['Champions', 'About to Sleep', 'Lost']
    """
    levels = check_bins(bins)
    money = monetary_values(features, monetary)
    days = table_column(features, "days_since_last_purchase")
    freq = table_column(features, "frequency")
    r, f, m = rfm_scores(days, freq, money, bins=levels)
    codes, labels = assign_segments(
        r,
        f,
        m,
        scheme=scheme,
        lang=lang,
        bins=levels,
        days_since_last_purchase=days,
        frequency=freq,
        monetary=money,
        threshold=threshold,
    )
    return pa.table(
        {
            "customer_id": table_column(features, "customer_id"),
            "r_score": pa.array(r, type=pa.int64()),
            "f_score": pa.array(f, type=pa.int64()),
            "m_score": pa.array(m, type=pa.int64()),
            "segment": pa.array(codes.tolist(), type=pa.string()),
            "segment_label": pa.array(labels.tolist(), type=pa.string()),
        }
    )
