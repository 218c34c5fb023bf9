"""Live subscriptions through stock clients: Python `gql` (its websockets transport
refuses binary frames, as browsers' and the npm graphql-ws client do) against a real
uvicorn server."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
from gql import Client
from gql import gql as document
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from tests.api.live import serve
from tests.factories import make_key

VIEWER = "query { viewer { role } }"
EVENTS = 'subscription { tenantEvents(types: ["customer.created"]) { type objectId } }'
CREATE = 'mutation { createCustomer(input: {name: "Via gql"}) { ... on CustomerSuccess { customer { id } } } }'


def _transport(host: str, key: str) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=f"ws://{host}/graphql",
        init_payload={"Authorization": f"Bearer {key}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )


async def test_gql_runs_a_query_over_the_socket(app: Any, tenant: Any) -> None:
    key = await make_key(tenant=tenant)
    async with serve(app) as host, Client(transport=_transport(host, key)) as session:
        assert await session.execute(document(VIEWER)) == {"viewer": {"role": "ADMIN"}}


async def test_gql_receives_a_live_event(app: Any, tenant: Any) -> None:
    key = await make_key(tenant=tenant)
    async with serve(app) as host, Client(transport=_transport(host, key)) as session:
        received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def listen() -> None:
            async for result in session.subscribe(document(EVENTS)):
                await received.put(result)

        task = asyncio.create_task(listen())
        try:
            # The subscription registers asynchronously: create customers until one lands.
            async with httpx.AsyncClient(base_url=f"http://{host}") as http:
                for _ in range(50):
                    response = await http.post(
                        "/graphql",
                        json={"query": CREATE},
                        headers={"authorization": f"Bearer {key}"},
                    )
                    assert response.status_code == 200
                    try:
                        event = await asyncio.wait_for(received.get(), 0.2)
                        break
                    except TimeoutError:
                        continue
                else:
                    pytest.fail("no event reached the gql subscriber")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert event["tenantEvents"]["type"] == "customer.created"
        assert event["tenantEvents"]["objectId"].startswith("cus_")


async def test_gql_gets_request_errors_as_error_messages(app: Any, tenant: Any) -> None:
    key = await make_key(tenant=tenant)
    async with serve(app) as host, Client(transport=_transport(host, key)) as session:
        with pytest.raises(TransportQueryError) as raised:
            await session.execute(document("query { viewer { nope } }"))
    assert "nope" in str(raised.value)
