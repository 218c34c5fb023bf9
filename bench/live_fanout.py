"""Live feeds at scale (issue 20): N graphql-transport-ws subscribers split evenly over
two `server.py serve` processes sharing one PostgreSQL database and Redis, following
`creditBalance`; then `--events` consumptions over HTTP, one every `--interval` s.

    .venv/bin/python -m bench fanout [--subscribers 1000] [--customers 1] [--events 20]
        [--interval 0.25] [--concurrency 50] [--client-processes 2] [--rounds 1]
        [--deflate] [--skip-baseline]

The client: the subscribers are divided among `--client-processes` child processes
(bench/fanout_crowd.py starts them; bench/fanout_client.py is one), each on uvloop,
each subscriber a hand-written WebSocket on `asyncio.Protocol` (bench/fanout_ws.py):
an HTTP/1.1 Upgrade checked for its 101 and Sec-WebSocket-Accept, masked text frames
out, every frame in parsed (lengths, fragments, ping -> pong, close -> code recorded
and echoed); a binary frame is counted as non-text, never parsed. `--deflate` offers
permessage-deflate, starts the servers with WS_DEFLATE=1 so that they accept it, and
inflates the compressed messages: the servers' compression cost shows. Without it no
extension is offered. `--concurrency` WebSockets open at a time (shared among the
processes). RLIMIT_NOFILE is raised to its hard limit in every process (10,000
sockets need it).

A round: open every subscriber and wait for all (a barrier), push until each has had
one message (a subscribe has no acknowledgement), then the timed events, then close
all. Latency: a message's arrival (perf_counter as the child parsed it: CLOCK_MONOTONIC,
comparable across processes) less the arrival of the HTTP answer of the mutation
behind it, in the parent; events go to the two servers in turn. With `--customers`
N > 1, each event is one `consumeCreditsBatch` debiting each customer once: every
subscriber still gets one push per event. `--rounds R` repeats the round R times on
the same two server processes; a line per round, the main table is the last round's.

Also measured, in the timed window (first event to last delivery): server CPU
(/proc utime+stime, per server), each client process's CPU and the parent's; a probe
(bench/fanout_probe.py) sending a small authenticated query every 10 ms to each
server in turn (HTTP p50/p99/max, not the mutations); and from each server's
GET /metrics, read before and after the window when exposed (else "n/a"): gen-2 GC
collections in the window, their pause, the longest gen-2 pause since start, live
groups and subscribers at the window's end, subscribers closed as too slow. RSS:
VmRSS before connecting and 1 s after all closed in each round; rss_growth_pct is
(last round - round 1) / round 1. Server errors: ERROR/Traceback lines in their logs.

Baseline, same run, same clients: two uvicorn processes of bare Starlette + redis-py
pub/sub (bench/fanout_baseline.py) that on POST /fire publish one pre-encoded text
frame per customer and write it to each socket; its probe is GET /probe.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.fanout_client import raise_nofile
from bench.fanout_crowd import Crowd
from bench.fanout_probe import Probe
from bench.fanout_round import Fired, measure_round, proc
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
PROBE = "{ customers(first: 1) { edges { node { id } } } }"  # an admin's cheap read
BARE = Path(__file__).with_name("fanout_baseline.py")  # the baseline server


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench fanout", add_help=False)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--customers", type=int, default=1)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--deflate", action="store_true")
    parser.add_argument("--skip-baseline", action="store_true")
    known, _ = parser.parse_known_args(sys.argv[1:])
    if not 1 <= known.customers <= min(1000, known.subscribers):
        parser.error("--customers: 1-1000 and at most --subscribers (one batch per event)")
    if not 1 <= known.client_processes <= known.subscribers:
        parser.error("--client-processes: 1 to --subscribers")
    if known.rounds < 1 or known.events < 1:
        parser.error("--rounds and --events: at least 1")
    return known


def _log(name: str) -> str:
    return Path(name).read_text(errors="replace")


@contextlib.asynccontextmanager
async def _servers(
    command: list[str], env: dict[str, str], ready: str, errors: list[int]
) -> AsyncIterator[list[tuple[str, int]]]:
    """Two processes of `command`, each on its own PORT; yields (base URL, pid). Their
    stderr goes to a log; `errors` gets its ERROR/Traceback lines per server (a log
    with some is kept and named)."""
    started = []
    try:
        for _ in range(2):
            port = free_port()
            log = tempfile.NamedTemporaryFile(prefix="bench-fanout-", suffix=".log", delete=False)
            process = subprocess.Popen(  # noqa: ASYNC220  (a quick spawn; the wait is async)
                command, cwd=ROOT, env={**env, "PORT": str(port)},
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
            log.close()
            started.append((f"http://127.0.0.1:{port}", process, log.name))
        async with httpx.AsyncClient() as client:
            for base, process, log_name in started:
                for _ in range(300):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(base + ready)).status_code < 500:
                            break
                    if process.poll() is not None:
                        tail = (await asyncio.to_thread(_log, log_name))[-2000:]
                        raise RuntimeError(f"{command[:2]} exited with {process.returncode}:\n{tail}")  # fmt: skip
                    await asyncio.sleep(0.1)
        yield [(base, process.pid) for base, process, _ in started]
    finally:
        for _, process, _ in started:
            process.terminate()
        for _, process, log_name in started:
            await asyncio.to_thread(process.wait, 10)
            lines = (await asyncio.to_thread(_log, log_name)).splitlines()
            errors.append(sum("ERROR" in line or "Traceback" in line for line in lines))
            if errors[-1]:
                print(f"server log with errors: {log_name}")
            else:
                os.unlink(log_name)


@dataclass
class Side:
    """One side's figures: the last round's, plus RSS before and after each round."""

    figures: dict[str, Any]
    rss_before: list[float]
    rss_rounds: list[list[float]] = field(default_factory=list)  # per round, per server


async def _side(
    label: str, command: list[str], env: dict[str, str], ready: str, key: str,
    customers: list[str], opts: Any, payload: Callable[[str], dict[str, Any]],
    post: Callable[[httpx.AsyncClient, str], Awaitable[Fired]],
    probe: Callable[[httpx.AsyncClient, int], Awaitable[bool]],
) -> Side:  # fmt: skip
    """Two servers, the crowd split over them, the events posted to each in turn, for
    `--rounds` rounds on the same two server processes."""
    log_errors: list[int] = []
    async with (
        _servers(command, env, ready, log_errors) as servers,
        Crowd(opts.client_processes, opts.deflate) as crowd,
    ):
        bases, pids = [b for b, _ in servers], [p for _, p in servers]
        side = Side({}, [proc(pid)[1] for pid in pids])
        urls = [b.replace("http", "ws", 1) + "/graphql" for b in bases]
        follow = [customers[i % len(customers)] for i in range(opts.subscribers)]
        feeds = [(urls[i % 2], c, payload(c)) for i, c in enumerate(follow)]
        clients = [httpx.AsyncClient(base_url=b, timeout=30) for b in bases]
        prober = Probe(bases, probe)
        sent, p99s = [0], []

        async def fire(tag: str) -> Fired:
            sent[0] += 1
            return await post(clients[sent[0] % 2], tag)

        try:
            for r in range(opts.rounds):
                side.figures = figures = await measure_round(
                    crowd, feeds, key, fire, bases, pids, prober, opts, f"r{r}"
                )
                p99s.append(str(figures["p99_ms"]))
                await asyncio.sleep(1)
                side.rss_rounds.append([proc(pid)[1] for pid in pids])
                print(
                    f"{label} round {r + 1}: delivered {figures['delivered']}, p50/p99/max "
                    f"{figures['p50_ms']}/{figures['p99_ms']}/{figures['max_ms']} ms, probe "
                    f"p50/p99/max {figures['probe_http_p50_ms']}/{figures['probe_http_p99_ms']}"
                    f"/{figures['probe_http_max_ms']} ms, RSS MB "
                    + "/".join(f"{m:.0f}" for m in side.rss_rounds[-1]),
                    flush=True,
                )
        finally:
            for client in clients:
                await client.aclose()
            await prober.aclose()
        first, last = side.rss_rounds[0], side.rss_rounds[-1]
        side.figures["rss_mb"] = " / ".join(
            f"{b:.0f}->{a:.0f}" for b, a in zip(side.rss_before, last, strict=True)
        )
        side.figures["rss_rounds_mb"] = " / ".join(
            ",".join(f"{rss[i]:.0f}" for rss in side.rss_rounds) for i in range(len(pids))
        )
        growth = [f"{(b - a) / a * 100:+.1f}" for a, b in zip(first, last, strict=True)]
        side.figures["rss_growth_pct"] = "/".join(growth) if opts.rounds > 1 else "n/a"
        side.figures["round_p99_ms"] = ", ".join(p99s)
    side.figures["server_log_errors"] = "/".join(map(str, log_errors))
    return side


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


TALLY_ENV = {
    "HOST": "127.0.0.1", "TALLY_SECRET_KEY": "bench-secret-key-0123456789",
    "BILLING_INTERVAL_SECONDS": "0", "WORKER_INTERVAL_SECONDS": "0",
}  # fmt: skip


async def _tally(url: str, opts: Any) -> Side:
    admin, service, customers = await _seed(opts.customers)
    env = {**os.environ, **TALLY_ENV, "DATABASE_URL": url, "REDIS_URL": REDIS_URL}
    env["WS_DEFLATE"] = "1" if opts.deflate else "0"  # the servers' permessage-deflate

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

    async def probe(client: httpx.AsyncClient, i: int) -> bool:
        answer = await client.post(
            "/graphql", json={"query": PROBE}, headers={"Authorization": f"Bearer {admin}"}
        )
        return answer.status_code == 200 and "errors" not in answer.json()

    return await _side(
        "Tally", [sys.executable, "server.py", "serve"], env, "/health", admin, customers,
        opts, lambda c: {"query": FOLLOW.format(c=c)}, post, probe,
    )  # fmt: skip


async def _bare(opts: Any) -> Side:
    customers = [f"cus_bare{i:012d}" for i in range(opts.customers)]
    balances = dict.fromkeys(customers, GRANTED)
    env = {**os.environ, "REDIS_URL": REDIS_URL, "BENCH_CHANNEL": f"bench-fanout-{os.getpid()}"}
    env["WS_DEFLATE"] = "1" if opts.deflate else "0"

    async def post(client: httpx.AsyncClient, tag: str) -> Fired:
        for c in customers:
            balances[c] -= 1
        items = [(c, balances[c]) for c in customers]
        answer = await client.post("/fire", json={"items": items})
        at = time.perf_counter()
        answer.raise_for_status()
        return at, items

    async def probe(client: httpx.AsyncClient, i: int) -> bool:
        return (await client.get("/probe")).status_code == 200

    return await _side(
        "bare", [sys.executable, str(BARE)], env, "/fire", "bare", customers, opts,
        lambda c: {"query": "bare", "variables": {"c": c}}, post, probe,
    )  # fmt: skip


HEADINGS = ("delivered", "disconn.", "non-text", "p50 ms", "p95 ms", "p99 ms", "max ms",
            "CPU % A/B", "client %")  # fmt: skip
COLUMNS = ("delivered", "disconnects", "non_text_frames", "p50_ms", "p95_ms", "p99_ms",
           "max_ms", "server_cpu_pct", "client_cpu_pct")  # fmt: skip
SERVER_HEADINGS = ("probe p50", "probe p99", "probe max", "GC2 n", "GC2 ms", "GC2 max",
                   "groups", "subscr.", "slow cl.")  # fmt: skip
SERVER_COLUMNS = ("probe_http_p50_ms", "probe_http_p99_ms", "probe_http_max_ms",
                  "gc2_collections", "gc2_pause_ms", "gc2_max_pause_ms", "live_groups",
                  "live_subscribers", "live_slow_closed")  # fmt: skip
LABELS = ("Tally (serve x2)", "bare Starlette+redis")


def _print(opts: Any, sides: list[Side | None]) -> None:
    deflate = ", deflate" if opts.deflate else ""
    print(
        f"\n{opts.subscribers} subscribers over 2 servers and {opts.client_processes} client "
        f"processes{deflate}, {opts.customers} customer(s), {opts.events} events every "
        f"{opts.interval * 1000:.0f} ms, {opts.rounds} round(s); latency from the HTTP "
        "answer (last round)"
    )
    print(f"{'':21}" + "".join(f"{h:>11}" for h in HEADINGS) + "  RSS MB A / B")
    for label, side in zip(LABELS, sides, strict=True):
        if side is not None:
            r = side.figures
            print(f"{label:21}" + "".join(f"{r[k]!s:>11}" for k in COLUMNS) + f"  {r['rss_mb']}")
    print("\nDuring the window (ms; A/B per server; GC2: full collections, their pause, the "
          "longest since start; live feeds at the end)")  # fmt: skip
    print(f"{'':21}" + "".join(f"{h:>12}" for h in SERVER_HEADINGS))
    for label, side in zip(LABELS, sides, strict=True):
        if side is not None:
            r = side.figures
            print(f"{label:21}" + "".join(f"{r[k]!s:>12}" for k in SERVER_COLUMNS))
    rounds = "".join(f"{f'round {i + 1}':>10}" for i in range(opts.rounds))
    print(f"\nRSS MB per server, 1 s after all closed\n{'':21}{'before':>10}{rounds}{'growth %':>10}")  # fmt: skip
    for label, side in zip(("Tally", "bare"), sides, strict=True):
        if side is None:
            continue
        growth = side.figures["rss_growth_pct"].split("/") if opts.rounds > 1 else ["n/a"] * 2
        for i, server in enumerate("AB"):
            cells = [side.rss_before[i], *(rss[i] for rss in side.rss_rounds)]
            print(f"{label + ' ' + server:21}" + "".join(f"{c:>10.1f}" for c in cells) + f"{growth[i]:>10}")  # fmt: skip


async def run() -> dict[str, Any]:
    opts = options()
    raise_nofile()  # the servers inherit it
    async with fresh_postgres() as url:
        tally = await _tally(url, opts)
    bare = None if opts.skip_baseline else await _bare(opts)
    _print(opts, [tally, bare])
    result: dict[str, Any] = {
        "benchmark": f"live fan-out, {opts.subscribers} subscribers on 2 servers, "
        f"{opts.customers} customer(s), {opts.events} events, {opts.rounds} round(s), "
        f"{opts.client_processes} client processes" + (", deflate" if opts.deflate else ""),
        **{f"tally_{k}": v for k, v in tally.figures.items()},
    }
    if bare is not None:
        result.update({f"bare_{k}": v for k, v in bare.figures.items()})
        # No ratio when the bare push mostly beats the HTTP answer: few subscribers, or
        # --customers > 1 (/fire answers after publishing every customer's frame).
        ok = bare.figures["p99_ms"] >= 0.5 and opts.customers == 1
        ratio = tally.figures["p99_ms"] / bare.figures["p99_ms"] if ok else None
        result["ratio_p99_tally_to_bare"] = round(ratio, 1) if ratio else "n/a"
        print(f"p99 ratio Tally / bare: {result['ratio_p99_tally_to_bare']}")
    result["target"] = "every event delivered, p99 < 50 ms (1,000 subscribers, 1 customer)"
    return result
