"""3-D Secure through GraphQL with the sandbox (issue 13, item 5): `payInvoice`
hands back the attempt awaiting authentication instead of opening a second one
that could also succeed; paying with another card cancels it; a success that
still arrives for the paid invoice is refunded; and a manual payment above the
amount due is refused unless allowed (item 7)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.invoice_models import BalanceEntry
from db.models import Tenant
from db.payment_models import Payment, Refund
from domain import clock
from domain.payments.providers import sandbox, signatures
from domain.payments.providers.registry import credentials_for
from tests.api.helpers import data, gql
from tests.factories import make_customer, make_key

SANDBOX = """mutation { updatePaymentSettings(input: {provider: SANDBOX}) { __typename } }"""
ATTACH = """mutation($c: ID!, $token: String!) { attachPaymentMethod(customerId: $c, token: $token) {
  ... on PaymentMethodSuccess { paymentMethod { id } } } }"""
INVOICE = """mutation($c: ID!) { createInvoice(input: {customerId: $c, finalize: true,
  items: [{description: "Setup", unitPrice: {currency: "EUR", amountMinor: 5000}}]}) {
  ... on InvoiceSuccess { invoice { id payments { id status attempt } } } } }"""
PAY = """mutation($id: ID!, $pm: ID) { payInvoice(invoiceId: $id, paymentMethodId: $pm) {
  __typename ... on PaymentSuccess { payment { id status attempt clientSecret } }
  ... on Error { code field } } }"""
COMPLETE = """mutation($id: ID!) { completeSandboxAction(paymentId: $id) {
  __typename ... on Error { code } } }"""
STATE = """query($id: ID!) { invoice(id: $id) { status amountPaid { amountMinor }
  payments { attempt status refunded { amountMinor } } } }"""
RECORD = """mutation($id: ID!, $amount: BigInt!, $allow: Boolean!) {
  recordPayment(input: {invoiceId: $id, method: BANK_TRANSFER, reference: "T-9",
    amount: {currency: "EUR", amountMinor: $amount}, allowOverpayment: $allow}) {
  __typename ... on PaymentSuccess { payment { status } } ... on Error { code field } } }"""


async def _late_success(client: httpx.AsyncClient, tenant: Any, payment_id: str) -> str:
    """The sandbox's webhook for a payment the customer finished before the cancel."""
    tenant = await Tenant.get(id=tenant.id)
    secret = credentials_for("sandbox", tenant).webhook_secret or ""
    payment = await Payment.get(public_id=payment_id)
    obj = {
        "id": payment.provider_ref,
        "object": "payment_intent",
        "amount": payment.amount_minor,
        "currency": payment.currency.lower(),
        "status": "succeeded",
        "metadata": {"tally_payment": payment.public_id},
        "last_payment_error": None,
    }
    body = sandbox.build_event("evt_late_sbx", "payment_intent.succeeded", obj)
    header = signatures.sign(body.decode(), secret, int(clock.real_now().timestamp()))
    response = await client.post(
        f"/webhooks/sandbox/{tenant.public_id}",
        content=body,
        headers={"Stripe-Signature": header, "content-type": "application/json"},
    )
    return response.json()["outcome"]


