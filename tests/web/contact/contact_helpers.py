"""Shared set-up of the contact tests: customers, consents and a real SMTP server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from typing import Any

from aiosmtpd.controller import Controller

from corecustomers.web.contact.consent import ConsentChange, record_consents
from corecustomers.web.customers.models import Customer


def customer(key: str, **fields: Any) -> Customer:
    defaults = {
        "name": f"Name {key}",
        "email": f"{key.lower()}@example.com",
        "phone": "13800000000",
    }
    return Customer.objects.create(
        external_id=key, pseudonym=f"p-{key.lower()}", **{**defaults, **fields}
    )


def grant(c: Customer, purpose: str, channel: str, **kw: Any) -> None:
    record_consents(c, [ConsentChange(purpose, channel, "granted", source="test", **kw)])


class Inbox:
    """What the test's SMTP server received: ``(recipients, message)`` in order."""

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.on_data: Any = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        if self.on_data is not None:
            self.on_data()
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def smtp_server(settings: Any) -> Iterator[Inbox]:
    """A real SMTP server on a free local port; Django's SMTP backend sends to it."""
    port = free_port()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    try:
        yield inbox
    finally:
        controller.stop()
