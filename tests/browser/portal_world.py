"""The customer portal's test data (issue 18): a tenant on the sandbox provider, two
plans with credits, a customer subscribed to the smaller one with a credit grant and
a few consumptions, another customer with an invoice of their own, and the keys the
tests act with. Built through the factories and Tally's own GraphQL (httpx against
the app in process), as the API tests do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from domain.tenancy.access import Role
from tests.api.helpers import data, gql
from tests.factories import make_customer, make_key, make_plan, make_subscription, make_tenant

SANDBOX = """mutation { updatePaymentSettings(input: {provider: SANDBOX}) {
  __typename ... on Error { code message } } }"""
GRANT = """mutation($c: ID!, $n: BigInt!) {
  grantCredits(customerId: $c, amount: $n, reason: "welcome", kind: PROMOTION) {
    __typename ... on Error { code message } } }"""
CONSUME = """mutation($c: ID!, $r: String!, $q: BigInt!) {
  consumeCredits(customerId: $c, module: "rag", action: "ask", requestId: $r, quantity: $q) {
    __typename ... on CreditConsumption { consumed balance } ... on Error { code message } } }"""
INVOICE = """mutation($c: ID!) { createInvoice(input: {customerId: $c, finalize: true,
  items: [{description: "Setup", unitPrice: {currency: "EUR", amountMinor: 5000}}]}) {
  __typename ... on InvoiceSuccess { invoice { id } } ... on Error { code message } } }"""
SETTINGS = """mutation { updateCreditSettings(input: {unitPrices: [{currency: "EUR", amountMinor: 2}]}) {
  __typename ... on Error { code message } } }"""
PORTAL_LINK = """mutation($c: ID!) { createPortalLink(customerId: $c) {
  __typename ... on PortalLinkSuccess { url expiresAt } ... on Error { code message } } }"""


@dataclass
class PortalWorld:
    tenant: Any
    admin: str  # an admin key
    service: str  # a partner's service key (consumeCredits)
    customer: Any  # the customer signing in to the portal
    token: str  # that customer's own API key
    other: Any  # another customer of the same tenant
    other_invoice: str  # an invoice of the other customer (in_…)
    starter: Any  # the plan the customer is on
    pro: Any  # a bigger monthly plan
    annual: Any  # the yearly plan they upgrade to (billed at once)
    subscription: str  # sub_…


async def build(client: httpx.AsyncClient, *, locale: str = "en") -> PortalWorld:
    tenant = await make_tenant(name="Acme Legal AI")
    admin = await make_key(tenant=tenant)
    service = await make_key(tenant=tenant, role=Role.SERVICE)
    assert data(await gql(client, admin, SANDBOX))["updatePaymentSettings"]
    settings = data(await gql(client, admin, SETTINGS))["updateCreditSettings"]
    assert settings["__typename"] == "CreditSettingsSuccess", settings
    starter = await make_plan(
        tenant=tenant,
        code="starter",
        name="Starter",
        prices=[("EUR", 2_900)],
        monthly_credits=1_000,
        daily_credit_limit=200,
        features=["rag"],
        self_service=True,
    )
    pro = await make_plan(
        tenant=tenant,
        code="pro",
        name="Pro",
        prices=[("EUR", 9_900)],
        monthly_credits=5_000,
        daily_credit_limit=1_000,
        features=["rag"],
        self_service=True,
    )
    # A change of billing interval is billed at once (a same-interval upgrade adds
    # proration lines to the next invoice): the upgrade the tests make.
    annual = await make_plan(
        tenant=tenant,
        code="pro-annual",
        name="Pro annual",
        interval="year",
        prices=[("EUR", 99_000)],
        monthly_credits=5_000,
        daily_credit_limit=1_000,
        features=["rag"],
        self_service=True,
    )
    customer = await make_customer(
        tenant=tenant, name="Ada Lovelace", country="FR", locale=locale, email="ada@example.com"
    )
    other = await make_customer(tenant=tenant, name="Grace Hopper", country="FR")
    sub = await make_subscription(tenant=tenant, customer=customer, plan=starter)
    await make_subscription(tenant=tenant, customer=other, plan=starter)
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=customer)
    granted = data(await gql(client, admin, GRANT, {"c": customer.public_id, "n": 250}))
    assert granted["grantCredits"]["__typename"] == "CreditWalletSuccess", granted
    for i, quantity in enumerate((3, 5, 2)):
        consumed = data(
            await gql(
                client, service, CONSUME, {"c": customer.public_id, "r": f"w-{i}", "q": quantity}
            )
        )["consumeCredits"]
        assert consumed.get("consumed") is True, consumed
    made = data(await gql(client, admin, INVOICE, {"c": other.public_id}))["createInvoice"]
    assert made["__typename"] == "InvoiceSuccess", made
    return PortalWorld(
        tenant=tenant,
        admin=admin,
        service=service,
        customer=customer,
        token=token,
        other=other,
        other_invoice=made["invoice"]["id"],
        starter=starter,
        pro=pro,
        annual=annual,
        subscription=sub.public_id,
    )


async def portal_link(base_url: str, admin: str, customer_id: str) -> str:
    """A one-time sign-in URL, asked of the live server over HTTP by an admin key."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post(
            "/graphql",
            json={"query": PORTAL_LINK, "variables": {"c": customer_id}},
            headers={"authorization": f"Bearer {admin}"},
        )
    response.raise_for_status()
    result = response.json()["data"]["createPortalLink"]
    assert result["__typename"] == "PortalLinkSuccess", result
    url = result["url"]
    # The link names the server's configured public URL; the path is what counts.
    path = url[url.index("/portal/link/") :]
    return f"{base_url}{path}"


async def consume(
    base_url: str, service: str, customer_id: str, request_id: str, quantity: int
) -> dict[str, Any]:
    """A partner's consumption over HTTP (the service key), as a real service sends it."""
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post(
            "/graphql",
            json={
                "query": CONSUME,
                "variables": {"c": customer_id, "r": request_id, "q": quantity},
            },
            headers={"authorization": f"Bearer {service}"},
        )
    response.raise_for_status()
    return response.json()["data"]["consumeCredits"]
