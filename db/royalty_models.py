"""Royalties (issue 16): payees, works and their contributors, contracts, the
period's reads, exchange rates, and the append-only royalty ledger with the
statements and payouts the royalty run writes.

Amounts are integer minor units. A payee's running figures (`balance_minor`,
`advance_minor`, `reserve_minor`) are in its payout currency and always equal the
sums of its ledger entries (`python server.py verify-ledger` checks it). Earnings
are kept per source line and tier in the sale's currency, so a later refund claws
back exactly what that line earned, at the rate that applied then.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from db.models import TimestampedModel


class Payee(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="payees")
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, null=True)
    kind = fields.CharField(
        max_length=16
    )  # author | translator | illustrator | label | estate | agent
    language = fields.CharField(max_length=2, default="en")  # en | fr | de | es | ar
    payout_currency = fields.CharField(max_length=3)
    payout_method = fields.CharField(
        max_length=16, default="manual"
    )  # manual | stripe_connect | mobile_money
    # A Stripe Connect account id (acct_…) or a mobile money number (E.164).
    payout_account = fields.CharField(max_length=64, null=True)
    tax_id = fields.CharField(max_length=64, null=True)
    # Paid through this payee (an agent) rather than directly.
    agent = fields.ForeignKeyField("tally.Payee", related_name="represented", null=True)
    # The minimum payout, payout currency; null: the tenant's default, converted.
    threshold_minor = fields.BigIntField(null=True)
    # Running figures, payout currency: what is owed (negative: recovered from later
    # earnings), the advance not yet recouped, the reserve held against returns.
    balance_minor = fields.BigIntField(default=0, db_default=0)
    advance_minor = fields.BigIntField(default=0, db_default=0)
    reserve_minor = fields.BigIntField(default=0, db_default=0)
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        table = "royalty_payee"
        indexes = (("tenant_id", "name"),)


class Work(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="works")
    code = fields.CharField(max_length=64)
    title = fields.CharField(max_length=300)
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        table = "royalty_work"
        unique_together = (("tenant", "code"),)


class WorkShare(Model):
    """One contributor's share of a work from `effective_from` on: the shares of a
    date are the rows of the latest `effective_from` on or before it (they sum to
    exactly 100); earlier rows stay as history."""

    id = fields.BigIntField(primary_key=True)
    work = fields.ForeignKeyField("tally.Work", related_name="shares")
    payee = fields.ForeignKeyField("tally.Payee", related_name="shares")
    share = fields.CharField(max_length=16)  # percent, decimal text ("33.33")
    role = fields.CharField(max_length=16, default="author")
    effective_from = fields.DateField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "royalty_work_share"
        unique_together = (("work", "effective_from", "payee"),)


class Contract(TimestampedModel):
    """What one payee earns on one work, by transaction type (domain/royalties/terms.py
    reads `rules`): {"SALE": {"rate": "70", "basis": "NET", "escalators": [...]},
    "SUBSCRIPTION_READ": {"rate": "50"}, "USAGE": {...}, "LICENSE": {"flatFee": {...}}}."""

    tenant = fields.ForeignKeyField("tally.Tenant", related_name="royalty_contracts")
    work = fields.ForeignKeyField("tally.Work", related_name="contracts")
    payee = fields.ForeignKeyField("tally.Payee", related_name="contracts")
    rules = fields.JSONField()
    reserve = fields.JSONField(null=True)  # {"percent": "20", "releaseAfter": 2}
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        table = "royalty_contract"
        unique_together = (("work", "payee"),)


class RoyaltyExchangeRate(Model):
    """1 `from_currency` = `rate` `to_currency` for one period, as the tenant records it."""

    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="royalty_rates")
    period = fields.CharField(max_length=7)  # 2026-11
    from_currency = fields.CharField(max_length=3)
    to_currency = fields.CharField(max_length=3)
    rate = fields.CharField(max_length=40)  # decimal text
    updated_at = fields.DatetimeField()

    class Meta:
        table = "royalty_exchange_rate"
        unique_together = (("tenant", "period", "from_currency", "to_currency"),)


class RoyaltyRead(Model):
    """Reads of a work recorded through `recordReads` or the bulk endpoint (reads that
    arrive as usage events or credit consumption are read from those tables)."""

    id = fields.BigIntField(primary_key=True)
    tenant_id = fields.BigIntField()
    work_id = fields.BigIntField()
    customer_id = fields.BigIntField(null=True)
    count = fields.BigIntField()
    occurred_at = fields.DatetimeField()
    request_id = fields.CharField(max_length=128)
    created_at = fields.DatetimeField()

    class Meta:
        table = "royalty_read"
        unique_together = (("tenant_id", "request_id"),)
        indexes = (("tenant_id", "occurred_at"),)


class RoyaltyAdjustment(TimestampedModel):
    """A manual adjustment by an admin, with its reason, for one payee and period."""

    tenant = fields.ForeignKeyField("tally.Tenant", related_name="royalty_adjustments")
    payee = fields.ForeignKeyField("tally.Payee", related_name="adjustments")
    work = fields.ForeignKeyField("tally.Work", related_name="adjustments", null=True)
    period = fields.CharField(max_length=7)
    amount_minor = fields.BigIntField()  # signed
    currency = fields.CharField(max_length=3)
    reason = fields.CharField(max_length=500)
    author = fields.CharField(max_length=100, null=True)

    class Meta:
        table = "royalty_adjustment"
        indexes = (("tenant_id", "period"),)


class RoyaltyAdvance(TimestampedModel):
    """An advance paid to a payee (payout currency), recouped from later earnings."""

    tenant = fields.ForeignKeyField("tally.Tenant", related_name="royalty_advances")
    payee = fields.ForeignKeyField("tally.Payee", related_name="advances")
    work = fields.ForeignKeyField("tally.Work", related_name="advances", null=True)
    amount_minor = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    paid_on = fields.DateField()
    reference = fields.CharField(max_length=200, default="")
    idempotency_key = fields.CharField(max_length=128, null=True)

    class Meta:
        table = "royalty_advance"
        unique_together = (("tenant", "idempotency_key"),)


class RoyaltyRun(Model):
    """One tenant's royalty run for one period: claimed payee by payee, completed once."""

    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="royalty_runs")
    period = fields.CharField(max_length=7)
    status = fields.CharField(max_length=12, default="running")  # running | completed
    payees = fields.IntField(default=0)
    statements = fields.IntField(default=0)
    started_at = fields.DatetimeField()
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "royalty_run"
        unique_together = (("tenant", "period"),)


