"""Live feeds at scale (issue 20): N graphql-transport-ws subscribers split evenly over
two `server.py serve` processes sharing one PostgreSQL database and Redis, following
`creditBalance`; then `--events` consumptions over HTTP, one every `--interval` s.

    .venv/bin/python -m bench fanout [--subscribers 1000] [--customers 1] [--events 20]
        [--interval 0.25] [--concurrency 50] [--skip-baseline]

Each subscriber is its own WebSocket (`websockets`) speaking the protocol by hand; a
non-text frame is counted, never parsed. Latency: a frame's arrival (perf_counter when
read) less the arrival of the HTTP answer of the mutation behind it; events go to the
two servers in turn. With `--customers` N > 1, each event is one `consumeCreditsBatch`
debiting each customer once: every subscriber still gets one push per event. Server
CPU: /proc utime+stime from the first event to the last delivery; RSS: VmRSS before
connecting and 1 s after all closed. Baseline, same run, same client process (its CPU
is printed): two uvicorn processes of bare Starlette + redis-py pub/sub (bench/fanout_baseline.py) that on
POST /fire publish one pre-encoded text frame per customer and write it to each socket.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

from bench.harness import free_port, fresh_postgres

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
GRANTED = 10**9
FOLLOW = 'subscription {{ creditBalance(customerId: "{c}") {{ balance usedToday }} }}'
CONSUME = """mutation($c: ID!, $r: String!) { consumeCredits(customerId: $c, module: "rag",
  action: "ask", requestId: $r) { ... on CreditConsumption { customerId consumed balance }
  ... on Error { code message } } }"""
BATCH = """mutation($items: [ConsumeCreditsInput!]!) { consumeCreditsBatch(items: $items) {
  ... on ConsumeCreditsBatchSuccess { results { ... on CreditConsumption { customerId
  consumed balance } ... on Error { code message } } } ... on Error { code message } } }"""
BARE = Path(__file__).with_name("fanout_baseline.py")  # the baseline server
Pairs = list[tuple[str, int]]  # (customer, balance after) per consumption of an event
Fired = tuple[float, Pairs]  # and when the HTTP answer arrived (perf_counter)


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench fanout", add_help=False)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=1)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--skip-baseline", action="store_true")
    known, _ = parser.parse_known_args(sys.argv[1:])
    if not 1 <= known.customers <= min(1000, known.subscribers):
        parser.error("--customers: 1-1000 and at most --subscribers (one batch per event)")
    return known


def _proc(pid: int) -> tuple[float, float]:
    """CPU seconds (utime + stime) and RSS in MB of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), rss / 1024


@contextlib.asynccontextmanager
async def _servers(
    command: list[str], env: dict[str, str], ready: str
) -> AsyncIterator[list[tuple[str, int]]]:
    """Two processes of `command`, each on its own PORT; yields (base URL, pid)."""
    started = []
    try:
        for _ in range(2):
            port = free_port()
            process = subprocess.Popen(  # noqa: ASYNC220  (a quick spawn; the wait is async)
                command, cwd=ROOT, env={**env, "PORT": str(port)},
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            started.append((f"http://127.0.0.1:{port}", process))
        async with httpx.AsyncClient() as client:
            for base, process in started:
                for _ in range(300):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(base + ready)).status_code < 500:
                            break
                    if process.poll() is not None:
                        raise RuntimeError(f"{command[:2]} exited with {process.returncode}")
                    await asyncio.sleep(0.1)
        yield [(base, process.pid) for base, process in started]
    finally:
        for _, process in started:
            process.terminate()
        for _, process in started:
            await asyncio.to_thread(process.wait, 10)


@dataclass
class Feed:
    url: str
    customer: str
    ws: Any = None
    arrivals: list[tuple[int, float]] = field(default_factory=list)  # (balance, when)


