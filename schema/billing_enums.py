"""The enums of subscriptions, invoices and credit notes."""

from __future__ import annotations

import enum

import strawberry


@strawberry.enum
class SubscriptionStatus(enum.StrEnum):
    INCOMPLETE = "incomplete"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    PAUSED = "paused"
    UNPAID = "unpaid"  # the last payment attempt failed (dunning's final action)
    CANCELED = "canceled"


@strawberry.enum(description="How a change is charged (Stripe's proration_behavior).")
class ProrationBehavior(enum.StrEnum):
    CREATE_PRORATIONS = "create_prorations"
    ALWAYS_INVOICE = "always_invoice"
    NONE = "none"


@strawberry.enum
class ChangeEffective(enum.StrEnum):
    IMMEDIATELY = "immediately"
    PERIOD_END = "period_end"


@strawberry.enum
class InvoiceStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


@strawberry.enum
class LineKind(enum.StrEnum):
    PLAN = "plan"
    ADD_ON = "add_on"
    PRORATION_CREDIT = "proration_credit"
    PRORATION_CHARGE = "proration_charge"
    ONE_OFF = "one_off"
    USAGE = "usage"
    CREDIT = "credit"
    USAGE_ADJUSTMENT = "usage_adjustment"  # late events in a period billed before
    USAGE_MINIMUM = "usage_minimum"  # the minimum commitment's true-up
    USAGE_DISCOUNT = "usage_discount"  # a volume discount on the period's usage
    SLA_CREDIT = "sla_credit"  # a credit for the period's uptime


@strawberry.enum
class CreditNoteReason(enum.StrEnum):
    DUPLICATE = "duplicate"
    FRAUDULENT = "fraudulent"
    ORDER_CHANGE = "order_change"
    PRODUCT_UNSATISFACTORY = "product_unsatisfactory"
    OTHER = "other"
    REQUESTED_BY_CUSTOMER = "requested_by_customer"  # a refund
    DISPUTE_LOST = "dispute_lost"
