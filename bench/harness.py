"""Shared benchmark plumbing: a throw-away PostgreSQL database, an in-process ASGI
caller (no HTTP client overhead on either side), interleaved timing rounds, a free
port."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from tortoise import Tortoise

from db.config import tortoise_config

PG_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    """A loopback port nothing listens on now (for a server process a bench starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


@asynccontextmanager
async def fresh_postgres() -> AsyncIterator[str]:
    """Create, migrate and open a PostgreSQL database; drop it afterwards."""
    from tortoise.migrations.api.migrate import migrate

    name = f"tally_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(_dsn(PG_ADMIN_URL))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        await migrate(config=tortoise_config(url))
        await Tortoise.close_connections()
        await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
        yield url
    finally:
        await Tortoise.close_connections()
        admin = await asyncpg.connect(_dsn(PG_ADMIN_URL))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def asgi_post(app: Any, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """One HTTP request straight into an ASGI app."""
    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw_headers,
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
        "state": {},
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def rate(call: Callable[[], Awaitable[Any]], *, seconds: float, concurrency: int) -> float:
    """Requests per second with `concurrency` callers looping for `seconds`."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


async def compare(
    subject: Callable[[], Awaitable[Any]],
    baseline: Callable[[], Awaitable[Any]],
    *,
    rounds: int = 5,
    seconds: float = 2.0,
    concurrency: int = 4,
) -> tuple[float, float]:
    """Median rates over interleaved rounds, so drift on a shared machine hits both."""
    for call in (subject, baseline):  # warm caches and pools
        await rate(call, seconds=0.5, concurrency=concurrency)
    ours, theirs = [], []
    for _ in range(rounds):
        ours.append(await rate(subject, seconds=seconds, concurrency=concurrency))
        theirs.append(await rate(baseline, seconds=seconds, concurrency=concurrency))
    return statistics.median(ours), statistics.median(theirs)


def dumps(value: Any) -> bytes:
    return orjson.dumps(value)
