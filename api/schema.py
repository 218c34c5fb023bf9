"""Schema assembly: Query, Mutation, Subscription and the execution extensions."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    MaxTokensLimiter,
    ParserCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info

from domain.currencies import EXPONENTS
from domain.errors import BillingError
from resolvers import analytics as an
from resolvers import analytics_settings as ans
from resolvers import billing, catalog, credits, customers, tenancy, usage
from resolvers import payments as pay
from resolvers import royalties as roy
from resolvers import royalty_runs as runs
from schema import analytics_settings as aset
from schema import credits as ct
from schema import payloads as p
from schema import payments as pt
from schema import royalties as rt
from schema import royalty_reads as rrd
from schema import royalty_statements as rst
from schema import usage as ut
from schema.caches import ValidationByText
from schema.common import BIGINT_SCALAR, DECIMAL_SCALAR, BigInt
from schema.error_policy import ErrorPolicy
from schema.execution import FastExecutionContext
from schema.input_guard import InputGuard
from schema.limits import limits
from schema.usage_inputs import EVENT_TIMESTAMP_SCALAR, EventTimestamp

MAX_DEPTH = 10
MAX_ALIASES = 30
MAX_TOKENS = 5000
LIVE_KIND, STATE = "tally.live", "state"  # field metadata of the state feeds


@strawberry.type
class Currency:
    code: str
    exponent: int = strawberry.field(
        description="ISO 4217 minor-unit digits (JPY 0, EUR 2, KWD 3)."
    )


@strawberry.type(
    description="Revenue analytics (admin and analyst keys): each family a field, each"
    " currency apart."
)
class Analytics:
    mrr = strawberry.field(resolver=an.mrr)
    customers_overview = strawberry.field(resolver=an.customers_overview)
    cash = strawberry.field(resolver=an.cash)
    receivables = strawberry.field(resolver=an.receivables)
    cohorts = strawberry.field(resolver=an.cohorts)
    credits_usage = strawberry.field(resolver=an.credits_usage)
    usage = strawberry.field(resolver=an.usage)
    royalties_owed = strawberry.field(resolver=an.royalties_owed)


async def _analytics(info: Info) -> Analytics:
    await an.allowed(info)
    return Analytics()


@strawberry.type
class Query:
    viewer = strawberry.field(resolver=tenancy.viewer, description="Who is calling.")
    tenant = strawberry.field(resolver=tenancy.tenant)
    api_keys = strawberry.field(resolver=tenancy.api_key_list)
    plan = strawberry.field(resolver=catalog.plan, description="By id or by code.")
    plans = strawberry.field(resolver=catalog.plan_list)
    add_on = strawberry.field(resolver=catalog.add_on)
    add_ons = strawberry.field(resolver=catalog.add_on_list)
    coupon = strawberry.field(resolver=catalog.coupon)
    coupons = strawberry.field(resolver=catalog.coupon_list)
    customer = strawberry.field(resolver=customers.customer, description="By id or externalId.")
    customers = strawberry.field(resolver=customers.customer_list)
    subscription = strawberry.field(resolver=billing.subscription)
    subscriptions = strawberry.field(resolver=billing.subscription_list)
    upcoming_invoice = strawberry.field(
        resolver=billing.upcoming_invoice, description="The next invoice of a subscription."
    )
    subscription_change_preview = strawberry.field(resolver=billing.subscription_change_preview)
    invoice = strawberry.field(resolver=billing.invoice)
    invoices = strawberry.field(resolver=billing.invoice_list)
    credit_note = strawberry.field(resolver=billing.credit_note)
    credit_notes = strawberry.field(resolver=billing.credit_note_list)
    payment_settings = strawberry.field(resolver=pay.payment_settings, description="Admin only.")
    payment = strawberry.field(resolver=pay.payment)
    payments = strawberry.field(resolver=pay.payment_list)
    provider_events = strawberry.field(
        resolver=pay.provider_event_list,
        description="Provider webhooks received; `outcome: FLAGGED` lists those about "
        "objects Tally does not know.",
    )
    webhook_endpoints = strawberry.field(resolver=pay.webhook_endpoint_list)
    webhook_events = strawberry.field(resolver=pay.webhook_event_list)
    webhook_deliveries = strawberry.field(
        resolver=pay.webhook_delivery_list, description="The delivery log."
    )
    billing_status = strawberry.field(
        resolver=billing.billing_status,
        description="What awaits a billing run and the last runs (not for customer keys).",
    )
    test_clock = strawberry.field(resolver=billing.test_clock)
    test_clocks = strawberry.field(resolver=billing.test_clock_list)
    tax_rates = strawberry.field(
        resolver=billing.tax_rates,
        description="Rates the tenant configured (EU standard VAT rates apply by default).",
    )

    check_credits = strawberry.field(
        resolver=credits.check_credits,
        description="May this customer spend credits on this module now? Writes nothing.",
    )
    credit_wallet = strawberry.field(
        resolver=credits.credit_wallet, description="A customer token: its own (no argument)."
    )
    credit_ledger = strawberry.field(resolver=credits.credit_ledger)
    credit_usage = strawberry.field(resolver=credits.credit_usage)
    credit_settings = strawberry.field(resolver=credits.credit_settings)

    billable_metric = strawberry.field(
        resolver=usage.billable_metric, description="By id (bm_…) or code."
    )
    billable_metrics = strawberry.field(resolver=usage.billable_metrics)
    plan_usage_terms = strawberry.field(
        resolver=usage.plan_usage_terms,
        description="A plan's minimum commitment, volume discounts and SLA credit tiers.",
    )
    current_usage = strawberry.field(
        resolver=usage.current_usage,
        description="The open period's usage so far, priced per charge and dimension group.",
    )
    metered_events = strawberry.field(
        resolver=usage.metered_events,
        description="A customer's stored usage events, in the order received; "
        "`since` and `until` (exclusive) bound their timestamps.",
    )
    incidents = strawberry.field(
        resolver=usage.incidents_list, description="Outages recorded (SLA credits)."
    )
    spending_alerts = strawberry.field(
        resolver=usage.spending_alerts,
        description="Usage thresholds: a customer's, or without customerId all of them.",
    )

    payees = strawberry.field(resolver=roy.payee_list, description="A payee token: itself.")
    payee = strawberry.field(resolver=roy.payee)
    works = strawberry.field(resolver=roy.work_list, description="A payee token: its own works.")
    work = strawberry.field(resolver=roy.work, description="By id (wrk_…) or code.")
    contracts = strawberry.field(
        resolver=roy.contract_list, description="Royalty contracts, of a work and/or a payee."
    )
    royalty_exchange_rates = strawberry.field(
        resolver=roy.royalty_exchange_rates, description="The rates recorded for a period."
    )
    royalty_settings = strawberry.field(resolver=roy.royalty_settings)
    royalty_statements = strawberry.field(resolver=runs.royalty_statements)
    royalty_statement = strawberry.field(resolver=runs.royalty_statement)
    royalty_ledger = strawberry.field(resolver=runs.royalty_ledger)
    royalty_earnings = strawberry.field(
        resolver=runs.royalty_earnings,
        description="Per period and transaction type, of a work and/or a payee.",
    )

    analytics: Analytics = strawberry.field(
        resolver=_analytics, description="Revenue analytics: MRR, customers, cash, cohorts."
    )
    analytics_settings = strawberry.field(resolver=ans.analytics_settings)

    @strawberry.field(description="Every ISO 4217 currency Tally accepts, with its exponent.")
    def currencies(self) -> list[Currency]:
        return [Currency(code=c, exponent=e) for c, e in sorted(EXPONENTS.items())]


@strawberry.type
class Mutation:
    update_tenant: p.TenantResult = strawberry.mutation(resolver=tenancy.update_tenant)
    create_api_key: p.CreateApiKeyResult = strawberry.mutation(resolver=tenancy.create_api_key)
    revoke_api_key: p.ApiKeyResult = strawberry.mutation(resolver=tenancy.revoke_api_key)
    create_portal_link: p.PortalLinkResult = strawberry.mutation(
        resolver=tenancy.create_portal_link,
        description="A one-time link (15 minutes) that signs the customer in to /portal.",
    )
    create_plan: p.PlanResult = strawberry.mutation(resolver=catalog.create_plan)
    update_plan: p.PlanResult = strawberry.mutation(resolver=catalog.update_plan)
    archive_plan: p.PlanResult = strawberry.mutation(resolver=catalog.archive_plan)
    create_add_on: p.AddOnResult = strawberry.mutation(resolver=catalog.create_add_on)
    update_add_on: p.AddOnResult = strawberry.mutation(resolver=catalog.update_add_on)
    archive_add_on: p.AddOnResult = strawberry.mutation(resolver=catalog.archive_add_on)
    create_coupon: p.CouponResult = strawberry.mutation(resolver=catalog.create_coupon)
    update_coupon: p.CouponResult = strawberry.mutation(resolver=catalog.update_coupon)
    archive_coupon: p.CouponResult = strawberry.mutation(resolver=catalog.archive_coupon)
    create_customer: p.CustomerResult = strawberry.mutation(resolver=customers.create_customer)
    update_customer: p.CustomerResult = strawberry.mutation(resolver=customers.update_customer)
    archive_customer: p.CustomerResult = strawberry.mutation(resolver=customers.archive_customer)
    create_subscription: p.SubscriptionResult = strawberry.mutation(
        resolver=billing.create_subscription
    )
    change_subscription: p.SubscriptionResult = strawberry.mutation(
        resolver=billing.change_subscription
    )
    cancel_scheduled_change: p.SubscriptionResult = strawberry.mutation(
        resolver=billing.cancel_scheduled_change
    )
    pause_subscription: p.SubscriptionResult = strawberry.mutation(
        resolver=billing.pause_subscription
    )
    resume_subscription: p.SubscriptionResult = strawberry.mutation(
        resolver=billing.resume_subscription
    )
    cancel_subscription: p.SubscriptionResult = strawberry.mutation(
        resolver=billing.cancel_subscription
    )
    reactivate_subscription: p.SubscriptionResult = strawberry.mutation(
        resolver=billing.reactivate_subscription
    )
    create_invoice: p.InvoiceResult = strawberry.mutation(resolver=billing.create_invoice)
    update_draft_invoice: p.InvoiceResult = strawberry.mutation(
        resolver=billing.update_draft_invoice
    )
    finalize_invoice: p.InvoiceResult = strawberry.mutation(resolver=billing.finalize_invoice)
    void_invoice: p.InvoiceResult = strawberry.mutation(resolver=billing.void_invoice)
    mark_invoice_uncollectible: p.InvoiceResult = strawberry.mutation(
        resolver=billing.mark_invoice_uncollectible
    )
    send_invoice: p.InvoiceResult = strawberry.mutation(resolver=billing.send_invoice)
    create_credit_note: p.CreditNoteResult = strawberry.mutation(
        resolver=billing.create_credit_note
    )
    create_test_clock: p.TestClockResult = strawberry.mutation(resolver=billing.create_test_clock)
    advance_test_clock: p.TestClockResult = strawberry.mutation(resolver=billing.advance_test_clock)
    set_tax_rate: p.TaxRateResult = strawberry.mutation(resolver=billing.set_tax_rate)
    delete_tax_rate: p.TaxRateResult = strawberry.mutation(resolver=billing.delete_tax_rate)
    update_payment_settings: pt.PaymentSettingsResult = strawberry.mutation(
        resolver=pay.update_payment_settings
    )
    set_customer_payment_provider: p.CustomerResult = strawberry.mutation(
        resolver=pay.set_customer_payment_provider
    )
    attach_payment_method: pt.PaymentMethodResult = strawberry.mutation(
        resolver=pay.attach_payment_method
    )
    set_default_payment_method: pt.PaymentMethodResult = strawberry.mutation(
        resolver=pay.set_default_payment_method
    )
    detach_payment_method: pt.PaymentMethodResult = strawberry.mutation(
        resolver=pay.detach_payment_method
    )
    pay_invoice: pt.PaymentResult = strawberry.mutation(resolver=pay.pay_invoice)
    record_payment: pt.PaymentResult = strawberry.mutation(resolver=pay.record_payment)
    refund_payment: pt.RefundResult = strawberry.mutation(resolver=pay.refund_payment)
    complete_sandbox_action: pt.PaymentResult = strawberry.mutation(
        resolver=pay.complete_sandbox_action,
        description="Sandbox only: finish (or fail) 3-D Secure as the customer's browser would.",
    )
    create_webhook_endpoint: pt.CreateWebhookEndpointResult = strawberry.mutation(
        resolver=pay.create_webhook_endpoint
    )
    update_webhook_endpoint: pt.WebhookEndpointResult = strawberry.mutation(
        resolver=pay.update_webhook_endpoint
    )
    delete_webhook_endpoint: pt.WebhookEndpointResult = strawberry.mutation(
        resolver=pay.delete_webhook_endpoint
    )
    replay_webhook_event: pt.ReplayResult = strawberry.mutation(resolver=pay.replay_webhook_event)
    replay_failed_webhooks: pt.ReplayResult = strawberry.mutation(
        resolver=pay.replay_failed_webhooks
    )
    consume_credits: ct.ConsumeCreditsResult = strawberry.mutation(
        resolver=credits.consume_credits,
        description="Atomic and idempotent by requestId; never below zero or over the day's limit.",
    )
    consume_credits_batch: ct.ConsumeCreditsBatchResult = strawberry.mutation(
        resolver=credits.consume_credits_batch, description="Up to 1,000, each with its result."
    )
    reserve_credits: ct.ReserveCreditsResult = strawberry.mutation(resolver=credits.reserve_credits)
    commit_reservation: ct.ReservationResult = strawberry.mutation(
        resolver=credits.commit_reservation, description="For at most the quantity reserved."
    )
    release_reservation: ct.ReservationResult = strawberry.mutation(
        resolver=credits.release_reservation
    )
    grant_credits: ct.CreditWalletResult = strawberry.mutation(resolver=credits.grant_credits)
    purchase_credits: ct.CreditPurchaseResult = strawberry.mutation(
        resolver=credits.purchase_credits,
        description="A top-up invoice, charged like any other; credited when paid.",
    )
    block_customer: ct.CreditWalletResult = strawberry.mutation(resolver=credits.block_customer)
    unblock_customer: ct.CreditWalletResult = strawberry.mutation(resolver=credits.unblock_customer)
    refund_credits: ct.CreditEntryResult = strawberry.mutation(
        resolver=credits.refund_credits, description="Give back (part of) a consumption."
    )
    update_credit_settings: ct.CreditSettingsResult = strawberry.mutation(
        resolver=credits.update_credit_settings
    )
    create_billable_metric: ut.BillableMetricResult = strawberry.mutation(
        resolver=usage.create_billable_metric
    )
    update_billable_metric: ut.BillableMetricResult = strawberry.mutation(
        resolver=usage.update_billable_metric
    )
    archive_billable_metric: ut.BillableMetricResult = strawberry.mutation(
        resolver=usage.archive_billable_metric
    )
    create_usage_charge: ut.UsageChargeResult = strawberry.mutation(
        resolver=usage.create_usage_charge
    )
    archive_usage_charge: ut.UsageChargeResult = strawberry.mutation(
        resolver=usage.archive_usage_charge
    )
    set_plan_usage_terms: ut.PlanUsageTermsResult = strawberry.mutation(
        resolver=usage.set_plan_usage_terms,
        description="Replace a plan's usage terms (null clears them) for the periods that "
        'close from now on; amounts in major units: {"minimumCommitment": {"EUR": "100.00"}, '
        '"volumeDiscounts": [{"above": {"EUR": "1000.00"}, "percent": "5"}], '
        '"slaCredits": [{"below": "99.9", "creditPercent": "10"}]}.',
    )
    ingest_usage_events: ut.IngestUsageEventsResult = strawberry.mutation(
        resolver=usage.ingest_usage_events,
        description="Up to 1,000 events, each accepted, a duplicate, or refused with its "
        "index and a code; one bad event never refuses the others.",
    )
    record_incident: ut.IncidentResult = strawberry.mutation(resolver=usage.record_incident)
    delete_incident: ut.IncidentResult = strawberry.mutation(resolver=usage.delete_incident)
    create_spending_alert: ut.SpendingAlertResult = strawberry.mutation(
        resolver=usage.create_spending_alert
    )
    delete_spending_alert: ut.SpendingAlertResult = strawberry.mutation(
        resolver=usage.delete_spending_alert
    )
    create_payee: rt.PayeeResult = strawberry.mutation(resolver=roy.create_payee)
    update_payee: rt.PayeeResult = strawberry.mutation(resolver=roy.update_payee)
    archive_payee: rt.PayeeResult = strawberry.mutation(resolver=roy.archive_payee)
    create_work: rt.WorkResult = strawberry.mutation(resolver=roy.create_work)
    update_work: rt.WorkResult = strawberry.mutation(resolver=roy.update_work)
    archive_work: rt.WorkResult = strawberry.mutation(resolver=roy.archive_work)
    set_work_shares: rt.WorkResult = strawberry.mutation(resolver=roy.set_work_shares)
    create_contract: rt.ContractResult = strawberry.mutation(resolver=roy.create_contract)
    update_contract: rt.ContractResult = strawberry.mutation(resolver=roy.update_contract)
    archive_contract: rt.ContractResult = strawberry.mutation(resolver=roy.archive_contract)
    record_royalty_advance: rt.RoyaltyAdvanceResult = strawberry.mutation(
        resolver=roy.record_royalty_advance,
        description="Idempotent by idempotencyKey; grows the payee's unrecouped advance.",
    )
    record_royalty_adjustment: rt.RoyaltyAdjustmentResult = strawberry.mutation(
        resolver=roy.record_royalty_adjustment
    )
    set_royalty_exchange_rates: rt.RoyaltyExchangeRatesResult = strawberry.mutation(
        resolver=roy.set_royalty_exchange_rates
    )
    update_royalty_settings: rt.RoyaltySettingsResult = strawberry.mutation(
        resolver=roy.update_royalty_settings
    )
    update_analytics_settings: aset.AnalyticsSettingsResult = strawberry.mutation(
        resolver=ans.update_analytics_settings
    )
    run_royalties: rst.RunRoyaltiesResult = strawberry.mutation(resolver=runs.run_royalties)
    approve_royalty_statement: rst.RoyaltyStatementResult = strawberry.mutation(
        resolver=runs.approve_royalty_statement
    )
    record_royalty_payout: rst.RoyaltyPayoutResult = strawberry.mutation(
        resolver=runs.record_royalty_payout
    )
    pay_royalty_statement_with_stripe: rst.RoyaltyPayoutResult = strawberry.mutation(
        resolver=runs.pay_royalty_statement_with_stripe
    )
    record_reads: rrd.RecordReadsResult = strawberry.mutation(
        resolver=runs.record_reads,
        description="Reads of works (they split the subscription pool); up to 1,000, "
        "each accepted, a duplicate, or refused with its index and a code.",
    )


@strawberry.type(
    name="LiveEvents",
    description="The root subscription type (named so that `Subscription` can be the billing one).",
)
class Subscription:
    tenant_events = strawberry.subscription(resolver=tenancy.tenant_events)
    invoice_events = strawberry.subscription(resolver=billing.invoice_events)
    credit_balance = strawberry.subscription(resolver=credits.credit_balance)
    usage_events = strawberry.subscription(resolver=credits.usage_events)
    metrics_updates = strawberry.subscription(
        resolver=an.metrics_updates,
        description="Today's MRR and cash, pushed when they move (admin and analyst keys).",
        metadata={LIVE_KIND: STATE},
    )
    usage_updates = strawberry.subscription(
        resolver=usage.usage_updates,
        description="A customer's current usage now, then each time events land "
        "(coalesced: at most about five a second).",
        metadata={LIVE_KIND: STATE},
    )


def state_feeds(schema: strawberry.Schema) -> frozenset[str]:
    """The subscriptions whose results are a current figure, not events: their first
    result is read for each subscriber, so they are not grouped (api/live_groups.py)."""
    definition = Subscription.__strawberry_definition__  # type: ignore[attr-defined]
    names = schema.config.name_converter
    return frozenset(
        names.get_graphql_name(f) for f in definition.fields if f.metadata.get(LIVE_KIND) == STATE
    )


def should_mask_error(error: GraphQLError) -> bool:
    """Mask only the unexpected: parse, validation, auth and domain errors stay readable."""
    original = error.original_error
    if original is None:
        return False
    return not isinstance(original, GraphQLError | BillingError)


def build_schema(*, max_depth: int = MAX_DEPTH, fast: bool = True) -> strawberry.Schema:
    """`fast=False` gives graphql-core's stock execution (tests compare the two)."""
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(
            scalar_map={
                BigInt: BIGINT_SCALAR,
                Decimal: DECIMAL_SCALAR,
                EventTimestamp: EVENT_TIMESTAMP_SCALAR,
            }
        ),
        execution_context_class=FastExecutionContext if fast else None,
        extensions=[
            limits(max_depth, MAX_ALIASES),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: ErrorPolicy(should_mask_error=should_mask_error),
            lambda: ParserCache(maxsize=256),
            ValidationByText,
            InputGuard,
        ],
    )
