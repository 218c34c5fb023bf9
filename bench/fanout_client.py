"""A client process of `python -m bench fanout`: a share of the subscribers, each a
graphql-transport-ws connection (bench/fanout_ws.py) following `creditBalance`.

    python -m bench.fanout_client        (started by bench/fanout_crowd.py)

It runs on uvloop when importable and takes commands as JSON lines on stdin, answering
on stdout (anything else printed goes to stderr):

    {"op": "open", "feeds": [[url, customer, payload], ...], "key", "concurrency",
     "deflate"}                         -> {"op": "opened", "opened", "failed"}
    {"op": "measure", "floor": {customer: balance}, "events"}   -> {"op": "measuring"}
    {"op": "close"}   -> {"op": "closed", "arrivals": [[balance, when, ...] per feed],
                          "failed", "non_text", "disconnects", "close_codes", "errors",
                          "samples", "deflate": [agreed, messages inflated]}
    {"op": "exit"}

and tells, unasked, {"op": "warm"} once every open subscriber has had a push and
{"op": "measured"} once each has had `events` pushes below the floor (a measured
event's). A push's `when` is `time.perf_counter()` as its message was parsed:
CLOCK_MONOTONIC, comparable with the parent's. Only measured arrivals are reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson

from bench.fanout_ws import WsProtocol

SUBPROTOCOL = "graphql-transport-ws"


def raise_nofile() -> None:
    """The soft limit on open files up to the hard one (10,000 sockets need it)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Subscriber(WsProtocol):
    def __init__(self, crowd: Crowd, url: str, customer: str, payload: dict[str, Any]) -> None:
        parts = urlsplit(url)
        super().__init__(
            parts.hostname or "127.0.0.1", parts.port or 80, parts.path or "/",
            subprotocol=SUBPROTOCOL, deflate=crowd.deflate,
        )  # fmt: skip
        self.crowd, self.customer, self.payload = crowd, customer, payload
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.subscribed = False
        self.heard = 0
        self.arrivals: list[float] = []  # balance, when, balance, when, ...

    def on_open(self) -> None:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.crowd.key}"}}  # fmt: skip
        self.send_text(orjson.dumps(init))

    def on_text(self, data: bytes, now: float) -> None:
        try:
            message = orjson.loads(data)
            kind = message.get("type")
        except (orjson.JSONDecodeError, AttributeError):
            return self.crowd.error(f"not a JSON object: {data[:80]!r}")
        if kind == "next":
            data_ = (message.get("payload") or {}).get("data") or {}
            balance = (data_.get("creditBalance") or {}).get("balance")
            if isinstance(balance, int):
                return self.crowd.arrived(self, balance, now)
        elif kind == "connection_ack" and not self.subscribed:
            subscribe = {"id": "1", "type": "subscribe", "payload": self.payload}
            self.send_text(orjson.dumps(subscribe))
            self.subscribed = True
            if not self.ready.done():
                self.ready.set_result(None)
            return None
        elif kind == "ping":
            return self.send_text(b'{"type":"pong"}')
        elif kind == "pong":
            return None
        return self.crowd.error(f"unexpected message: {data[:120]!r}")

    def on_binary(self, data: bytes, now: float) -> None:
        self.crowd.non_text += 1

    def on_close(self, code: int, reason: str) -> None:
        if not self.crowd.closing or code != 1000:
            self.crowd.close_codes[f"{code} {reason[:60]}".strip()] += 1

    def on_error(self, reason: str) -> None:
        self.crowd.error(f"protocol: {reason}")

    def on_lost(self) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(f"closed before the ack ({self.close_code})"))
        elif self.subscribed and not self.crowd.closing:
            self.crowd.disconnects += 1


