"""A person's identifiers as whole values: find them in text and JSON, and replace them.

"Whole value" means not inside a longer id or word: ``C1`` matches ``C1`` and
``customer C1,`` but not ``C12``. JSON stored by the database escapes non-ASCII text
(``\\u5f20``), so the escaped spelling is searched for as well.
"""

from __future__ import annotations

import json
import re
from functools import reduce
from operator import or_
from typing import Any

from django.db import models
from django.db.models.functions import Cast

from corecustomers.web.audit.models import AuditEntry
from corecustomers.web.customers.models import Customer

__all__ = ["ERASED", "Identifiers", "naming_audit_entries"]

ERASED = "[erased]"


class Identifiers:
    """The values that identify one customer: id, name, phone, e-mail."""

    def __init__(self, customer: Customer, *, with_name: bool = True) -> None:
        self.external_id = customer.external_id
        values = [customer.external_id, customer.phone, customer.email]
        if with_name:
            values.append(customer.name)
        self.values = sorted({v.strip() for v in values if v and len(v.strip()) >= 2}, key=len)[
            ::-1
        ]
        spellings = set(self.values) | {json.dumps(v)[1:-1] for v in self.values}
        self.spellings = sorted(spellings, key=len, reverse=True)
        self._pattern = (
            re.compile(
                r"(?<![\w@.+-])(" + "|".join(re.escape(s) for s in self.spellings) + r")(?![\w@-])"
            )
            if self.spellings
            else None
        )

    def found_in(self, value: Any) -> bool:
        if self._pattern is None:
            return False
        if isinstance(value, str):
            return self._pattern.search(value) is not None
        if isinstance(value, dict):
            return any(self.found_in(k) or self.found_in(v) for k, v in value.items())
        if isinstance(value, list):
            return any(self.found_in(v) for v in value)
        return False

    def scrub(self, value: Any) -> Any:
        """``value`` with every identifier replaced by ``[erased]`` (JSON walked)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self._pattern.sub(ERASED, value)
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub(v) for v in value]
        return value

    def replace(self, text: str, id_as: str) -> str:
        """``text`` with the external id replaced by ``id_as`` and every other identifier
        by ``[erased]`` (whole values)."""
        if self._pattern is None:
            return text
        own = {self.external_id, json.dumps(self.external_id)[1:-1]}
        return self._pattern.sub(lambda m: id_as if m.group(1) in own else ERASED, text)

    def text_filter(self, names: list[str], json_names: list[str]) -> models.Q | None:
        """A database filter for rows whose text may hold an identifier (checked again in
        Python for whole values)."""
        terms = [models.Q(**{f"{name}__contains": s}) for name in names for s in self.spellings] + [
            models.Q(**{f"_t_{name}__contains": s}) for name in json_names for s in self.spellings
        ]
        return reduce(or_, terms) if terms else None


def text_fields(model: type[models.Model]) -> tuple[list[str], list[str]]:
    """The text fields and JSON fields of ``model`` (names)."""
    texts, jsons = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.is_relation:
            continue
        if isinstance(field, models.JSONField):
            jsons.append(field.name)
        elif isinstance(field, models.CharField | models.TextField):
            texts.append(field.name)
    return texts, jsons


def candidates(model: type[models.Model], ids: Identifiers) -> models.QuerySet[Any]:
    """Rows of ``model`` whose text or JSON may name the person."""
    texts, jsons = text_fields(model)
    condition = ids.text_filter(texts, jsons)
    if condition is None:
        return model._default_manager.none()
    annotations = {f"_t_{name}": Cast(name, models.TextField()) for name in jsons}
    return model._default_manager.annotate(**annotations).filter(condition)


def naming_audit_entries(customer: Customer, ids: Identifiers) -> list[AuditEntry]:
    """Audit entries about the customer (by key) or naming one of the identifiers."""
    texts, jsons = text_fields(AuditEntry)
    about = list(AuditEntry.objects.filter(customer_key=customer.pk))
    seen = {e.pk for e in about}
    for entry in candidates(AuditEntry, ids):
        if entry.pk in seen:
            continue
        if any(ids.found_in(getattr(entry, name)) for name in texts + jsons):
            about.append(entry)
            seen.add(entry.pk)
    return sorted(about, key=lambda e: e.pk)
