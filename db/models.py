"""Tortoise models. Money is BigInt minor units + a 3-letter ISO 4217 code.

Every business row carries its tenant; public ids (`cus_…`) are stored so they stay
stable across databases, internal integer keys never leave the server.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class TimestampedModel(Model):
    id = fields.BigIntField(primary_key=True)
    public_id = fields.CharField(max_length=40, unique=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        abstract = True


class Tenant(TimestampedModel):
    name = fields.CharField(max_length=200)
    legal_name = fields.CharField(max_length=200)
    address_line1 = fields.CharField(max_length=200, default="")
    address_line2 = fields.CharField(max_length=200, default="")
    city = fields.CharField(max_length=100, default="")
    postal_code = fields.CharField(max_length=20, default="")
    state = fields.CharField(max_length=100, default="")
    country = fields.CharField(max_length=2)
    vat_id = fields.CharField(max_length=32, null=True)
    default_currency = fields.CharField(max_length=3)
    default_locale = fields.CharField(max_length=5, default="en")
    timezone = fields.CharField(max_length=64, default="UTC")
    payment_terms_days = fields.IntField(default=30)
    test_mode = fields.BooleanField(default=False)
    # Invoice numbering: INV-2026-000123 (yearly reset) or INV-000123 (never).
    invoice_prefix = fields.CharField(max_length=16, default="INV", db_default="INV")
    credit_note_prefix = fields.CharField(max_length=16, default="CN", db_default="CN")
    number_digits = fields.IntField(default=6, db_default=6)
    number_reset = fields.CharField(
        max_length=8, default="yearly", db_default="yearly"
    )  # yearly | never
    # Where the tenant collects tax: country codes, and "EU_OSS" for the One-Stop Shop.
    tax_registrations = fields.JSONField(default=list, db_default="[]")
    billing_email = fields.CharField(max_length=254, null=True)
    # Payments: the default provider (manual | sandbox | stripe), its secrets sealed
    # with AES-GCM (domain/secrets_box.py), and the dunning policy (domain/payments).
    payment_provider = fields.CharField(max_length=16, default="manual", db_default="manual")
    stripe_secret_key = fields.TextField(null=True)
    stripe_webhook_secret = fields.TextField(null=True)
    sandbox_webhook_secret = fields.TextField(null=True)
    dunning = fields.JSONField(null=True)
    # Credits: module costs, low-balance threshold, auto-block, top-up prices
    # (domain/credits/rules.py reads it; null is the defaults).
    credit_settings = fields.JSONField(null=True)
    # Usage events may arrive this many days after their period closed (issue 15).
    usage_grace_days = fields.IntField(default=3, db_default=3)
    # Royalties: pool rate, default payout threshold, the usage event code that counts
    # as a read (domain/royalties/settings.py reads it; null is the defaults).
    royalty_settings = fields.JSONField(null=True)
    # Analytics: the reporting currency and the monthly KPI report e-mail
    # (domain/reports/settings.py reads it; null is the defaults).
    analytics_settings = fields.JSONField(null=True)

    class Meta:
        table = "tenant"


class ApiKey(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="api_keys")
    customer = fields.ForeignKeyField("tally.Customer", related_name="api_keys", null=True)
    # Set only for payee tokens: the one payee whose statements this key reads.
    payee = fields.ForeignKeyField("tally.Payee", related_name="api_keys", null=True)
    name = fields.CharField(max_length=100)
    role = fields.CharField(max_length=16)
    # The lookup half of the key, shown in listings; the whole key is only hashed.
    prefix = fields.CharField(max_length=32, unique=True)
    secret_hash = fields.CharField(max_length=64)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    # A web session's key (the panels' cookie): the key that signed in. Revoking that
    # key ends its sessions too.
    session_of = fields.ForeignKeyField(
        "tally.ApiKey", related_name="sessions", null=True, on_delete=fields.CASCADE
    )

    class Meta:
        table = "api_key"


class Plan(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="plans")
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    interval_months = fields.IntField()
    trial_days = fields.IntField(default=0)
    monthly_credits = fields.BigIntField(default=0)
    daily_credit_limit = fields.BigIntField(null=True)
    features = fields.JSONField(default=list)
    # Module costs that differ from the tenant's, and how much unused allowance
    # rolls over into the next month (null: none, it expires).
    credit_costs = fields.JSONField(null=True)
    rollover_cap = fields.BigIntField(null=True)
    # Customers may switch to it themselves (the portal); off unless the tenant says.
    self_service = fields.BooleanField(default=False, db_default=False)
    tax_behavior = fields.CharField(max_length=16, default="exclusive")
    status = fields.CharField(max_length=16, default="active")
    archived_at = fields.DatetimeField(null=True)
    # Usage terms beyond the charges (domain/usage/plan_terms.py): a minimum
    # commitment per currency, volume discounts on the usage total, SLA credit tiers.
    usage_terms = fields.JSONField(null=True)

    class Meta:
        table = "plan"
        unique_together = (("tenant", "code"),)


class PlanPrice(Model):
    id = fields.BigIntField(primary_key=True)
    plan = fields.ForeignKeyField("tally.Plan", related_name="prices")
    currency = fields.CharField(max_length=3)
    amount_minor = fields.BigIntField()

    class Meta:
        table = "plan_price"
        unique_together = (("plan", "currency"),)


class AddOn(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="add_ons")
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    kind = fields.CharField(max_length=16)  # recurring | one_off
    status = fields.CharField(max_length=16, default="active")
    # A work whose contributors earn royalties on this add-on's sales (issue 16).
    work = fields.ForeignKeyField("tally.Work", related_name="add_ons", null=True)
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        table = "add_on"
        unique_together = (("tenant", "code"),)


class AddOnPrice(Model):
    id = fields.BigIntField(primary_key=True)
    add_on = fields.ForeignKeyField("tally.AddOn", related_name="prices")
    currency = fields.CharField(max_length=3)
    amount_minor = fields.BigIntField()

    class Meta:
        table = "add_on_price"
        unique_together = (("add_on", "currency"),)


class Coupon(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="coupons")
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    discount_type = fields.CharField(max_length=16)  # percent | fixed
    # Hundredths of a percent (12.5 % = 1250): exact, no Float anywhere near money.
    percent_off_bp = fields.IntField(null=True)
    duration = fields.CharField(max_length=16)  # once | repeating | forever
    duration_periods = fields.IntField(null=True)
    redeem_by = fields.DatetimeField(null=True)
    max_redemptions = fields.IntField(null=True)
    times_redeemed = fields.IntField(default=0)
    plan_ids = fields.JSONField(default=list)  # internal plan ids; empty = every plan
    status = fields.CharField(max_length=16, default="active")
    archived_at = fields.DatetimeField(null=True)

    class Meta:
        table = "coupon"
        unique_together = (("tenant", "code"),)


class CouponAmount(Model):
    id = fields.BigIntField(primary_key=True)
    coupon = fields.ForeignKeyField("tally.Coupon", related_name="amounts")
    currency = fields.CharField(max_length=3)
    amount_minor = fields.BigIntField()

    class Meta:
        table = "coupon_amount"
        unique_together = (("coupon", "currency"),)


class Customer(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="customers")
    external_id = fields.CharField(max_length=128, null=True)
    name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=254, null=True)
    address_line1 = fields.CharField(max_length=200, default="")
    address_line2 = fields.CharField(max_length=200, default="")
    city = fields.CharField(max_length=100, default="")
    postal_code = fields.CharField(max_length=20, default="")
    state = fields.CharField(max_length=100, default="")
    country = fields.CharField(max_length=2, null=True)
    tax_id = fields.CharField(max_length=32, null=True)
    locale = fields.CharField(max_length=5, default="en")
    currency = fields.CharField(max_length=3)
    timezone = fields.CharField(max_length=64, default="UTC")
    payment_terms_days = fields.IntField(null=True)
    test_clock = fields.ForeignKeyField("tally.TestClock", related_name="customers", null=True)
    metadata = fields.JSONField(default=dict)
    # Lower-cased name + email + external id, so search is one indexed-column LIKE
    # that behaves the same on SQLite and PostgreSQL.
    search_text = fields.TextField(default="")
    status = fields.CharField(max_length=16, default="active")
    archived_at = fields.DatetimeField(null=True)
    # null: the tenant's provider. The provider's own customer id once created.
    payment_provider = fields.CharField(max_length=16, null=True)
    provider_customer_ref = fields.CharField(max_length=64, null=True)
    # An unpaid invoice is overdue or its payment failed: the credits check reads
    # this flag, so it is stored (kept by domain/payments/dunning.py), not computed.
    delinquent = fields.BooleanField(default=False, db_default=False)

    class Meta:
        table = "customer"
        unique_together = (("tenant", "external_id"),)


class IdempotencyRecord(Model):
    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="idempotency_records")
    key = fields.CharField(max_length=255)
    operation = fields.CharField(max_length=64)
    request_hash = fields.CharField(max_length=64)
    resource_id = fields.BigIntField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "idempotency_record"
        unique_together = (("tenant", "key"),)


class TestClock(TimestampedModel):
    """A test-mode tenant's own time for the customers attached to it."""

    tenant = fields.ForeignKeyField("tally.Tenant", related_name="test_clocks")
    name = fields.CharField(max_length=200)
    frozen_time = fields.DatetimeField()
    status = fields.CharField(max_length=16, default="ready")  # ready | advancing

    class Meta:
        table = "test_clock"


