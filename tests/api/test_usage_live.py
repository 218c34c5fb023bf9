"""The live `usageUpdates` subscription through a stock client (Python `gql` over
graphql-transport-ws) against a real uvicorn server: the current usage when it opens,
then the running total after an ingestion; a customer token follows only itself."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError

from domain.tenancy.access import Role
from domain.usage.charges import create_charge
from domain.usage.metrics import create_metric
from tests.api.live import gql_following, gql_transport, next_push, serve
from tests.factories import admin_of, make_customer, make_key, make_plan, make_subscription

UPDATES = """subscription($c: ID!) { usageUpdates(customerId: $c) {
  subscription { id } currency amount { amountMinor }
  charges { invoiceDisplayName units events amount { amountMinor }
    tiers { fromUnits units amount } } } }"""
INGEST = """mutation($events: [UsageEventInput!]!) { ingestUsageEvents(events: $events) {
  __typename ... on IngestUsageEventsSuccess { accepted } } }"""


async def _world(tenant: Any) -> dict[str, Any]:
    admin = admin_of(tenant)
    plan = await make_plan(tenant=tenant, prices=[("EUR", 1_000)])
    await create_metric(
        admin, {"code": "minutes", "name": "Minutes", "aggregation": "SUM", "field_name": "minutes"}
    )
    await create_charge(
        admin,
        {
            "plan_id": plan.public_id,
            "metric_id": "minutes",
            "model": "GRADUATED",
            "prices": [
                {
                    "currency": "EUR",
                    "properties": {
                        "tiers": [
                            {"upTo": "100", "unitPrice": "0.10"},
                            {"upTo": None, "unitPrice": "0.05"},
                        ]
                    },
                }
            ],
            "invoice_display_name": "Minutes",
        },
    )
    me = await make_customer(tenant=tenant, name="Me")
    other = await make_customer(tenant=tenant, name="Other")
    subs = {}
    for customer in (me, other):
        subs[customer.id] = await make_subscription(tenant=tenant, customer=customer, plan=plan)
    return {
        "admin": await make_key(tenant=tenant),
        "service": await make_key(tenant=tenant, role=Role.SERVICE),
        "me": me,
        "other": other,
        "sub": subs[me.id].public_id,
        "token": await make_key(tenant=tenant, role=Role.CUSTOMER, customer=me),
    }


def _following(session: Any, customer: str) -> Any:
    """The pushes of a usageUpdates subscription, in a queue."""
    request = GraphQLRequest(UPDATES, variable_values={"c": customer})
    return gql_following(session, request, "usageUpdates")


async def _ingest(host: str, key: str, customer: str, *minutes: int, tag: str) -> None:
    events = [
        {
            "transactionId": f"{tag}-{n}",
            "customerId": customer,
            "metricCode": "minutes",
            "properties": {"minutes": m},
        }
        for n, m in enumerate(minutes)
    ]
    async with httpx.AsyncClient(base_url=f"http://{host}") as http:
        response = await http.post(
            "/graphql",
            json={"query": INGEST, "variables": {"events": events}},
            headers={"authorization": f"Bearer {key}"},
        )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["ingestUsageEvents"]["accepted"] == len(minutes)


async def test_usage_updates_push_the_running_total(app: Any, tenant: Any) -> None:
    w = await _world(tenant)
    me = w["me"].public_id
    async with (
        serve(app) as host,
        Client(transport=gql_transport(host, w["admin"])) as session,
        _following(session, me) as pushes,
    ):
        # The subscription opens with the usage so far: nothing yet.
        first = await next_push(pushes)
        assert first["subscription"] == {"id": w["sub"]}
        assert (first["currency"], first["amount"]) == ("EUR", {"amountMinor": 0})
        assert first["charges"][0]["units"] == "0"

        # It listens before it first reads, so an ingestion after that first push is
        # always seen. A burst is coalesced: wait for the push that shows all of it.
        await _ingest(host, w["service"], me, 80, 70, tag="a")
        # 150 minutes: 100 x 0.10 + 50 x 0.05 = 12.50 EUR.
        push = await next_push(pushes)
        while push["amount"]["amountMinor"] != 1_250:
            assert push["amount"]["amountMinor"] < 1_250, push  # a total on the way there
            push = await next_push(pushes)
        assert push["charges"] == [
            {
                "invoiceDisplayName": "Minutes",
                "units": "150",
                "events": 2,
                "amount": {"amountMinor": 1_250},
                "tiers": [
                    {"fromUnits": "0", "units": "100", "amount": "10"},
                    {"fromUnits": "100", "units": "50", "amount": "2.5"},
                ],
            }
        ]
        # Another customer's events are not this customer's usage: its total moves with
        # its own events only.
        await _ingest(host, w["service"], w["other"].public_id, 500, tag="b")
        await _ingest(host, w["service"], me, 10, tag="c")
        push = await next_push(pushes)
        while push["amount"]["amountMinor"] == 1_250:
            push = await next_push(pushes)
        assert push["amount"]["amountMinor"] == 1_300
        assert push["charges"][0]["units"] == "160"


async def test_a_customer_token_follows_only_its_own_usage(app: Any, tenant: Any) -> None:
    w = await _world(tenant)
    async with serve(app) as host, Client(transport=gql_transport(host, w["token"])) as session:
        async with _following(session, w["other"].public_id) as pushes:
            with pytest.raises(TransportQueryError) as refused:
                await next_push(pushes)
        assert refused.value.errors is not None
        assert refused.value.errors[0]["extensions"]["code"] == "NOT_FOUND"
        async with _following(session, w["me"].public_id) as pushes:
            mine = await next_push(pushes)
            assert mine["subscription"] == {"id": w["sub"]}
            await _ingest(host, w["service"], w["me"].public_id, 30, tag="t")
            push = await next_push(pushes)
            while push["amount"]["amountMinor"] != 300:
                push = await next_push(pushes)
            assert push["charges"][0]["units"] == "30"
