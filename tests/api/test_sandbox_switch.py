"""Switching a tenant to SANDBOX (issue 13, item 19): a customer without a card
used to turn PAST_DUE, delinquent and blocked from credits (PAYMENT_OVERDUE) at its
first invoice, while that invoice said `overdue: false`, due in 30 days."""

from __future__ import annotations

from typing import Any

import httpx

from domain.tenancy.access import Role
from tests.api.helpers import data, gql
from tests.factories import make_customer, make_key, make_plan

SANDBOX = """mutation { updatePaymentSettings(input: {provider: SANDBOX}) { __typename } }"""
SUBSCRIBE = """mutation($c: ID!, $p: ID!) {
  createSubscription(input: {customerId: $c, planId: $p}) {
    __typename ... on SubscriptionSuccess { subscription { id status } }
    ... on Error { code message field } } }"""
STATE = """query($c: ID!, $s: ID!) {
  customer(id: $c) { delinquent creditsBlocked }
  subscription(id: $s) { status }
  invoices(subscriptionId: $s) { nodes { status overdue dueAt payments { status failureCode } } }
}"""
CHECK = """query($c: ID!) { checkCredits(customerId: $c, module: "rag", quantity: 1) {
  canProceed reason } }"""


async def test_no_card_is_not_overdue_before_the_due_date(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    key = await make_key(tenant=tenant)
    service = await make_key(tenant=tenant, role=Role.SERVICE)
    plan = await make_plan(tenant=tenant, features=["rag"], monthly_credits=100)
    customer = await make_customer(tenant=tenant, country="US")  # existing, no card
    assert data(await gql(client, key, SANDBOX))["updatePaymentSettings"]
    made = data(await gql(client, key, SUBSCRIBE, {"c": customer.public_id, "p": plan.public_id}))
    sub = made["createSubscription"]["subscription"]

    state = data(await gql(client, key, STATE, {"c": customer.public_id, "s": sub["id"]}))
    (invoice,) = state["invoices"]["nodes"]
    assert (invoice["status"], invoice["overdue"]) == ("OPEN", False)
    assert invoice["payments"] == [{"status": "FAILED", "failureCode": "no_payment_method"}]
    assert state["subscription"]["status"] == "ACTIVE"
    assert state["customer"] == {"delinquent": False, "creditsBlocked": False}
    check = data(await gql(client, service, CHECK, {"c": customer.public_id}))["checkCredits"]
    assert check == {"canProceed": True, "reason": None}


ATTACH = """mutation($c: ID!) { attachPaymentMethod(customerId: $c, token: "pm_card_chargeDeclined") {
  __typename } }"""
WALLET = """query($c: ID!) { creditWallet(customerId: $c) { paymentOverdue paymentFailed } }"""


async def test_a_declined_card_blocks_credits_as_payment_failed_not_overdue(
    client: httpx.AsyncClient, tenant: Any
) -> None:
    key = await make_key(tenant=tenant)
    service = await make_key(tenant=tenant, role=Role.SERVICE)
    plan = await make_plan(tenant=tenant, features=["rag"], monthly_credits=100)
    customer = await make_customer(tenant=tenant, country="US")
    assert data(await gql(client, key, SANDBOX))["updatePaymentSettings"]
    assert data(await gql(client, key, ATTACH, {"c": customer.public_id}))
    made = data(await gql(client, key, SUBSCRIBE, {"c": customer.public_id, "p": plan.public_id}))
    sub = made["createSubscription"]["subscription"]

    state = data(await gql(client, key, STATE, {"c": customer.public_id, "s": sub["id"]}))
    (invoice,) = state["invoices"]["nodes"]
    assert (invoice["status"], invoice["overdue"]) == ("OPEN", False)
    assert state["customer"] == {"delinquent": True, "creditsBlocked": True}
    check = data(await gql(client, service, CHECK, {"c": customer.public_id}))["checkCredits"]
    assert check == {"canProceed": False, "reason": "PAYMENT_FAILED"}
    wallet = data(await gql(client, service, WALLET, {"c": customer.public_id}))["creditWallet"]
    assert wallet == {"paymentOverdue": False, "paymentFailed": True}
