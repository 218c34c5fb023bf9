"""Credits on PostgreSQL, four figures, each against a baseline in the same run:

1. in-process `consume_credits` against raw asyncpg doing the same idempotent
   debit and ledger insert (one autocommitted statement: debit the wallet if the
   balance allows and the request id is new, insert the entry), same wallets,
   same concurrency, same pool size;
2. `consumeCredits` over HTTP to one real server process (uvicorn) against a
   `{ __typename }` query to the same server, same client, same concurrency;
3. `consumeCreditsBatch` of 1,000 items over HTTP, consumptions per second;
4. live push latency: commit (the server's clock) to a WebSocket subscriber of
   `creditBalance` on that server, through Redis, p50 and p99.

The HTTP client is a few lines of asyncio streams with keep-alive, so the client
costs little of the shared machine's CPU; both sides of each ratio use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from bench.harness import compare, free_port, fresh_postgres
from domain.credits import consume
from domain.credits.admin import grant_credits
from domain.ids import new_id
from domain.tenancy.access import Principal, Role
from domain.tenancy.api_keys import issue_key
from domain.tenancy.tenants import create_tenant

ROOT = Path(__file__).resolve().parents[1]
WALLETS = 16
CONCURRENCY = 16
POOL = 20  # Tortoise's default pool size (db/config.py), for the baseline too
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

_BASELINE = """
WITH upd AS (
  UPDATE credit_wallet SET balance = balance - $1, updated_at = $7
  WHERE id = $2 AND balance >= $1
    AND NOT EXISTS (SELECT 1 FROM credit_entry WHERE tenant_id = $3 AND request_id = $4)
  RETURNING balance
)
INSERT INTO credit_entry (public_id, tenant_id, wallet_id, customer_id, kind, amount,
  balance_after, module, action, quantity, request_id, created_at)
SELECT $5, $3, $2, $6, 'consumption', -$1, upd.balance, 'rag', 'ask', 1, $4, $7 FROM upd
RETURNING balance_after"""


async def _seed() -> tuple[Any, str, list[Any]]:
    from domain.catalog.plans import create_plan
    from domain.customers.service import create_customer
    from domain.subscriptions.service import create_subscription

    tenant = await create_tenant(name="Bench", country="FR", default_currency="EUR")
    admin = Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=0)
    plan = await create_plan(
        admin,
        {
            "code": "bench",
            "name": "Bench",
            "interval": "month",
            "features": ["rag", "legal"],
            "daily_credit_limit": 10**12,
            "prices": [{"currency": "EUR", "amount_minor": 1000}],
        },
    )
    customers = []
    for i in range(WALLETS):
        customer = await create_customer(admin, {"name": f"User {i}", "external_id": f"u{i}"})
        await create_subscription(
            admin, {"customer_id": customer.public_id, "plan_id": plan.public_id}
        )
        await grant_credits(admin, customer.public_id, 10**11, reason="bench")
        customers.append(customer)
    key = await issue_key(tenant_id=tenant.id, role=Role.SERVICE, name="bench")
    return tenant, key.secret, customers


async def _in_process(url: str, tenant: Any, customers: list[Any]) -> dict[str, Any]:
    from db.credit_models import CreditWallet

    service = Principal(tenant_id=tenant.id, role=Role.SERVICE, key_id=0)
    wallets = {w.customer_id: w.id for w in await CreditWallet.filter(tenant_id=tenant.id)}
    pool = await asyncpg.create_pool(
        url.replace("postgres://", "postgresql://", 1), min_size=POOL, max_size=POOL
    )
    counter = 0

    async def ours() -> None:
        nonlocal counter
        counter += 1
        customer = customers[counter % WALLETS]
        done = await consume.consume_credits(
            service,
            consume.ConsumeRequest(customer.public_id, "rag", "ask", 1, f"t{counter}"),
        )
        assert done.consumed

    async def theirs() -> None:
        nonlocal counter
        counter += 1
        customer = customers[counter % WALLETS]
        row = await pool.fetchval(
            _BASELINE,
            1,
            wallets[customer.id],
            tenant.id,
            f"b{counter}",
            new_id("credit_entry"),
            customer.id,
            datetime.now(UTC),
        )
        assert row is not None

    tally, base = await compare(ours, theirs, rounds=5, seconds=2.0, concurrency=CONCURRENCY)
    await pool.close()
    return {
        "in_process_consume_per_second": round(tally),
        "raw_asyncpg_per_second": round(base),
        "ratio_in_process": round(tally / base, 2),
        "target_in_process": ">= 0.7",
    }


@contextlib.asynccontextmanager
async def server_process(url: str) -> AsyncIterator[int]:
    port = free_port()
    code = (
        "import uvicorn, server; uvicorn.run(server.create_app(), host='127.0.0.1', "
        f"port={port}, access_log=False, log_level='warning')"
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS_URL,
        "WORKER_INTERVAL_SECONDS": "0",
    }
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)  # noqa: ASYNC220
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            await asyncio.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(10)


class Http:
    """One keep-alive HTTP/1.1 connection that POSTs GraphQL documents."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: bytes) -> bytes:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = (
            f"POST /graphql HTTP/1.1\r\nhost: bench\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {self.key}\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in headers.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        answer = await self.reader.readexactly(length)
        assert headers.startswith(b"HTTP/1.1 200"), headers + answer
        return answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


