"""The exceptions corecustomers raises.

Every failure the user can act on is a subclass of :class:`CoreCustomersError` whose
message says what went wrong and what to do::

    CoreCustomersError
    ├── ConfigError          bad settings (config file or flags)
    ├── InputError           bad input data: names the file, row and column
    │   ├── ColumnMappingError   a required column cannot be found
    │   └── TooManyBadRowsError  more rows quarantined than allowed
    ├── SourceError          a source cannot be opened or read
    ├── OutputError          an output file or folder cannot be written where asked
    └── NotFittedError       a model was used before ``fit``
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ColumnMappingError",
    "ConfigError",
    "CoreCustomersError",
    "InputError",
    "NotFittedError",
    "OutputError",
    "SourceError",
    "TooManyBadRowsError",
]


class CoreCustomersError(Exception):
    """Base class of every error corecustomers raises on purpose."""


class ConfigError(CoreCustomersError):
    """A setting in the config file or on the command line is invalid."""


class SourceError(CoreCustomersError):
    """A data source cannot be opened or read."""


class OutputError(CoreCustomersError):
    """An output cannot be written where the user asked (a file where a folder is needed,
    a read-only place, a folder where a file is needed)."""


class InputError(CoreCustomersError):
    """The input data is unusable; the message names file, row, column and the fix."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.message = message
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"row {row}" if row is not None else "",
                f"column {column!r}" if column else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled with its keywords (a ``history`` worker sends its errors to the
        process that started it)."""
        keywords = {"file": self.file, "row": self.row, "column": self.column}
        return (_rebuilt, (type(self), self.message, keywords))


def _rebuilt(kind: type[InputError], message: str, keywords: dict[str, Any]) -> InputError:
    return kind(message, **keywords)


class ColumnMappingError(InputError):
    """A required canonical column could not be found in the source."""


class TooManyBadRowsError(InputError):
    """More than the allowed share of rows was quarantined."""


class NotFittedError(CoreCustomersError, ValueError):
    """A model was asked for predictions or parameters before ``fit`` was called."""
