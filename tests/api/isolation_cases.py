"""The cases of the tenant-isolation tests: a victim tenant with one of everything,
and for every query and mutation a document that names one of its ids."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from db.invoice_models import Invoice
from db.payment_models import WebhookEvent
from domain.catalog.add_ons import create_add_on
from domain.catalog.coupons import create_coupon
from domain.credits.admin import grant_credits
from domain.credits.consume import ConsumeRequest, consume_credits
from domain.credits.reservations import reserve_credits
from domain.invoicing.credit_notes import create_credit_note
from domain.invoicing.service import create_invoice
from domain.invoicing.tax.admin import set_tax_rate
from domain.payments.methods import attach_payment_method
from domain.payments.operations import record_payment
from domain.payments.settings import update_payment_settings
from domain.tenancy.access import Principal, Role
from domain.webhooks.endpoints import create_endpoint
from tests.api import isolation_royalties as royalties  # royalties' cases, merged below
from tests.api import isolation_usage as usage  # usage metering's cases, merged below
from tests.factories import (
    make_customer,
    make_key,
    make_plan,
    make_subscription,
    make_tenant,
    make_test_clock,
)

NOT_FOUND = "NotFoundError"
OBJECTS = (
    "plan",
    "add_on",
    "coupon",
    "customer",
    "subscription",
    "invoice",
    "draft",
    "credit_note",
    "test_clock",
    "tax_rate",
    "payment",
    "payment_method",
    "endpoint",
    "event",
    "entry",
    "reservation",
)


async def make_victim() -> dict[str, Any]:
    tenant = await make_tenant(name="Victim Co")
    admin = Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=0)
    plan = await make_plan(tenant=tenant, code="victim-plan", features=["rag"])
    add_on = await create_add_on(
        admin,
        {
            "code": "victim-addon",
            "name": "A",
            "kind": "recurring",
            "prices": [{"currency": "EUR", "amount_minor": 100}],
        },
    )
    coupon = await create_coupon(
        admin, {"code": "VICTIM", "percent_off": "10", "duration": "forever"}
    )
    customer = await make_customer(tenant=tenant, name="Victim", external_id="victim-1")
    key = await make_key(tenant=tenant, role=Role.SERVICE)
    from tests.factories import key_row

    tenant.test_mode = True
    await tenant.save()
    sub = await make_subscription(tenant=tenant, customer=customer, plan=plan)
    invoice = await Invoice.get(subscription_id=sub.id)
    draft = await create_invoice(admin, {"customer_id": customer.public_id, "items": [ITEM]})
    note = await create_credit_note(
        admin,
        {
            "invoice_id": invoice.public_id,
            "reason": "other",
            "amount": {"currency": "EUR", "amount_minor": 1},
        },
    )
    clock = await make_test_clock(tenant=tenant, at=datetime(2026, 1, 1, tzinfo=UTC))
    rate = await set_tax_rate(
        admin, {"country": "US", "name": "Sales tax", "rate": "5", "valid_from": date(2020, 1, 1)}
    )
    payment = await record_payment(
        admin,
        {
            "invoice_id": invoice.public_id,
            "method": "cash",
            "reference": "R1",
            "amount": {"currency": "EUR", "amount_minor": 1},
        },
    )
    await update_payment_settings(admin, {"provider": "sandbox"})
    method = await attach_payment_method(
        admin, customer.public_id, "pm_card_visa", make_default=False
    )
    endpoint, _ = await create_endpoint(
        admin, {"url": "http://127.0.0.1:9/victim-hook", "event_types": ["*"]}
    )
    event = await WebhookEvent.filter(tenant_id=tenant.id).first()
    await grant_credits(admin, customer.public_id, 10, reason="victim's own")
    used = await consume_credits(
        admin, ConsumeRequest(customer.public_id, "rag", "query", 1, "victim-request")
    )
    hold = await reserve_credits(admin, customer.public_id, "rag", "job", 1, "victim-hold")
    assert hold.reservation is not None
    return {
        **await usage.make_victim_usage(admin, plan.public_id, customer.public_id),
        **await royalties.make_victim_royalties(admin),
        "entry": used.entry_id,
        "reservation": hold.reservation.public_id,
        "payment": payment.public_id,
        "payment_method": method.public_id,
        "endpoint": endpoint.public_id,
        "event": event.public_id,
        "subscription": sub.public_id,
        "invoice": invoice.public_id,
        "draft": draft.public_id,
        "credit_note": note.public_id,
        "test_clock": clock.public_id,
        "tax_rate": rate.public_id,
        "tenant": tenant,
        "plan": plan.public_id,
        "add_on": add_on.public_id,
        "coupon": coupon.public_id,
        "customer": customer.public_id,
        "key": (await key_row(key)).public_id,
    }


QUERIES = {
    "plan": ("query($id: ID!) { plan(id: $id) { id } }", "plan"),
    "addOn": ("query($id: ID!) { addOn(id: $id) { id } }", "add_on"),
    "coupon": ("query($id: ID!) { coupon(id: $id) { id } }", "coupon"),
    "customer": ("query($id: ID!) { customer(id: $id) { id } }", "customer"),
    "subscription": ("query($id: ID!) { subscription(id: $id) { id } }", "subscription"),
    "invoice": ("query($id: ID!) { invoice(id: $id) { id } }", "invoice"),
    "creditNote": ("query($id: ID!) { creditNote(id: $id) { id } }", "credit_note"),
    "testClock": ("query($id: ID!) { testClock(id: $id) { id } }", "test_clock"),
    "payment": ("query($id: ID!) { payment(id: $id) { id } }", "payment"),
    **usage.QUERIES,
    **royalties.QUERIES,
}
# Queries that compute something for an id answer a foreign id with a NOT_FOUND error.
COMPUTED = {
    "upcomingInvoice": (
        "query($id: ID!) { upcomingInvoice(subscriptionId: $id) { currency } }",
        "subscription",
    ),
    "subscriptionChangePreview": (
        "query($id: ID!) { subscriptionChangePreview(id: $id, input: {quantity: 3}) { currency } }",
        "subscription",
    ),
    "checkCredits": (
        'query($id: ID!) { checkCredits(customerId: $id, module: "rag") { canProceed } }',
        "customer",
    ),
    "creditWallet": ("query($id: ID!) { creditWallet(customerId: $id) { balance } }", "customer"),
    "creditLedger": (
        "query($id: ID!) { creditLedger(customerId: $id) { nodes { id } } }",
        "customer",
    ),
    "creditUsage": (
        'query($id: ID!) { creditUsage(customerId: $id, fromDay: "2026-01-01", toDay: "2026-12-31") { day } }',
        "customer",
    ),
    **usage.COMPUTED,
    **royalties.COMPUTED,
}
BY_CODE = [
    '{ plan(code: "victim-plan") { id } }',
    '{ addOn(code: "victim-addon") { id } }',
    '{ coupon(code: "VICTIM") { id } }',
    '{ customer(externalId: "victim-1") { id } }',
]
# Credit operations take the caller's external ids too: another tenant's is unknown.
BY_EXTERNAL_ID = [
    '{ checkCredits(customerId: "victim-1", module: "rag") { canProceed } }',
    '{ creditWallet(customerId: "victim-1") { balance } }',
]
LISTS = {
    "plans": "{ plans { nodes { id } totalCount } }",
    "addOns": "{ addOns { nodes { id } totalCount } }",
    "coupons": "{ coupons { nodes { id } totalCount } }",
    "customers": "{ customers { nodes { id } totalCount } }",
    "apiKeys": "{ apiKeys { id } }",
    "subscriptions": "{ subscriptions { nodes { id } totalCount } }",
    "invoices": "{ invoices { nodes { id } totalCount } }",
    "creditNotes": "{ creditNotes { nodes { id } totalCount } }",
    "testClocks": "{ testClocks { nodes { id } totalCount } }",
    "taxRates": "{ taxRates { id } }",
    "payments": "{ payments { nodes { id } totalCount } }",
    "providerEvents": "{ providerEvents { nodes { eventId } totalCount } }",
    "webhookEndpoints": "{ webhookEndpoints { nodes { id } totalCount } }",
    "webhookEvents": "{ webhookEvents { nodes { id } totalCount } }",
    "webhookDeliveries": "{ webhookDeliveries { nodes { status } totalCount } }",
    **usage.LISTS,
    **royalties.LISTS,
}
OWN = {
    "viewer",
    "tenant",
    "currencies",
    "paymentSettings",
    "creditSettings",
    "analytics",  # the caller's own tenant's figures (tests/api/test_analytics_api.py)
    "analyticsSettings",  # the caller's own tenant's (tests/api/test_kpi_report_api.py)
    "billingStatus",  # the caller's own tenant's runs (tests/api/test_web_sessions.py)
    *royalties.OWN,
}  # answer about the caller itself, no foreign id taken

MUTATIONS = {
    "updatePlan": (
        'mutation($id: ID!) { updatePlan(id: $id, input: {name: "X"}) { __typename } }',
        "plan",
    ),
    "archivePlan": ("mutation($id: ID!) { archivePlan(id: $id) { __typename } }", "plan"),
    "updateAddOn": (
        'mutation($id: ID!) { updateAddOn(id: $id, input: {name: "X"}) { __typename } }',
        "add_on",
    ),
    "archiveAddOn": ("mutation($id: ID!) { archiveAddOn(id: $id) { __typename } }", "add_on"),
    "updateCoupon": (
        'mutation($id: ID!) { updateCoupon(id: $id, input: {name: "X"}) { __typename } }',
        "coupon",
    ),
    "archiveCoupon": ("mutation($id: ID!) { archiveCoupon(id: $id) { __typename } }", "coupon"),
    "updateCustomer": (
        'mutation($id: ID!) { updateCustomer(id: $id, input: {name: "X"}) { __typename } }',
        "customer",
    ),
    "archiveCustomer": (
        "mutation($id: ID!) { archiveCustomer(id: $id) { __typename } }",
        "customer",
    ),
    "revokeApiKey": ("mutation($id: ID!) { revokeApiKey(id: $id) { __typename } }", "key"),
    "createApiKey": (
        'mutation($id: ID!) { createApiKey(input: {name: "x", role: CUSTOMER, customerId: $id}) { __typename } }',
        "customer",
    ),
    "createPortalLink": (
        "mutation($id: ID!) { createPortalLink(customerId: $id) { __typename } }",
        "customer",
    ),
    "createCoupon": (
        'mutation($id: ID!) { createCoupon(input: {code: "STEAL", percentOff: "5", duration: ONCE, planIds: [$id]}) { __typename } }',
        "plan",
    ),
    "createSubscription": (
        "mutation($id: ID!) { createSubscription(input: {customerId: $id, planId: $id}) { __typename } }",
        "customer",
    ),
    "changeSubscription": (
        "mutation($id: ID!) { changeSubscription(id: $id, input: {quantity: 2}) { __typename } }",
        "subscription",
    ),
    "cancelScheduledChange": (
        "mutation($id: ID!) { cancelScheduledChange(id: $id) { __typename } }",
        "subscription",
    ),
    "pauseSubscription": (
        "mutation($id: ID!) { pauseSubscription(id: $id) { __typename } }",
        "subscription",
    ),
    "resumeSubscription": (
        "mutation($id: ID!) { resumeSubscription(id: $id) { __typename } }",
        "subscription",
    ),
    "cancelSubscription": (
        "mutation($id: ID!) { cancelSubscription(id: $id) { __typename } }",
        "subscription",
    ),
    "reactivateSubscription": (
        "mutation($id: ID!) { reactivateSubscription(id: $id) { __typename } }",
        "subscription",
    ),
    "createInvoice": (
        'mutation($id: ID!) { createInvoice(input: {customerId: $id, items: [{description: "x", unitPrice: {currency: "EUR", amountMinor: 1}}]}) { __typename } }',
        "customer",
    ),
    "updateDraftInvoice": (
        'mutation($id: ID!) { updateDraftInvoice(id: $id, input: {memo: "x"}) { __typename } }',
        "draft",
    ),
    "finalizeInvoice": ("mutation($id: ID!) { finalizeInvoice(id: $id) { __typename } }", "draft"),
    "voidInvoice": ("mutation($id: ID!) { voidInvoice(id: $id) { __typename } }", "invoice"),
    "markInvoiceUncollectible": (
        "mutation($id: ID!) { markInvoiceUncollectible(id: $id) { __typename } }",
        "invoice",
    ),
    "sendInvoice": ("mutation($id: ID!) { sendInvoice(id: $id) { __typename } }", "invoice"),
    "createCreditNote": (
        "mutation($id: ID!) { createCreditNote(input: {invoiceId: $id, reason: OTHER}) { __typename } }",
        "invoice",
    ),
    "advanceTestClock": (
        'mutation($id: ID!) { advanceTestClock(id: $id, to: "2027-01-01T00:00:00Z") { __typename } }',
        "test_clock",
    ),
    "deleteTaxRate": ("mutation($id: ID!) { deleteTaxRate(id: $id) { __typename } }", "tax_rate"),
    "setCustomerPaymentProvider": (
        "mutation($id: ID!) { setCustomerPaymentProvider(customerId: $id, provider: MANUAL) { __typename } }",
        "customer",
    ),
    "attachPaymentMethod": (
        'mutation($id: ID!) { attachPaymentMethod(customerId: $id, token: "pm_card_visa") { __typename } }',
        "customer",
    ),
    "setDefaultPaymentMethod": (
        "mutation($id: ID!) { setDefaultPaymentMethod(id: $id) { __typename } }",
        "payment_method",
    ),
    "detachPaymentMethod": (
        "mutation($id: ID!) { detachPaymentMethod(id: $id) { __typename } }",
        "payment_method",
    ),
    "payInvoice": ("mutation($id: ID!) { payInvoice(invoiceId: $id) { __typename } }", "invoice"),
    "recordPayment": (
        'mutation($id: ID!) { recordPayment(input: {invoiceId: $id, method: CASH, reference: "x"}) { __typename } }',
        "invoice",
    ),
    "refundPayment": (
        "mutation($id: ID!) { refundPayment(input: {paymentId: $id}) { __typename } }",
        "payment",
    ),
    "completeSandboxAction": (
        "mutation($id: ID!) { completeSandboxAction(paymentId: $id) { __typename } }",
        "payment",
    ),
    "updateWebhookEndpoint": (
        'mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {url: "https://evil.example"}) { __typename } }',
        "endpoint",
    ),
    "deleteWebhookEndpoint": (
        "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { __typename } }",
        "endpoint",
    ),
    "replayWebhookEvent": (
        "mutation($id: ID!) { replayWebhookEvent(eventId: $id) { __typename } }",
        "event",
    ),
    "replayFailedWebhooks": (
        "mutation($id: ID!) { replayFailedWebhooks(endpointId: $id) { __typename } }",
        "endpoint",
    ),
    "consumeCredits": (
        'mutation($id: ID!) { consumeCredits(customerId: $id, module: "rag", action: "q", requestId: "steal-1") { __typename } }',
        "customer",
    ),
    "reserveCredits": (
        'mutation($id: ID!) { reserveCredits(input: {customerId: $id, module: "rag", action: "q", requestId: "steal-2"}) { __typename } }',
        "customer",
    ),
    "commitReservation": (
        "mutation($id: ID!) { commitReservation(id: $id) { __typename } }",
        "reservation",
    ),
    "releaseReservation": (
        "mutation($id: ID!) { releaseReservation(id: $id) { __typename } }",
        "reservation",
    ),
    "grantCredits": (
        'mutation($id: ID!) { grantCredits(customerId: $id, amount: 5, reason: "x") { __typename } }',
        "customer",
    ),
    "purchaseCredits": (
        "mutation($id: ID!) { purchaseCredits(customerId: $id, credits: 5) { __typename } }",
        "customer",
    ),
    "blockCustomer": (
        "mutation($id: ID!) { blockCustomer(customerId: $id) { __typename } }",
        "customer",
    ),
    "unblockCustomer": (
        "mutation($id: ID!) { unblockCustomer(customerId: $id) { __typename } }",
        "customer",
    ),
    "refundCredits": (
        'mutation($id: ID!) { refundCredits(entryId: $id, reason: "x") { __typename } }',
        "entry",
    ),
    **usage.MUTATIONS,
    **royalties.MUTATIONS,
}
# A batch answers per item: each foreign customer is NOT_FOUND on its own.
PER_ITEM = {
    "consumeCreditsBatch": (
        'mutation($id: ID!) { consumeCreditsBatch(items: [{customerId: $id, module: "rag", action: "q", requestId: "steal-3"}]) { ... on ConsumeCreditsBatchSuccess { results { __typename } } } }',
        "customer",
    ),
}
# Creating in one's own tenant takes no foreign id; updateTenant only ever targets the caller's.
CREATES_OWN = {
    "createPlan",
    "createAddOn",
    "createCustomer",
    "updateTenant",
    "createTestClock",
    "setTaxRate",
    "updatePaymentSettings",
    "createWebhookEndpoint",
    "updateCreditSettings",
    "updateAnalyticsSettings",
}
ITEM = {"description": "Setup", "unit_price": {"currency": "EUR", "amount_minor": 5000}}
