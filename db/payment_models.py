"""Payments, partner webhooks and the mail outbox (issue 4): payment methods, charge
attempts, refunds, provider events received, endpoints, the event outbox and its
deliveries."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from db.models import TimestampedModel


class PaymentMethod(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="payment_methods")
    customer = fields.ForeignKeyField("tally.Customer", related_name="payment_methods")
    provider = fields.CharField(max_length=16)
    provider_ref = fields.CharField(max_length=128)
    kind = fields.CharField(max_length=24, default="card")
    brand = fields.CharField(max_length=24, default="")
    last4 = fields.CharField(max_length=4, default="")
    exp_month = fields.IntField(null=True)
    exp_year = fields.IntField(null=True)
    is_default = fields.BooleanField(default=False)
    detached_at = fields.DatetimeField(null=True)

    class Meta:
        table = "payment_method"
        indexes = (("customer_id", "is_default"),)


class Payment(TimestampedModel):
    """One attempt to collect (part of) an invoice: created `pending` in the
    transaction that decides to charge, sent to the provider after commit with an
    idempotency key of its own, so a retry after a crash charges once."""

    tenant = fields.ForeignKeyField("tally.Tenant", related_name="payments")
    customer = fields.ForeignKeyField("tally.Customer", related_name="payments")
    invoice = fields.ForeignKeyField("tally.Invoice", related_name="payments")
    payment_method = fields.ForeignKeyField(
        "tally.PaymentMethod", related_name="payments", null=True
    )
    provider = fields.CharField(max_length=16)
    method = fields.CharField(max_length=24, default="card")  # card | bank_transfer | cash | cheque
    attempt = fields.IntField(default=1)
    off_session = fields.BooleanField(default=True)
    amount_minor = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    # pending | requires_action | succeeded | failed | canceled
    status = fields.CharField(max_length=20)
    failure_code = fields.CharField(max_length=64, null=True)
    failure_message = fields.CharField(max_length=500, null=True)
    provider_ref = fields.CharField(max_length=128, null=True)
    client_secret = fields.CharField(max_length=255, null=True)
    idempotency_key = fields.CharField(max_length=128, unique=True)
    reference = fields.CharField(max_length=200, default="")  # a manual payment's reference
    refunded_minor = fields.BigIntField(default=0)
    dispute_status = fields.CharField(max_length=24, null=True)  # needs_response | won | lost
    dispute_ref = fields.CharField(max_length=128, null=True)
    succeeded_at = fields.DatetimeField(null=True)
    failed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "payment"
        indexes = (("invoice_id",), ("provider", "provider_ref"), ("status", "created_at"))


class Refund(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="refunds")
    payment = fields.ForeignKeyField("tally.Payment", related_name="refunds")
    amount_minor = fields.BigIntField()
    currency = fields.CharField(max_length=3)
    reason = fields.CharField(max_length=32)
    status = fields.CharField(max_length=16)  # pending | succeeded | failed
    provider_ref = fields.CharField(max_length=128, null=True)
    failure_message = fields.CharField(max_length=500, null=True)
    credit_note = fields.ForeignKeyField("tally.CreditNote", related_name="refunds", null=True)

    class Meta:
        table = "refund"
        indexes = (("payment_id",),)


class ProviderEvent(Model):
    """A provider webhook, stored once by its id in the transaction that applies it."""

    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="provider_events")
    provider = fields.CharField(max_length=16)
    event_id = fields.CharField(max_length=128)
    type = fields.CharField(max_length=64)
    # processed | ignored (unknown type, or stale) | flagged (refers to nothing we know)
    outcome = fields.CharField(max_length=16)
    note = fields.CharField(max_length=300, default="")
    payload = fields.JSONField()
    received_at = fields.DatetimeField()

    class Meta:
        table = "provider_event"
        unique_together = (("tenant", "provider", "event_id"),)


class WebhookEndpoint(TimestampedModel):
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="webhook_endpoints")
    url = fields.CharField(max_length=2000)
    description = fields.CharField(max_length=200, default="")
    event_types = fields.JSONField(default=list)
    secret = fields.TextField()  # sealed whsec_… (shown once)
    status = fields.CharField(max_length=16, default="enabled")  # enabled | disabled
    disabled_reason = fields.CharField(max_length=300, null=True)
    failing_since = fields.DatetimeField(null=True)

    class Meta:
        table = "webhook_endpoint"


class WebhookEvent(TimestampedModel):
    """The transactional outbox: written with the change it announces."""

    tenant = fields.ForeignKeyField("tally.Tenant", related_name="webhook_events")
    type = fields.CharField(max_length=64)
    payload = fields.JSONField()
    dispatched = fields.BooleanField(default=False)

    class Meta:
        table = "webhook_event"
        indexes = (("dispatched", "id"), ("tenant_id", "type"))


class WebhookDelivery(Model):
    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="webhook_deliveries")
    event = fields.ForeignKeyField("tally.WebhookEvent", related_name="deliveries")
    endpoint = fields.ForeignKeyField("tally.WebhookEndpoint", related_name="deliveries")
    status = fields.CharField(max_length=16, default="pending")  # pending | succeeded | failed
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    last_status_code = fields.IntField(null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "webhook_delivery"
        unique_together = (("event", "endpoint"),)
        indexes = (("status", "next_attempt_at"), ("endpoint_id", "status"))


class WebhookAttempt(Model):
    id = fields.BigIntField(primary_key=True)
    delivery = fields.ForeignKeyField("tally.WebhookDelivery", related_name="attempt_log")
    status_code = fields.IntField(null=True)
    error = fields.CharField(max_length=300, null=True)
    latency_ms = fields.IntField()
    attempted_at = fields.DatetimeField()

    class Meta:
        table = "webhook_attempt"
        indexes = (("delivery_id",),)


class MailMessage(Model):
    """Dunning mail, written with the change that calls for it and sent after
    commit by the worker (so a crash between the two loses nothing)."""

    id = fields.BigIntField(primary_key=True)
    tenant = fields.ForeignKeyField("tally.Tenant", related_name="mail_messages")
    kind = fields.CharField(max_length=32)
    to = fields.CharField(max_length=254)
    subject = fields.CharField(max_length=300)
    body = fields.TextField()
    status = fields.CharField(max_length=16, default="pending")  # pending | sending | sent | failed
    attempts = fields.IntField(default=0)
    # When a worker took it for sending: a claim older than the lease is taken again
    # (the worker died mid-send), so no message stays in `sending` for ever.
    claimed_at = fields.DatetimeField(null=True)
    error = fields.CharField(max_length=300, null=True)
    dedupe_key = fields.CharField(max_length=160, unique=True)
    created_at = fields.DatetimeField()
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "mail_message"
        indexes = (("status", "id"),)