class Crowd:
    """N graphql-transport-ws clients, opened `concurrency` at a time; every frame is
    timed as it is read and checked to be text."""

    def __init__(self, bases: list[str], customers: list[str], n: int, key: str) -> None:
        urls = [b.replace("http", "ws", 1) + "/graphql" for b in bases]
        self.feeds = [Feed(urls[i % 2], customers[i % len(customers)]) for i in range(n)]
        self.key = key
        self.settled = self.warm = self.measured = self.expected = 0
        self.failed = self.non_text = self.disconnects = self.errors = 0
        self.all_settled, self.all_warm, self.all_measured = (asyncio.Event() for _ in "abc")
        self.floor: dict[str, int] = {}  # a balance below it belongs to a measured event
        self.closing = False
        self.tasks: list[asyncio.Task[None]] = []

    async def open(self, payload: Callable[[str], dict[str, Any]], concurrency: int) -> None:
        gate = asyncio.Semaphore(concurrency)
        self.tasks = [asyncio.create_task(self._run(f, payload(f.customer), gate)) for f in self.feeds]  # fmt: skip
        await asyncio.wait_for(self.all_settled.wait(), 120 + len(self.feeds) / 10)

    async def _handshake(self, feed: Feed, payload: dict[str, Any]) -> None:
        feed.ws = ws = await websockets.connect(
            feed.url, subprotocols=["graphql-transport-ws"], open_timeout=60
        )
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.key}"}}
        await ws.send(json.dumps(init))
        async with asyncio.timeout(60):
            while True:
                frame = await ws.recv()
                if not isinstance(frame, str):
                    self.non_text += 1
                elif json.loads(frame).get("type") == "connection_ack":
                    break
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))

    async def _run(self, feed: Feed, payload: dict[str, Any], gate: asyncio.Semaphore) -> None:
        try:
            async with gate:
                await self._handshake(feed, payload)
        except Exception:
            self.failed += 1
            with contextlib.suppress(Exception):
                await feed.ws.close()  # None when the connect itself failed
            feed.ws = None
        self.settled += 1
        if self.settled == len(self.feeds):
            self.all_settled.set()
        if feed.ws is None:
            return
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in feed.ws:
                now = time.perf_counter()
                if not isinstance(frame, str):
                    self.non_text += 1
                    continue
                message = json.loads(frame)  # the servers never ping (no pong to send)
                data = (message.get("payload") or {}).get("data") or {}
                balance = (data.get("creditBalance") or {}).get("balance")
                if message.get("type") != "next" or balance is None:
                    self.errors += 1
                    continue
                feed.arrivals.append((balance, now))
                if len(feed.arrivals) == 1:
                    self.warm += 1
                    if self.warm == len(self.feeds) - self.failed:
                        self.all_warm.set()
                if balance < self.floor.get(feed.customer, -1):
                    self.measured += 1
                    if self.measured == self.expected:
                        self.all_measured.set()
        self.disconnects += not self.closing

    async def close(self) -> None:
        self.closing = True
        gate = asyncio.Semaphore(200)

        async def one(feed: Feed) -> None:
            async with gate:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(feed.ws.close(), 10)

        await asyncio.gather(*(one(f) for f in self.feeds if f.ws is not None))
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _pct(values: list[float], q: float) -> float:
    return round(values[min(len(values) - 1, int(q * len(values)))], 1) if values else 0.0


async def _measure(
    crowd: Crowd, fire: Callable[[str], Awaitable[Fired]], pids: list[int], opts: Any
) -> dict[str, Any]:
    """Warm up until every subscriber has had a push, then the timed events."""
    for attempt in range(30):  # a subscribe has no acknowledgement: push until all heard
        crowd.floor.update((await fire(f"warm{attempt}"))[1])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(crowd.all_warm.wait(), 2)
            break
    await asyncio.sleep(0.5)
    crowd.expected = (len(crowd.feeds) - crowd.failed) * opts.events
    before = [_proc(pid)[0] for pid in pids]
    client_cpu, started = time.process_time(), time.perf_counter()
    event_of: dict[tuple[str, int], int] = {}
    answered: list[float] = []
    http_ms: list[float] = []
    for i in range(opts.events):
        await asyncio.sleep(max(0.0, started + i * opts.interval - time.perf_counter()))
        sent = time.perf_counter()
        at, pairs = await fire(f"e{i}")
        answered.append(at)
        http_ms.append((at - sent) * 1000)
        event_of.update({pair: i for pair in pairs})
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(crowd.all_measured.wait(), 10)
    elapsed = time.perf_counter() - started
    cpu = [(_proc(pid)[0] - b) / elapsed * 100 for pid, b in zip(pids, before, strict=True)]
    latencies, reordered = [], 0
    for feed in crowd.feeds:
        last = -1
        for balance, at in feed.arrivals:
            i = event_of.get((feed.customer, balance), -1)
            if i >= 0:
                latencies.append((at - answered[i]) * 1000)
                reordered += i < last
                last = max(last, i)
    latencies.sort()
    http_ms.sort()
    return {
        "delivered": f"{len(latencies)}/{len(crowd.feeds) * opts.events}",
        "connect_failures": crowd.failed,
        "disconnects": crowd.disconnects,
        "non_text_frames": crowd.non_text,
        "other_errors": crowd.errors,
        "reordered": reordered,
        **{f"p{q}_ms": _pct(latencies, q / 100) for q in (50, 95, 99)},
        "max_ms": _pct(latencies, 1.0),
        "http_p50_max_ms": f"{_pct(http_ms, 0.5)}/{_pct(http_ms, 1.0)}",
        "server_cpu_pct": "/".join(f"{c:.0f}" for c in cpu),
        "client_cpu_pct": round((time.process_time() - client_cpu) / elapsed * 100),
    }


