"""Payments through real GraphQL documents: settings, a card, automatic
collection on finalize, typed errors, manual payments, refunds, webhooks setup."""

from __future__ import annotations

import httpx

from domain.webhooks.delivery import deliver_due
from tests.api.helpers import data, gql
from tests.factories import make_customer, make_key, make_tenant

SETTINGS = """mutation($input: PaymentSettingsInput!) {
  updatePaymentSettings(input: $input) {
    __typename
    ... on PaymentSettingsSuccess { settings { provider webhookPath dunning { retryDays finalSubscription } } }
    ... on ValidationError { code field }
  }
}"""
ATTACH = """mutation($customer: ID!, $token: String!) {
  attachPaymentMethod(customerId: $customer, token: $token) {
    __typename
    ... on PaymentMethodSuccess { paymentMethod { id brand last4 isDefault } }
    ... on ValidationError { code field }
  }
}"""
INVOICE = """mutation($customer: ID!) {
  createInvoice(input: {customerId: $customer, items: [{description: "Setup", unitPrice: {currency: "EUR", amountMinor: 5000}}]}) {
    ... on InvoiceSuccess { invoice { id } }
  }
}"""
FINALIZE = """mutation($id: ID!) {
  finalizeInvoice(id: $id) {
    ... on InvoiceSuccess { invoice { status collectionMethod amountPaid { amountMinor }
      payments { status attempt provider amount { amountMinor } } } }
  }
}"""
PAY = """mutation($id: ID!) {
  payInvoice(invoiceId: $id) { __typename ... on ConflictError { code } }
}"""
REFUND = """mutation($id: ID!, $amount: MoneyInput) {
  refundPayment(input: {paymentId: $id, amount: $amount}) {
    __typename
    ... on RefundSuccess { refund { status creditNoteId amount { amountMinor } } payment { refunded { amountMinor } } }
    ... on ValidationError { code field }
  }
}"""
ENDPOINT = """mutation {
  createWebhookEndpoint(input: {url: "http://127.0.0.1:9/partner-hooks", eventTypes: ["invoice.paid"]}) {
    __typename ... on CreateWebhookEndpointSuccess { secret endpoint { id status eventTypes } }
    ... on ValidationError { code field }
  }
}"""
DELIVERIES = """{
  webhookDeliveries { nodes { status attempts endpointId event { type } attemptLog { statusCode error } } }
}"""
CUSTOMER = """query($id: ID!) {
  customer(id: $id) { delinquent creditsBlocked paymentMethods { brand } }
  payments(customerId: $id) { totalCount nodes { status invoice { status } } }
}"""


async def test_a_card_pays_an_invoice_on_finalize(client: httpx.AsyncClient, db: str) -> None:
    tenant = await make_tenant()
    key = await make_key(tenant=tenant)
    settings = data(await gql(client, key, SETTINGS, {"input": {"provider": "SANDBOX"}}))
    assert settings["updatePaymentSettings"]["settings"]["provider"] == "SANDBOX"
    assert settings["updatePaymentSettings"]["settings"]["webhookPath"].endswith(tenant.public_id)
    bad = data(await gql(client, key, SETTINGS, {"input": {"dunning": {"retryDays": [5, 3]}}}))[
        "updatePaymentSettings"
    ]
    assert (bad["__typename"], bad["field"]) == ("ValidationError", "dunning.retryDays")
    customer = await make_customer(tenant=tenant, address={"country": "US"})
    rejected = data(
        await gql(client, key, ATTACH, {"customer": customer.public_id, "token": "pm_card_bogus"})
    )["attachPaymentMethod"]
    assert (rejected["__typename"], rejected["code"]) == (
        "ValidationError",
        "PAYMENT_METHOD_REJECTED",
    )
    card = data(
        await gql(client, key, ATTACH, {"customer": customer.public_id, "token": "pm_card_visa"})
    )["attachPaymentMethod"]["paymentMethod"]
    assert (card["brand"], card["last4"], card["isDefault"]) == ("visa", "4242", True)

    invoice_id = data(await gql(client, key, INVOICE, {"customer": customer.public_id}))[
        "createInvoice"
    ]["invoice"]["id"]
    invoice = data(await gql(client, key, FINALIZE, {"id": invoice_id}))["finalizeInvoice"][
        "invoice"
    ]
    assert (invoice["status"], invoice["collectionMethod"]) == ("PAID", "charge_automatically")
    (payment,) = invoice["payments"]
    assert (payment["status"], payment["attempt"], payment["provider"]) == (
        "SUCCEEDED",
        1,
        "SANDBOX",
    )
    assert (
        int(payment["amount"]["amountMinor"]) == 5000 == int(invoice["amountPaid"]["amountMinor"])
    )
    paid_again = data(await gql(client, key, PAY, {"id": invoice_id}))["payInvoice"]
    assert paid_again == {"__typename": "ConflictError", "code": "INVALID_INVOICE_STATUS"}

    view = data(await gql(client, key, CUSTOMER, {"id": customer.public_id}))
    assert view["customer"] == {
        "delinquent": False,
        "creditsBlocked": False,
        "paymentMethods": [{"brand": "visa"}],
    }
    assert view["payments"]["totalCount"] == 1
    payment_id = (await gql(client, key, "{ payments { nodes { id } } }"))["data"]["payments"][
        "nodes"
    ][0]["id"]
    too_much = data(
        await gql(
            client,
            key,
            REFUND,
            {"id": payment_id, "amount": {"currency": "EUR", "amountMinor": 5001}},
        )
    )["refundPayment"]
    assert (too_much["__typename"], too_much["code"]) == ("ValidationError", "REFUND_TOO_LARGE")
    refund = data(
        await gql(
            client,
            key,
            REFUND,
            {"id": payment_id, "amount": {"currency": "EUR", "amountMinor": 1500}},
        )
    )["refundPayment"]
    assert refund["refund"]["status"] == "succeeded"
    assert refund["refund"]["creditNoteId"].startswith("cn_")
    assert int(refund["payment"]["refunded"]["amountMinor"]) == 1500

    endpoint = data(await gql(client, key, ENDPOINT))["createWebhookEndpoint"]
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["endpoint"]["status"] == "enabled"

    # Paid invoices are announced (the first one too: its event was still in the
    # outbox when the endpoint arrived); the endpoint refuses, and the log says so.
    second = data(await gql(client, key, INVOICE, {"customer": customer.public_id}))
    await gql(client, key, FINALIZE, {"id": second["createInvoice"]["invoice"]["id"]})
    async with httpx.AsyncClient() as http:
        await deliver_due(http)
    log = data(await gql(client, key, DELIVERIES))["webhookDeliveries"]["nodes"]
    assert [(d["event"]["type"], d["endpointId"], d["status"], d["attempts"]) for d in log] == [
        ("invoice.paid", endpoint["endpoint"]["id"], "PENDING", 1)
    ] * 2
    assert all(d["attemptLog"][0]["statusCode"] is None for d in log)
    assert all("ConnectError" in d["attemptLog"][0]["error"] for d in log)
