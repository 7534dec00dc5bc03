"""Where a customer's data lives, found from Django's model metadata (no list to keep).

*Linked rows*: the customer row, then every row of every installed model with a foreign
key (or one-to-one) to a row already found -- repeated, so that a loyalty lot reached
through its movement or a notification through its alert are found as well. A new app's
tables are included as soon as they point at the customer.

*Personal fields* (what erasure blanks), per model:

1. the fields an app declares in its ``AppConfig.personal_fields``
   (``{"app_label.Model": ["field", …]}``);
2. otherwise, for a model linked to the customer, the fallback: every ``TextField`` and
   ``EmailField`` without choices (free text: notes, messages, addresses) and every date
   field whose name says birth (``birthday``, ``date_of_birth``).

Codes, statuses, amounts, dates of events and keys are not personal by this rule: they
keep ledgers and aggregates balanced. Any other text or JSON value of a linked row that
still contains one of the person's identifiers has that value replaced (see ``erase``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models

from corecustomers.web.customers.models import Customer

__all__ = ["Linked", "customer_models", "label", "linked_rows", "personal_fields"]

#: Depth of the search through foreign keys (customer → movement → lot → …).
DEPTH = 4


def label(model: type[models.Model]) -> str:
    return f"{model._meta.app_label}.{model.__name__}"


@dataclass
class Linked:
    """The rows of one model that belong to the customer (by primary key)."""

    model: type[models.Model]
    pks: list[Any]

    @property
    def label(self) -> str:
        return label(self.model)

    def rows(self) -> models.QuerySet[Any]:
        return self.model._default_manager.filter(pk__in=self.pks).order_by("pk")


def _service_models() -> Iterator[type[models.Model]]:
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy and model is not Customer:
            yield model


def linked_rows(customer: Customer) -> list[Linked]:
    """Every row held about ``customer``, per model, the customer row first."""
    found: dict[type[models.Model], set[Any]] = {Customer: {customer.pk}}
    frontier: dict[type[models.Model], set[Any]] = {Customer: {customer.pk}}
    for _ in range(DEPTH):
        grown: dict[type[models.Model], set[Any]] = {}
        for model in _service_models():
            for field in model._meta.concrete_fields:
                target = getattr(field, "related_model", None)
                if not field.is_relation or target not in frontier:
                    continue
                pks = set(
                    model._default_manager.filter(
                        **{f"{field.name}__in": list(frontier[target])}
                    ).values_list("pk", flat=True)
                )
                new = pks - found.get(model, set())
                if new:
                    grown.setdefault(model, set()).update(new)
        if not grown:
            break
        for model, pks in grown.items():
            found.setdefault(model, set()).update(pks)
        frontier = grown
    ordered = sorted(found, key=lambda m: (m is not Customer, label(m)))
    return [Linked(m, sorted(found[m])) for m in ordered]


def customer_models() -> set[type[models.Model]]:
    """Every model whose rows belong to a customer: a foreign key to the customer or to
    another such model (whether or not a given customer has rows in it)."""
    found: set[type[models.Model]] = {Customer}
    grew = True
    while grew:
        grew = False
        for model in _service_models():
            if model in found:
                continue
            targets = {getattr(f, "related_model", None) for f in model._meta.concrete_fields}
            if targets & found:
                found.add(model)
                grew = True
    return found


def declared_fields() -> dict[str, list[str]]:
    """Every app's declared personal fields; an app's own declaration wins over another's."""
    declared: dict[str, list[str]] = {}
    owners: dict[str, str] = {}
    for config in apps.get_app_configs():
        for model_label, names in (getattr(config, "personal_fields", None) or {}).items():
            owner = model_label.split(".")[0]
            if model_label in declared and owners[model_label] == owner:
                continue
            if model_label not in declared or config.label == owner:
                declared[model_label] = list(names)
                owners[model_label] = config.label
    return declared


def _fallback(model: type[models.Model]) -> list[str]:
    names = []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.is_relation or field.choices:
            continue
        free_text = isinstance(field, models.TextField | models.EmailField)
        birth = isinstance(field, models.DateField) and "birth" in field.name
        if free_text or birth:
            names.append(field.name)
    return names


def personal_fields(model: type[models.Model]) -> list[str]:
    """The fields of ``model`` that erasure blanks (see the module docstring)."""
    declared = declared_fields().get(label(model))
    return list(declared) if declared is not None else _fallback(model)


def row_dict(obj: models.Model) -> dict[str, Any]:
    """One row as column values (foreign keys as keys), JSON-ready."""
    out: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif value is not None and not isinstance(value, str | int | float | bool | list | dict):
            value = str(value)
        out[field.attname] = value
    return out
