"""GraphQL subscriptions over graphql-transport-ws, in-process and across servers via Redis."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import httpx
import pytest
import websockets

from domain.tenancy.access import Role
from server import create_app
from tests.api.live import serve, subscriber
from tests.factories import make_customer, make_key

USAGE_FEED = "subscription($c: ID) { usageEvents(customerId: $c) { entryId } }"
EVENTS = 'subscription { tenantEvents(types: ["customer.created", "customer.updated"]) { type objectId occurredAt } }'
CREATE = "mutation($name: String!) { createCustomer(input: {name: $name}) { ... on CustomerSuccess { customer { id } } } }"
UPDATE = 'mutation($id: ID!) { updateCustomer(id: $id, input: {name: "Renamed"}) { __typename } }'


async def _mutate(host: str, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://{host}") as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {key}"},
        )
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def _subscribe(sub: Any) -> None:
    assert (await sub.receive())["type"] == "connection_ack"
    await sub.send({"id": "1", "type": "subscribe", "payload": {"query": EVENTS}})
    await asyncio.sleep(0.1)  # let the subscription register before the mutation


async def test_tenant_events_reach_a_websocket_subscriber(app: Any, tenant: Any) -> None:
    key = await make_key(tenant=tenant)
    async with serve(app) as host, subscriber(host, key) as sub:
        await _subscribe(sub)
        created = await _mutate(host, key, CREATE, {"name": "Live"})
        event = await sub.receive()
        assert event["type"] == "next" and event["id"] == "1"
        payload = event["payload"]["data"]["tenantEvents"]
        assert payload["type"] == "customer.created"
        assert payload["objectId"] == created["createCustomer"]["customer"]["id"]


async def test_customer_tokens_follow_only_their_customer(app: Any, tenant: Any) -> None:
    admin = await make_key(tenant=tenant)
    me = await make_customer(tenant=tenant, name="Me")
    other = await make_customer(tenant=tenant, name="Other")
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=me)
    async with serve(app) as host, subscriber(host, token) as sub:
        await _subscribe(sub)
        await _mutate(host, admin, UPDATE, {"id": other.public_id})
        await _mutate(host, admin, UPDATE, {"id": me.public_id})
        event = (await sub.receive())["payload"]["data"]["tenantEvents"]
        assert event["objectId"] == me.public_id  # the other customer's event never arrived


@pytest.mark.parametrize("key", [None, "tly_AAAAAAAAAAAA_" + "A" * 32])
async def test_websocket_without_a_valid_key_is_rejected(
    app: Any, db: str, key: str | None
) -> None:
    async with serve(app) as host, subscriber(host, key) as sub:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await sub.receive()
        assert closed.value.rcvd.code == 4403


@pytest.mark.redis
async def test_events_cross_servers_through_redis(
    settings: Any, redis_url: str, tenant: Any
) -> None:
    with_redis = dataclasses.replace(settings, redis_url=redis_url)
    key = await make_key(tenant=tenant)
    app_a = create_app(with_redis, manage_db=False)
    app_b = create_app(with_redis, manage_db=False)
    async with serve(app_a) as host_a, serve(app_b) as host_b, subscriber(host_b, key) as sub:
        await _subscribe(sub)
        await asyncio.sleep(0.2)  # the Redis SUBSCRIBE is asynchronous
        created = await _mutate(host_a, key, CREATE, {"name": "Via Redis"})
        payload = (await sub.receive())["payload"]["data"]["tenantEvents"]
        assert payload["objectId"] == created["createCustomer"]["customer"]["id"]
        async with httpx.AsyncClient(base_url=f"http://{host_b}") as http:
            health = (await http.get("/health")).json()
        assert health["redis"] == "ok"


async def test_a_dead_bus_does_not_fail_a_committed_mutation(settings: Any, tenant: Any) -> None:
    from db.models import Customer

    app = create_app(
        dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0"), manage_db=False
    )
    key = await make_key(tenant=tenant)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://tally.test") as c:
        response = await c.post(
            "/graphql",
            json={"query": CREATE, "variables": {"name": "Kept"}},
            headers={"authorization": f"Bearer {key}"},
        )
    assert response.status_code == 200
    assert "errors" not in response.json()
    assert await Customer.exists(tenant_id=tenant.id, name="Kept")


BALANCE = "subscription($c: ID) { creditBalance(customerId: $c) { customerId balance } }"
INVOICES = "subscription($c: ID) { invoiceEvents(customerId: $c) { invoiceId status } }"


async def _first(sub: Any, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    assert (await sub.receive())["type"] == "connection_ack"
    payload: dict[str, Any] = {"query": query, "variables": variables or {}}
    await sub.send({"id": "1", "type": "subscribe", "payload": payload})
    return await sub.receive()


@pytest.mark.parametrize("query", [BALANCE, USAGE_FEED, INVOICES])
async def test_an_unknown_or_foreign_customer_is_an_error_message(
    app: Any, tenant: Any, query: str
) -> None:
    from tests.factories import make_tenant

    key = await make_key(tenant=tenant)
    elsewhere = await make_customer(tenant=await make_tenant(), name="Not yours")
    async with serve(app) as host:
        for ref in ("cus_nope", elsewhere.public_id, "no-such-external-id"):
            async with subscriber(host, key) as sub:
                message = await _first(sub, query, {"c": ref})
                assert message["type"] == "error", message
                (error,) = message["payload"]
                assert error["extensions"] == {"code": "NOT_FOUND", "field": "customerId"}


async def test_a_customer_token_cannot_follow_another_customer(app: Any, tenant: Any) -> None:
    me = await make_customer(tenant=tenant, name="Me")
    other = await make_customer(tenant=tenant, name="Other")
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=me)
    async with serve(app) as host, subscriber(host, token) as sub:
        message = await _first(sub, BALANCE, {"c": other.public_id})
    assert message["type"] == "error"
    assert message["payload"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_external_ids_work_over_the_socket(app: Any, tenant: Any) -> None:
    key = await make_key(tenant=tenant)
    await make_customer(tenant=tenant, name="Ext", external_id="crm-42")
    grant = 'mutation { grantCredits(customerId: "crm-42", amount: 5, reason: "x") { __typename } }'
    async with serve(app) as host, subscriber(host, key) as sub:
        assert (await sub.receive())["type"] == "connection_ack"
        payload = {"query": BALANCE, "variables": {"c": "crm-42"}}
        await sub.send({"id": "1", "type": "subscribe", "payload": payload})
        await asyncio.sleep(0.1)  # let the subscription register before the mutation
        await _mutate(host, key, grant, {})
        event = await sub.receive()
    assert event["type"] == "next", event
    assert event["payload"]["data"]["creditBalance"]["balance"] == 5


@pytest.mark.parametrize("document", ["subscription { tenantEvents(", "subscription { nope }"])
async def test_a_bad_document_is_an_error_message_and_the_socket_stays_open(
    app: Any, tenant: Any, document: str
) -> None:
    key = await make_key(tenant=tenant)
    async with serve(app) as host, subscriber(host, key) as sub:
        message = await _first(sub, document)
        assert message["type"] == "error" and message["id"] == "1"
        assert message["payload"][0]["message"]
        await sub.send(
            {"id": "2", "type": "subscribe", "payload": {"query": "{ viewer { role } }"}}
        )
        assert (await sub.receive())["payload"] == {"data": {"viewer": {"role": "ADMIN"}}}


async def test_live_events_unavailable_without_redis(settings: Any, tenant: Any) -> None:
    app = create_app(
        dataclasses.replace(settings, redis_url="redis://127.0.0.1:1/0"), manage_db=False
    )
    key = await make_key(tenant=tenant)
    async with serve(app) as host, subscriber(host, key) as sub:
        message = await _first(sub, EVENTS)
    assert message["type"] == "error", message
    (error,) = message["payload"]
    assert error["extensions"]["code"] == "LIVE_EVENTS_UNAVAILABLE"
    assert error["message"] != "Unexpected error."
