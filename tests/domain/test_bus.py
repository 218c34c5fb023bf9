"""The event bus: in-process fan-out, and Redis with one connection per process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from domain.events.bus import QUEUE_SIZE, InProcessBus, RedisBus


async def _take(stream: AsyncIterator[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    return [await asyncio.wait_for(anext(stream), 5) for _ in range(n)]


async def _until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Wait until `condition()` holds, failing after 5 seconds. For what announces
    itself by no event (a subscriber registered, a subscription reaching Redis)."""
    async with asyncio.timeout(5):
        while not await condition():  # noqa: ASYNC110  (no event to wait on)
            await asyncio.sleep(0.01)


def _count(bus: InProcessBus, channel: str, n: int) -> Callable[[], Awaitable[bool]]:
    async def reached() -> bool:
        return bus.subscriber_count(channel) == n

    return reached


async def test_in_process_fan_out_and_cleanup() -> None:
    bus = InProcessBus()
    a, b = bus.subscribe("c"), bus.subscribe("c")
    first_a, first_b = asyncio.ensure_future(anext(a)), asyncio.ensure_future(anext(b))
    await _until(_count(bus, "c", 2))
    await bus.publish("c", {"n": 1})
    await bus.publish("other", {"n": 2})
    assert await first_a == {"n": 1} and await first_b == {"n": 1}
    assert bus.subscriber_count("c") == 2
    await a.aclose()  # type: ignore[attr-defined]
    await b.aclose()  # type: ignore[attr-defined]
    assert bus.subscriber_count("c") == 0


async def test_a_message_of_many_customers_reaches_each_follower_with_its_part() -> None:
    bus = InProcessBus()
    everything, one, two = bus.subscribe("c"), bus.subscribe("c", 1), bus.subscribe("c", 2)
    nexts = [asyncio.ensure_future(anext(s)) for s in (everything, one, two)]
    await _until(_count(bus, "c", 3))
    changes = [{"customer_id": 2, "n": 1}, {"customer_id": 1, "n": 2}, {"customer_id": 2, "n": 3}]
    await bus.publish("c", {"type": "x", "changes": changes})
    await bus.publish("c", {"type": "y", "customer_id": 1})  # a message of one customer
    await bus.publish("c", {"type": "z", "customer_id": None})  # of none
    assert await nexts[0] == {"type": "x", "changes": changes}
    assert await nexts[1] == {"type": "x", "changes": [changes[1]]}
    assert await nexts[2] == {"type": "x", "changes": [changes[0], changes[2]]}  # in order
    assert await anext(one) == {"type": "y", "customer_id": 1}
    assert [(await anext(everything))["type"] for _ in range(2)] == ["y", "z"]
    for stream in (everything, one, two):
        await stream.aclose()  # type: ignore[attr-defined]
    assert bus.subscriber_count("c") == 0


async def test_changes_of_no_customer_reach_only_the_whole_channel() -> None:
    bus = InProcessBus()
    everything, one = bus.subscribe("c"), bus.subscribe("c", 1)
    nexts = [asyncio.ensure_future(anext(s)) for s in (everything, one)]
    await _until(_count(bus, "c", 2))
    await bus.publish("c", {"type": "x", "changes": [{"customer_id": None, "n": 1}]})
    await bus.publish("c", {"type": "y", "changes": [{"customer_id": 1, "n": 2}]})
    assert (await nexts[0])["type"] == "x"
    assert await nexts[1] == {"type": "y", "changes": [{"customer_id": 1, "n": 2}]}
    for stream in (everything, one):
        await stream.aclose()  # type: ignore[attr-defined]


