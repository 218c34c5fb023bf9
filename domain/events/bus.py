"""Event bus: in-process by default, Redis pub/sub when REDIS_URL is set.

Publishing happens after the change has committed. With Redis, each process holds
one pub/sub connection and fans messages out to in-memory queues, one per
subscriber, instead of opening a Redis connection per WebSocket client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

import orjson

from domain.errors import BillingError

log = logging.getLogger("tally.events")
QUEUE_SIZE = 1000
OUTBOX_SIZE = 10_000


class LiveEventsUnavailable(BillingError):
    """The bus cannot subscribe (Redis unreachable): live events are unavailable,
    while queries and mutations go on working."""

    code = "LIVE_EVENTS_UNAVAILABLE"


class EventBus(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def publish(self, channel: str, event: dict[str, Any]) -> None: ...
    def subscribe(
        self, channel: str, customer_id: int | None = None
    ) -> AsyncIterator[dict[str, Any]]: ...
    async def healthy(self) -> bool: ...


def tenant_channel(tenant_id: int) -> str:
    return f"tally:tenant:{tenant_id}"


def by_customer(event: dict[str, Any]) -> dict[int | None, dict[str, Any]]:
    """A message split per customer (internal id): a message of `changes`, each with
    its `customer_id`, becomes one message per customer holding that customer's changes
    in order; any other message belongs to its `customer_id` (None: to none)."""
    changes = event.get("changes")
    if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
        return {event.get("customer_id"): event}
    parts: dict[int | None, list[Any]] = {}
    for change in changes:
        parts.setdefault(change.get("customer_id"), []).append(change)
    return {customer: {**event, "changes": part} for customer, part in parts.items()}


class _Route:
    """A channel's local subscribers: those following everything, and those following
    one customer, found by the customer's id instead of each testing every message."""

    __slots__ = ("everyone", "one")

    def __init__(self) -> None:
        self.everyone: set[asyncio.Queue[dict[str, Any]]] = set()
        self.one: dict[int, set[asyncio.Queue[dict[str, Any]]]] = {}

    def __len__(self) -> int:
        return len(self.everyone) + sum(len(queues) for queues in self.one.values())

    def __bool__(self) -> bool:  # asked at every unsubscribe: no counting
        return bool(self.everyone or self.one)  # `one` keeps no empty set


class _FanOut:
    """Local subscribers per channel; a slow consumer drops its oldest events. A
    message for many customers is split once and each part goes only to the followers
    of its customer, so 1,000 feeds of 1,000 customers cost 1,000 deliveries, not a
    million tests."""

    def __init__(self) -> None:
        self.routes: dict[str, _Route] = {}

    def count(self, channel: str) -> int:
        route = self.routes.get(channel)
        return len(route) if route is not None else 0

    def deliver(self, channel: str, event: dict[str, Any]) -> None:
        route = self.routes.get(channel)
        if route is None:
            return
        for queue in list(route.everyone):
            _put(queue, event)
        if route.one:
            parts = by_customer(event)
            for customer, part in parts.items():
                for queue in list(route.one.get(customer, ())):  # type: ignore[arg-type]
                    _put(queue, part)

    async def listen(
        self,
        channel: str,
        on_first: Any = None,
        on_last: Any = None,
        customer_id: int | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        first = channel not in self.routes
        route = self.routes.setdefault(channel, _Route())
        members = (
            route.everyone if customer_id is None else route.one.setdefault(customer_id, set())
        )
        members.add(queue)
        try:
            # Inside the try: a failed first subscribe must not leave this queue behind,
            # or the next subscriber would think the channel already subscribed.
            if first and on_first is not None:
                await on_first(channel)
            while True:
                yield await queue.get()
        finally:
            members.discard(queue)
            if customer_id is not None and not members:
                route.one.pop(customer_id, None)
            if not route:
                del self.routes[channel]
                if on_last is not None:
                    await on_last(channel)


def _put(queue: asyncio.Queue[dict[str, Any]], event: dict[str, Any]) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(event)


class InProcessBus:
    def __init__(self) -> None:
        self._fan = _FanOut()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        self._fan.deliver(channel, event)

    def subscribe(
        self, channel: str, customer_id: int | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """The channel's messages; with `customer_id`, only that customer's part."""
        return self._fan.listen(channel, customer_id=customer_id)

    async def healthy(self) -> bool:
        return True

    def subscriber_count(self, channel: str) -> int:
        return self._fan.count(channel)


class RedisBus:
    """Publishing hands the message to a writer task and returns: a mutation does
    not wait for Redis, and messages committed in the same instant go out in one
    pipelined round trip, in order."""

    def __init__(self, url: str) -> None:
        from redis import asyncio as redis

        self._redis = redis.from_url(url)
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._fan = _FanOut()
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._pending: list[tuple[str, bytes]] = []
        self._wake = asyncio.Event()

    async def start(self) -> None:
        # The tasks start first: with Redis down at boot they wait and retry, so live
        # events come back once Redis does (the ping still tells the caller).
        if self._reader is None:
            self._reader = asyncio.create_task(self._read(), name="tally-redis-bus")
            self._writer = asyncio.create_task(self._write(), name="tally-redis-publish")
        await self._redis.ping()

    async def close(self) -> None:
        await self._flush()
        for task in (self._reader, self._writer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._pubsub.aclose()
        await self._redis.aclose()

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        if len(self._pending) >= OUTBOX_SIZE:  # Redis is gone: drop the oldest (best effort)
            del self._pending[0]
        self._pending.append((channel, orjson.dumps(event)))
        self._wake.set()

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._flush()
            except Exception:  # Redis trouble: log and go on, never kill the writer
                log.exception("redis publish failed; the messages were dropped")

    async def _flush(self) -> None:
        batch, self._pending = self._pending, []
        if len(batch) == 1:
            await self._redis.publish(*batch[0])
        elif batch:
            pipe = self._redis.pipeline(transaction=False)
            for channel, data in batch:
                pipe.publish(channel, data)
            await pipe.execute()

    def subscribe(
        self, channel: str, customer_id: int | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        return self._fan.listen(channel, self._on_first, self._on_last, customer_id)

    def subscriber_count(self, channel: str) -> int:
        return self._fan.count(channel)

    async def _on_first(self, channel: str) -> None:
        try:
            await self._pubsub.subscribe(channel)
        except Exception as exc:
            log.warning("redis subscribe to %s failed: %r", channel, exc)
            raise LiveEventsUnavailable(
                "Live events are unavailable right now (the event bus cannot be reached); "
                "queries and mutations still work. Retry the subscription shortly."
            ) from exc
        self._ready.set()

    async def _on_last(self, channel: str) -> None:
        with contextlib.suppress(Exception):
            await self._pubsub.unsubscribe(channel)

    async def _read(self) -> None:
        while True:
            await self._ready.wait()
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except Exception:  # connection trouble: log and retry, never kill the reader
                log.exception("redis pub/sub read failed; retrying")
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"]
            if isinstance(channel, bytes):
                channel = channel.decode()
            self._fan.deliver(channel, orjson.loads(message["data"]))

    async def healthy(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False


def build_bus(redis_url: str | None) -> EventBus:
    return RedisBus(redis_url) if redis_url else InProcessBus()
