"""The API's request parser: ninja's, refusing NUL characters in every value it reads.

PostgreSQL text cannot hold a NUL character (``\\x00``); a query with one fails in the
database, which would be a 500. Every query parameter, form field and JSON value (and
JSON key) is checked here, once for all endpoints, and a NUL answers 422 naming the
field. Path parameters do not pass through a parser: handlers that take a string from the
path check it themselves (customer ids are never found when they hold a NUL).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.datastructures import MultiValueDict
from ninja.errors import ValidationError
from ninja.parser import Parser

__all__ = ["NulCharacterError", "StrictParser", "find_nul"]

MESSAGE = (
    "NUL characters (\\x00) and unpaired surrogates (text that is not valid Unicode) are "
    "not allowed; remove them"
)


class NulCharacterError(ValueError):
    """A JSON body holds a NUL character at ``field`` (answered 422 by the error handlers)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field}: {MESSAGE}")
        self.field = field


def _unstorable(text: str) -> bool:
    """A NUL, or an unpaired surrogate (JSON's ``"\\ud800"``): PostgreSQL stores neither."""
    if "\x00" in text:
        return True
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def find_nul(value: Any, where: str = "") -> str | None:
    """The dotted place of the first string (value or key) holding a NUL, or ``None``.

    Examples
    --------
    >>> find_nul({"team": {"support": ["am1", "a\\x00"]}})
    'team.support.1'
    >>> find_nul({"notes": "fine"}) is None
    True
    """
    if isinstance(value, str):
        return (where or "body") if _unstorable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            place = f"{where}.{key}" if where else str(key)
            if _unstorable(str(key)):
                return place
            found = find_nul(item, place)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = find_nul(item, f"{where}.{i}" if where else str(i))
            if found is not None:
                return found
    return None


class StrictParser(Parser):
    """ninja's parser, refusing NUL characters (see the module docstring)."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        data = super().parse_body(request)
        if not isinstance(data, dict):
            # ninja would read ``true`` or ``[]`` as an empty object and fill in every default
            raise ValueError(f"the body is a JSON {type(data).__name__}, not an object")
        where = find_nul(data)
        if where is not None:
            # ninja turns any error here into its 400; the error handlers find this one as
            # the 400's cause and answer 422 naming the field instead
            raise NulCharacterError(where)
        return data

    def parse_querydict(
        self, data: MultiValueDict[str, Any], list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        result = super().parse_querydict(data, list_fields, request)
        plain = {
            key: value
            for key, value in result.items()
            if isinstance(value, str | list) and all(isinstance(v, str) for v in _items(value))
        }
        where = find_nul(plain)
        if where is not None:
            raise ValidationError([{"loc": (where,), "msg": MESSAGE, "type": "value_error"}])
        return result


def _items(value: str | list[Any]) -> list[Any]:
    return [value] if isinstance(value, str) else value
