"""The live credit feed (`creditBalance`, `usageEvents`), published after commit.

One message per committed transaction on the tenant's credit channel, however
many entries it wrote (a batch of 1,000 consumptions is one Redis PUBLISH), so
the feed costs the hot path one round trip at most. Best effort: the change is
committed already, so a bus failure is logged and changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from domain.credits.ledger_writer import Change
from domain.events.bus import EventBus
from domain.unit_of_work import after_commit, collected, live_bus

log = logging.getLogger("tally.events")


def credits_channel(tenant_id: int) -> str:
    return f"tally:credits:{tenant_id}"


async def publish(bus: EventBus | None, tenant_id: int, changes: Sequence[Change]) -> None:
    """Inside an operation (a new subscription's first allowance, a test clock's
    month, a paid top-up), the changes wait for it to commit and go out together,
    one message per tenant; otherwise the caller has committed and they go now."""
    if not changes:
        return
    held = collected(f"credits:{tenant_id}")
    if held is not None:
        if not held:
            after_commit(lambda: _send(bus or live_bus(), tenant_id, held))
        held.extend(changes)
        return
    await _send(bus, tenant_id, changes)


async def _send(bus: EventBus | None, tenant_id: int, changes: Sequence[Change]) -> None:
    if bus is None or not changes:
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
