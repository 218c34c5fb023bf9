"""The live credit feed (`creditBalance`, `usageEvents`), published after commit.

One message per committed transaction on the tenant's credit channel, however
many entries it wrote (a batch of 1,000 consumptions is one Redis PUBLISH), so
the feed costs the hot path one round trip at most. Best effort: the change is
committed already, so a bus failure is logged and changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar

from domain.credits.ledger_writer import Change
from domain.events.bus import EventBus

log = logging.getLogger("tally.events")


def credits_channel(tenant_id: int) -> str:
    return f"tally:credits:{tenant_id}"


# Changes made by an operation that runs inside a caller's transaction (a new
# subscription's first allowance, a test clock's month, a paid top-up): held until
# that caller has committed, then published on its bus.
_held: ContextVar[list[tuple[int, Sequence[Change]]] | None] = ContextVar(
    "tally_credit_changes_held", default=None
)


@asynccontextmanager
async def held_until_done(bus: EventBus | None) -> AsyncIterator[None]:
    """Around an operation that owns its transaction: the credit changes it makes
    are published once it has returned (committed), and dropped if it raises."""
    held: list[tuple[int, Sequence[Change]]] = []
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
    tenants: dict[int, list[Change]] = {}
    for tenant_id, changes in held:
        tenants.setdefault(tenant_id, []).extend(changes)
    for tenant_id, changes in tenants.items():
        await publish(bus, tenant_id, changes)


async def publish(bus: EventBus | None, tenant_id: int, changes: Sequence[Change]) -> None:
    if not changes:
        return
    held = _held.get()
    if held is not None:
        held.append((tenant_id, changes))
        return
    if bus is None:
        return
    message = {
        "type": "credits.changes",
        # Wall time at commit: subscribers (and the latency benchmark) measure from it.
        "committed_at": time.time(),
        "changes": [
            {
                "customer_id": c.customer_id,
                "customer": c.customer,
                "wallet": c.wallet,
                "entry": c.entry,
            }
            for c in changes
        ],
    }
    try:
        await bus.publish(credits_channel(tenant_id), message)
    except Exception:
        log.exception("could not publish %d credit changes", len(changes))
