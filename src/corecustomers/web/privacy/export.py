"""Everything held about one customer as a zip: one JSON and one CSV file per table.

Who may export: administrators (every customer) and managers (customers of their teams and
regions: ``restrict(user, "export")``). Account managers and analysts may not: an export
is the person's whole record, including audit entries, which they never see; analysts work
with pseudonyms only. A customer out of the user's scope is "not found".
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

from django.utils import timezone

from corecustomers.web.audit.log import record
from corecustomers.web.customers.models import Customer
from corecustomers.web.privacy.matching import Identifiers, naming_audit_entries
from corecustomers.web.privacy.models import Fulfilment, RequestKind
from corecustomers.web.privacy.registry import label, linked_rows, row_dict

__all__ = [
    "EXPORT_ROLES",
    "PrivacyForbiddenError",
    "build_export",
    "export_customer",
    "role_of",
    "subject",
]

#: Roles that may export a customer's data (administrators: everyone; managers: scope).
EXPORT_ROLES = frozenset({"admin", "manager"})


class PrivacyForbiddenError(PermissionError):
    """The user's role may not make this request (whatever the customer)."""


def role_of(user: Any) -> str:
    """The role the privacy rules go by (``admin`` for a superuser and for the system)."""
    if user is None:
        return "admin"  # the command line and the system
    if getattr(user, "is_superuser", False):
        return "admin"
    return str(getattr(user, "role", ""))


def subject(customer_id: str, user: Any, action: str) -> Customer:
    """The customer ``user`` may reach for ``action`` (``Customer.DoesNotExist`` if not)."""
    scope = Customer.objects.all() if user is None else Customer.objects.restrict(user, action)  # type: ignore[arg-type]
    return scope.get(external_id=customer_id)


def _cell(value: Any) -> Any:
    """A CSV cell: JSON for structures; text that a spreadsheet would run as a formula
    gets a leading apostrophe (numbers such as -12.5 stay numbers)."""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value[:1] in {"=", "+", "-", "@", "\t", "\r"}:
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def build_export(customer: Customer) -> tuple[bytes, dict[str, int]]:
    """The zip of every record about ``customer`` and the row count per table."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for linked in linked_rows(customer):
        tables[linked.label] = [row_dict(obj) for obj in linked.rows()]
    from corecustomers.web.audit.models import AuditEntry

    entries = naming_audit_entries(customer, Identifiers(customer))
    tables[label(AuditEntry)] = [row_dict(e) for e in entries]
    counts = {name: len(rows) for name, rows in tables.items()}
    manifest = {
        "customer_id": customer.external_id,
        "exported_at": timezone.now().isoformat(),
        "tables": counts,
        "about": "one JSON file (data/) and one CSV file (csv/) per table of the service",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        for name, rows in tables.items():
            archive.writestr(f"data/{name}.json", json.dumps(rows, ensure_ascii=False, indent=2))
            archive.writestr(f"csv/{name}.csv", "\ufeff" + _csv(rows))
    return buffer.getvalue(), counts


def export_customer(
    customer_id: str, user: Any, *, channel: str = "web"
) -> tuple[bytes, Fulfilment]:
    """Export ``customer_id`` for ``user`` (``None``: the command line); audited.

    Raises
    ------
    PrivacyForbiddenError
        ``user``'s role may not export.
    Customer.DoesNotExist
        No such customer in ``user``'s scope.
    """
    if role_of(user) not in EXPORT_ROLES:
        raise PrivacyForbiddenError(
            "only administrators and managers may export a customer's data; ask one of them"
        )
    customer = subject(customer_id, user, "export")
    data, counts = build_export(customer)
    done = Fulfilment.objects.create(
        kind=RequestKind.EXPORT,
        customer_key=customer.pk,
        subject=customer.pseudonym,
        by=user if user is not None and user.is_authenticated else None,
        username=getattr(user, "username", "") if user is not None else "",
        channel=channel,
        counts=counts,
        details={"bytes": len(data)},
        completed=timezone.now(),
    )
    record(
        "privacy_export",
        object_type="customer",
        object_key=customer.pk,
        customer_key=customer.pk,
        message=f"exported everything held about customer {customer.pseudonym}",
        row_count=sum(counts.values()),
        user=user,
        channel=channel,
    )
    return data, done
