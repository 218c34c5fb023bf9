"""A real uvicorn server on a free loopback port, and a graphql-transport-ws client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
import websockets


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve `app` (lifespan included) on 127.0.0.1; yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    else:
        raise RuntimeError("uvicorn did not start")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


class Subscriber:
    """Speaks graphql-transport-ws over a real WebSocket."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        async with asyncio.timeout(5):
            frame = await self.ws.recv()
        # Stock clients (graphql-ws, gql, browsers) reject binary frames.
        assert isinstance(frame, str), f"a binary frame: {frame[:80]!r}"
        return json.loads(frame)


@contextlib.asynccontextmanager
async def subscriber(host: str, key: str | None) -> AsyncIterator[Subscriber]:
    async with websockets.connect(
        f"ws://{host}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:
        client = Subscriber(ws)
        payload = {"Authorization": f"Bearer {key}"} if key else {}
        await client.send({"type": "connection_init", "payload": payload})
        yield client


# -- the stock client (Python `gql` over graphql-transport-ws) ------------------------------

PUSH_WAIT = 10  # seconds: a bound on waiting for a push, never a pause


def gql_transport(host: str, key: str) -> Any:
    from gql.transport.websockets import WebsocketsTransport

    return WebsocketsTransport(
        url=f"ws://{host}/graphql",
        init_payload={"Authorization": f"Bearer {key}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )


@contextlib.asynccontextmanager
async def gql_following(session: Any, request: Any, field: str) -> AsyncIterator[asyncio.Queue]:
    """The pushes of a `gql` subscription (the `field` of each result), in a queue; an
    error is put in the queue too, for the test that expects a push."""
    pushes: asyncio.Queue[Any] = asyncio.Queue()

    async def listen() -> None:
        try:
            async for result in session.subscribe(request):
                await pushes.put(result[field])
        except Exception as exc:
            await pushes.put(exc)

    task = asyncio.create_task(listen())
    try:
        yield pushes
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def next_push(pushes: asyncio.Queue[Any]) -> Any:
    push = await asyncio.wait_for(pushes.get(), PUSH_WAIT)
    if isinstance(push, Exception):
        raise push
    return push
