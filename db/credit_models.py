"""Prepaid credits: one wallet per customer, an append-only ledger, and the lots
(allowances, grants, purchases) the balance is made of.

The wallet row stores what the hot path needs in one place: the balance (always
the sum of the customer's ledger entries; `verify-ledger` proves it), what open
reservations hold, and today's usage in the customer's time zone.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class CreditWallet(Model):
    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="credit_wallets")
    customer = fields.OneToOneField("tally.Customer", related_name="credit_wallet")
    balance = fields.BigIntField(default=0)
    reserved = fields.BigIntField(default=0)
    # Net consumption ever, and how much of it has been drawn from the lots: lots are
    # settled lazily (domain/credits/lots.py) so a consumption touches one row.
    consumed_total = fields.BigIntField(default=0)
    consumed_settled = fields.BigIntField(default=0)
    usage_day = fields.CharField(max_length=10, default="")  # the customer's local date
    used_today = fields.BigIntField(default=0)
    blocked = fields.BooleanField(default=False)  # by an admin
    blocked_reason = fields.CharField(max_length=300, null=True)
    # Why an admin last unblocked it (the console asks); cleared by the next block.
    unblocked_reason = fields.CharField(max_length=300, null=True)
    auto_blocked = fields.BooleanField(default=False)  # exhausted (tenant setting)
    # The earliest lot expiry or allowance boundary: the hot path refuses to run past
    # it, so a consumption never draws on credits that have expired.
    next_event_at = fields.DatetimeField(null=True, db_index=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "credit_wallet"


class CreditLot(Model):
    """Credits granted together, with one expiry (none for purchases by default)."""

    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="credit_lots")
    wallet = fields.ForeignKeyField("tally.CreditWallet", related_name="lots")
    # allowance | rollover | grant | promotion | purchase | refund
    kind = fields.CharField(max_length=16)
    amount = fields.BigIntField()
    remaining = fields.BigIntField()  # as of wallet.consumed_settled
    expires_at = fields.DatetimeField(null=True)
    subscription = fields.ForeignKeyField(
        "tally.Subscription", related_name="credit_lots", null=True
    )
    closed_at = fields.DatetimeField(null=True)  # expired or rolled over
    created_at = fields.DatetimeField()

    class Meta:
        table = "credit_lot"
        indexes = (("wallet_id", "closed_at"),)


class CreditEntry(Model):
    """The ledger, append-only: the wallet balance is the sum of `amount`."""

    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40, unique=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="credit_entries")
    wallet = fields.ForeignKeyField("tally.CreditWallet", related_name="entries")
    customer = fields.ForeignKeyField("tally.Customer", related_name="credit_entries")
    # allowance | grant | promotion | purchase | consumption | refund | expiry | reset
    kind = fields.CharField(max_length=16)
    amount = fields.BigIntField()
    balance_after = fields.BigIntField()
    module = fields.CharField(max_length=32, null=True)
    action = fields.CharField(max_length=64, null=True)
    quantity = fields.BigIntField(null=True)
    # A consumption's idempotency key and a digest of its input (Stripe's rule).
    request_id = fields.CharField(max_length=128, null=True)
    request_hash = fields.CharField(max_length=32, null=True)
    remaining_today = fields.BigIntField(null=True)  # what the first answer said
    local_day = fields.CharField(max_length=10, null=True)
    metadata = fields.JSONField(null=True)
    reason = fields.CharField(max_length=300, null=True)
    author = fields.CharField(max_length=100, null=True)
    lot_id = fields.BigIntField(null=True)
    reservation_id = fields.BigIntField(null=True)
    refund_of = fields.BigIntField(null=True)  # the consumption a refund gives back
    created_at = fields.DatetimeField()

    class Meta:
        table = "credit_entry"
        unique_together = (("tenant", "request_id"),)
        indexes = (("wallet_id", "id"), ("wallet_id", "local_day"))


class CreditReservation(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40, unique=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="credit_reservations")
    wallet = fields.ForeignKeyField("tally.CreditWallet", related_name="reservations")
    customer = fields.ForeignKeyField("tally.Customer", related_name="credit_reservations")
    module = fields.CharField(max_length=32)
    action = fields.CharField(max_length=64)
    quantity = fields.BigIntField()
    amount = fields.BigIntField()  # credits held
    committed_amount = fields.BigIntField(null=True)
    status = fields.CharField(max_length=16)  # held | committed | released | expired
    request_id = fields.CharField(max_length=128)
    request_hash = fields.CharField(max_length=32)
    usage_day = fields.CharField(max_length=10)
    metadata = fields.JSONField(null=True)
    expires_at = fields.DatetimeField()
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "credit_reservation"
        unique_together = (("tenant", "request_id"),)
        indexes = (("status", "expires_at"), ("wallet_id", "status"))


class CreditPurchase(Model):
    """A top-up: credited when its invoice is paid, once."""

    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40, unique=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="credit_purchases")
    wallet = fields.ForeignKeyField("tally.CreditWallet", related_name="purchases")
    customer = fields.ForeignKeyField("tally.Customer", related_name="credit_purchases")
    invoice = fields.OneToOneField("tally.Invoice", related_name="credit_purchase")
    credits = fields.BigIntField()
    expires_at = fields.DatetimeField(null=True)
    status = fields.CharField(max_length=16, default="pending")  # pending | granted | canceled
    created_at = fields.DatetimeField()
    granted_at = fields.DatetimeField(null=True)

    class Meta:
        table = "credit_purchase"
        indexes = (("status", "id"),)
