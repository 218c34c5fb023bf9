"""graphql-transport-ws on Strawberry's handler: text frames through a bounded outbox
per connection, subscriptions run once per group of identical ones
(api/live_groups.py), and a client that stops reading closed with 4408."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Hashable
from typing import Any

import orjson
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)

from api import gc_pauses
from api.context import Context, Loaders
from api.live_groups import (
    SLOW_CONSUMER_CLOSE,
    SLOW_CONSUMER_REASON,
    Outbox,
    outcomes,
    subscription_field,
)

# How long a 4408 close may wait for a client that reads nothing (uvicorn writes the
# close frame only once the socket drains); then the connection is let go.
SLOW_CLOSE_WAIT = 30.0


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """graphql-transport-ws messages as text frames (Strawberry sends whatever
    `encode_json` returns, and bytes would go out as binary frames, which the npm
    graphql-ws client, Python's gql and browsers, as Blobs, all reject), every one
    through the connection's bounded outbox, in order."""

    def __init__(self, view: Any, request: WebSocket, response: WebSocket) -> None:
        super().__init__(view, request, response)
        self.outbox = Outbox(self.ws.send_text, view.send_buffer, lambda: None)

    async def send_json(self, message: Any) -> None:
        self.outbox.put(orjson.dumps(message).decode())

    async def close(self, code: int, reason: str) -> None:
        await self.outbox.flush(seconds=2)  # what was sent before the close goes first
        self.outbox.stop()
        # Gone already, or not reading (uvicorn waits for the socket to drain first):
        # either way the handler goes on and ends.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code=code, reason=reason), SLOW_CLOSE_WAIT)


def group_of(
    operation: Any, context: Context, state_feeds: Collection[str], max_tokens: int
) -> Hashable | None:
    """The group a subscribe message joins; None runs it on its own: not a
    subscription, a state feed, or a document that does not parse (its error is
    reported as before)."""
    query, variables, name = operation.query, operation.variables, operation.operation_name
    if not isinstance(query, str) or not isinstance(variables, dict | None):
        return None
    if not isinstance(name, str | None):
        return None
    field = subscription_field(query, name, max_tokens)
    principal = context.principal
    if field is None or field in state_feeds or principal is None:
        return None
    try:
        values = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    # Everything of the caller a subscription's resolvers and types read: they see
    # the same data exactly when these are equal (docs/LIVE.md).
    sees = (
        principal.tenant_id,
        principal.role,
        principal.customer_id,
        principal.payee_id,
        context.locale,
        context.base_url,
    )
    return query, values, name, sees


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with every failure before the first result sent as an
    `error` message for that operation (Strawberry closed the whole socket, 4400, on
    a syntax error, and sent an error raised as a subscription starts, such as an
    unknown customer, as a `next` that clients take for data); subscriptions run
    once per group of identical ones; a client that stops reading is closed with
    4408 when its outbox overflows."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.websocket.outbox.on_overflow = self._too_slow  # type: ignore[attr-defined]
        self._closing: asyncio.Task[None] | None = None
        self._connection: asyncio.Task[Any] | None = None
        self._abandoned = False

    async def handle(self) -> None:
        self._connection = asyncio.current_task()
        try:
            await super().handle()
        except asyncio.CancelledError:
            assert self._connection is not None
            # Ours (the client never read its 4408) is taken back; any other stands.
            if not self._abandoned or self._connection.uncancel() > 0:
                raise

    async def run_operation(self, operation: Any) -> None:
        view = self.view
        key = group_of(operation, self.context, view.state_feeds, view.max_tokens)  # type: ignore[attr-defined]
        if key is None:
            await super().run_operation(operation)
            return
        outbox: Outbox = self.websocket.outbox  # type: ignore[attr-defined]
        if outbox.closed:  # dropped as too slow: the close is on its way
            self.operations.pop(operation.id, None)
            return
        # Plain values only: the group may outlive this connection.
        context = self.context.detached()
        context.request = HTTPConnection(self.context.request.scope)
        schema, root = self.schema, self.root_value
        query, variables, name = operation.query, operation.variables, operation.operation_name

        async def start() -> Any:
            return await schema.stream(
                query,
                variable_values=variables,
                context_value=context,
                root_value=root,
                operation_name=name,
            )

        def fresh_loaders() -> None:
            context.loaders = Loaders(context.principal)

        final = await view.live.follow(key, start, operation.id, outbox, fresh_loaders)  # type: ignore[attr-defined]
        if final is None:
            self.operations.pop(operation.id, None)
        else:
            await operation.send_operation_message({"id": operation.id, **final})

    async def _handle_pre_execution_error(self, operation: Any, result: Any) -> None:
        await operation.send_initial_errors(result.errors)

    async def _send_result_stream(self, operation: Any, result_source: Any) -> None:
        async for outcome in outcomes(result_source):
            if outcome is None:
                await self._reject_incremental_delivery(operation)
            elif isinstance(outcome, list):
                await operation.send_initial_errors(outcome)
            else:
                await operation.send_next(outcome)

    def _too_slow(self) -> None:
        """The client stopped reading and its outbox overflowed: end its operations
        (they leave their groups) and close the socket with 4408."""
        self.view.live.slow_closed += 1  # type: ignore[attr-defined]
        for operation in list(self.operations.values()):
            if operation.task is not None:
                operation.task.cancel()
        self.operations.clear()
        self._closing = asyncio.create_task(self._close_slow())

    async def _close_slow(self) -> None:
        ws = self.websocket.ws  # type: ignore[attr-defined]
        try:
            await asyncio.wait_for(
                ws.close(SLOW_CONSUMER_CLOSE, SLOW_CONSUMER_REASON), SLOW_CLOSE_WAIT
            )
        except TimeoutError:
            # uvicorn writes nothing, the close frame included, to a socket that does
            # not drain: end the connection's handler so all it held is released.
            self._abandoned = True
            self.view.live.slow_abandoned += 1  # type: ignore[attr-defined]
            if self._connection is not None:
                self._connection.cancel()
        except Exception:
            pass

    async def shutdown(self) -> None:
        await super().shutdown()
        self.websocket.outbox.stop()  # type: ignore[attr-defined]
        gc_pauses.connection_closed()