async def _side(
    command: list[str], env: dict[str, str], ready: str, key: str, customers: list[str],
    opts: Any, payload: Callable[[str], dict[str, Any]],
    post: Callable[[httpx.AsyncClient, str], Awaitable[Fired]],
) -> dict[str, Any]:  # fmt: skip
    """Two servers, the crowd split over them, the events posted to each in turn."""
    async with _servers(command, env, ready) as servers:
        bases, pids = [b for b, _ in servers], [p for _, p in servers]
        rss_before = [_proc(pid)[1] for pid in pids]
        clients = [httpx.AsyncClient(base_url=b, timeout=30) for b in bases]
        crowd = Crowd(bases, customers, opts.subscribers, key)

        sent = [0]

        async def fire(tag: str) -> Fired:
            sent[0] += 1
            return await post(clients[sent[0] % 2], tag)

        try:
            await crowd.open(payload, opts.concurrency)
            figures = await _measure(crowd, fire, pids, opts)
        finally:
            await crowd.close()
            for client in clients:
                await client.aclose()
        await asyncio.sleep(1)
        rss = zip(rss_before, [_proc(pid)[1] for pid in pids], strict=True)
        figures["rss_mb"] = " / ".join(f"{b:.0f}->{a:.0f}" for b, a in rss)
        return figures


async def _seed(n: int) -> tuple[str, str, list[str]]:
    """A tenant, a plan with `rag`, n subscribed customers holding GRANTED credits, an
    admin key (the subscribers') and a service key (the consumptions')."""
    from domain.catalog.plans import create_plan
    from domain.credits.admin import grant_credits
    from domain.customers.service import create_customer
    from domain.subscriptions.service import create_subscription
    from domain.tenancy.access import Principal, Role
    from domain.tenancy.api_keys import issue_key
    from domain.tenancy.tenants import create_tenant

    tenant = await create_tenant(name="Fan-out", country="FR", default_currency="EUR")
    admin = Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=0)
    plan = await create_plan(admin, {
        "code": "fanout", "name": "Fan-out", "interval": "month", "features": ["rag"],
        "daily_credit_limit": 10**12, "prices": [{"currency": "EUR", "amount_minor": 1000}],
    })  # fmt: skip
    gate = asyncio.Semaphore(8)

    async def one(i: int) -> str:
        async with gate:
            customer = await create_customer(admin, {"name": f"Follower {i}"})
            await create_subscription(
                admin, {"customer_id": customer.public_id, "plan_id": plan.public_id}
            )
            await grant_credits(admin, customer.public_id, GRANTED, reason="bench")
            return customer.public_id

    customers = await asyncio.gather(*(one(i) for i in range(n)))
    admin_key = await issue_key(tenant_id=tenant.id, role=Role.ADMIN, name="bench admin")
    service = await issue_key(tenant_id=tenant.id, role=Role.SERVICE, name="bench service")
    return admin_key.secret, service.secret, list(customers)