class RoyaltyStatement(TimestampedModel):
    """One payee's statement for one period (at most one: the run's exactly-once key).
    `document` holds every line the PDF and CSV show (domain/royalties/documents.py)."""

    tenant = fields.ForeignKeyField("tally.Tenant", related_name="royalty_statements")
    payee = fields.ForeignKeyField("tally.Payee", related_name="statements")
    run = fields.ForeignKeyField("tally.RoyaltyRun", related_name="statement_rows", null=True)
    period = fields.CharField(max_length=7)
    currency = fields.CharField(max_length=3)
    language = fields.CharField(max_length=2, default="en")
    status = fields.CharField(max_length=12)  # draft | approved | paid | carried
    opening_minor = fields.BigIntField()
    earnings_minor = fields.BigIntField()
    returns_minor = fields.BigIntField()
    adjustments_minor = fields.BigIntField(default=0)
    reserve_withheld_minor = fields.BigIntField()
    reserve_released_minor = fields.BigIntField()
    recouped_minor = fields.BigIntField()
    advance_remaining_minor = fields.BigIntField()
    payable_minor = fields.BigIntField()
    closing_minor = fields.BigIntField()
    document = fields.JSONField()
    approved_at = fields.DatetimeField(null=True)
    paid_at = fields.DatetimeField(null=True)

    class Meta:
        table = "royalty_statement"
        unique_together = (("payee", "period"),)
        indexes = (("tenant_id", "period", "status"),)


