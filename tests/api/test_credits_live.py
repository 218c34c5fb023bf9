"""Live credit feeds over graphql-transport-ws: in one process, and across two real
server processes sharing Redis (a consumption on one reaches a subscriber on the
other)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain.tenancy.access import Role
from tests.api.live import serve, subscriber
from tests.factories import make_customer, make_key, make_plan, make_subscription

ROOT = Path(__file__).resolve().parents[2]
BALANCE = "subscription($c: ID) { creditBalance(customerId: $c) { customerId balance usedToday } }"
USAGE = "subscription($c: ID) { usageEvents(customerId: $c) { customerId kind amount balanceAfter module } }"
CONSUME = """mutation($c: ID!, $r: String!) { consumeCredits(customerId: $c,
  module: "rag", action: "ask", requestId: $r) { ... on CreditConsumption { balance } } }"""
GRANT = """mutation($c: ID!) { grantCredits(customerId: $c, amount: 10, reason: "x") {
  __typename } }"""


async def _world(tenant: Any) -> tuple[str, str, Any, Any]:
    admin = await make_key(tenant=tenant)
    service = await make_key(tenant=tenant, role=Role.SERVICE)
    plan = await make_plan(tenant=tenant, features=["rag"])
    me = await make_customer(tenant=tenant, name="Me")
    other = await make_customer(tenant=tenant, name="Other")
    for customer in (me, other):
        await make_subscription(tenant=tenant, customer=customer, plan=plan)
    return admin, service, me, other


async def _post(host: str, key: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://{host}") as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {key}"},
        )
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    return response.json()["data"]


async def _start(sub: Any, query: str, variables: dict[str, Any], wait: float = 0.1) -> None:
    assert (await sub.receive())["type"] == "connection_ack"
    await sub.send(
        {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )
    await asyncio.sleep(wait)  # let the subscription register before the mutation


async def _next(sub: Any, field: str) -> dict[str, Any]:
    message = await sub.receive()
    assert message["type"] == "next", message
    return message["payload"]["data"][field]


async def test_balance_and_usage_feeds(app: Any, tenant: Any) -> None:
    admin, service, me, other = await _world(tenant)
    async with (
        serve(app) as host,
        subscriber(host, admin) as balance,
        subscriber(host, admin) as usage,
    ):
        await _start(balance, BALANCE, {"c": me.public_id})
        await _start(usage, USAGE, {})  # the whole tenant
        await _post(host, admin, GRANT, {"c": other.public_id})
        await _post(host, admin, GRANT, {"c": me.public_id})
        await _post(host, service, CONSUME, {"c": me.public_id, "r": "r1"})
        # The balance feed follows one customer: the other's grant never arrives.
        assert await _next(balance, "creditBalance") == {
            "customerId": me.public_id,
            "balance": 10,
            "usedToday": 0,
        }
        assert (await _next(balance, "creditBalance"))["balance"] == 9
        seen = [await _next(usage, "usageEvents") for _ in range(3)]
        assert [(e["customerId"], e["kind"], e["amount"]) for e in seen] == [
            (other.public_id, "GRANT", 10),
            (me.public_id, "GRANT", 10),
            (me.public_id, "CONSUMPTION", -1),
        ]


async def test_a_customer_token_follows_only_itself(app: Any, tenant: Any) -> None:
    admin, _, me, other = await _world(tenant)
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=me)
    async with serve(app) as host, subscriber(host, token) as refused:
        # Asking for another customer is refused, as over HTTP (it used to get itself).
        assert (await refused.receive())["type"] == "connection_ack"
        payload = {"query": USAGE, "variables": {"c": other.public_id}}
        await refused.send({"id": "1", "type": "subscribe", "payload": payload})
        error = await refused.receive()
        assert error["type"] == "error"
        assert error["payload"][0]["extensions"]["code"] == "NOT_FOUND"
    async with serve(app) as host, subscriber(host, token) as feed:
        await _start(feed, USAGE, {})  # no customerId: its own
        await _post(host, admin, GRANT, {"c": other.public_id})
        await _post(host, admin, GRANT, {"c": me.public_id})
        event = await _next(feed, "usageEvents")
        assert (event["customerId"], event["amount"]) == (me.public_id, 10)


SUBSCRIBE = """mutation($c: ID!, $p: ID!) { createSubscription(input: {customerId: $c,
  planId: $p}) { __typename ... on Error { code message } } }"""
FAILING = """mutation($c: ID!) { createSubscription(input: {customerId: $c,
  planId: "pln_0000000000000000"}) { __typename } }"""


async def test_an_allowance_granted_inside_a_mutation_reaches_the_feed(
    app: Any, tenant: Any
) -> None:
    """createSubscription grants the first month's credits in its own transaction:
    the feed hears it once that transaction has committed, and hears nothing of a
    mutation that failed."""
    admin = await make_key(tenant=tenant)
    plan = await make_plan(tenant=tenant, features=["rag"], monthly_credits=500)
    customer = await make_customer(tenant=tenant, name="New")
    async with serve(app) as host, subscriber(host, admin) as usage:
        await _start(usage, USAGE, {"c": customer.public_id})
        failed = await _post(host, admin, FAILING, {"c": customer.public_id})
        assert failed["createSubscription"]["__typename"] == "NotFoundError"
        done = await _post(host, admin, SUBSCRIBE, {"c": customer.public_id, "p": plan.public_id})
        assert done["createSubscription"]["__typename"] == "SubscriptionSuccess", done
        event = await asyncio.wait_for(_next(usage, "usageEvents"), 5)
        assert (event["customerId"], event["kind"], event["amount"], event["balanceAfter"]) == (
            customer.public_id,
            "ALLOWANCE",
            500,
            500,
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def _server_process(database_url: str, redis_url: str) -> AsyncIterator[str]:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKER_INTERVAL_SECONDS": "0",
    }
    process = subprocess.Popen(  # noqa: ASYNC220  (a quick spawn; the wait is async)
        [sys.executable, "server.py", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    host = f"127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=f"http://{host}") as http:
            for _ in range(150):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/health")).status_code == 200:
                        break
                if process.poll() is not None:
                    raise RuntimeError(process.stderr.read().decode() if process.stderr else "")
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the server process did not start")
        yield host
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.redis
async def test_two_server_processes_share_the_feed_through_redis(
    database_url: str, redis_url: str, tenant: Any
) -> None:
    admin, service, me, _ = await _world(tenant)
    async with (
        _server_process(database_url, redis_url) as a,
        _server_process(database_url, redis_url) as b,
        subscriber(b, admin) as feed,
    ):
        await _start(feed, BALANCE, {"c": me.public_id}, wait=0.5)
        await _post(a, admin, GRANT, {"c": me.public_id})
        await _post(a, service, CONSUME, {"c": me.public_id, "r": "via-redis"})
        assert (await _next(feed, "creditBalance"))["balance"] == 10
        assert (await _next(feed, "creditBalance"))["balance"] == 9