@pytest.mark.redis
async def test_redis_keeps_the_channel_until_its_last_follower_of_any_kind_leaves(
    redis_url: str,
) -> None:
    bus = RedisBus(redis_url)
    await bus.start()
    try:
        channel = "tally:test:route"
        everything, one = bus.subscribe(channel), bus.subscribe(channel, 5)
        nexts = [asyncio.ensure_future(anext(s)) for s in (everything, one)]

        async def redis_count() -> int:
            return (await bus._redis.pubsub_numsub(channel))[0][1]

        async def subscribed() -> bool:
            return bus.subscriber_count(channel) == 2 and await redis_count() == 1

        await _until(subscribed)
        nexts[0].cancel()  # the tenant-wide follower leaves (its generator ends)
        with contextlib.suppress(asyncio.CancelledError):
            await nexts[0]
        assert bus.subscriber_count(channel) == 1
        assert await redis_count() == 1  # the customer's follower still needs it
        await bus.publish(channel, {"type": "y", "customer_id": 5})
        assert await asyncio.wait_for(nexts[1], 5) == {"type": "y", "customer_id": 5}
        await one.aclose()  # type: ignore[attr-defined]

        async def unsubscribed() -> bool:
            return bus.subscriber_count(channel) == 0 and await redis_count() == 0

        await _until(unsubscribed)
    finally:
        await bus.close()


async def test_a_slow_subscriber_drops_its_oldest_events() -> None:
    bus = InProcessBus()
    stream = bus.subscribe("c")
    pending = asyncio.ensure_future(anext(stream))
    await _until(_count(bus, "c", 1))
    for n in range(QUEUE_SIZE + 10):
        await bus.publish("c", {"n": n})
    # The queue holds QUEUE_SIZE events: the ten oldest were dropped, the newest kept.
    received = [(await pending)["n"]] + [(await anext(stream))["n"] for _ in range(QUEUE_SIZE - 1)]
    assert received == list(range(10, QUEUE_SIZE + 10))
    await stream.aclose()  # type: ignore[attr-defined]


@pytest.mark.redis
async def test_redis_bus_uses_one_subscription_per_process(redis_url: str) -> None:
    publisher, listener = RedisBus(redis_url), RedisBus(redis_url)
    await publisher.start()
    await listener.start()
    try:
        streams = [listener.subscribe("tally:test:fan") for _ in range(5)]
        pending = [asyncio.ensure_future(anext(s)) for s in streams]

        async def subscribed() -> bool:
            # SUBSCRIBE is sent without waiting for Redis's reply: ask the server.
            counts = await listener._redis.pubsub_numsub("tally:test:fan")
            return listener.subscriber_count("tally:test:fan") == 5 and counts[0][1] > 0

        await _until(subscribed)
        counts = await listener._redis.pubsub_numsub("tally:test:fan")
        assert counts[0][1] == 1  # five local subscribers, one Redis subscription
        await publisher.publish("tally:test:fan", {"hello": "world"})
        results = await asyncio.wait_for(asyncio.gather(*pending), 5)
        assert results == [{"hello": "world"}] * 5
        for stream in streams:
            await stream.aclose()  # type: ignore[attr-defined]
        assert await listener.healthy()
    finally:
        await publisher.close()
        await listener.close()


async def test_held_credit_changes_wait_for_the_operation_and_die_with_it() -> None:
    from domain.credits.ledger_writer import Change
    from domain.credits.live import credits_channel, publish
    from domain.unit_of_work import operation, use_bus

    bus = InProcessBus()
    use_bus(bus)
    feed = bus.subscribe(credits_channel(7))
    first = asyncio.ensure_future(anext(feed))
    await _until(_count(bus, credits_channel(7), 1))
    change = Change(1, "cus_a", {"balance": 5})

    @operation(transaction=False)
    async def fails() -> None:
        await publish(None, 7, [change])  # inside an operation that then fails
        raise RuntimeError("rolled back")

    @operation(transaction=False)
    async def succeeds() -> None:
        await publish(None, 7, [change])
        await publish(bus, 7, [change])  # one message per tenant at the end
        # Proving that nothing arrives can only give the feed a turn to run: one yield
        # is enough, since an in-process publish delivers synchronously.
        await asyncio.sleep(0)
        assert not first.done()

    with pytest.raises(RuntimeError):
        await fails()
    await succeeds()
    message = await asyncio.wait_for(first, 5)
    assert [c["wallet"] for c in message["changes"]] == [{"balance": 5}, {"balance": 5}]
    use_bus(None)
    await feed.aclose()  # type: ignore[attr-defined]
