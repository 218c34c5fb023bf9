"""The garbage collector of a serving process: its pauses measured, its start-up heap
frozen, its thresholds raised.

A full collection walks every tracked object; with 1,000 WebSockets open that was
330-425k objects and 265-328 ms, during which no event and no HTTP request moved
(docs/PERFORMANCE.md). `settle()` runs once the server has started: everything alive
then (modules, the schema, caches) is moved out of the collector's reach with
`gc.freeze()`, and the thresholds are raised so young collections run less often and
full ones rarely. `GcPauses` times every collection through `gc.callbacks` and shows
the figures in /metrics, so the effect is measured, not assumed.
"""

from __future__ import annotations

import gc
import time
from typing import Any

# (allocations before a young collection, young collections per middle one, middle
# collections per full one); CPython 3.11's defaults are (700, 10, 10). See
# docs/PERFORMANCE.md for the pauses measured with each.
THRESHOLDS = (10_000, 20, 20)


def settle(thresholds: tuple[int, int, int] = THRESHOLDS) -> int:
    """Collect once, freeze what survives, set the thresholds; the number frozen."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    return gc.get_freeze_count()


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
            "# TYPE tally_gc_tracked_objects gauge",
            f"tally_gc_tracked_objects {len(gc.get_objects())}",
            "# TYPE tally_gc_frozen_objects gauge",
            f"tally_gc_frozen_objects {gc.get_freeze_count()}",
        ]
        return "\n".join(lines) + "\n"
