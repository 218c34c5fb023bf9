"""What the fan-out bench watches on the servers besides the pushes.

`Probe`: during the timed window, one small request every `period` seconds (10 ms),
to each server in turn, on its own schedule (a slow answer does not delay the next
request); its latency is the HTTP service a server gives while it fans out.

`read_metrics` / `server_figures`: the servers' Prometheus text at GET /metrics, read
just before and just after the timed window: full (generation 2) GC collections in the
window and their total pause, the longest gen-2 pause since the process started, and
the live-feed gauges at the end of the window. A series a server does not expose is
"n/a".
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from typing import Any

import httpx

Metrics = dict[str, float]  # 'name' or 'name{generation="2"}' -> value
SERIES = re.compile(r'^(tally_(?:gc|live)_[a-z_]+)(\{generation="(\d)"\})?\s+(\S+)\s*$', re.M)


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of sorted `values`, to 0.1."""
    return round(values[min(len(values) - 1, int(q * len(values)))], 1) if values else 0.0


class Probe:
    """`request(client, i)` sends the i-th probe and says whether the answer was good;
    `start()` before the window, `await stop()` after it for the figures."""

    def __init__(
        self, bases: list[str], request: Callable[[httpx.AsyncClient, int], Any],
        period: float = 0.01,
    ) -> None:  # fmt: skip
        self.clients = [httpx.AsyncClient(base_url=b, timeout=30) for b in bases]
        self.request, self.period = request, period
        self.latencies: list[float] = []
        self.errors = 0
        self.pending: set[asyncio.Task[None]] = set()
        self.ticking: asyncio.Task[None] | None = None

    async def _one(self, i: int) -> None:
        sent = time.perf_counter()
        try:
            ok = await self.request(self.clients[i % len(self.clients)], i)
        except httpx.HTTPError:
            ok = False
        if ok:
            self.latencies.append((time.perf_counter() - sent) * 1000)
        else:
            self.errors += 1

    async def _tick(self) -> None:
        started = time.perf_counter()
        for i in range(10**9):
            await asyncio.sleep(max(0.0, started + i * self.period - time.perf_counter()))
            task = asyncio.create_task(self._one(i))
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)

    def start(self) -> None:
        self.latencies, self.errors = [], 0
        self.ticking = asyncio.create_task(self._tick())

    async def stop(self) -> dict[str, Any]:
        if self.ticking is not None:
            self.ticking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.ticking
        if self.pending:
            await asyncio.wait(self.pending, timeout=30)
        values = sorted(self.latencies)
        return {
            "probe_http_p50_ms": percentile(values, 0.5),
            "probe_http_p99_ms": percentile(values, 0.99),
            "probe_http_max_ms": percentile(values, 1.0),
            "probe_requests": f"{len(values)} ok, {self.errors} failed",
        }

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()


def parse_metrics(text: str) -> Metrics:
    found: Metrics = {}
    for name, labels, _, value in SERIES.findall(text):
        with contextlib.suppress(ValueError):
            found[name + labels] = float(value)
    return found


async def read_metrics(bases: list[str]) -> list[Metrics]:
    """Each server's tally_gc_* and tally_live_* series ({} when /metrics fails)."""
    async with httpx.AsyncClient(timeout=10) as client:

        async def one(base: str) -> Metrics:
            try:
                answer = await client.get(base + "/metrics")
            except httpx.HTTPError:
                return {}
            return parse_metrics(answer.text) if answer.status_code == 200 else {}

        return list(await asyncio.gather(*(one(b) for b in bases)))


def _per_server(values: list[str]) -> str:
    return "n/a" if all(v == "n/a" for v in values) else "/".join(values)


def server_figures(before: list[Metrics], after: list[Metrics]) -> dict[str, str]:
    """Per server (A/B): gen-2 collections in the window, their pause (ms), the longest
    gen-2 pause since start (ms), live groups and subscribers at the window's end, and
    subscribers closed as too slow in the window."""
    gen2 = '{generation="2"}'

    def delta(name: str, scale: float = 1.0, digits: int = 0) -> str:
        out = []
        for b, a in zip(before, after, strict=True):
            if name in a and name in b:
                out.append(f"{(a[name] - b[name]) * scale:.{digits}f}")
            else:
                out.append("n/a")
        return _per_server(out)

    def level(name: str, scale: float = 1.0, digits: int = 0) -> str:
        return _per_server([f"{a[name] * scale:.{digits}f}" if name in a else "n/a" for a in after])  # fmt: skip

    return {
        "gc2_collections": delta("tally_gc_collections_total" + gen2),
        "gc2_pause_ms": delta("tally_gc_pause_seconds_total" + gen2, 1000, 1),
        "gc2_max_pause_ms": level("tally_gc_pause_seconds_max" + gen2, 1000, 1),
        "live_groups": level("tally_live_groups"),
        "live_subscribers": level("tally_live_subscribers"),
        "live_slow_closed": delta("tally_live_slow_closed_total"),
    }
