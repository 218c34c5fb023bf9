"""Live subscriptions at scale (api/live_groups.py): identical subscriptions run once
and send the same text; a caller who sees less is a group of its own; events keep
their order; a client that stops reading is closed with 4408 and nobody waits for it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import struct
import time
from collections.abc import Callable
from typing import Any

import httpx

from domain.credits.live import credits_channel
from domain.tenancy.access import Role
from server import create_app
from tests.api.live import serve, subscriber
from tests.api.raw_ws import RawSocket, connect
from tests.factories import make_customer, make_key, make_plan, make_subscription

USAGE = "subscription { usageEvents { customerId kind amount module } }"
BALANCE = "subscription($c: ID) { creditBalance(customerId: $c) { customerId balance } }"
BALANCE_TOO = "subscription($c: ID) { creditBalance(customerId: $c) { balance usedToday } }"
GRANT = """mutation($c: ID!) { grantCredits(customerId: $c, amount: 10, reason: "x") {
  __typename } }"""


async def _world(tenant: Any) -> tuple[str, str, Any, Any]:
    admin = await make_key(tenant=tenant)
    plan = await make_plan(tenant=tenant, features=["rag"])
    me = await make_customer(tenant=tenant, name="Me")
    other = await make_customer(tenant=tenant, name="Other")
    for customer in (me, other):
        await make_subscription(tenant=tenant, customer=customer, plan=plan)
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=me)
    return admin, token, me, other


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(1000):  # a bound on waiting (10 s), never a pause
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def _grant(host: str, key: str, customer: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{host}") as http:
        answer = await http.post(
            "/graphql",
            json={"query": GRANT, "variables": {"c": customer}},
            headers={"authorization": f"Bearer {key}"},
        )
    assert answer.json()["data"]["grantCredits"]["__typename"] == "CreditWalletSuccess"


async def _follow(raw: RawSocket, query: str, variables: dict[str, Any] | None = None) -> None:
    assert json.loads(await raw.text())["type"] == "connection_ack"
    payload = {"query": query, "variables": variables or {}}
    await raw.send({"id": "1", "type": "subscribe", "payload": payload})


def _change(customer: Any, seq: int, module: str = "rag") -> dict[str, Any]:
    """One wallet change as domain/credits/live.py publishes it."""
    return {
        "customer_id": customer.id,
        "customer": customer.public_id,
        "wallet": {"balance": seq, "reserved": 0, "used_today": 0, "blocked": False},
        "entry": {
            "id": f"ce_{seq:012d}",
            "kind": "consumption",
            "amount": -1,
            "balance_after": seq,
            "module": module,
            "action": "ask",
            "quantity": 1,
            "created_at": "2026-12-04T10:00:00+00:00",
        },
    }


def _message(*changes: dict[str, Any]) -> dict[str, Any]:
    return {"type": "credits.changes", "committed_at": time.time(), "changes": list(changes)}


async def test_one_group_sends_the_same_text_and_a_customer_token_only_its_own(
    app: Any, tenant: Any
) -> None:
    admin, token, me, other = await _world(tenant)
    async with serve(app) as host:
        admins = [await connect(host, admin) for _ in range(3)]
        mine = [await connect(host, token) for _ in range(2)]
        for raw in admins + mine:
            await _follow(raw, USAGE)
        channel = credits_channel(tenant.id)
        live, bus = app.state.live, app.state.bus
        await _until(lambda: live.stats().members == 5, "five members")
        # Two groups (the admins', the customer's), each one subscriber of the bus.
        await _until(lambda: bus.subscriber_count(channel) == 2, "two bus subscriptions")
        assert live.stats().groups == 2
        await _grant(host, admin, other.public_id)
        await _grant(host, admin, me.public_id)
        seen = [[await raw.text() for _ in range(2)] for raw in admins]
        assert seen[0] == seen[1] == seen[2]  # the same bytes, frame for frame
        pushed = [json.loads(text)["payload"]["data"]["usageEvents"] for text in seen[0]]
        assert [p["customerId"] for p in pushed] == [other.public_id, me.public_id]
        # The customer's group never carried the other customer's grant: its first
        # frame is its own grant, the same text in both of its sockets.
        theirs = [await raw.text() for raw in mine]
        assert theirs[0] == theirs[1]
        assert json.loads(theirs[0])["payload"]["data"]["usageEvents"]["customerId"] == (
            me.public_id
        )
        assert json.loads(theirs[0])["id"] == "1"
        for raw in admins + mine:
            raw.close()
        await _until(lambda: live.stats().groups == 0, "the groups gone with their members")
        await _until(lambda: bus.subscriber_count(channel) == 0, "the bus unsubscribed")


async def test_events_keep_their_order_for_every_subscriber(app: Any, tenant: Any) -> None:
    admin, token, me, _ = await _world(tenant)
    sent = 200
    async with serve(app) as host, contextlib.AsyncExitStack() as stack:
        feeds = [
            (admin, BALANCE, {"c": me.public_id}),
            (admin, BALANCE, {"c": me.public_id}),
            (admin, BALANCE_TOO, {"c": me.public_id}),
            (token, BALANCE, {}),
            (token, BALANCE, {"c": me.public_id}),
        ]
        subs = [await _subscribed(stack, host, *feed) for feed in feeds]
        live = app.state.live
        await _until(lambda: live.stats().members == len(feeds), "all subscribed")
        channel = credits_channel(tenant.id)
        # The admins' two identical feeds are one group; the customer's two are one
        # (with or without its own id named, the variables differ: two groups).
        await _until(lambda: app.state.bus.subscriber_count(channel) == 4, "four groups")
        for seq in range(sent):
            await app.state.bus.publish(channel, _message(_change(me, seq)))
            if seq % 20 == 0:
                await asyncio.sleep(0)  # interleave with the deliveries
        for sub in subs:
            balances = []
            for _ in range(sent):
                message = await sub.receive()
                assert message["type"] == "next", message
                balances.append(message["payload"]["data"]["creditBalance"]["balance"])
            assert balances == list(range(sent))


async def _subscribed(
    stack: contextlib.AsyncExitStack, host: str, key: str, query: str, variables: dict[str, Any]
) -> Any:
    sub = await stack.enter_async_context(subscriber(host, key))
    assert (await sub.receive())["type"] == "connection_ack"
    await sub.send(
        {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )
    return sub


async def test_a_client_that_stops_reading_is_closed_and_the_others_go_on(
    settings: Any, tenant: Any
) -> None:
    admin, _, me, _ = await _world(tenant)
    app = create_app(dataclasses.replace(settings, live_send_buffer=64 * 1024), manage_db=False)
    big = "x" * 8000  # 8 KB frames fill the socket buffers in a few hundred events
    async with serve(app) as host, subscriber(host, admin) as healthy:
        stalled = await connect(host, admin, receive_buffer=4096)
        await _follow(stalled, USAGE)  # and never read again until it is dropped
        assert (await healthy.receive())["type"] == "connection_ack"
        await healthy.send({"id": "1", "type": "subscribe", "payload": {"query": USAGE}})
        live, channel = app.state.live, credits_channel(tenant.id)
        await _until(lambda: live.stats().members == 2, "both subscribed")
        await _until(lambda: app.state.bus.subscriber_count(channel) == 1, "one group")
        received: list[int] = []

        async def read() -> None:
            while True:
                message = await healthy.receive()
                assert message["type"] == "next", message
                received.append(int(message["payload"]["data"]["usageEvents"]["module"][:6]))

        reader = asyncio.create_task(read())
        published = 0
        while live.slow_closed == 0 and published < 5000:  # bounded: 40 MB at most
            await app.state.bus.publish(channel, _message(_change(me, 0, f"{published:06d}{big}")))
            published += 1
            await asyncio.sleep(0)
        assert live.slow_closed == 1, f"still not dropped after {published} events"
        await _until(lambda: live.stats().members == 1, "the stalled member gone")
        await app.state.bus.publish(channel, _message(_change(me, 0, f"{published:06d}{big}")))
        published += 1
        await _until(lambda: len(received) == published, "every event at the healthy one")
        reader.cancel()
        assert received == list(range(published))  # none lost, none reordered
        # The stalled client reads again: what was queued, then the close, 4408.
        for _ in range(published + 2):
            opcode, payload = await asyncio.wait_for(stalled.frame(), 10)
            if opcode == 8:
                break
        assert opcode == 8
        assert struct.unpack("!H", payload[:2])[0] == 4408
        assert b"too slow" in payload[2:]
        stalled.close()
