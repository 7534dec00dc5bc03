"""Access decided in the query (NetBox's pattern): ``Model.objects.restrict(user, action)``.

Every list, search, count, export and background job starts from ``.restrict()``; an
object outside the result answers 404. A model says what a user may reach by its
``access_filter(user, action)`` classmethod, which returns a ``Q`` (rows in scope), ``None``
(everything) or ``False`` (nothing). Administrators reach everything; an anonymous or
inactive user nothing.

Actions: ``view``, ``change`` (override, notes, account team), ``export``, ``assign``
(bulk assignment and hand-over), ``admin`` (administration).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from django.db import models

if TYPE_CHECKING:
    from corecustomers.web.accounts.models import User

__all__ = ["Action", "RestrictedManager", "RestrictedQuerySet", "Scoped", "reaches_everything"]

Action = Literal["view", "change", "export", "assign", "admin"]
ACTIONS: tuple[Action, ...] = ("view", "change", "export", "assign", "admin")

_M = TypeVar("_M", bound=models.Model)


class Scoped(Protocol):
    @classmethod
    def access_filter(cls, user: User, action: Action) -> models.Q | Literal[False] | None: ...


class RestrictedQuerySet(models.QuerySet[_M]):
    """A queryset that can be cut to what a user may reach."""

    def restrict(self, user: Any, action: Action = "view") -> RestrictedQuerySet[_M]:
        """The rows of this queryset that ``user`` may reach for ``action``.

        Superusers and admins: all; anonymous or inactive users: none; otherwise the rows
        the model's ``access_filter`` selects. Filtering by ``pk__in`` a sub-query keeps
        joins through many-to-many relations from duplicating rows.
        """
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.is_superuser or getattr(user, "role", None) == "admin":
            return self
        access_filter = getattr(self.model, "access_filter", None)
        if access_filter is None:
            return self.none()
        condition = access_filter(user, action)
        if condition is None:
            return self
        if condition is False:
            return self.none()
        return self.filter(condition)


class RestrictedManager(models.Manager[_M]):
    """The default manager of every model users reach: ``objects.restrict(user, action)``."""

    def get_queryset(self) -> RestrictedQuerySet[_M]:
        return RestrictedQuerySet(self.model, using=self._db)

    def restrict(self, user: Any, action: Action = "view") -> RestrictedQuerySet[_M]:
        return self.get_queryset().restrict(user, action)


def reaches_everything(model: type[models.Model], user: Any, action: Action = "view") -> bool:
    """Whether ``user`` reaches every row of ``model`` for ``action`` (no restriction).

    Pages use it to read whole-base aggregates that the analysis already computed instead
    of aggregating again; the answer comes from the same rules as ``restrict``.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser or getattr(user, "role", None) == "admin":
        return True
    access_filter = getattr(model, "access_filter", None)
    return access_filter is not None and access_filter(user, action) is None