class Crowd:
    """This process's subscribers, for one round."""

    def __init__(self, emit: Callable[[dict[str, Any]], None], key: str, deflate: bool) -> None:
        self.emit, self.key, self.deflate = emit, key, deflate
        self.subscribers: list[Subscriber] = []
        self.opened = self.failed = self.non_text = self.disconnects = self.errors = 0
        self.close_codes: Counter[str] = Counter()
        self.samples: list[str] = []
        self.warm = self.measured = self.expected = 0
        self.floor: dict[str, int] | None = None
        self.closing = False

    def error(self, sample: str) -> None:
        self.errors += 1
        if len(self.samples) < 5:
            self.samples.append(sample)

    async def open(self, feeds: list[list[Any]], concurrency: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)

        async def one(url: str, customer: str, payload: dict[str, Any]) -> Subscriber:
            subscriber = Subscriber(self, url, customer, payload)
            async with gate:
                try:
                    async with asyncio.timeout(60):
                        await loop.create_connection(
                            lambda: subscriber, subscriber.request[0], subscriber.request[1]
                        )
                        await subscriber.ready
                except Exception as error:
                    self.failed += 1
                    if len(self.samples) < 5:
                        self.samples.append(f"connect: {error!r}"[:200])
                    subscriber.abort()
                    subscriber.subscribed = False
            return subscriber

        self.subscribers = list(await asyncio.gather(*(one(*feed) for feed in feeds)))
        self.opened = len(self.subscribers) - self.failed
        return {"op": "opened", "opened": self.opened, "failed": self.failed}

    def arrived(self, subscriber: Subscriber, balance: int, now: float) -> None:
        subscriber.heard += 1
        if subscriber.heard == 1:
            self.warm += 1
            if self.warm == self.opened:
                self.emit({"op": "warm"})
        if self.floor is not None and balance < self.floor.get(subscriber.customer, -1):
            subscriber.arrivals += (balance, now)
            self.measured += 1
            if self.measured == self.expected:
                self.emit({"op": "measured"})

    def measure(self, floor: dict[str, int], events: int) -> dict[str, Any]:
        self.floor, self.expected = floor, self.opened * events
        return {"op": "measuring"}

    async def close(self) -> dict[str, Any]:
        self.closing = True
        gate = asyncio.Semaphore(200)

        async def one(subscriber: Subscriber) -> None:
            async with gate:
                await subscriber.close(1000, 10)

        await asyncio.gather(*(one(s) for s in self.subscribers if s.subscribed))
        for subscriber in self.subscribers:
            subscriber.abort()
        return {
            "op": "closed",
            "arrivals": [s.arrivals for s in self.subscribers],
            "failed": self.failed,
            "non_text": self.non_text,
            "disconnects": self.disconnects,
            "close_codes": dict(self.close_codes),
            "errors": self.errors,
            "samples": self.samples,
            "deflate": [
                sum(s.compressed_ok for s in self.subscribers),
                sum(s.inflated for s in self.subscribers),
            ],
        }


async def serve(read_fd: int, out: Any) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 28)
    pipe = os.fdopen(read_fd, "rb", buffering=0)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)

    def emit(message: dict[str, Any]) -> None:
        out.write(orjson.dumps(message) + b"\n")
        out.flush()

    crowd: Crowd | None = None
    while line := await reader.readline():
        command = orjson.loads(line)
        op = command["op"]
        if op == "open":
            crowd = Crowd(emit, command["key"], command["deflate"])
            emit(await crowd.open(command["feeds"], command["concurrency"]))
            if crowd.opened == 0:
                emit({"op": "warm"})
        elif op == "measure" and crowd is not None:
            emit(crowd.measure(command["floor"], command["events"]))
            if crowd.expected == 0:
                emit({"op": "measured"})
        elif op == "close" and crowd is not None:
            emit(await crowd.close())
            crowd = None
        elif op == "exit":
            break
        else:
            emit({"op": "error", "message": f"unexpected command {op!r}"})


def main() -> None:
    raise_nofile()
    out = os.fdopen(os.dup(1), "wb")  # the replies; stray prints go to stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(0, out))
    else:
        uvloop.run(serve(0, out))


if __name__ == "__main__":
    main()
