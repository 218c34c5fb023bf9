"""The `bill` command's output: a progress bar on stderr, then a summary."""

from __future__ import annotations

import sys
import time

from domain import clock
from domain.billing.run import RunSummary, count_due, run_billing
from domain.events.bus import EventBus, build_bus
from domain.money import format_money

WIDTH = 30


def _bar(done: int, total: int, started: float) -> str:
    share = 1.0 if total == 0 else min(done / total, 1.0)
    filled = int(share * WIDTH)
    rate = done / max(time.perf_counter() - started, 1e-9)
    return f"\r[{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total} subscriptions  {rate:,.0f}/s"


def summary_text(summary: RunSummary, seconds: float) -> str:
    lines = [
        f"Billing run at {summary.at.isoformat()} finished in {seconds:.2f} s",
        f"  subscriptions billed: {summary.subscriptions}",
        f"  invoices created:     {summary.invoices}",
    ]
    for currency, total in sorted(summary.totals.items()):
        lines.append(f"  total {currency}:            {format_money(total, currency, 'en')}")
    lines.append(f"  payments sent:        {summary.payments_sent}")
    lines.append(f"  failures:             {len(summary.failures)}")
    lines += [f"    {sub}: {error}" for sub, error in summary.failures]
    return "\n".join(lines)


async def bill_with_progress(batch_size: int, redis_url: str | None = None) -> int:
    """With REDIS_URL set, the invoices are announced to the servers' subscribers."""
    bus = build_bus(redis_url) if redis_url else None
    if bus is not None:
        await bus.start()
    try:
        return await _bill(batch_size, bus)
    finally:
        if bus is not None:
            await bus.close()


async def _bill(batch_size: int, bus: EventBus | None) -> int:
    at = clock.now()
    total = await count_due(at)
    started = time.perf_counter()
    interactive = sys.stderr.isatty()

    def progress(summary: RunSummary) -> None:
        done = summary.subscriptions + len(summary.failures)
        if interactive:
            sys.stderr.write(_bar(done, total, started))
        else:
            sys.stderr.write(_bar(done, total, started).lstrip("\r") + "\n")
        sys.stderr.flush()

    summary = await run_billing(at=at, batch_size=batch_size, progress=progress, bus=bus)
    if interactive:
        sys.stderr.write("\n")
    print(summary_text(summary, time.perf_counter() - started))
    return len(summary.failures)
