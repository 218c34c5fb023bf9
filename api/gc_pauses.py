"""The garbage collector of a serving process: its pauses measured, its start-up heap
frozen, its thresholds raised.

A full collection walks every tracked object; with 1,000 WebSockets open that was
330-425k objects and 265-328 ms, during which no event and no HTTP request moved
(docs/PERFORMANCE.md). `settle()` runs once the server has started: everything alive
then (modules, the schema, caches) is moved out of the collector's reach with
`gc.freeze()`, and the thresholds are raised so young collections run less often and
full ones rarely: after every CLOSED_PER_COLLECTION WebSocket connections closed.
`GcPauses` times every collection through `gc.callbacks` and shows the figures in
/metrics, so the effect is measured, not assumed.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

# (allocations before a young collection, young collections per middle one, middle
# collections per full one); CPython 3.11's defaults are (700, 10, 10). See
# docs/PERFORMANCE.md for the pauses measured with each.
THRESHOLDS = (10_000, 20, 20)


# A WebSocket connection leaves ~100 objects in reference cycles when it closes
# (asyncio tasks, a cancelled future's traceback, uvicorn's protocol and transport):
# long-lived, so only a full collection frees them. With the raised thresholds full
# collections are rare, so one runs after this many connections have closed, at the
# moment they close rather than in the middle of a fan-out.
CLOSED_PER_COLLECTION = 500
_closed_since = 0
_settled = False


def settle(thresholds: tuple[int, int, int] = THRESHOLDS) -> int:
    """Collect once, freeze what survives, set the thresholds; the number frozen."""
    global _settled
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    _settled = True
    return gc.get_freeze_count()


def connection_closed() -> None:
    """A WebSocket connection ended: after CLOSED_PER_COLLECTION of them, collect."""
    global _closed_since
    if not _settled:
        return  # CPython's own thresholds collect often enough
    _closed_since += 1
    if _closed_since >= CLOSED_PER_COLLECTION:
        _closed_since = 0
        asyncio.get_running_loop().call_soon(gc.collect)


class GcPauses:
    """Collections and their pauses per generation, since `install()`."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.total = [0.0, 0.0, 0.0]
        self.longest = [0.0, 0.0, 0.0]
        self._started = 0.0

    def install(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def remove(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
            return
        generation = info["generation"]
        pause = time.perf_counter() - self._started
        self.count[generation] += 1
        self.total[generation] += pause
        self.longest[generation] = max(self.longest[generation], pause)

    def render(self) -> str:
        """Prometheus text lines."""
        lines = [
            "# TYPE tally_gc_collections_total counter",
            *(
                f'tally_gc_collections_total{{generation="{g}"}} {n}'
                for g, n in enumerate(self.count)
            ),
            "# TYPE tally_gc_pause_seconds_total counter",
            *(
                f'tally_gc_pause_seconds_total{{generation="{g}"}} {s:.6f}'
                for g, s in enumerate(self.total)
            ),
            "# TYPE tally_gc_pause_seconds_max gauge",
            *(
                f'tally_gc_pause_seconds_max{{generation="{g}"}} {s:.6f}'
                for g, s in enumerate(self.longest)
            ),
            "# TYPE tally_gc_frozen_objects gauge",
            f"tally_gc_frozen_objects {gc.get_freeze_count()}",
        ]
        return "\n".join(lines) + "\n"
