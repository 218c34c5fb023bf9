"""Live groups at their edges: what splits a group, errors before the first result,
members leaving, a large result, a reused id, the state feeds, and a client that
never reads again."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest

from api import graphql_ws
from domain.credits.live import credits_channel
from server import create_app
from tests.api.live import serve
from tests.api.live_world import BALANCE, USAGE, change, credits_message, follow, until, world
from tests.api.raw_ws import connect

METRICS = "subscription { metricsUpdates { at } }"


async def test_a_different_language_is_a_group_of_its_own(app: Any, tenant: Any) -> None:
    admin, _, me, _ = await world(tenant)
    async with serve(app) as host:
        english = [await connect(host, admin, language="en") for _ in range(2)]
        french = await connect(host, admin, language="fr")
        for raw in [*english, french]:
            await follow(raw, BALANCE, {"c": me.public_id})
        channel = credits_channel(tenant.id)
        await until(lambda: app.state.live.stats().members == 3, "three members")
        await until(lambda: app.state.bus.subscriber_count(channel) == 2, "two groups")
        await app.state.bus.publish(channel, credits_message(change(me, 7)))
        for raw in [*english, french]:
            pushed = json.loads(await raw.text())["payload"]["data"]["creditBalance"]
            assert pushed == {"customerId": me.public_id, "balance": 7}


async def test_an_error_before_the_first_result_reaches_every_member(app: Any, tenant: Any) -> None:
    admin, _, _, _ = await world(tenant)
    async with serve(app) as host:
        members = [await connect(host, admin) for _ in range(3)]
        for i, raw in enumerate(members):
            await follow(raw, BALANCE, {"c": "cus_0000000000000000"}, op=f"x{i}")
        for i, raw in enumerate(members):
            error = json.loads(await raw.text())
            assert (error["id"], error["type"]) == (f"x{i}", "error")
            assert error["payload"][0]["extensions"]["code"] == "NOT_FOUND"
        await until(lambda: app.state.live.stats().groups == 0, "no group left")


async def test_members_leave_and_the_others_go_on(app: Any, tenant: Any) -> None:
    admin, _, me, _ = await world(tenant)
    async with serve(app) as host:
        first, completes, stays = [await connect(host, admin) for _ in range(3)]
        for raw in (first, completes, stays):
            await follow(raw, BALANCE, {"c": me.public_id})
        live, channel = app.state.live, credits_channel(tenant.id)
        await until(lambda: live.stats().members == 3, "three members")
        first.close()  # the member whose subscribe started the group leaves
        await completes.send({"id": "1", "type": "complete"})
        await until(lambda: live.stats().members == 1, "one member left")
        assert live.stats().groups == 1
        await app.state.bus.publish(channel, credits_message(change(me, 5)))
        pushed = json.loads(await stays.text())
        assert pushed["payload"]["data"]["creditBalance"]["balance"] == 5
        # The one that completed may subscribe again with the same id, and joins.
        await completes.send(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": BALANCE, "variables": {"c": me.public_id}},
            }
        )
        await until(lambda: live.stats().members == 2, "rejoined")
        await app.state.bus.publish(channel, credits_message(change(me, 4)))
        for raw in (completes, stays):
            assert json.loads(await raw.text())["payload"]["data"]["creditBalance"]["balance"] == 4


async def test_a_reused_id_on_one_socket_is_refused_4409(app: Any, tenant: Any) -> None:
    admin, _, me, _ = await world(tenant)
    async with serve(app) as host:
        raw = await connect(host, admin)
        await follow(raw, BALANCE, {"c": me.public_id})
        payload = {"query": BALANCE, "variables": {"c": me.public_id}}
        await raw.send({"id": "1", "type": "subscribe", "payload": payload})
        opcode, body = await raw.frame()
        assert opcode == 8 and int.from_bytes(body[:2], "big") == 4409


async def test_one_result_larger_than_the_buffer_is_sent(settings: Any, tenant: Any) -> None:
    admin, _, me, _ = await world(tenant)
    app = create_app(dataclasses.replace(settings, live_send_buffer=64 * 1024), manage_db=False)
    async with serve(app) as host:
        raw = await connect(host, admin)
        await follow(raw, USAGE)
        channel = credits_channel(tenant.id)
        await until(lambda: app.state.bus.subscriber_count(channel) == 1, "subscribed")
        await app.state.bus.publish(channel, credits_message(change(me, 1, "m" * 200_000)))
        pushed = json.loads(await raw.text())
        assert len(pushed["payload"]["data"]["usageEvents"]["module"]) == 200_000
        assert app.state.live.slow_closed == 0


async def test_state_feeds_run_for_each_subscriber(app: Any, tenant: Any) -> None:
    """metricsUpdates' (and usageUpdates') first result is read for its subscriber: a
    group's last figure may be from before a day or a period turned."""
    admin, _, _, _ = await world(tenant)
    async with serve(app) as host:
        members = [await connect(host, admin) for _ in range(2)]
        for raw in members:
            await follow(raw, METRICS)
        for raw in members:
            pushed = json.loads(await raw.text())
            assert pushed["payload"]["data"]["metricsUpdates"]["at"]
        assert app.state.live.stats().groups == 0


async def test_a_client_that_never_reads_again_is_let_go(
    settings: Any, tenant: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn writes nothing, not even the close frame, to a socket that does not
    drain: after SLOW_CLOSE_WAIT the connection's handler ends and the socket is
    closed once its buffers drain, without the 4408 frame."""
    monkeypatch.setattr(graphql_ws, "SLOW_CLOSE_WAIT", 0.2)
    admin, _, me, _ = await world(tenant)
    app = create_app(dataclasses.replace(settings, live_send_buffer=64 * 1024), manage_db=False)
    big = "x" * 8000
    async with serve(app) as host:
        stalled = await connect(host, admin, receive_buffer=4096)
        await follow(stalled, USAGE)
        live, channel = app.state.live, credits_channel(tenant.id)
        await until(lambda: app.state.bus.subscriber_count(channel) == 1, "subscribed")
        published = 0
        while live.slow_closed == 0 and published < 5000:  # bounded: 40 MB at most
            await app.state.bus.publish(channel, credits_message(change(me, 0, big)))
            published += 1
            await asyncio.sleep(0)
        assert live.slow_closed == 1
        await until(lambda: live.slow_abandoned == 1, "the handler gave up the close")
        opcodes = set()
        with pytest.raises(asyncio.IncompleteReadError):  # the end of the stream
            for _ in range(published + 2):
                opcodes.add((await asyncio.wait_for(stalled.frame(), 10))[0])
        assert opcodes == {1}  # the frames written before, no close frame
