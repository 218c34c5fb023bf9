"""Live usage: which subscriptions' usage moved, told after commit on the tenant's
usage channel, one message per batch however many events it held.

The message only names what moved; a `usageUpdates` subscriber recomputes the
running amounts from the aggregates, at most a few times a second per customer
(domain/usage/current.py `follow`), so a burst of 10,000 events costs a dashboard
a handful of reads, not 10,000. Spending alerts are checked here too, for the
subscriptions that have any.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from domain.events.feed import send
from domain.unit_of_work import live_bus
from domain.usage import alerts

log = logging.getLogger("tally.usage")


def usage_channel(tenant_id: int) -> str:
    return f"tally:usage:{tenant_id}"


async def usage_changed(tenant_id: int, touched: Sequence[tuple[int, int]]) -> None:
    """(customer id, subscription id) pairs whose usage moved."""
    if live_bus() is not None:
        await send(
            usage_channel(tenant_id),
            {
                "type": "usage.changed",
                "changes": [{"customer_id": c, "subscription_id": s} for c, s in touched],
            },
        )
    try:
        await alerts.check(tenant_id, touched)
    except Exception:  # committed already; the next event checks again
        log.exception("spending alerts check failed for tenant %s", tenant_id)
