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

    class Meta:
        table = "tenant"


class ApiKey(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="api_keys")
    customer = fields.ForeignKeyField("tally.Customer", related_name="api_keys", null=True)
    name = fields.CharField(max_length=100)
    role = fields.CharField(max_length=16)
    # The lookup half of the key, shown in listings; the whole key is only hashed.
    prefix = fields.CharField(max_length=32, unique=True)
    secret_hash = fields.CharField(max_length=64)
    expires_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

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
    tax_behavior = fields.CharField(max_length=16, default="exclusive")
    status = fields.CharField(max_length=16, default="active")
    archived_at = fields.DatetimeField(null=True)

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
    metadata = fields.JSONField(default=dict)
    # Lower-cased name + email + external id, so search is one indexed-column LIKE
    # that behaves the same on SQLite and PostgreSQL.
    search_text = fields.TextField(default="")
    status = fields.CharField(max_length=16, default="active")
    archived_at = fields.DatetimeField(null=True)

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
