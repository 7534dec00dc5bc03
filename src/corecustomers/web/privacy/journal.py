"""The journal of one erasure in progress: what it needs to resume, and what it has done.

An erasure cleans the files outside the database before its transaction and checks them
once more after it (:mod:`.erase`); the person's identifiers are gone from the database
once the transaction commits, so a worker killed after the commit could not finish the
second look without them. The journal keeps them for exactly that long:
``<service folder>/erasing/<customer key>.json`` (mode 0600, written beside and renamed
into place), holding

* ``ids``: the customer's id, name, phone and e-mail (what :class:`~.matching.Identifiers`
  reads) and the erased id;
* ``workspace``: ``"started"``, ``"replaced"`` (the values are replaced, the file not yet
  rewritten) or ``"done"``, with the rows replaced so far; ``stored_files``: ``"done"``
  or not, with every file cleaned so far -- so a second attempt after a kill before the
  commit does only what is left, and the record counts what the first attempt did too.

The journal is removed as soon as the last stage that needs the identifiers is done
(:mod:`.finish`), before the erasure is reported complete. It is named by the customer's
key, so a new request for the same customer takes over the journal of an attempt killed
before its commit. The files of the folder are never among the stored files that an
erasure cleans or a byte search reads as the service's data (:mod:`.stores` skips it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings

from corecustomers.data.atomic import remove_leftovers, replacing
from corecustomers.web.customers.models import Customer

__all__ = ["FOLDER", "Journal"]

#: The journals' folder inside the service folder.
FOLDER = "erasing"


class Journal:
    """One customer's erasure journal (see the module)."""

    def __init__(self, customer_key: int, data: dict[str, Any]) -> None:
        self.customer_key = customer_key
        self.data = data

    @staticmethod
    def path_for(customer_key: int) -> Path:
        return Path(settings.SERVICE_FOLDER) / FOLDER / f"{int(customer_key)}.json"

    @property
    def path(self) -> Path:
        return self.path_for(self.customer_key)

    @classmethod
    def begin(cls, customer: Customer, erased_id: str) -> Journal:
        """The journal of ``customer``'s erasure: an earlier attempt's (killed before its
        commit: its progress is kept), else a new one; written before anything is cleaned."""
        found = cls.load(customer.pk)
        data = found.data if found is not None else {}
        data["ids"] = {
            "external_id": customer.external_id,
            "name": customer.name,
            "phone": customer.phone,
            "email": customer.email,
            "erased_id": erased_id,
        }
        journal = cls(customer.pk, data)
        journal.save()
        return journal

    @classmethod
    def load(cls, customer_key: int) -> Journal | None:
        path = cls.path_for(customer_key)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        return cls(customer_key, data)

    def customer(self) -> Customer:
        """An unsaved customer with the journal's identifiers (for ``Identifiers``)."""
        ids = self.data["ids"]
        return Customer(
            external_id=ids["external_id"], name=ids["name"], phone=ids["phone"],
            email=ids["email"],
        )  # fmt: skip

    @property
    def _prefix(self) -> str:
        return f".journal-{int(self.customer_key)}-"

    @property
    def erased_id(self) -> str:
        return str(self.data["ids"]["erased_id"])

    def save(self) -> None:
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with replacing(self.path, prefix=self._prefix) as temporary:
            temporary.write_text(json.dumps(self.data, ensure_ascii=False), encoding="utf-8")

    def update(self, **values: Any) -> None:
        self.data.update(values)
        self.save()

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        remove_leftovers(self.path.parent, self._prefix)  # a killed save's
