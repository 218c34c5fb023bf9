"""Invoices and what they are made of (issue 3): lines, credit notes, the
customer's balance ledger, gapless number sequences and tax rates."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from db.models import TimestampedModel


class Invoice(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="invoices")
    customer = fields.ForeignKeyField("tally.Customer", related_name="invoices")
    subscription = fields.ForeignKeyField("tally.Subscription", related_name="invoices", null=True)
    # Makes each subscription invoice exist once, whatever runs race to create it.
    dedupe_key = fields.CharField(max_length=120, null=True, unique=True)
    number = fields.CharField(max_length=40, null=True)
    status = fields.CharField(max_length=16, default="draft")
    billing_reason = fields.CharField(max_length=32)
    currency = fields.CharField(max_length=3)
    locale = fields.CharField(max_length=5, default="en")
    period_start = fields.DatetimeField(null=True)
    period_end = fields.DatetimeField(null=True)
    subtotal_minor = fields.BigIntField(default=0)
    discount_minor = fields.BigIntField(default=0)
    tax_minor = fields.BigIntField(default=0)
    total_minor = fields.BigIntField(default=0)
    credit_applied_minor = fields.BigIntField(default=0)  # from the customer's balance
    amount_paid_minor = fields.BigIntField(default=0)
    amount_credited_minor = fields.BigIntField(default=0)  # by credit notes
    amount_due_minor = fields.BigIntField(default=0)
    # [{"rate_bp", "inclusive", "taxable_minor", "tax_minor", "name", "country"}]
    tax_breakdown = fields.JSONField(default=list)
    tax_reason = fields.CharField(max_length=24, default="")
    reverse_charge = fields.BooleanField(default=False)
    coupon_code = fields.CharField(max_length=64, null=True)
    # Customer and seller as they were when the invoice was finalized.
    customer_snapshot = fields.JSONField(default=dict)
    seller_snapshot = fields.JSONField(default=dict)
    memo = fields.TextField(default="")
    finalized_at = fields.DatetimeField(null=True)
    due_at = fields.DatetimeField(null=True)
    paid_at = fields.DatetimeField(null=True)
    voided_at = fields.DatetimeField(null=True)
    marked_uncollectible_at = fields.DatetimeField(null=True)
    sent_at = fields.DatetimeField(null=True)
    # Collection: charge_automatically (the default payment method) or send_invoice.
    collection_method = fields.CharField(
        max_length=24, default="send_invoice", db_default="send_invoice"
    )
    attempt_count = fields.IntField(default=0, db_default=0)
    first_failed_at = fields.DatetimeField(null=True)
    next_payment_attempt_at = fields.DatetimeField(null=True)
    reminders_sent = fields.IntField(default=0, db_default=0)
    overdue_flagged = fields.BooleanField(default=False, db_default=False)
    # The earliest dunning step due (retry, reminder, overdue): what the run and
    # test clocks query.
    next_dunning_at = fields.DatetimeField(null=True, db_index=True)
    dispute_status = fields.CharField(max_length=24, null=True)

    class Meta:
        table = "invoice"
        unique_together = (("tenant", "number"),)
        indexes = (
            ("tenant_id", "customer_id"),
            ("subscription_id",),
            ("tenant_id", "status", "due_at"),
            # The royalty run reads a month's paid invoices (domain/royalties/sources.py).
            ("tenant_id", "paid_at"),
        )


class InvoiceLine(Model):
    id = fields.BigIntField(primary_key=True)
    invoice = fields.ForeignKeyField("tally.Invoice", related_name="lines")
    position = fields.IntField()
    # plan | add_on | proration_credit | proration_charge | one_off | usage | credit
    kind = fields.CharField(max_length=24)
    description = fields.CharField(max_length=300)
    quantity = fields.IntField(default=1)
    unit_amount_minor = fields.BigIntField()
    amount_minor = fields.BigIntField()
    discount_minor = fields.BigIntField(default=0)
    tax_inclusive = fields.BooleanField(default=False)
    tax_rate_bp = fields.IntField(default=0)
    period_start = fields.DatetimeField(null=True)
    period_end = fields.DatetimeField(null=True)
    # Usage lines: the charge and metric, the exact quantity and unit price (finer
    # than the minor unit), the tier breakdown; null on every other line.
    details = fields.JSONField(null=True)
    # Royalties (issue 16): the work this line sells, and how (SALE or LICENSE).
    work = fields.ForeignKeyField("tally.Work", related_name="invoice_lines", null=True)
    work_use = fields.CharField(max_length=8, null=True)

    class Meta:
        table = "invoice_line"
        indexes = (("invoice_id", "position"),)


class CreditNote(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="credit_notes")
    invoice = fields.ForeignKeyField("tally.Invoice", related_name="credit_notes")
    customer = fields.ForeignKeyField("tally.Customer", related_name="credit_notes")
    number = fields.CharField(max_length=40)
    currency = fields.CharField(max_length=3)
    reason = fields.CharField(max_length=32)
    memo = fields.TextField(default="")
    subtotal_minor = fields.BigIntField()
    tax_minor = fields.BigIntField()
    total_minor = fields.BigIntField()
    # What reduced the invoice's amount due, and what became customer credit.
    applied_to_invoice_minor = fields.BigIntField()
    credited_to_balance_minor = fields.BigIntField()
    # Paid back to the customer (a refund) or settled outside (a lost dispute).
    refunded_minor = fields.BigIntField(default=0, db_default=0)
    tax_breakdown = fields.JSONField(default=list)
    issued_at = fields.DatetimeField()

    class Meta:
        table = "credit_note"
        unique_together = (("tenant", "number"),)
        indexes = (("invoice_id",),)


class BalanceEntry(Model):
    """The customer's credit balance (per currency) is the sum of these entries."""

    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="balance_entries")
    customer = fields.ForeignKeyField("tally.Customer", related_name="balance_entries")
    currency = fields.CharField(max_length=3)
    amount_minor = fields.BigIntField()  # positive: credit given; negative: credit used
    source = fields.CharField(max_length=24)  # credit_note | invoice
    reference = fields.CharField(max_length=40)
    created_at = fields.DatetimeField()

    class Meta:
        table = "balance_entry"
        indexes = (("customer_id", "currency"),)


