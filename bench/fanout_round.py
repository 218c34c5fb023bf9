"""One round of the fan-out bench (bench/live_fanout.py): open every subscriber (a
barrier over the client processes), warm up until each has had a push, fire the timed
events while the probe runs, wait for the pushes, read the servers' figures, close."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench.fanout_crowd import Crowd, Feed, Report
from bench.fanout_probe import Probe, percentile, read_metrics, server_figures

Pairs = list[tuple[str, int]]  # (customer, balance after) per consumption of an event
Fired = tuple[float, Pairs]  # and when the HTTP answer arrived (perf_counter)


def proc(pid: int) -> tuple[float, float]:
    """CPU seconds (utime + stime) and RSS (VmRSS) in MB of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), rss / 1024


def _cpu(pids: list[int]) -> list[float]:
    return [proc(pid)[0] for pid in pids]


async def measure_round(
    crowd: Crowd, feeds: list[Feed], key: str, fire: Callable[[str], Awaitable[Fired]],
    bases: list[str], pids: list[int], probe: Probe, opts: Any, tag: str,
) -> dict[str, Any]:  # fmt: skip
    """The figures of one round; `tag` keeps its request ids apart from other rounds'."""
    await crowd.open(feeds, key, opts.concurrency)
    try:
        floor: dict[str, int] = {}  # a balance below it belongs to a measured event
        for attempt in range(30):  # a subscribe has no acknowledgement: push until all heard
            floor.update((await fire(f"{tag}-warm{attempt}"))[1])
            if await crowd.warm(2):
                break
        await asyncio.sleep(0.5)
        await crowd.measure(floor, opts.events)
        metrics_before = await read_metrics(bases)
        watched = pids + crowd.pids
        before = _cpu(watched)
        parent_cpu, started = time.process_time(), time.perf_counter()
        probe.start()
        event_of: dict[tuple[str, int], int] = {}
        answered: list[float] = []
        http_ms: list[float] = []
        for i in range(opts.events):
            await asyncio.sleep(max(0.0, started + i * opts.interval - time.perf_counter()))
            sent = time.perf_counter()
            at, pairs = await fire(f"{tag}-e{i}")
            answered.append(at)
            http_ms.append((at - sent) * 1000)
            event_of.update({pair: i for pair in pairs})
        await crowd.measured(10)
        elapsed = time.perf_counter() - started
        cpu = [(c - b) / elapsed * 100 for c, b in zip(_cpu(watched), before, strict=True)]
        parent = (time.process_time() - parent_cpu) / elapsed * 100
        probed = await probe.stop()
        metrics_after = await read_metrics(bases)
    finally:
        report = await crowd.close()
    figures = _figures(report, feeds, event_of, answered, opts.events)
    http_ms.sort()
    return {
        **figures,
        "http_p50_max_ms": f"{percentile(http_ms, 0.5)}/{percentile(http_ms, 1.0)}",
        "server_cpu_pct": "/".join(f"{c:.0f}" for c in cpu[: len(pids)]),
        "client_cpu_pct": "/".join(f"{c:.0f}" for c in cpu[len(pids) :]),
        "parent_cpu_pct": round(parent),
        **probed,
        **server_figures(metrics_before, metrics_after),
    }


def _figures(
    report: Report, feeds: list[Feed], event_of: dict[tuple[str, int], int],
    answered: list[float], events: int,
) -> dict[str, Any]:  # fmt: skip
    """Latency of each measured push from the HTTP answer of its event; order per feed."""
    latencies, reordered = [], 0
    for (_, customer, _), arrivals in zip(feeds, report.arrivals, strict=True):
        last = -1
        for j in range(0, len(arrivals), 2):
            i = event_of.get((customer, int(arrivals[j])), -1)
            if i >= 0:
                latencies.append((arrivals[j + 1] - answered[i]) * 1000)
                reordered += i < last
                last = max(last, i)
    latencies.sort()
    codes = ", ".join(f"{code} x{n}" for code, n in report.close_codes.most_common())
    return {
        "delivered": f"{len(latencies)}/{len(feeds) * events}",
        "connect_failures": report.failed,
        "disconnects": report.disconnects,
        "non_text_frames": report.non_text,
        "other_errors": report.errors,
        "close_codes": codes or "none",
        "deflate": f"{report.deflate_agreed} agreed, {report.inflated} messages inflated",
        "reordered": reordered,
        **{f"p{q}_ms": percentile(latencies, q / 100) for q in (50, 95, 99)},
        "max_ms": percentile(latencies, 1.0),
        **({"error_samples": " | ".join(report.samples[:3])} if report.samples else {}),
    }
