"""The baseline server of `python -m bench fanout` (bench/live_fanout.py): bare
Starlette + redis-py pub/sub, speaking just enough graphql-transport-ws to ack and take a
subscription, pushing one pre-encoded text frame per published consumption to the
sockets that follow its customer; GET /probe answers a tiny JSON (the bench's HTTP
probe during the fan-out). Run as a script: PORT, REDIS_URL, BENCH_CHANNEL, and
WS_DEFLATE=1 to accept permessage-deflate."""

import asyncio
import contextlib
import os

import redis.asyncio as redis
import uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

FRAME = '{"id":"1","type":"next","payload":{"data":{"creditBalance":{"balance":%d,"usedToday":0}}}}'
CHANNEL, bus, feeds = os.environ["BENCH_CHANNEL"], redis.from_url(os.environ["REDIS_URL"]), {}


async def listen():
    async with bus.pubsub() as pubsub:
        await pubsub.subscribe(CHANNEL)
        async for message in pubsub.listen():
            if message["type"] == "message":
                customer, text = message["data"].decode().split("\n", 1)
                for ws in list(feeds.get(customer, ())):
                    with contextlib.suppress(Exception):
                        await ws.send_text(text)


async def fire(request):
    for customer, balance in (await request.json())["items"]:
        await bus.publish(CHANNEL, customer + "\n" + FRAME % balance)
    return Response("ok")


async def probe(request):
    return JSONResponse({"data": {"__typename": "Query"}})


async def endpoint(ws):
    await ws.accept(subprotocol="graphql-transport-ws")
    customer = None
    try:
        while True:
            message = await ws.receive_json()
            if message["type"] == "connection_init":
                await ws.send_text('{"type":"connection_ack"}')
            elif message["type"] == "subscribe":
                customer = message["payload"]["variables"]["c"]
                feeds.setdefault(customer, set()).add(ws)
    except WebSocketDisconnect:
        feeds.get(customer, set()).discard(ws)


@contextlib.asynccontextmanager
async def lifespan(app):
    task = asyncio.create_task(listen())
    yield
    task.cancel()


app = Starlette(
    routes=[
        Route("/fire", fire, methods=["POST"]),
        Route("/probe", probe),
        WebSocketRoute("/graphql", endpoint),
    ],
    lifespan=lifespan,
)
uvicorn.run(
    app,
    host="127.0.0.1",
    port=int(os.environ["PORT"]),
    log_level="warning",
    ws_per_message_deflate=os.environ.get("WS_DEFLATE") == "1",
)
