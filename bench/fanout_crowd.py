"""The fan-out bench's subscribers, split over `processes` client processes
(bench/fanout_client.py, one `python -m bench.fanout_client` each, JSON lines over
pipes). The parent keeps the HTTP side and the clock; the children open, time and
close the WebSockets and report each measured push as (balance, perf_counter)."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
Feed = tuple[str, str, dict[str, Any]]  # (WebSocket URL, customer, subscribe payload)


@dataclass
class Report:
    """A round's subscribers once closed; `arrivals` in the order of the feeds opened."""

    arrivals: list[list[float]] = field(default_factory=list)  # balance, when, ...
    failed: int = 0
    non_text: int = 0
    disconnects: int = 0
    errors: int = 0
    close_codes: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    deflate_agreed: int = 0  # subscribers whose server accepted permessage-deflate
    inflated: int = 0  # compressed messages received


class _Child:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.replies: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.warm, self.measured = asyncio.Event(), asyncio.Event()
        self.reading = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            message = orjson.loads(line)
            if message["op"] == "warm":
                self.warm.set()
            elif message["op"] == "measured":
                self.measured.set()
            else:
                await self.replies.put(message)
        await self.replies.put({"op": "exited", "code": await self.process.wait()})

    def send(self, command: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(orjson.dumps(command) + b"\n")

    async def ask(self, command: dict[str, Any], within: float) -> dict[str, Any]:
        self.send(command)
        assert self.process.stdin is not None
        await self.process.stdin.drain()
        reply = await asyncio.wait_for(self.replies.get(), within)
        if reply["op"] in ("exited", "error"):
            raise RuntimeError(f"fan-out client {self.process.pid}: {reply}")
        return reply


class Crowd:
    """`async with Crowd(k, deflate) as crowd:` k client processes, for every round."""

    def __init__(self, processes: int, deflate: bool) -> None:
        self.processes, self.deflate = processes, deflate
        self.children: list[_Child] = []
        self.sizes: list[int] = []

    @property
    def pids(self) -> list[int]:
        return [child.process.pid for child in self.children]

    async def __aenter__(self) -> Crowd:
        for _ in range(self.processes):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.fanout_client", cwd=ROOT,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=1 << 28,
            )  # fmt: skip
            self.children.append(_Child(process))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for child in self.children:
            if child.process.returncode is None:
                child.send({"op": "exit"})
        for child in self.children:
            try:
                await asyncio.wait_for(child.process.wait(), 30)
            except TimeoutError:
                child.process.kill()
                await child.process.wait()
            child.reading.cancel()

    async def open(self, feeds: list[Feed], key: str, concurrency: int) -> int:
        """Open every feed (contiguous shares, one per process) and wait for all: the
        barrier. Returns the number that failed."""
        k = len(self.children)
        bounds = [len(feeds) * i // k for i in range(k + 1)]
        self.sizes = [bounds[i + 1] - bounds[i] for i in range(k)]
        for child in self.children:
            child.warm.clear()
            child.measured.clear()
        replies = await asyncio.gather(*(
            child.ask({
                "op": "open", "feeds": feeds[bounds[i] : bounds[i + 1]], "key": key,
                "concurrency": max(1, -(-concurrency // k)), "deflate": self.deflate,
            }, 180 + len(feeds) / 10)
            for i, child in enumerate(self.children)
        ))  # fmt: skip
        return sum(reply["failed"] for reply in replies)

    async def warm(self, within: float) -> bool:
        """True once every open subscriber has had a push."""
        return await self._all("warm", within)

    async def measure(self, floor: dict[str, int], events: int) -> None:
        """From now, count the pushes below `floor` (the measured events')."""
        await asyncio.gather(*(
            child.ask({"op": "measure", "floor": floor, "events": events}, 30)
            for child in self.children
        ))  # fmt: skip

    async def measured(self, within: float) -> bool:
        """True once every open subscriber has had a push per measured event."""
        return await self._all("measured", within)

    async def _all(self, name: str, within: float) -> bool:
        waits = [getattr(child, name).wait() for child in self.children]
        try:
            await asyncio.wait_for(asyncio.gather(*waits), within)
        except TimeoutError:
            return False
        return True

    async def close(self) -> Report:
        replies = await asyncio.gather(
            *(child.ask({"op": "close"}, 120) for child in self.children)
        )
        report = Report()
        for reply in replies:
            report.arrivals += reply["arrivals"]
            report.failed += reply["failed"]
            report.non_text += reply["non_text"]
            report.disconnects += reply["disconnects"]
            report.errors += reply["errors"]
            report.close_codes.update(reply["close_codes"])
            report.samples += reply["samples"]
            report.deflate_agreed += reply["deflate"][0]
            report.inflated += reply["deflate"][1]
        return report
