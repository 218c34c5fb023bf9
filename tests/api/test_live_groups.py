"""Live subscriptions at scale (api/live_groups.py): identical subscriptions run once
and send the same text; a caller who sees less is a group of its own; events keep
their order; a client that stops reading is closed with 4408 and nobody waits for it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import struct
from typing import Any

from domain.credits.live import credits_channel
from server import create_app
from tests.api.live import serve, subscriber
from tests.api.live_world import (
    BALANCE,
    BALANCE_TOO,
    USAGE,
    after_id,
    change,
    credits_message,
    follow,
    grant,
    until,
    world,
)
from tests.api.raw_ws import connect


async def test_one_group_sends_the_same_text_and_a_customer_token_only_its_own(
    app: Any, tenant: Any
) -> None:
    admin, token, me, other = await world(tenant)
    async with serve(app) as host:
        admins = [await connect(host, admin) for _ in range(3)]
        mine = [await connect(host, token) for _ in range(2)]
        for i, raw in enumerate(admins + mine):
            await follow(raw, USAGE, op=f"op-{i}")  # each its own id
        channel = credits_channel(tenant.id)
        live, bus = app.state.live, app.state.bus
        await until(lambda: live.stats().members == 5, "five members")
        # Two groups (the admins', the customer's), each one subscriber of the bus.
        await until(lambda: bus.subscriber_count(channel) == 2, "two bus subscriptions")
        assert live.stats().groups == 2
        await grant(host, admin, other.public_id)
        await grant(host, admin, me.public_id)
        seen = [
            [after_id(await raw.text(), f"op-{i}") for _ in range(2)]
            for i, raw in enumerate(admins)
        ]
        assert seen[0] == seen[1] == seen[2]  # the same bytes after the id, frame for frame
        pushed = [
            json.loads('{"id":"x",' + text)["payload"]["data"]["usageEvents"] for text in seen[0]
        ]
        assert [p["customerId"] for p in pushed] == [other.public_id, me.public_id]
        # The customer's group never carried the other customer's grant: its first
        # frame is its own grant, the same text in both of its sockets.
        theirs = [json.loads(await raw.text()) for raw in mine]
        assert [t["id"] for t in theirs] == ["op-3", "op-4"]
        assert theirs[0]["payload"] == theirs[1]["payload"]
        assert theirs[0]["payload"]["data"]["usageEvents"]["customerId"] == me.public_id
        for raw in admins + mine:
            raw.close()
        await until(lambda: live.stats().groups == 0, "the groups gone with their members")
        await until(lambda: bus.subscriber_count(channel) == 0, "the bus unsubscribed")


async def test_events_keep_their_order_for_every_subscriber(app: Any, tenant: Any) -> None:
    admin, token, me, _ = await world(tenant)
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
        await until(lambda: live.stats().members == len(feeds), "all subscribed")
        channel = credits_channel(tenant.id)
        # The admins' two identical feeds are one group; the customer's two are one
        # (with or without its own id named, the variables differ: two groups).
        await until(lambda: app.state.bus.subscriber_count(channel) == 4, "four groups")
        for seq in range(sent):
            await app.state.bus.publish(channel, credits_message(change(me, seq)))
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
    admin, _, me, _ = await world(tenant)
    app = create_app(dataclasses.replace(settings, live_send_buffer=64 * 1024), manage_db=False)
    big = "x" * 8000  # 8 KB frames fill the socket buffers in a few hundred events
    async with serve(app) as host, subscriber(host, admin) as healthy:
        stalled = await connect(host, admin, receive_buffer=4096)
        await follow(stalled, USAGE)  # and never read again until it is dropped
        assert (await healthy.receive())["type"] == "connection_ack"
        await healthy.send({"id": "1", "type": "subscribe", "payload": {"query": USAGE}})
        live, channel = app.state.live, credits_channel(tenant.id)
        await until(lambda: live.stats().members == 2, "both subscribed")
        await until(lambda: app.state.bus.subscriber_count(channel) == 1, "one group")
        received: list[int] = []

        async def read() -> None:
            while True:
                message = await healthy.receive()
                assert message["type"] == "next", message
                received.append(int(message["payload"]["data"]["usageEvents"]["module"][:6]))

        reader = asyncio.create_task(read())
        published = 0
        while live.slow_closed == 0 and published < 5000:  # bounded: 40 MB at most
            await app.state.bus.publish(
                channel, credits_message(change(me, 0, f"{published:06d}{big}"))
            )
            published += 1
            await asyncio.sleep(0)
        assert live.slow_closed == 1, f"still not dropped after {published} events"
        await until(lambda: live.stats().members == 1, "the stalled member gone")
        await app.state.bus.publish(
            channel, credits_message(change(me, 0, f"{published:06d}{big}"))
        )
        published += 1
        await until(lambda: len(received) == published, "every event at the healthy one")
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
