"""Manual tier overrides (人工调整): who set a tier by hand, why, and until when.

An :class:`Override` wins over the rules, the band and grace in
:func:`~corecustomers.segments.tiers.assign_tiers` while it is active: up to and including
its ``until`` date (no date: until removed). Overrides are inputs kept in a small CSV
(header ``customer_id,tier,by,reason,until``; written with a byte-order mark for
spreadsheets) or JSON file so they survive reruns: :func:`parse_overrides` validates
records, :func:`load_overrides` / :func:`save_overrides` read and write the file, and
:func:`split_overrides` separates active from expired ones. The names are also importable
from :mod:`corecustomers.segments.tiers`.

Examples
--------
>>> import datetime as dt
>>> [o.customer_id for o in parse_overrides([
...     {"customer_id": "c7", "tier": "strategic", "by": "Wang Fang", "reason": "flagship"},
... ]) if o.active(dt.date(2025, 1, 31))]
['c7']
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from corecustomers.errors import ConfigError, InputError, SourceError

__all__ = ["Override", "load_overrides", "parse_overrides", "save_overrides", "split_overrides"]


@dataclass(frozen=True, slots=True)
class Override:
    """A manual tier decision: who set it, why, and until when (inclusive; None = open).

    Examples
    --------
    >>> import datetime as dt
    >>> o = Override("c42", "key", "Li Na", "key account under renegotiation",
    ...              dt.date(2025, 3, 31))
    >>> o.active(dt.date(2025, 3, 31)), o.active(dt.date(2025, 4, 1))
    (True, False)
    """

    customer_id: str
    tier: str
    by: str
    reason: str
    until: dt.date | None = None

    def active(self, as_of: dt.date) -> bool:
        """True while ``as_of`` is on or before ``until`` (always, without ``until``)."""
        return self.until is None or as_of <= self.until

    def to_record(self) -> dict[str, str | None]:
        """A JSON-ready mapping (``until`` as ``YYYY-MM-DD`` or None)."""
        return {
            "customer_id": self.customer_id,
            "tier": self.tier,
            "by": self.by,
            "reason": self.reason,
            "until": self.until.isoformat() if self.until else None,
        }


_OVERRIDE_FIELDS: Final = ("customer_id", "tier", "by", "reason", "until")


def _parse_date(value: object, what: str) -> dt.date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        for fmt in ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d"):
            try:
                return dt.datetime.strptime(value.strip(), fmt).date()
            except ValueError:
                continue
    raise ValueError(f"{what} {value!r} is not a date; write it as YYYY-MM-DD")


def parse_overrides(
    records: Iterable[Override | Mapping[str, Any]],
    *,
    file: str | None = None,
    first_row: int = 1,
) -> list[Override]:
    """Validate override records (mappings with the fields of :class:`Override`).

    Parameters
    ----------
    records
        :class:`Override` objects or mappings with ``customer_id``, ``tier``, ``by``,
        ``reason`` and optionally ``until`` (a date, ``YYYY-MM-DD``, or empty).
    file, first_row
        Where the records come from, for the messages (row of the first record).

    Returns
    -------
    list of Override

    Raises
    ------
    InputError
        Naming the file, row and field: a missing or empty field, an unknown field, a bad
        date, or a second override for the same customer.

    Examples
    --------
    >>> parse_overrides([{"customer_id": "c1", "tier": "key", "by": "Li Na",
    ...                   "reason": "renegotiation", "until": "2025-03-31"}])[0].until
    datetime.date(2025, 3, 31)
    >>> parse_overrides([{"customer_id": "c1", "tier": "key", "by": "", "reason": "x"}])
    Traceback (most recent call last):
    ...
    corecustomers.errors.InputError: row 1, column 'by': must name who set the override...
    """
    out: list[Override] = []
    seen: dict[str, int] = {}
    for row, record in enumerate(records, start=first_row):
        if isinstance(record, Override):
            record = {k: getattr(record, k) for k in _OVERRIDE_FIELDS}
        if not isinstance(record, Mapping):
            raise InputError(
                f"an override must be a table of fields, got {record!r}", file=file, row=row
            )
        unknown = sorted(set(record) - set(_OVERRIDE_FIELDS))
        if unknown:
            raise InputError(
                f"unknown field(s) {', '.join(map(str, unknown))}; an override has "
                f"{', '.join(_OVERRIDE_FIELDS)}",
                file=file,
                row=row,
            )
        text: dict[str, str] = {}
        for key, what in (
            ("customer_id", "the customer"),
            ("tier", "the tier code"),
            ("by", "who set the override"),
            ("reason", "why"),
        ):
            value = record.get(key)
            if (
                isinstance(value, bool)
                or not isinstance(value, str | int)
                or not str(value).strip()
            ):
                raise InputError(
                    f"must name {what}; it is empty or missing", file=file, row=row, column=key
                )
            text[key] = str(value).strip()
        try:
            until = _parse_date(record.get("until"), "until")
        except ValueError as exc:
            raise InputError(str(exc), file=file, row=row, column="until") from None
        cid = text["customer_id"]
        if cid in seen:
            raise InputError(
                f"customer {cid!r} already has an override in row {seen[cid]}; keep one per "
                "customer",
                file=file,
                row=row,
                column="customer_id",
            )
        seen[cid] = row
        out.append(Override(cid, text["tier"], text["by"], text["reason"], until))
    return out


def load_overrides(path: str | os.PathLike[str]) -> list[Override]:
    """Read overrides from a ``.csv`` (header ``customer_id,tier,by,reason,until``) or a
    ``.json`` file (a list of objects, or ``{"overrides": [...]}``).

    Raises
    ------
    SourceError
        If the file does not exist or cannot be read.
    InputError
        Naming the file and row (the line in a CSV, the entry in JSON) of a bad record.
    ConfigError
        If the file is neither ``.csv`` nor ``.json``.
    """
    file = Path(path)
    suffix = _suffix(file)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SourceError(f"cannot read the overrides file {file}: {exc}") from exc
    if suffix == ".json":
        try:
            data = json.loads(text) if text.strip() else []
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON: {exc.msg}", file=str(file), row=exc.lineno) from None
        if isinstance(data, Mapping):
            data = data.get("overrides", [])
        if not isinstance(data, list):
            raise InputError("expected a list of overrides", file=str(file))
        return parse_overrides(data, file=str(file))
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [f for f in _OVERRIDE_FIELDS[:4] if f not in header]
    if text.strip() and missing:
        raise InputError(
            f"the header lacks {', '.join(missing)}; write customer_id,tier,by,reason,until",
            file=str(file),
            row=1,
        )
    reader.fieldnames = header
    rows = [
        {k: (v or "") for k, v in row.items() if k is not None}
        for row in reader
        if any((v or "").strip() for v in row.values() if isinstance(v, str))
    ]
    return parse_overrides(rows, file=str(file), first_row=2)


def save_overrides(
    path: str | os.PathLike[str], overrides: Iterable[Override | Mapping[str, Any]]
) -> None:
    """Validate ``overrides`` and write them to a ``.csv`` or ``.json`` file (atomically).

    CSV is written as UTF-8 with a byte-order mark, so spreadsheet programs show Chinese
    text correctly; :func:`load_overrides` reads both files back unchanged.
    """
    file = Path(path)
    suffix = _suffix(file)
    items = parse_overrides(overrides)
    if suffix == ".json":
        body = json.dumps([o.to_record() for o in items], ensure_ascii=False, indent=2) + "\n"
        encoding = "utf-8"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=_OVERRIDE_FIELDS, lineterminator="\n")
        writer.writeheader()
        for o in items:
            writer.writerow({k: v or "" for k, v in o.to_record().items()})
        body, encoding = buffer.getvalue(), "utf-8-sig"
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=file.name, suffix=".tmp", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding, newline="") as handle:
            handle.write(body)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _suffix(file: Path) -> str:
    suffix = file.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise ConfigError(f"overrides file {file} must end in .csv or .json")
    return suffix


def split_overrides(
    overrides: Iterable[Override], as_of: dt.date
) -> tuple[list[Override], list[Override]]:
    """``(active, expired)`` on ``as_of``.

    Examples
    --------
    >>> o = Override("c1", "key", "Li Na", "x", dt.date(2025, 3, 31))
    >>> [len(part) for part in split_overrides([o], dt.date(2025, 4, 1))]
    [0, 1]
    """
    items = list(overrides)
    return [o for o in items if o.active(as_of)], [o for o in items if not o.active(as_of)]
