"""Event bus: in-process by default, Redis pub/sub when REDIS_URL is set.

Publishing happens after the change has committed. With Redis, each process holds
one pub/sub connection and fans messages out to in-memory queues, one per
subscriber, instead of opening a Redis connection per WebSocket client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
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
    def subscribe(self, channel: str) -> AsyncIterator[dict[str, Any]]: ...
    async def healthy(self) -> bool: ...


def tenant_channel(tenant_id: int) -> str:
    return f"tally:tenant:{tenant_id}"


class _FanOut:
    """Local subscribers per channel; a slow consumer drops its oldest events."""

    def __init__(self) -> None:
        self.queues: dict[str, set[asyncio.Queue[dict[str, Any]]]] = defaultdict(set)

    def deliver(self, channel: str, event: dict[str, Any]) -> None:
        for queue in list(self.queues.get(channel, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    async def listen(
        self, channel: str, on_first: Any = None, on_last: Any = None
    ) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE_SIZE)
        first = not self.queues.get(channel)
        self.queues[channel].add(queue)
        try:
            # Inside the try: a failed first subscribe must not leave this queue behind,
            # or the next subscriber would think the channel already subscribed.
            if first and on_first is not None:
                await on_first(channel)
            while True:
                yield await queue.get()
        finally:
            self.queues[channel].discard(queue)
            if not self.queues[channel]:
                del self.queues[channel]
                if on_last is not None:
                    await on_last(channel)


class InProcessBus:
    def __init__(self) -> None:
        self._fan = _FanOut()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def publish(self, channel: str, event: dict[str, Any]) -> None:
        self._fan.deliver(channel, event)

    def subscribe(self, channel: str) -> AsyncIterator[dict[str, Any]]:
        return self._fan.listen(channel)

    async def healthy(self) -> bool:
        return True

    def subscriber_count(self, channel: str) -> int:
        return len(self._fan.queues.get(channel, ()))


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

    def subscribe(self, channel: str) -> AsyncIterator[dict[str, Any]]:
        return self._fan.listen(channel, self._on_first, self._on_last)

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
