from __future__ import annotations

from django.apps import AppConfig


class SecurityConfig(AppConfig):
    name = "corecustomers.web.security"
    label = "security"
    verbose_name = "Security and health"

    def ready(self) -> None:
        from corecustomers.web.security import sessions

        sessions.connect()