@pytest.mark.usefixtures("sandbox_to_app")
async def test_a_3ds_attempt_is_reused_then_canceled_and_a_late_success_refunded(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    key = await make_key(tenant=tenant)
    assert data(await gql(client, key, SANDBOX))
    customer = await make_customer(tenant=tenant, country="US")
    c = customer.public_id
    await gql(client, key, ATTACH, {"c": c, "token": "pm_card_authenticationRequired"})
    invoice = data(await gql(client, key, INVOICE, {"c": c}))["createInvoice"]["invoice"]
    (first,) = invoice["payments"]
    assert (first["status"], first["attempt"]) == ("REQUIRES_ACTION", 1)

    again = data(await gql(client, key, PAY, {"id": invoice["id"]}))["payInvoice"]["payment"]
    assert (again["id"], again["status"], again["attempt"]) == (first["id"], "REQUIRES_ACTION", 1)
    assert again["clientSecret"]

    visa = data(await gql(client, key, ATTACH, {"c": c, "token": "pm_card_visa"}))
    pm = visa["attachPaymentMethod"]["paymentMethod"]["id"]
    second = data(await gql(client, key, PAY, {"id": invoice["id"], "pm": pm}))["payInvoice"]
    assert (second["payment"]["status"], second["payment"]["attempt"]) == ("SUCCEEDED", 2)
    late = data(await gql(client, key, COMPLETE, {"id": first["id"]}))["completeSandboxAction"]
    assert late == {"__typename": "ConflictError", "code": "INVALID_PAYMENT_STATUS"}

    assert await _late_success(client, tenant, first["id"]) == "processed"
    state = data(await gql(client, key, STATE, {"id": invoice["id"]}))["invoice"]
    assert state["status"] == "PAID" and state["amountPaid"] == {"amountMinor": 5000}
    assert sorted(
        (p["attempt"], p["status"], p["refunded"]["amountMinor"]) for p in state["payments"]
    ) == [
        (1, "SUCCEEDED", 5000),
        (2, "SUCCEEDED", 0),
    ]
    assert await Refund.filter(payment__public_id=first["id"], status="succeeded").count() == 1
    assert not await BalanceEntry.filter(customer_id=customer.id).exists()


async def test_a_manual_payment_above_the_amount_due_needs_allow_overpayment(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    key = await make_key(tenant=tenant)
    customer = await make_customer(tenant=tenant, country="US")
    invoice = data(await gql(client, key, INVOICE, {"c": customer.public_id}))["createInvoice"]
    target = invoice["invoice"]["id"]
    refused = data(await gql(client, key, RECORD, {"id": target, "amount": 7000, "allow": False}))
    assert refused["recordPayment"] == {
        "__typename": "ValidationError",
        "code": "OVERPAYMENT",
        "field": "amount",
    }
    assert data(await gql(client, key, STATE, {"id": target}))["invoice"]["payments"] == []
    done = data(await gql(client, key, RECORD, {"id": target, "amount": 7000, "allow": True}))
    assert done["recordPayment"]["payment"]["status"] == "SUCCEEDED"
    credit = await BalanceEntry.filter(customer_id=customer.id, source="overpayment")
    assert [e.amount_minor for e in credit] == [2000]


async def test_an_allowed_overpayment_stays_under_the_amount_ceiling(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    """allowOverpayment keeps the excess as customer credit, but 9·10^18 was taken
    onto the balance: the 10^15 minor-unit ceiling of a line and an invoice holds
    for what a payment records too."""
    key = await make_key(tenant=tenant)
    customer = await make_customer(tenant=tenant, country="US")
    invoice = data(await gql(client, key, INVOICE, {"c": customer.public_id}))["createInvoice"]
    target = invoice["invoice"]["id"]
    huge = 9 * 10**18
    refused = data(await gql(client, key, RECORD, {"id": target, "amount": huge, "allow": True}))
    assert refused["recordPayment"] == {
        "__typename": "ValidationError",
        "code": "AMOUNT_TOO_LARGE",
        "field": "amount",
    }
    assert data(await gql(client, key, STATE, {"id": target}))["invoice"]["payments"] == []
    assert not await BalanceEntry.filter(customer_id=customer.id).exists()
    ceiling = 10**15
    done = data(await gql(client, key, RECORD, {"id": target, "amount": ceiling, "allow": True}))
    assert done["recordPayment"]["payment"]["status"] == "SUCCEEDED"
    credit = await BalanceEntry.filter(customer_id=customer.id, source="overpayment")
    assert [e.amount_minor for e in credit] == [ceiling - 5000]


@pytest.mark.usefixtures("sandbox_to_app")
async def test_a_customer_token_pays_its_own_invoice_through_3ds_and_no_one_elses(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    """The portal's "Pay now": the customer's own token pays and finishes 3-D Secure
    (issue 18); another customer's invoice or payment reads as missing."""
    from domain.tenancy.access import Role

    admin = await make_key(tenant=tenant)
    assert data(await gql(client, admin, SANDBOX))
    me, other = await make_customer(tenant=tenant, country="US"), await make_customer(tenant=tenant)
    await gql(client, admin, ATTACH, {"c": me.public_id, "token": "pm_card_authenticationRequired"})
    await gql(client, admin, ATTACH, {"c": other.public_id, "token": "pm_card_visa"})
    mine = data(await gql(client, admin, INVOICE, {"c": me.public_id}))["createInvoice"]["invoice"]
    theirs = data(await gql(client, admin, INVOICE, {"c": other.public_id}))["createInvoice"]
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=me)

    paying = data(await gql(client, token, PAY, {"id": mine["id"]}))["payInvoice"]
    assert paying["payment"]["status"] == "REQUIRES_ACTION"
    done = data(await gql(client, token, COMPLETE, {"id": paying["payment"]["id"]}))
    assert done["completeSandboxAction"]["__typename"] == "PaymentSuccess"
    state = data(await gql(client, token, STATE, {"id": mine["id"]}))["invoice"]
    assert state["status"] == "PAID" and state["amountPaid"]["amountMinor"] == 5000

    refused = data(await gql(client, token, PAY, {"id": theirs["invoice"]["id"]}))["payInvoice"]
    assert refused["code"] == "NOT_FOUND"
    their_payment = theirs["invoice"]["payments"][0]["id"]
    other_done = data(await gql(client, token, COMPLETE, {"id": their_payment}))
    assert other_done["completeSandboxAction"]["code"] == "NOT_FOUND"