async def _tally(url: str, opts: Any) -> dict[str, Any]:
    admin, service, customers = await _seed(opts.customers)
    env = {
        **os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "HOST": "127.0.0.1",
        "TALLY_SECRET_KEY": "bench-secret-key-0123456789",
        "BILLING_INTERVAL_SECONDS": "0", "WORKER_INTERVAL_SECONDS": "0",
    }  # fmt: skip

    async def post(client: httpx.AsyncClient, tag: str) -> Fired:
        if len(customers) == 1:
            body = {"query": CONSUME, "variables": {"c": customers[0], "r": f"f-{tag}"}}
        else:
            items = [{"customerId": c, "module": "rag", "action": "ask", "quantity": 1,
                      "requestId": f"f-{tag}-{c}"} for c in customers]  # fmt: skip
            body = {"query": BATCH, "variables": {"items": items}}
        answer = await client.post(
            "/graphql", json=body, headers={"Authorization": f"Bearer {service}"}
        )
        at = time.perf_counter()
        data = answer.json().get("data") or {}
        if "consumeCredits" in data:
            results = [data["consumeCredits"]]
        else:
            results = (data.get("consumeCreditsBatch") or {}).get("results")
        if not results or not all(r.get("consumed") for r in results):
            raise RuntimeError(f"a consumption failed: {answer.text[:500]}")
        return at, [(r["customerId"], r["balance"]) for r in results]

    return await _side(
        [sys.executable, "server.py", "serve"], env, "/health", admin, customers, opts,
        lambda c: {"query": FOLLOW.format(c=c)}, post,
    )  # fmt: skip


async def _bare(opts: Any) -> dict[str, Any]:
    customers = [f"cus_bare{i:012d}" for i in range(opts.customers)]
    balances = dict.fromkeys(customers, GRANTED)
    env = {**os.environ, "REDIS_URL": REDIS_URL, "BENCH_CHANNEL": f"bench-fanout-{os.getpid()}"}

    async def post(client: httpx.AsyncClient, tag: str) -> Fired:
        for c in customers:
            balances[c] -= 1
        items = [(c, balances[c]) for c in customers]
        answer = await client.post("/fire", json={"items": items})
        at = time.perf_counter()
        answer.raise_for_status()
        return at, items

    return await _side(
        [sys.executable, str(BARE)], env, "/fire", "bare", customers, opts,
        lambda c: {"query": "bare", "variables": {"c": c}}, post,
    )  # fmt: skip


HEADINGS = ("delivered", "disconn.", "non-text", "p50 ms", "p95 ms", "p99 ms", "max ms",
            "CPU % A/B", "client %")  # fmt: skip
COLUMNS = ("delivered", "disconnects", "non_text_frames", "p50_ms", "p95_ms", "p99_ms",
           "max_ms", "server_cpu_pct", "client_cpu_pct")  # fmt: skip


async def run() -> dict[str, Any]:
    opts = options()
    async with fresh_postgres() as url:
        tally = await _tally(url, opts)
    bare = None if opts.skip_baseline else await _bare(opts)
    print(
        f"\n{opts.subscribers} subscribers over 2 servers, {opts.customers} customer(s), "
        f"{opts.events} events every {opts.interval * 1000:.0f} ms; latency from the HTTP answer"
    )
    print(f"{'':21}" + "".join(f"{h:>11}" for h in HEADINGS) + "  RSS MB A / B")
    for label, r in (("Tally (serve x2)", tally), ("bare Starlette+redis", bare)):
        if r is not None:
            print(f"{label:21}" + "".join(f"{r[k]!s:>11}" for k in COLUMNS) + f"  {r['rss_mb']}")
    result: dict[str, Any] = {
        "benchmark": f"live fan-out, {opts.subscribers} subscribers on 2 servers, "
        f"{opts.customers} customer(s), {opts.events} events",
        **{f"tally_{k}": v for k, v in tally.items()},
    }
    if bare is not None:
        result.update({f"bare_{k}": v for k, v in bare.items()})
        # No ratio when the bare push mostly beats the HTTP answer: few subscribers, or
        # --customers > 1 (/fire answers after publishing every customer's frame).
        ok = bare["p99_ms"] >= 0.5 and opts.customers == 1
        ratio = tally["p99_ms"] / bare["p99_ms"] if ok else None
        result["ratio_p99_tally_to_bare"] = round(ratio, 1) if ratio else "n/a"
        print(f"p99 ratio Tally / bare: {result['ratio_p99_tally_to_bare']}")
    result["target"] = "every event delivered, p99 < 50 ms (1,000 subscribers, 1 customer)"
    return result