class NumberSequence(Model):
    """One counter per tenant, document kind and period ("2026", or "all")."""

    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="number_sequences")
    kind = fields.CharField(max_length=16)  # invoice | credit_note
    period = fields.CharField(max_length=8)
    last_value = fields.BigIntField(default=0)

    class Meta:
        table = "number_sequence"
        unique_together = (("tenant", "kind", "period"),)


class TaxRate(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="tax_rates")
    country = fields.CharField(max_length=2)
    region = fields.CharField(max_length=100, default="")
    name = fields.CharField(max_length=64)
    rate_bp = fields.IntField()
    valid_from = fields.DateField()

    class Meta:
        table = "tax_rate"
        unique_together = (("tenant", "country", "region", "valid_from"),)


class BillingRun(Model):
    """What one billing run did for one tenant (issue 18: the console's operations
    page). Written when the run ends, only for tenants it billed or failed to bill."""

    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="billing_runs")
    run_id = fields.CharField(max_length=32)
    trigger = fields.CharField(max_length=16)  # scheduler | cli | api
    started_at = fields.DatetimeField()
    finished_at = fields.DatetimeField()
    billed_at = fields.DatetimeField()  # the instant billed up to
    subscriptions = fields.IntField(default=0)
    invoices = fields.IntField(default=0)
    failures = fields.IntField(default=0)
    totals = fields.JSONField(default=dict)  # currency → minor units invoiced
    errors = fields.JSONField(default=list)  # [[subscription, error]], the first 20
    # Runs that did nothing but fail the same way again are folded into this row
    # (the scheduler retries a failing subscription every few seconds).
    repeats = fields.IntField(default=1)

    class Meta:
        table = "billing_run"
        indexes = (("tenant_id", "started_at"),)
