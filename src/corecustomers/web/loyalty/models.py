"""The points ledger (积分), member levels (会员等级), clubs and events.

The ledger is double-entry and append-only:

* :class:`Movement` -- one change asked for (earn, redeem, return, expire, adjust, release),
  with its idempotency key; a refused redemption is kept too, so that replaying its key
  answers the same refusal.
* :class:`Entry` -- the lines of a movement; the amounts of one movement sum to zero across
  the accounts of :class:`LedgerAccount` (the customer's ``available``, ``pending`` and
  ``owed`` against the programme's ``issued``, ``adjusted``, ``redeemed``, ``expired``).
  A line on a customer's ``available`` or ``pending`` names the :class:`Lot` it moves.
* :class:`Lot` -- points earned together, with their own expiry and pending period;
  ``remaining`` is the sum of its lines and never negative (a check constraint).
* :class:`Account` -- one row per member: the row every write locks, and the balances kept
  in step with the entries inside the same transaction (a balance lookup is one row).

Nothing here is ever updated except the caches ``Lot.remaining``/``Lot.pending`` and the
balances of ``Account``; entries and movements are only inserted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from corecustomers.web.access import Action, RestrictedManager
from corecustomers.web.customers.models import Customer, customer_scope

if TYPE_CHECKING:
    from corecustomers.web.accounts.models import User

__all__ = [
    "Account",
    "DailyRun",
    "EarnedOrder",
    "Entry",
    "Event",
    "ExpiryKind",
    "Gift",
    "Invitation",
    "KeyedRequest",
    "LedgerAccount",
    "Level",
    "LevelChange",
    "Lot",
    "Movement",
    "MovementKind",
    "Programme",
]


#: Why the ledger's rows name their customer without a database-level foreign key
#: (``db_constraint=False`` on ``customer`` of movements, lots, entries and earned
#: orders): PostgreSQL checks every row of a foreign key with its own query when the
#: transaction commits, and a bulk earning writes millions of rows (those checks were most
#: of a batch's commit). These rows are written only by the ledger, in the transaction that
#: locks the member's account row (which keeps its foreign key), and customers are never
#: deleted behind Django's back (erasure blanks them; a deletion through Django still
#: cascades, ``on_delete``). The links inside the ledger (entry → movement and lot, lot →
#: movement) have none either, for the same reason: a bulk earning of 1M members wrote 4M
#: such links, and their checks at commit were a fifth of the earning's time. Those rows
#: are written together, in one transaction, from the same rows (an entry's movement and
#: lot are written before it, by the same statement sequence); ``checks.ledger_problems``
#: reports any entry or lot whose movement or lot is missing.
LEDGER_KEYS = "db_constraint=False on the ledger's customer columns and internal links"


def _through_customer(user: User, action: Action) -> Q | Literal[False] | None:
    condition = customer_scope(user, action)
    if condition is None or condition is False:
        return condition
    return Q(customer__in=Customer.objects.filter(condition).values("pk"))


class ExpiryKind(models.TextChoices):
    NEVER = "never", _("Never")
    DAYS = "days", _("After a number of days")
    MONTH_END = "month_end", _("At the end of the month")
    YEAR_END = "year_end", _("At the end of the year")


class Programme(models.Model):
    """The programme's rules (one row, ``pk=1``); the programme is off until it exists."""

    points_per_unit = models.DecimalField(max_digits=12, decimal_places=4, default=1)
    expiry = models.CharField(max_length=10, choices=ExpiryKind.choices, default="never")
    expiry_days = models.PositiveIntegerField(default=365)
    pending_days = models.PositiveIntegerField(default=0)
    birthday_multiplier = models.DecimalField(max_digits=6, decimal_places=2, default=1)
    earn_from_runs = models.BooleanField(default=False)
    #: Level rules: a rolling window of days and what is measured over it.
    level_window_days = models.PositiveIntegerField(default=365)
    level_basis = models.CharField(
        max_length=10,
        choices=[("points", _("Points earned")), ("spend", _("Spend"))],
        default="points",
    )
    grace_days = models.PositiveIntegerField(default=30)


class Level(models.Model):
    """A member level with its threshold over the rolling window and its benefits."""

    code = models.CharField(max_length=40, unique=True)
    name_en = models.CharField(max_length=100)
    name_zh = models.CharField(max_length=100, blank=True, default="")
    rank = models.PositiveIntegerField(unique=True)
    threshold = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    multiplier = models.DecimalField(max_digits=6, decimal_places=2, default=1)
    discount_percent = models.DecimalField(max_digits=5, decimal_places=2, default=0)
    gifts = models.CharField(max_length=300, blank=True, default="")
    event_access = models.BooleanField(default=False)

    class Meta:
        ordering: ClassVar[list[str]] = ["rank"]

    def __str__(self) -> str:
        return self.code


