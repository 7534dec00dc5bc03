"""The settings of the early warnings: the rule thresholds and the ``[alerts]`` table.

:class:`AlertThresholds` holds the thresholds of the four rules of
:func:`~corecustomers.insights.alerts.early_warnings` (described in
:mod:`corecustomers.insights.alerts`); :class:`AlertSettings` reads the ``[alerts]`` table
of ``corecustomers.toml``: those thresholds, the churn risk's window and score, and the
alert budget.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from corecustomers.errors import ConfigError

__all__ = [
    "ALERT_METHODS",
    "AlertMethod",
    "AlertSettings",
    "AlertThresholds",
]

AlertMethod = Literal["risk", "p_alive", "recency", "rules"]
"""How the alert list is made: ``risk`` (calibrated churn risk at least the threshold,
then by value at stake), ``p_alive`` (lowest P(alive) first), ``recency`` (longest since
the last purchase first) or ``rules`` (the previous rule set, by value at stake)."""

ALERT_METHODS: Final = ("risk", "p_alive", "recency", "rules")
"""The values of :data:`AlertMethod`."""


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    """The thresholds of the early-warning rules.

    Parameters
    ----------
    p_alive_drop
        Alert when P(alive) fell by *more than* this many probability points since the
        previous snapshot. Between 0 and 1; default 0.20.
    overdue_ratio
        Alert when days since the last purchase exceed this multiple of the customer's
        mean gap between purchase days. Positive; default 2.0.
    min_purchase_days
        Purchase days a customer needs before the overdue rule applies (a rhythm needs
        at least two gaps). At least 2; default 3.
    spend_drop_share
        Alert on spend when the trend is negative and the last 90 days' net spend is
        *below* this share of the previous 90 days'. Between 0 and 1; default 0.50.
    satisfaction_drop
        Alert when satisfaction fell by *at least* this many points of the survey's
        scale. Positive; default 1.0.
    typical_gap_fallback
        Hold customers with fewer than ``min_purchase_days`` purchase days to the typical
        gap between purchase days (the median mean gap of the customers with enough);
        ``False`` leaves them out of the overdue rule. Default ``True``.

    Raises
    ------
    ConfigError
        If a threshold is out of its range.

    Examples
    --------
    >>> AlertThresholds(overdue_ratio=3.0).overdue_ratio
    3.0
    >>> AlertThresholds(spend_drop_share=1.5)
    Traceback (most recent call last):
    ...
    corecustomers.errors.ConfigError: spend_drop_share must be a number in (0, 1], got 1.5.
    """

    p_alive_drop: float = 0.20
    overdue_ratio: float = 2.0
    min_purchase_days: int = 3
    spend_drop_share: float = 0.50
    satisfaction_drop: float = 1.0
    typical_gap_fallback: bool = True

    def __post_init__(self) -> None:
        checks: tuple[tuple[str, float, Callable[[float], bool], str], ...] = (
            ("p_alive_drop", self.p_alive_drop, lambda x: 0.0 <= x < 1.0, "in [0, 1)"),
            ("overdue_ratio", self.overdue_ratio, lambda x: x > 0.0, "above 0"),
            ("spend_drop_share", self.spend_drop_share, lambda x: 0.0 < x <= 1.0, "in (0, 1]"),
            ("satisfaction_drop", self.satisfaction_drop, lambda x: x > 0.0, "above 0"),
        )
        for name, value, ok, where in checks:
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or not ok(float(value))
            ):
                raise ConfigError(f"{name} must be a number {where}, got {value!r}.")
        days = self.min_purchase_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 2:
            raise ConfigError(
                f"min_purchase_days must be an integer of at least 2 (a rhythm needs a "
                f"gap), got {days!r}."
            )
        if not isinstance(self.typical_gap_fallback, bool):
            raise ConfigError(
                f"typical_gap_fallback must be True or False, got {self.typical_gap_fallback!r}."
            )


_RETIRED: Final[dict[str, str]] = {}
"""``[alerts]`` keys that no longer exist, with what replaced them (none retired yet)."""


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """The ``[alerts]`` table of ``corecustomers.toml``.

    Parameters
    ----------
    thresholds
        The previous rule set (:class:`AlertThresholds`; its keys keep their meaning):
        the ``rules`` method and baseline, and the signals an alert's reason names.
    risk_window_days
        The churn risk is the probability of no purchase in the next this many days.
        Default 90.
    max_share_of_core
        The alert budget: at most this share of the core customers is alerted per run
        (rounded down). In (0, 1]; default 0.10.
    risk_score
        Which score the calibrated churn risk is: ``auto`` (default: whichever of the
        classifier, 1 - P(alive) and days since the last purchase ranks best the core
        customers of the time-shifted validation whom an alert could reach -- idle at
        least ``min_idle_days`` and past ``min_overdue_ratio`` times their usual gap),
        ``model``, ``p_alive`` or ``recency`` (see :mod:`corecustomers.insights.risk`).
    min_risk
        The calibrated risk an alert needs with the ``risk`` method; None (default)
        chooses it on the time-shifted validation.
    min_idle_days
        No alert for a customer who bought fewer than this many days ago, however
        short their usual gap. Default 14.
    min_overdue_ratio
        No alert for a customer whose days since the last purchase are below this many
        times their usual gap between purchase days: a slow buyer on their own pace is
        not being lost. Default 1.0; 0 turns it off.

    Examples
    --------
    >>> AlertSettings.from_config({"overdue_ratio": 3.0, "max_share_of_core": 0.05})
    ... # doctest: +ELLIPSIS
    AlertSettings(thresholds=AlertThresholds(p_alive_drop=0.2, overdue_ratio=3.0, ...), \
risk_window_days=90, max_share_of_core=0.05, risk_score='auto', min_risk=None, min_idle_days=14, \
min_overdue_ratio=1.0)
    >>> AlertSettings.from_config({"budget": 3})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    corecustomers.errors.ConfigError: unknown key(s) budget in [alerts]; known: ...
    """

    thresholds: AlertThresholds = AlertThresholds()
    risk_window_days: int = 90
    max_share_of_core: float = 0.10
    risk_score: Literal["auto", "model", "p_alive", "recency"] = "auto"
    min_risk: float | None = None
    min_idle_days: int = 14
    min_overdue_ratio: float = 1.0

    def __post_init__(self) -> None:
        days = self.risk_window_days
        if isinstance(days, bool) or not isinstance(days, int) or not 7 <= days <= 730:
            raise ConfigError(
                f"[alerts] risk_window_days must be a whole number of days from 7 to 730, "
                f"got {days!r}."
            )
        share = self.max_share_of_core
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 1:
            raise ConfigError(
                f"[alerts] max_share_of_core must be a share in (0, 1] (0.10 is 10 % of the "
                f"core customers), got {share!r}."
            )
        if self.risk_score not in ("auto", "model", "p_alive", "recency"):
            raise ConfigError(
                f"[alerts] risk_score must be one of auto, model, p_alive, recency; got "
                f"{self.risk_score!r}."
            )
        risk = self.min_risk
        if risk is not None and (
            isinstance(risk, bool) or not isinstance(risk, int | float) or not 0 < risk < 1
        ):
            raise ConfigError(f"[alerts] min_risk must be a probability in (0, 1), got {risk!r}.")
        ratio = self.min_overdue_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not ratio >= 0:
            raise ConfigError(
                f"[alerts] min_overdue_ratio must be a number >= 0 (1.0: past their usual "
                f"gap), got {ratio!r}."
            )
        idle = self.min_idle_days
        if isinstance(idle, bool) or not isinstance(idle, int) or idle < 0:
            raise ConfigError(
                f"[alerts] min_idle_days must be a whole number of days >= 0, got {idle!r}."
            )

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> AlertSettings:
        """Read the ``[alerts]`` mapping; unknown or retired keys are a ConfigError."""
        data = dict(config or {})
        retired = [k for k in data if k in _RETIRED]
        if retired:
            raise ConfigError(
                "; ".join(f"[alerts] {k} was retired: {_RETIRED[k]}" for k in retired)
            )
        rule_keys = {f.name for f in dataclasses.fields(AlertThresholds)}
        own = {f.name for f in dataclasses.fields(cls)} - {"thresholds"}
        unknown = set(data) - rule_keys - own
        if unknown:
            raise ConfigError(
                f"unknown key(s) {', '.join(sorted(unknown))} in [alerts]; known: "
                f"{', '.join(sorted(rule_keys | own))}"
            )
        rules = AlertThresholds(**{k: v for k, v in data.items() if k in rule_keys})
        return cls(thresholds=rules, **{k: v for k, v in data.items() if k in own})
