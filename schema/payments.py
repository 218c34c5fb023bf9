"""Payments, refunds, payment settings and outbound webhooks: types and inputs."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from schema.billing import Invoice
from schema.common import Money, MoneyInput, money, result_union
from schema.customers import PaymentMethod, PaymentProvider


@strawberry.enum
class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    REQUIRES_ACTION = "requires_action"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


@strawberry.enum
class ManualPaymentMethod(enum.StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    CHEQUE = "cheque"


@strawberry.enum
class RefundReason(enum.StrEnum):
    REQUESTED_BY_CUSTOMER = "requested_by_customer"
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    OTHER = "other"


@strawberry.enum
class FinalSubscriptionAction(enum.StrEnum):
    CANCEL = "cancel"
    UNPAID = "unpaid"
    PAST_DUE = "past_due"


@strawberry.enum
class FinalInvoiceAction(enum.StrEnum):
    UNCOLLECTIBLE = "uncollectible"
    OPEN = "open"


@strawberry.enum
class WebhookDeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@strawberry.enum
class ProviderEventOutcome(enum.StrEnum):
    PROCESSED = "processed"
    IGNORED = "ignored"
    FLAGGED = "flagged"


@strawberry.type
class Payment:
    public_id: strawberry.ID = strawberry.field(name="id")
    status: PaymentStatus
    provider: PaymentProvider
    method: str = strawberry.field(description="card, bank_transfer, cash or cheque.")
    attempt: int = strawberry.field(description="0 for a recorded manual payment.")
    off_session: bool
    failure_code: str | None
    failure_message: str | None
    provider_ref: str | None = strawberry.field(name="providerReference")
    client_secret: str | None = strawberry.field(
        description="For REQUIRES_ACTION: what a frontend needs to finish 3-D Secure."
    )
    reference: str = strawberry.field(description="A manual payment's reference.")
    dispute_status: str | None
    succeeded_at: datetime | None
    failed_at: datetime | None
    created_at: datetime

    @strawberry.field
    def amount(self) -> Money:
        return money(self.amount_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    def refunded(self) -> Money:
        return money(self.refunded_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    async def invoice(self, info: Info) -> Invoice | None:
        return await info.context.loaders.invoice_by_id.load(self.invoice_id)  # type: ignore[attr-defined]


@strawberry.type
class Refund:
    public_id: strawberry.ID = strawberry.field(name="id")
    status: str = strawberry.field(description="pending, succeeded or failed.")
    reason: str
    provider_ref: str | None = strawberry.field(name="providerReference")
    failure_message: str | None
    created_at: datetime

    @strawberry.field
    def amount(self) -> Money:
        return money(self.amount_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field(description="The credit note recording it on the invoice.")
    def credit_note_id(self) -> strawberry.ID | None:
        note = self.credit_note  # type: ignore[attr-defined]  # fetched by refundPayment
        return None if note is None else strawberry.ID(note.public_id)


@strawberry.type
class DunningPolicy:
    retry_days: list[int] = strawberry.field(description="Days after the first failure.")
    final_subscription: FinalSubscriptionAction
    final_invoice: FinalInvoiceAction
    reminder_days: list[int] = strawberry.field(description="Days before the due date.")
    block_credits_when_delinquent: bool


@strawberry.type
class PaymentSettings:
    provider: PaymentProvider
    stripe_configured: bool
    stripe_webhook_configured: bool
    webhook_path: str = strawberry.field(
        description="Where the provider posts its webhooks: /webhooks/{provider}/{tenantId}."
    )
    dunning: DunningPolicy


@strawberry.type
class WebhookEndpoint:
    public_id: strawberry.ID = strawberry.field(name="id")
    url: str
    description: str
    event_types: list[str]
    status: str = strawberry.field(description="enabled or disabled.")
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime


@strawberry.type
class WebhookAttempt:
    status_code: int | None
    error: str | None
    latency_ms: int
    attempted_at: datetime


@strawberry.type
class WebhookEvent:
    public_id: strawberry.ID = strawberry.field(name="id")
    type: str
    payload: JSON
    created_at: datetime


@strawberry.type
class WebhookDelivery:
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    created_at: datetime

    # event, endpoint and attempt_log are prefetched per page by webhookDeliveries.
    @strawberry.field
    def event(self) -> WebhookEvent:
        return self.event  # type: ignore[attr-defined, return-value]

    @strawberry.field
    def endpoint_id(self) -> strawberry.ID:
        return strawberry.ID(self.endpoint.public_id)  # type: ignore[attr-defined]

    @strawberry.field(description="Every attempt, oldest first: status code, error, latency.")
    def attempt_log(self) -> list[WebhookAttempt]:
        return sorted(self.attempt_log, key=lambda a: a.id)  # type: ignore[attr-defined]


@strawberry.type
class ProviderEvent:
    event_id: strawberry.ID
    provider: PaymentProvider
    type: str
    outcome: ProviderEventOutcome
    note: str
    received_at: datetime


# -- inputs ----------------------------------------------------------------------------------


@strawberry.input
class DunningInput:
    retry_days: list[int] | None = strawberry.UNSET
    reminder_days: list[int] | None = strawberry.UNSET
    final_subscription: FinalSubscriptionAction | None = strawberry.UNSET
    final_invoice: FinalInvoiceAction | None = strawberry.UNSET
    block_credits_when_delinquent: bool | None = strawberry.UNSET


@strawberry.input
class PaymentSettingsInput:
    provider: PaymentProvider | None = strawberry.UNSET
    stripe_secret_key: str | None = strawberry.field(
        default=strawberry.UNSET, description="Stored encrypted; never shown again."
    )
    stripe_webhook_secret: str | None = strawberry.UNSET
    dunning: DunningInput | None = strawberry.UNSET


@strawberry.input
class RecordPaymentInput:
    invoice_id: strawberry.ID
    method: ManualPaymentMethod
    reference: str
    amount: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="The whole amount due if omitted."
    )
    received_at: datetime | None = strawberry.UNSET
    allow_overpayment: bool = strawberry.field(
        default=False,
        description="Accept an amount above what is due; the excess becomes customer"
        " credit for the next invoices. Without it such an amount is an OVERPAYMENT error.",
    )


@strawberry.input
class RefundPaymentInput:
    payment_id: strawberry.ID
    amount: MoneyInput | None = strawberry.field(
        default=strawberry.UNSET, description="Whatever is left to refund if omitted."
    )
    reason: RefundReason = RefundReason.REQUESTED_BY_CUSTOMER


@strawberry.input
class WebhookEndpointInput:
    url: str
    event_types: list[str] = strawberry.field(description='Event types, or ["*"].')
    description: str | None = strawberry.UNSET


@strawberry.input
class UpdateWebhookEndpointInput:
    url: str | None = strawberry.UNSET
    event_types: list[str] | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    enabled: bool | None = strawberry.UNSET


# -- results ---------------------------------------------------------------------------------


@strawberry.type
class PaymentSettingsSuccess:
    settings: PaymentSettings


@strawberry.type
class PaymentMethodSuccess:
    payment_method: PaymentMethod


@strawberry.type
class PaymentSuccess:
    payment: Payment


@strawberry.type
class RefundSuccess:
    refund: Refund
    payment: Payment


@strawberry.type
class WebhookEndpointSuccess:
    endpoint: WebhookEndpoint


@strawberry.type
class CreateWebhookEndpointSuccess:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(
        description="The signing secret (whsec_…). Shown this once; store it now."
    )


@strawberry.type
class ReplaySuccess:
    queued: int = strawberry.field(description="Deliveries queued.")


PaymentSettingsResult = result_union("PaymentSettingsResult", PaymentSettingsSuccess)
PaymentMethodResult = result_union("PaymentMethodResult", PaymentMethodSuccess)
PaymentResult = result_union("PaymentResult", PaymentSuccess)
RefundResult = result_union("RefundResult", RefundSuccess)
WebhookEndpointResult = result_union("WebhookEndpointResult", WebhookEndpointSuccess)
CreateWebhookEndpointResult = result_union(
    "CreateWebhookEndpointResult", CreateWebhookEndpointSuccess
)
ReplayResult = result_union("ReplayResult", ReplaySuccess)


def settings_view(tenant: Any) -> PaymentSettings:
    from domain.invoicing.dunning_policy import DunningPolicy as Policy

    policy = Policy.of(tenant)
    return PaymentSettings(
        provider=PaymentProvider(tenant.payment_provider),
        stripe_configured=bool(tenant.stripe_secret_key),
        stripe_webhook_configured=bool(tenant.stripe_webhook_secret),
        webhook_path=f"/webhooks/{tenant.payment_provider}/{tenant.public_id}",
        dunning=DunningPolicy(
            retry_days=list(policy.retry_days),
            final_subscription=FinalSubscriptionAction(policy.final_subscription),
            final_invoice=FinalInvoiceAction(policy.final_invoice),
            reminder_days=list(policy.reminder_days),
            block_credits_when_delinquent=policy.block_credits_when_delinquent,
        ),
    )