class Subscription(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="subscriptions")
    customer = fields.ForeignKeyField("tally.Customer", related_name="subscriptions")
    plan = fields.ForeignKeyField("tally.Plan", related_name="subscriptions")
    test_clock = fields.ForeignKeyField("tally.TestClock", related_name="subscriptions", null=True)
    status = fields.CharField(max_length=16)
    currency = fields.CharField(max_length=3)
    # The plan price when subscribed (or last changed): later price edits apply to
    # new subscriptions, as Stripe's prices do.
    unit_amount_minor = fields.BigIntField()
    quantity = fields.IntField(default=1)
    # [{"id", "code", "name", "kind", "quantity", "unit_amount_minor"}]
    add_ons = fields.JSONField(default=list)
    coupon = fields.ForeignKeyField("tally.Coupon", related_name="subscriptions", null=True)
    coupon_periods_left = fields.IntField(null=True)  # null: forever (or no coupon)
    started_at = fields.DatetimeField()
    billing_anchor = fields.DatetimeField()
    current_period_start = fields.DatetimeField()
    current_period_end = fields.DatetimeField()
    trial_start = fields.DatetimeField(null=True)
    trial_end = fields.DatetimeField(null=True)
    cancel_at_period_end = fields.BooleanField(default=False)
    canceled_at = fields.DatetimeField(null=True)
    # Who set cancel_at_period_end: "customer" (the portal) or "tenant"; a customer
    # may only take back its own decision.
    cancel_requested_by = fields.CharField(max_length=16, null=True)
    ended_at = fields.DatetimeField(null=True)
    paused_at = fields.DatetimeField(null=True)
    resume_at = fields.DatetimeField(null=True)
    # A change scheduled for the period end: {"plan_id", "quantity", "add_ons", ...}.
    pending_change = fields.JSONField(null=True)
    # The earliest instant something falls due (renewal, trial end, resume); the
    # billing run claims rows by this column.
    next_action_at = fields.DatetimeField(null=True, db_index=True)
    # Its monthly recurring revenue now, minor units (domain/analytics/subscription_mrr.py):
    # the "before" of its next MRR movement.
    mrr_minor = fields.BigIntField(default=0, db_default=0)

    class Meta:
        table = "subscription"
        indexes = (("tenant_id", "customer_id"), ("test_clock_id", "next_action_at"))


class PendingItem(Model):
    """A charge or credit waiting for the customer's next invoice (prorations)."""

    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="pending_items")
    customer = fields.ForeignKeyField("tally.Customer", related_name="pending_items")
    subscription = fields.ForeignKeyField(
        "tally.Subscription", related_name="pending_items", null=True
    )
    invoice = fields.ForeignKeyField("tally.Invoice", related_name="pending_items", null=True)
    kind = fields.CharField(max_length=24)
    description = fields.CharField(max_length=300)
    currency = fields.CharField(max_length=3)
    quantity = fields.IntField(default=1)
    amount_minor = fields.BigIntField()
    tax_inclusive = fields.BooleanField(default=False)
    period_start = fields.DatetimeField(null=True)
    period_end = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "pending_item"
        indexes = (("subscription_id", "invoice_id"),)
