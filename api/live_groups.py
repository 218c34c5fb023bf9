"""Shared live subscriptions: one execution per group, the same text to every member.

Subscribers that send the same document with the same variables and see the same
data (tenant, role, customer or payee, locale, base URL) get the same results. A
group runs the subscription once, for its first member's caller, serializes each
result once and puts the same JSON text, behind each member's own operation id, in
every member's outbox. 1,000 dashboards following one customer cost one execution
and one serialization per event instead of 1,000 (docs/LIVE.md).

A feed marked as a *state* (its results are the current figure, not an event) hands
a member joining a running group the group's latest result, which is what a
subscription of its own would have sent first.

Each connection has one bounded outbox drained by its own writer, so a client that
stops reading delays nobody else: past `limit` bytes unsent, its operations end and
the socket is closed with 4408 (`SLOW_CONSUMER_CLOSE`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.utils.aio import aclosing

from schema.error_policy import short_error

log = logging.getLogger("tally.live")
SLOW_CONSUMER_CLOSE = 4408
SLOW_CONSUMER_REASON = "Subscriber too slow: too many messages unsent"
MESSAGE_OVERHEAD = 64  # bytes a queued message costs besides its text
FAIR_SLICE = 64  # members served before the group lets other work (HTTP) in

Outcome = ExecutionResult | list[GraphQLError] | None


async def outcomes(source: AsyncIterator[Any]) -> AsyncIterator[Outcome]:
    """A subscription's results as the protocol sends them: each ExecutionResult;
    the errors that end it before its first result as a list (an `error` message);
    None for an incremental result the protocol cannot carry (then stop)."""
    first = True
    results = aiter(source)
    while True:
        try:
            result = await anext(results)
        except StopAsyncIteration:
            return
        except GraphQLError as error:
            # Parsing happens in extensions (ParserCache, the token limit), whose
            # errors escape Strawberry's stream instead of becoming a result.
            if not first:
                raise
            yield [short_error(error)]
            return
        if (
            first
            and result.errors
            and (isinstance(result, PreExecutionError) or result.data is None)
        ):
            yield list(result.errors)
            return
        if not isinstance(result, ExecutionResult):
            yield None
            return
        yield result
        first = False


def next_payload(result: ExecutionResult) -> str:
    """The `payload` of a `next` message, as JSON text (Strawberry's shape)."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return orjson.dumps(payload).decode()


@lru_cache(maxsize=2048)
def subscription_field(query: str, operation_name: str | None, max_tokens: int) -> str | None:
    """The root field of the subscription operation `operation_name` selects, or None
    when the document is not one (a query, a mutation, a parse error, several
    operations without a name, fragments at the root): those run on their own, and
    their errors are reported as before."""
    try:
        document = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.SUBSCRIPTION:
        return None
    selections = operations[0].selection_set.selections
    if len(selections) != 1 or not isinstance(selections[0], FieldNode):
        return None
    return selections[0].name.value


class Outbox:
    """One connection's messages in order, written by one task; bounded in bytes."""

    def __init__(
        self,
        send_text: Callable[[str], Awaitable[None]],
        limit: int,
        on_overflow: Callable[[], None],
    ) -> None:
        self._send = send_text
        self.limit = limit
        self.on_overflow = on_overflow
        self._queue: deque[str] = deque()
        self._bytes = 0
        self._wake: asyncio.Future[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()  # nothing queued, nothing being written
        self._idle.set()
        self.closed = False

    def put(self, text: str) -> None:
        if self.closed:
            return
        self._bytes += len(text) + MESSAGE_OVERHEAD
        if self._bytes > self.limit:
            self.stop()
            self.on_overflow()
            return
        self._queue.append(text)
        self._idle.clear()
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain(), name="tally-ws-writer")
        elif self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                while self._queue:
                    text = self._queue.popleft()
                    self._bytes -= len(text) + MESSAGE_OVERHEAD
                    await self._send(text)
                self._idle.set()
                self._wake = loop.create_future()
                await self._wake
        except asyncio.CancelledError:
            raise
        except Exception:  # the client is gone: nothing more can be sent
            self.closed = True
            self._queue.clear()
            self._idle.set()

    async def flush(self, seconds: float) -> None:
        """Wait (up to `seconds`) until all put so far is written (before a close)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), seconds)

    def stop(self) -> None:
        self.closed = True
        self._queue.clear()
        self._bytes = 0
        self._idle.set()
        if self._writer is not None:
            self._writer.cancel()


class _Member:
    __slots__ = ("ended", "outbox", "prefix")

    def __init__(self, operation_id: str, outbox: Outbox) -> None:
        self.outbox = outbox
        self.prefix = '{"id":' + orjson.dumps(operation_id).decode() + ',"type":"next","payload":'
        self.ended: asyncio.Future[dict[str, Any] | None] = (
            asyncio.get_running_loop().create_future()
        )


@dataclass(eq=False)
class _Group:
    key: Hashable
    state: bool
    members: set[_Member] = field(default_factory=set)
    latest: str | None = None
    task: asyncio.Task[None] | None = None


@dataclass
class LiveStats:
    groups: int = 0
    members: int = 0
    slow_closed: int = 0


class LiveGroups:
    """The process's running groups, by key."""

    def __init__(self) -> None:
        self._groups: dict[Hashable, _Group] = {}
        self.slow_closed = 0

    def stats(self) -> LiveStats:
        members = sum(len(g.members) for g in self._groups.values())
        return LiveStats(len(self._groups), members, self.slow_closed)

    async def follow(
        self,
        key: Hashable,
        start: Callable[[], Awaitable[AsyncIterator[Any]]],
        operation_id: str,
        outbox: Outbox,
        *,
        state: bool = False,
    ) -> dict[str, Any] | None:
        """Join (or start) the group of `key` until it ends; returns the message that
        ends this member's operation (`complete`, or `error` with its payload)."""
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(key, state)
            group.task = asyncio.create_task(self._run(group, start), name="tally-live-group")
        member = _Member(operation_id, outbox)
        group.members.add(member)
        if group.latest is not None:
            outbox.put(member.prefix + group.latest + "}")
        try:
            return await member.ended
        finally:
            group.members.discard(member)
            if not group.members and self._groups.get(key) is group:
                del self._groups[key]  # the last one left: stop executing for nobody
                assert group.task is not None
                group.task.cancel()

    async def _run(self, group: _Group, start: Callable[[], Awaitable[AsyncIterator[Any]]]) -> None:
        final: dict[str, Any] | None = {"type": "complete"}
        try:
            source = await start()
            async with aclosing(source):  # type: ignore[type-var]
                async for outcome in outcomes(source):
                    if outcome is None:
                        error = GraphQLError(
                            "Incremental delivery is not supported over graphql-transport-ws"
                        )
                        final = _error([error])
                        break
                    if isinstance(outcome, list):
                        final = _error(outcome)
                        break
                    await self._broadcast(group, next_payload(outcome))
        except asyncio.CancelledError:
            final = None
            raise
        except Exception:
            log.exception("a live subscription group failed; its members are completed")
        finally:
            if self._groups.get(group.key) is group:
                del self._groups[group.key]
            for member in group.members:
                if not member.ended.done():
                    member.ended.set_result(final)

    async def _broadcast(self, group: _Group, payload: str) -> None:
        if group.state:
            group.latest = payload
        members = list(group.members)
        for start in range(0, len(members), FAIR_SLICE):
            if start:
                await asyncio.sleep(0)  # let the writers and the HTTP requests run
            for member in members[start : start + FAIR_SLICE]:
                if member in group.members:
                    member.outbox.put(member.prefix + payload + "}")


def _error(errors: list[GraphQLError]) -> dict[str, Any]:
    return {"type": "error", "payload": [error.formatted for error in errors]}
