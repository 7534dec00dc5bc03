"""Create and update users (the ``createuser`` command and the Administration page)."""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from corecustomers.errors import ConfigError
from corecustomers.web.accounts.models import Role, Team, User
from corecustomers.web.audit.log import record

__all__ = ["create_or_update_user"]


def create_or_update_user(
    username: str,
    *,
    role: str,
    password: str | None,
    teams: list[str] | tuple[str, ...] = (),
    email: str = "",
    validate: bool = True,
) -> tuple[User, bool]:
    """Create ``username`` (or update an existing one); ``(user, created)``.

    Teams named in ``teams`` are created when new and the user joins them. The password is
    checked against the password policy unless ``validate`` is false (demo users).
    """
    if role not in Role.values:
        raise ConfigError(f"{role!r} is not a role; use one of {', '.join(Role.values)}")
    username = username.strip()
    if not username:
        raise ConfigError("a user needs a non-empty name")
    with transaction.atomic():
        user, created = User.objects.get_or_create(username=username)
        before = {"role": user.role, "email": user.email} if not created else None
        user.role = role
        user.is_staff = role == "admin"
        if email:
            user.email = email
        if password is not None:
            if validate:
                try:
                    validate_password(password, user)
                except ValidationError as exc:
                    raise ConfigError(
                        "the password is too weak: " + " ".join(exc.messages)
                    ) from exc
            user.set_password(password)
        user.save()
        for name in teams:
            team, _ = Team.objects.get_or_create(name=name.strip())
            team.members.add(user)
        record(
            "create" if created else "update",
            object_type="user",
            object_key=user.pk,
            message=f"user {username} ({role})",
            before=before,
            after={"role": role, "email": user.email, "teams": list(teams)},
        )
    return user, created
