"""Shared live subscriptions: one execution per group, the same text to every member.

Subscribers that send the same document with the same variables and see the same
data (tenant, role, customer or payee, locale, base URL) get the same results. A
group runs the subscription once, for its first member's caller, serializes each
result once and puts the same JSON text, behind each member's own operation id, in
every member's outbox. 1,000 dashboards following one customer cost one execution
and one serialization per event instead of 1,000 (docs/LIVE.md).

The *state* feeds (`usageUpdates`, `metricsUpdates`: their first result is the
current figure, read for the subscriber) are not grouped: a group's last figure may be
older than what a new subscriber must see first (a day or a period may have turned).

Each connection has one bounded outbox drained by its own writer, so a client that
stops reading delays nobody else: past `limit` bytes waiting behind the message being
written, its operations end and the socket is closed with 4408 (`SLOW_CONSUMER_CLOSE`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Hashable
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


CACHED_DOCUMENT = 8192  # characters: larger documents are parsed every time


def subscription_field(query: str, operation_name: str | None, max_tokens: int) -> str | None:
    """The root field of the subscription operation `operation_name` selects, or None
    when the document is not one (a query, a mutation, a parse error, several
    operations without a name, fragments at the root): those run on their own, and
    their errors are reported as before."""
    if len(query) > CACHED_DOCUMENT:  # never keep big documents alive in the cache
        return _subscription_field.__wrapped__(query, operation_name, max_tokens)
    return _subscription_field(query, operation_name, max_tokens)


@lru_cache(maxsize=1024)
def _subscription_field(query: str, operation_name: str | None, max_tokens: int) -> str | None:
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
    """One connection's messages in order; bounded in bytes. A message is always taken
    when nothing waits (one large result is not a slow client); past `limit` bytes
    waiting, `on_overflow` is called and nothing more is sent. Entries carry the
    operation they belong to, so a `complete` from the client drops that operation's
    unsent results.

    A message put while nothing is being written is written at once, by the caller:
    the send completes without waiting whenever the socket is writable, which is the
    usual case, and then costs no task and no task switch (5,000 sockets an event
    made that a measurable share, docs/PERFORMANCE.md). Only a send that has to wait
    (the socket's buffer is full) becomes a writer task, which also writes what
    queues up behind it, in order, so a slow client never holds up its caller."""

    def __init__(
        self,
        send_text: Callable[[str], Awaitable[None]],
        limit: int,
        on_overflow: Callable[[], None],
    ) -> None:
        self._send = send_text
        self.limit = limit
        self.on_overflow = on_overflow
        self._queue: deque[tuple[str | None, str]] = deque()
        self._bytes = 0
        self._writer: asyncio.Task[None] | None = None  # set while a send waits
        self._idle = asyncio.Event()  # nothing queued, nothing being written
        self._idle.set()
        self.closed = False

    def put(self, text: str, operation_id: str | None = None) -> None:
        if self.closed:
            return
        if self._writer is None:
            self._write_now(text)
            return
        size = len(text) + MESSAGE_OVERHEAD
        if self._queue and self._bytes + size > self.limit:
            self.stop()
            self.on_overflow()
            return
        self._bytes += size
        self._queue.append((operation_id, text))

    def _write_now(self, text: str) -> None:
        sending = self._send(text).__await__()
        try:
            blocked = sending.send(None)
        except StopIteration:
            return  # written
        except Exception:  # the client is gone
            self._gone()
            return
        self._idle.clear()
        self._writer = asyncio.create_task(self._finish(sending, blocked), name="tally-ws-writer")

    async def _finish(self, sending: Generator[Any, Any, Any], blocked: Any) -> None:
        try:
            await _Resumed(sending, blocked)
            while self._queue:
                _, text = self._queue.popleft()
                self._bytes -= len(text) + MESSAGE_OVERHEAD
                await self._send(text)
        except asyncio.CancelledError:
            raise
        except Exception:
            self._gone()
        finally:
            self._writer = None
            self._idle.set()

    def _gone(self) -> None:
        self.closed = True
        self._queue.clear()
        self._bytes = 0
        self._idle.set()

    def discard(self, operation_id: str) -> None:
        """Drop what waits for `operation_id` (its subscriber sent `complete`)."""
        kept = deque(entry for entry in self._queue if entry[0] != operation_id)
        self._bytes -= sum(len(t) + MESSAGE_OVERHEAD for o, t in self._queue if o == operation_id)
        self._queue = kept

    async def flush(self, seconds: float) -> None:
        """Wait (up to `seconds`) until all put so far is written (before a close)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), seconds)

    def stop(self) -> None:
        self._gone()
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None