class LedgerAccount(models.TextChoices):
    AVAILABLE = "available", _("Available")
    PENDING = "pending", _("Pending")
    OWED = "owed", _("Owed")
    ISSUED = "issued", _("Issued")
    ADJUSTED = "adjusted", _("Adjusted")
    REDEEMED = "redeemed", _("Redeemed")
    EXPIRED = "expired", _("Expired")


class MovementKind(models.TextChoices):
    EARN = "earn", _("Earned")
    REDEEM = "redeem", _("Redeemed")
    RETURN = "return", _("Returned")
    EXPIRE = "expire", _("Expired")
    ADJUST = "adjust", _("Adjusted")
    RELEASE = "release", _("Released")


class Account(models.Model):
    """A member's balances and level; the row each write to the member's ledger locks."""

    customer = models.OneToOneField(
        Customer, primary_key=True, on_delete=models.CASCADE, related_name="loyalty"
    )
    available = models.BigIntegerField(default=0)
    pending = models.BigIntegerField(default=0)
    owed = models.BigIntegerField(default=0)
    used = models.BigIntegerField(default=0)
    expired = models.BigIntegerField(default=0)
    lifetime_earned = models.BigIntegerField(default=0)
    #: The spend already turned into points by runs without order ids (a watermark).
    spend_credited = models.FloatField(default=0.0)
    level = models.ForeignKey(Level, null=True, blank=True, on_delete=models.SET_NULL)
    level_since = models.DateField(null=True, blank=True)
    below_since = models.DateField(null=True, blank=True)
    manual_level = models.ForeignKey(
        Level, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    manual_until = models.DateField(null=True, blank=True)
    updated = models.DateTimeField(default=timezone.now)

    objects = RestrictedManager["Account"]()

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(
                condition=Q(available__gte=0, pending__gte=0, owed__gte=0),
                name="loyalty_balances_not_negative",
            )
        ]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class Movement(models.Model):
    """One change asked of a member's ledger, with its idempotency key and its result."""

    #: no index of its own: the indexes on (customer, created), (customer, order_key) and
    #: the unique (customer, key) lead with it (each index is written once per movement,
    #: 1M times in a bulk earning)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )  # see LEDGER_KEYS
    kind = models.CharField(max_length=10, choices=MovementKind.choices)
    status = models.CharField(max_length=10, default="done")  # done | rejected
    key = models.CharField(max_length=200, null=True, blank=True)
    fingerprint = models.CharField(max_length=300, blank=True, default="")
    #: looked up with its customer only: the (customer, order_key) index
    order_key = models.CharField(max_length=200, blank=True, default="")
    points = models.BigIntegerField()
    reason = models.CharField(max_length=500, blank=True, default="")
    #: indexed where set only (``loyalty_movement_user``): the jobs' movements have none
    user = models.ForeignKey(
        "accounts.User",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created = models.DateTimeField(default=timezone.now)
    result = models.JSONField(default=dict)

    objects = RestrictedManager["Movement"]()

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["customer", "key"],
                condition=Q(key__isnull=False),
                name="loyalty_one_movement_per_key",
            )
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["customer", "order_key"]),
            models.Index(fields=["customer", "created"]),
            models.Index(
                fields=["user"], condition=Q(user__isnull=False), name="loyalty_movement_user"
            ),
        ]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class Lot(models.Model):
    """Points earned together: their own expiry, pending period and what is left."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )  # see LEDGER_KEYS
    movement = models.ForeignKey(
        Movement, on_delete=models.PROTECT, related_name="lots", db_constraint=False
    )  # see LEDGER_KEYS
    order_key = models.CharField(max_length=200, blank=True, default="")
    points = models.BigIntegerField()
    remaining = models.BigIntegerField()
    pending = models.BooleanField(default=False)
    earned_at = models.DateTimeField()
    available_from = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(remaining__gte=0), name="loyalty_lot_not_negative")
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(
                fields=["customer", "expires_at"],
                condition=Q(remaining__gt=0),
                name="loyalty_open_lots",
            ),
            models.Index(fields=["expires_at"], condition=Q(remaining__gt=0), name="loyalty_due"),
        ]


class Entry(models.Model):
    """One line of a movement: an amount on one account (and one lot, for a member's)."""

    movement = models.ForeignKey(
        Movement, on_delete=models.PROTECT, related_name="entries", db_constraint=False
    )  # see LEDGER_KEYS
    #: the index on (customer, account) serves the lookups by customer (no second index)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )  # see LEDGER_KEYS
    account = models.CharField(max_length=10, choices=LedgerAccount.choices)
    #: indexed where set only (``loyalty_entry_lot``): half the lines have no lot
    lot = models.ForeignKey(
        Lot, null=True, blank=True, on_delete=models.PROTECT, db_constraint=False, db_index=False
    )  # see LEDGER_KEYS
    amount = models.BigIntegerField()
    created = models.DateTimeField(default=timezone.now)

    objects = RestrictedManager["Entry"]()

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["customer", "account"]),
            models.Index(fields=["lot"], condition=Q(lot__isnull=False), name="loyalty_entry_lot"),
        ]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class EarnedOrder(models.Model):
    """An order (or, for sources without order ids, a customer's purchase day) that earned.

    The unique key is what makes earning exactly-once: an order earns once, ever, whether
    by hand, through the API or from any number of analysis runs. ``key`` is the order id,
    or ``day:YYYY-MM-DD``; ``movement`` is the earning that holds its points (its lots are
    the order's own lots when it is returned).
    """

    #: No database-level foreign keys on this table (one row per order, 10M for a large
    #: run): PostgreSQL checks each row of a foreign key with its own query when the
    #: transaction commits, which was most of a bulk earning's time. The rows are written
    #: only by the ledger, in the transaction that writes their movement; Django still
    #: cascades a customer's deletion to them (``on_delete``), and the unique key's
    #: leading column serves the lookups by customer (no second index).
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )
    key = models.CharField(max_length=200)
    points = models.BigIntegerField()
    amount = models.FloatField(default=0.0)
    day = models.DateField(null=True, blank=True)
    #: no index: an order is found by (customer, key); a movement's orders are asked for
    #: only when a movement is deleted (never: the ledger is append-only; a customer's
    #: deletion through Django reads the table once), and one index less is a quarter of
    #: the time to write the 10M orders of a large run
    movement = models.ForeignKey(
        Movement, on_delete=models.PROTECT, related_name="+", db_constraint=False, db_index=False
    )

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["customer", "key"], name="loyalty_order_earns_once")
        ]


