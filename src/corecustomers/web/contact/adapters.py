"""Delivery adapters: the one interface every SMS, e-mail or app-message provider plugs into.

An adapter ``send``\\ s one message and answers ``delivered(dedup_key)``: ``True`` when it
can tell the provider already has the message with that key (then a retry after a crash
does not send it again), ``False`` when it can tell it does not, ``None`` when it cannot
tell -- then the outbox sends again *with the same key* and reports the message as a
possible duplicate. ``reference(dedup_key)`` is what ``send`` returns for that key, recorded
for a message found delivered after a crash. Every attempt of a message carries the same
key: the SMTP adapter puts it in the ``Message-ID`` header, so a mail client or gateway
that removes duplicates by Message-ID shows the customer one message.

* :class:`SmtpAdapter` -- through Django's e-mail framework (``EMAIL_BACKEND``; SMTP in
  production). SMTP cannot be asked what it has: ``delivered`` is ``None``.
* :class:`FileAdapter` -- one JSON file per message named by its key (written atomically),
  for SMS and app messages until a provider is connected, and for tests; it can tell.

Others register with :func:`register_adapter` and are chosen per channel by the setting
``contact_adapters``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage

from corecustomers.data.atomic import replacing
from corecustomers.web.contact.models import OutboxMessage

__all__ = [
    "Adapter",
    "DeliveryRefusedError",
    "FileAdapter",
    "SmtpAdapter",
    "adapter_named",
    "message_id",
    "register_adapter",
]


class DeliveryRefusedError(Exception):
    """The provider refused the message for good (a bad address): do not try again."""


class Adapter(Protocol):
    name: str

    def send(self, message: OutboxMessage, headers: dict[str, str]) -> str:
        """Hand the message over; the provider's reference. Raise to try again later."""
        ...

    def delivered(self, dedup_key: str) -> bool | None:
        """Whether the provider has the message with ``dedup_key`` (``None``: cannot tell)."""
        ...

    def reference(self, dedup_key: str) -> str:
        """The reference ``send`` returns for that message: recorded when a crashed attempt
        is found delivered (the killed worker never stored it)."""
        ...


def message_id(dedup_key: str) -> str:
    """The ``Message-ID`` of every attempt of the message with ``dedup_key``."""
    sender = str(getattr(settings, "DEFAULT_FROM_EMAIL", "") or "corecustomers@localhost")
    domain = sender.rpartition("@")[2].strip("> ") or "localhost"
    return f"<{dedup_key}@{domain}>"


class SmtpAdapter:
    name = "smtp"

    def send(self, message: OutboxMessage, headers: dict[str, str]) -> str:
        from smtplib import SMTPRecipientsRefused

        mail = EmailMessage(
            subject=message.subject,
            body=message.body,
            to=[message.recipient],
            headers={"Message-ID": message_id(message.dedup_key), **headers},
        )
        try:
            mail.send(fail_silently=False)
        except SMTPRecipientsRefused as exc:
            raise DeliveryRefusedError(f"the mail server refused {message.recipient}") from exc
        return self.reference(message.dedup_key)

    def delivered(self, dedup_key: str) -> bool | None:
        return None

    def reference(self, dedup_key: str) -> str:
        return message_id(dedup_key)


def outbox_folder() -> Path:
    """Where the file adapter writes (``CORECUSTOMERS_OUTBOX_FOLDER``, else the service's)."""
    configured = os.environ.get("CORECUSTOMERS_OUTBOX_FOLDER", "").strip()
    if configured:
        return Path(configured)
    return Path(settings.SERVICE_FOLDER) / "outbox"


class FileAdapter:
    name = "file"

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder or outbox_folder()

    def _path(self, dedup_key: str) -> Path:
        return self.folder / f"{dedup_key}.json"

    def send(self, message: OutboxMessage, headers: dict[str, str]) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(message.dedup_key)
        content = {
            "dedup_key": message.dedup_key,
            "channel": message.channel,
            "to": message.recipient,
            "subject": message.subject,
            "body": message.body,
            "headers": headers,
        }
        # whole or not at all; a killed sender's half-written file is removed by the next
        with replacing(path, prefix=f".{path.name}.", mode=0o644) as partial:
            partial.write_text(json.dumps(content, ensure_ascii=False, indent=1), encoding="utf-8")
        return self.reference(message.dedup_key)

    def delivered(self, dedup_key: str) -> bool | None:
        return self._path(dedup_key).exists()

    def reference(self, dedup_key: str) -> str:
        return str(self._path(dedup_key))


_FACTORIES: dict[str, Callable[[], Adapter]] = {"smtp": SmtpAdapter, "file": FileAdapter}


def register_adapter(name: str, factory: Callable[[], Adapter]) -> None:
    """Make a provider available under ``name`` for the setting ``contact_adapters``."""
    _FACTORIES[name] = factory


def adapter_named(name: str) -> Adapter:
    try:
        return _FACTORIES[name]()
    except KeyError:
        known = ", ".join(sorted(_FACTORIES))
        raise ValueError(f"no delivery adapter {name!r}; one of {known}") from None
