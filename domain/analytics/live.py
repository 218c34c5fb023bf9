"""Live metrics (issue 17's stretch): today's MRR and cash pushed to dashboards when
they move. Whatever moves them says so once per operation, after it has committed, on
the tenant's metrics channel (an MRR movement; an invoice, payment or refund event of
the outbox); a `metricsUpdates` subscriber then reads today's figures again, a few
times a second at most, however many changes a burst held.

Best effort, as every live feed: the bus's failure never fails the operation, and
outside an operation with a live bus (the CLI, a billing run) nobody is listening.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from domain.analytics.cash import CashPoint, Interval, cash_by_currency
from domain.analytics.mrr import Point
from domain.analytics.revenue import mrr_series
from domain.events.feed import send
from domain.tenancy.access import Principal
from domain.unit_of_work import after_commit, collected, live_bus


def metrics_channel(tenant_id: int) -> str:
    return f"tally:metrics:{tenant_id}"


def metrics_moved(tenant_id: int) -> None:
    """Tell the tenant's metrics subscribers, once the current operation commits."""
    told = collected("analytics.metrics_moved")
    if told is None or live_bus() is None or tenant_id in told:
        return
    told.append(tenant_id)
    after_commit(lambda: send(metrics_channel(tenant_id), {"type": "metrics.moved"}))


async def metrics_moved_now(tenant_id: int) -> None:
    """Tell the subscribers now, for a caller that has just committed outside an
    operation (a provider's webhook settling a payment)."""
    if live_bus() is not None:
        await send(metrics_channel(tenant_id), {"type": "metrics.moved"})


@dataclass(frozen=True, slots=True)
class Today:
    at: datetime
    mrr: list[Point]  # today's point per currency: MRR at midnight, now, and what moved
    cash: list[CashPoint]  # today's cash per currency


async def today(principal: Principal, now: datetime) -> Today:
    """The UTC day of `now` so far: MRR and its movements, cash (per currency)."""
    start = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
    end = start + timedelta(days=1)
    return Today(
        now,
        await mrr_series(principal, start=start, end=end, interval=Interval.DAY),
        await cash_by_currency(principal, start=start, end=end, interval=Interval.DAY),
    )