class LevelChange(models.Model):
    """A member's level history: from, to, why and when."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    before = models.ForeignKey(
        Level, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    after = models.ForeignKey(
        Level, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=40)  # upgrade | downgrade | manual | manual_ended
    on = models.DateField()
    created = models.DateTimeField(default=timezone.now)

    objects = RestrictedManager["LevelChange"]()

    class Meta:
        ordering: ClassVar[list[str]] = ["-on", "-pk"]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class DailyRun(models.Model):
    """The day's maintenance (expiry, pending release, levels) queued once per day."""

    day = models.DateField(unique=True)
    queued = models.DateTimeField(default=timezone.now)


class Event(models.Model):
    """A club event (专属活动) with capacity, date, cost and who is invited."""

    name = models.CharField(max_length=200)
    starts = models.DateTimeField()
    capacity = models.PositiveIntegerField()
    cost = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    invite_tiers = models.JSONField(default=list, blank=True)
    invite_levels = models.JSONField(default=list, blank=True)
    invite_segments = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["starts", "pk"]


class Invitation(models.Model):
    """A member invited to an event, their answer and whether they came."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="invitations")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    rsvp = models.CharField(max_length=10, default="invited")  # invited | yes | no
    attended = models.BooleanField(default=False)
    interaction_id = models.BigIntegerField(null=True, blank=True)

    objects = RestrictedManager["Invitation"]()

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["event", "customer"], name="loyalty_one_invitation")
        ]

    @classmethod
    def access_filter(cls, user: User, action: Action) -> Q | Literal[False] | None:
        return _through_customer(user, action)


class Gift(models.Model):
    """A gift with a cost and a stock, given to members as an interaction."""

    name = models.CharField(max_length=200, unique=True)
    cost = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    stock = models.PositiveIntegerField(default=0)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="loyalty_gift_stock")
        ]


class KeyedRequest(models.Model):
    """The first answer to a write sent with an ``Idempotency-Key`` outside the ledger (a
    gift given, an RSVP): the same key for the same customer answers it again."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=300)
    result = models.JSONField(default=dict)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["customer", "key"], name="loyalty_one_request_per_key")
        ]
