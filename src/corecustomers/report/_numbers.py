"""How the report writes numbers: thousands separators, currency, shares, missing values.

Both languages group digits in threes with a comma (the convention of mainland Chinese
business reports as well), so the formatter differs between languages only in words, not in
digits. A value that is missing, not a number, NaN or infinite prints as an en dash.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Final

MISSING: Final = "–"


def as_float(value: object) -> float | None:
    """``value`` as a finite float, or ``None`` when it is missing or not a real number."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class NumberFormat:
    """Formats numbers for one report; ``currency`` is a symbol such as ``"¥"`` or ``""``."""

    currency: str = ""

    def integer(self, value: object) -> str:
        """``1234567`` -> ``"1,234,567"``."""
        number = as_float(value)
        return MISSING if number is None else f"{round(number):,d}"

    def decimal(self, value: object, decimals: int = 2) -> str:
        """``1234.5`` -> ``"1,234.50"``."""
        number = as_float(value)
        return MISSING if number is None else f"{number:,.{decimals}f}"

    def significant(self, value: object, digits: int = 4) -> str:
        """A model parameter: ``digits`` significant digits, separators for large values."""
        number = as_float(value)
        if number is None:
            return MISSING
        if number != 0 and (abs(number) >= 10**digits or abs(number) < 1e-4):
            return f"{number:.{digits - 1}e}"
        return f"{number:,.{digits}g}"

    def money(self, value: object, decimals: int | None = None) -> str:
        """``1234567.8`` -> ``"¥1,234,568"``; two decimals below 10,000 unless told."""
        number = as_float(value)
        if number is None:
            return MISSING
        if decimals is None:
            decimals = 0 if abs(number) >= 10_000 else 2
        sign = "-" if number < 0 and round(abs(number), decimals) != 0 else ""
        return f"{sign}{self.currency}{abs(number):,.{decimals}f}"

    def money_short(self, value: object) -> str:
        """Money for tight spaces (chart cells): no decimals from 100 up."""
        number = as_float(value)
        if number is None:
            return MISSING
        return self.money(number, 0 if abs(number) >= 100 else 2)

    def percent(self, share: object, decimals: int = 1) -> str:
        """A share in ``[0, 1]``: ``0.8012`` -> ``"80.1%"``; ``0.0001`` -> ``"<0.1%"``."""
        number = as_float(share)
        if number is None:
            return MISSING
        smallest = 10.0**-decimals
        if 0 < abs(number * 100) < smallest / 2:
            return f"{'<' if number > 0 else '>-'}{smallest:.{decimals}f}%"
        return f"{number * 100:,.{decimals}f}%"


def tick_decimals(step: float) -> int:
    """How many decimals the labels of an axis with tick spacing ``step`` need."""
    if step <= 0 or not math.isfinite(step):
        return 0
    decimals = 0
    while decimals < 6 and abs(step * 10**decimals - round(step * 10**decimals)) > 1e-9:
        decimals += 1
    return decimals