CONSUME = (
    'mutation($c: ID!, $r: String!) { consumeCredits(customerId: $c, module: "rag", '
    'action: "ask", requestId: $r) '
    "{ ... on CreditConsumption { consumed balance } ... on Error { code } } }"
)
BATCH = (
    "mutation($items: [ConsumeCreditsInput!]!) { consumeCreditsBatch(items: $items) "
    "{ ... on ConsumeCreditsBatchSuccess { results { ... on CreditConsumption { consumed } } } "
    "... on Error { code } } }"
)


async def _over_http(port: int, key: str, customers: list[Any]) -> dict[str, Any]:
    clients = [Http(port, key) for _ in range(CONCURRENCY)]
    pool: asyncio.Queue[Http] = asyncio.Queue()
    for c in clients:
        pool.put_nowait(c)
    counter = 0
    typename = orjson.dumps({"query": "{ __typename }"})

    async def call(body: bytes) -> bytes:
        client = await pool.get()
        try:
            return await client.post(body)
        finally:
            pool.put_nowait(client)

    async def ours() -> None:
        nonlocal counter
        counter += 1
        variables = {"c": customers[counter % WALLETS].public_id, "r": f"h{counter}"}
        answer = await call(orjson.dumps({"query": CONSUME, "variables": variables}))
        assert b'"consumed":true' in answer, answer

    async def theirs() -> None:
        await call(typename)

    tally, base = await compare(ours, theirs, rounds=5, seconds=2.0, concurrency=CONCURRENCY)

    batches = []
    for round_ in range(5):
        items = [
            {
                "customerId": customers[i % WALLETS].public_id,
                "module": "rag",
                "action": "ask",
                "quantity": 1,
                "requestId": f"batch{round_}-{i}",
            }
            for i in range(1000)
        ]
        body = orjson.dumps({"query": BATCH, "variables": {"items": items}})
        started = time.perf_counter()
        answer = await call(body)
        batches.append(time.perf_counter() - started)
        assert answer.count(b'"consumed":true') == 1000, answer[:300]
    for c in clients:
        c.close()
    return {
        "http_consume_per_second": round(tally),
        "http_typename_per_second": round(base),
        "ratio_http": round(tally / base, 2),
        "target_http": ">= 0.5 and >= 1,500/s",
        "batch_consumptions_per_second": round(1000 / statistics.median(batches)),
        "target_batch": ">= 10,000/s",
    }


async def _push_latency(port: int, key: str, customer: Any, samples: int = 200) -> dict[str, Any]:
    import websockets

    client = Http(port, key)
    latencies = []
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        query = "subscription($c: ID) { creditBalance(customerId: $c) { balance committedAt } }"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": query, "variables": {"c": customer.public_id}},
                }
            )
        )
        await asyncio.sleep(0.5)
        for i in range(samples):
            variables = {"c": customer.public_id, "r": f"push{i}"}
            sender = asyncio.create_task(
                client.post(orjson.dumps({"query": CONSUME, "variables": variables}))
            )
            message = json.loads(await ws.recv())
            received = time.time()
            await sender
            committed = message["payload"]["data"]["creditBalance"]["committedAt"]
            latencies.append((received - datetime.fromisoformat(committed).timestamp()) * 1000)
    client.close()
    latencies.sort()
    return {
        "push_latency_p50_ms": round(statistics.median(latencies), 2),
        "push_latency_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "target_push": "within 100 ms",
    }


async def run() -> dict[str, Any]:
    async with fresh_postgres() as url:
        tenant, key, customers = await _seed()
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        await conn.execute("ANALYZE")
        await conn.close()
        result: dict[str, Any] = {
            "benchmark": f"credits, PostgreSQL, {WALLETS} wallets, concurrency {CONCURRENCY}"
        }
        result.update(await _in_process(url, tenant, customers))
        async with server_process(url) as port:
            result.update(await _over_http(port, key, customers))
            result.update(await _push_latency(port, key, customers[0]))
    return result