class _Resumed:
    """Awaits the rest of a send started outside a task: hands the task the future
    the send is blocked on, and goes on with the send each time it is resumed."""

    __slots__ = ("blocked", "sending")

    def __init__(self, sending: Generator[Any, Any, Any], blocked: Any) -> None:
        self.sending = sending
        self.blocked = blocked

    def __await__(self) -> Generator[Any, Any, Any]:
        value = self.blocked
        while True:
            try:
                sent = yield value
            except BaseException as exc:  # cancelled: into the send, as a task would
                try:
                    value = self.sending.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    value = self.sending.send(sent)
                except StopIteration as stop:
                    return stop.value


class _Member:
    __slots__ = ("ended", "operation_id", "outbox", "prefix")

    def __init__(self, operation_id: str, outbox: Outbox) -> None:
        self.outbox = outbox
        self.operation_id = operation_id
        self.prefix = '{"id":' + orjson.dumps(operation_id).decode() + ',"type":"next","payload":'
        self.ended: asyncio.Future[dict[str, Any] | None] = (
            asyncio.get_running_loop().create_future()
        )


@dataclass(eq=False)
class _Group:
    key: Hashable
    members: set[_Member] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


@dataclass
class LiveStats:
    groups: int = 0
    members: int = 0
    slow_closed: int = 0
    slow_abandoned: int = 0


class LiveGroups:
    """The process's running groups, by key."""

    def __init__(self) -> None:
        self._groups: dict[Hashable, _Group] = {}
        self.slow_closed = 0  # connections closed with 4408
        self.slow_abandoned = 0  # of those, let go without their close frame

    def stats(self) -> LiveStats:
        members = sum(len(g.members) for g in self._groups.values())
        return LiveStats(len(self._groups), members, self.slow_closed, self.slow_abandoned)

    async def follow(
        self,
        key: Hashable,
        start: Callable[[], Awaitable[AsyncIterator[Any]]],
        operation_id: str,
        outbox: Outbox,
        after_each: Callable[[], None] = lambda: None,
    ) -> dict[str, Any] | None:
        """Join (or start) the group of `key` until it ends; returns the message that
        ends this member's operation (`complete`, or `error` with its payload), None
        when the server stops. `after_each` runs after each result is sent (the
        group's context takes fresh DataLoaders there: no cache outlives an event)."""
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(key)
            runner = self._run(group, start, after_each)
            group.task = asyncio.create_task(runner, name="tally-live-group")
        member = _Member(operation_id, outbox)
        group.members.add(member)
        ended = False
        try:
            final = await member.ended
            ended = True
            return final
        finally:
            group.members.discard(member)
            if not ended:  # the client sent `complete` or left: drop what still waits
                outbox.discard(operation_id)
            if not group.members and self._groups.get(key) is group:
                del self._groups[key]  # the last one left: stop executing for nobody
                assert group.task is not None
                group.task.cancel()

    async def _run(
        self,
        group: _Group,
        start: Callable[[], Awaitable[AsyncIterator[Any]]],
        after_each: Callable[[], None],
    ) -> None:
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
                    after_each()
                self._forget(group)  # ended: who subscribes now starts a new group
        except asyncio.CancelledError:
            final = None
            raise
        except Exception:
            log.exception("a live subscription group failed; its members are completed")
        finally:
            self._forget(group)
            for member in group.members:
                if not member.ended.done():
                    member.ended.set_result(final)

    def _forget(self, group: _Group) -> None:
        if self._groups.get(group.key) is group:
            del self._groups[group.key]

    async def _broadcast(self, group: _Group, payload: str) -> None:
        members = list(group.members)
        for start in range(0, len(members), FAIR_SLICE):
            if start:
                await asyncio.sleep(0)  # let the writers and the HTTP requests run
            for member in members[start : start + FAIR_SLICE]:
                if member in group.members:
                    member.outbox.put(member.prefix + payload + "}", member.operation_id)


def _error(errors: list[GraphQLError]) -> dict[str, Any]:
    return {"type": "error", "payload": [error.formatted for error in errors]}
