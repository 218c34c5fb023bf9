"""The live `metricsUpdates` subscription through a stock client (Python `gql` over
graphql-transport-ws) against a real uvicorn server: today's MRR and cash when it
opens, then again after a subscription is created and after an invoice is paid;
other roles are refused before the stream opens."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError

from db.invoice_models import Invoice
from domain.tenancy.access import Role
from tests.api.live import gql_following, gql_transport, next_push, serve
from tests.factories import make_customer, make_key, make_plan

UPDATES = """subscription { metricsUpdates {
  mrr { currency mrr { amountMinor } new { amountMinor } customers }
  cash { currency invoiced { amountMinor } collected { amountMinor } } } }"""


def _following(session: Any) -> Any:
    return gql_following(session, GraphQLRequest(UPDATES), "metricsUpdates")


async def _mutate(host: str, key: str, document: str, variables: dict[str, Any]) -> None:
    async with httpx.AsyncClient(base_url=f"http://{host}") as http:
        response = await http.post(
            "/graphql",
            json={"query": document, "variables": variables},
            headers={"authorization": f"Bearer {key}"},
        )
    assert response.status_code == 200, response.text
    assert "Success" in response.text, response.text


async def test_metrics_updates_push_todays_mrr_and_cash(app: Any, tenant: Any) -> None:
    admin_key = await make_key(tenant=tenant)
    plan = await make_plan(tenant=tenant, prices=[("EUR", 1_000)])
    customer = await make_customer(tenant=tenant, name="Ada")
    analyst = await make_key(tenant=tenant, role=Role.ANALYST)
    async with (
        serve(app) as host,
        Client(transport=gql_transport(host, analyst)) as session,
        _following(session) as pushes,
    ):
        assert await next_push(pushes) == {"mrr": [], "cash": []}  # nothing yet today
        # A new 10.00 subscription: MRR moves and its first invoice (12.00 with VAT)
        # is finalized; a burst is coalesced, so wait for the push that shows both.
        await _mutate(
            host,
            admin_key,
            "mutation($c: ID!, $p: ID!) { createSubscription(input: {customerId: $c, planId: $p})"
            " { __typename } }",
            {"c": customer.public_id, "p": plan.public_id},
        )
        push = await next_push(pushes)
        while not push["cash"] or not push["mrr"]:
            push = await next_push(pushes)
        assert push["mrr"] == [
            {
                "currency": "EUR",
                "mrr": {"amountMinor": 1_000},
                "new": {"amountMinor": 1_000},
                "customers": 1,
            }
        ]
        assert push["cash"] == [
            {"currency": "EUR", "invoiced": {"amountMinor": 1_200}, "collected": {"amountMinor": 0}}
        ]
        # Paying the invoice by hand moves today's cash.
        invoice = await Invoice.get(tenant_id=tenant.id)
        await _mutate(
            host,
            admin_key,
            'mutation($i: ID!) { recordPayment(input: {invoiceId: $i, method: CASH, reference: "r1"})'
            " { __typename } }",
            {"i": invoice.public_id},
        )
        push = await next_push(pushes)
        while push["cash"][0]["collected"]["amountMinor"] == 0:
            push = await next_push(pushes)
        assert push["cash"][0]["collected"] == {"amountMinor": 1_200}


async def test_other_roles_are_refused_before_the_stream_opens(app: Any, tenant: Any) -> None:
    service = await make_key(tenant=tenant, role=Role.SERVICE)
    async with serve(app) as host, Client(transport=gql_transport(host, service)) as session:
        async with _following(session) as pushes:
            with pytest.raises(TransportQueryError) as refused:
                await next_push(pushes)
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "FORBIDDEN"