class RoyaltyEarning(Model):
    """What one source earned one payee in one period, in the sale's currency: one row
    per invoice line and escalator tier (sales, licences, usage), per work (pool,
    adjustments); `movement` "return" rows are clawbacks of earlier earnings."""

    id = fields.BigIntField(primary_key=True)
    tenant_id = fields.BigIntField()
    payee_id = fields.BigIntField()
    statement_id = fields.BigIntField()
    work_id = fields.BigIntField(null=True)
    period = fields.CharField(max_length=7)
    kind = fields.CharField(
        max_length=20
    )  # SALE | SUBSCRIPTION_READ | USAGE | LICENSE | ADJUSTMENT
    movement = fields.CharField(max_length=8, default="earning")  # earning | return
    invoice_line_id = fields.BigIntField(null=True)
    credit_note_id = fields.BigIntField(null=True)
    currency = fields.CharField(max_length=3)
    tier = fields.IntField(null=True)
    rate = fields.CharField(max_length=24, null=True)
    units = fields.BigIntField(default=0)
    basis_minor = fields.BigIntField(default=0)
    amount_minor = fields.BigIntField()  # earned (or clawed back), positive
    # An earning from a line: the line's net receipts when it was earned (what a later
    # refund's share is measured against, `earnings.claw_back`'s paid_minor).
    line_kept_minor = fields.BigIntField(default=0)
    # A return: the part of the credit note it counted against the line's receipts.
    refund_counted_minor = fields.BigIntField(default=0)

    class Meta:
        table = "royalty_earning"
        indexes = (("tenant_id", "invoice_line_id"), ("payee_id", "period"), ("work_id", "period"))


class RoyaltyLedgerEntry(Model):
    """The append-only royalty ledger, payout currency. `amount_minor` moves the
    balance owed, `advance_minor` the unrecouped advance, `reserve_minor` the reserve
    held; a payee's running figures are their sums."""

    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40, unique=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="royalty_ledger")
    payee = fields.ForeignKeyField("tally.Payee", related_name="ledger")
    statement = fields.ForeignKeyField("tally.RoyaltyStatement", related_name="entries", null=True)
    period = fields.CharField(max_length=7, null=True)
    # earning | clawback | adjustment | reserve_withheld | reserve_released | advance |
    # recoupment | payout | carried_forward
    kind = fields.CharField(max_length=20)
    amount_minor = fields.BigIntField(default=0)
    advance_minor = fields.BigIntField(default=0)
    reserve_minor = fields.BigIntField(default=0)
    balance_after_minor = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    memo = fields.CharField(max_length=500, default="")
    # A reserve withheld: the period it is released in (the contract's N periods on).
    release_period = fields.CharField(max_length=7, null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "royalty_ledger_entry"
        indexes = (("payee_id", "id"),)


class RoyaltyPayout(TimestampedModel):
    """The payment of one statement's payable amount: by hand (a bank transfer with
    its reference) or a Stripe Connect transfer (idempotency key per statement)."""

    tenant = fields.ForeignKeyField("tally.Tenant", related_name="royalty_payouts")
    payee = fields.ForeignKeyField("tally.Payee", related_name="payouts")
    statement = fields.OneToOneField("tally.RoyaltyStatement", related_name="payout")
    method = fields.CharField(max_length=16)  # manual | stripe_connect
    amount_minor = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    status = fields.CharField(max_length=12, default="pending")  # pending | paid | failed
    reference = fields.CharField(max_length=200, default="")
    provider_ref = fields.CharField(max_length=64, null=True)
    failure = fields.CharField(max_length=300, null=True)
    paid_on = fields.DateField(null=True)

    class Meta:
        table = "royalty_payout"
