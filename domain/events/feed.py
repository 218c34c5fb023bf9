"""The tenant's live feed (`tenantEvents`, `invoiceEvents`): one message per change,
sent after the operation that made it has committed.

Best effort: the change is committed already, so a bus failure (Redis down) is
logged and must not turn a successful operation into an error. Partner webhooks,
which must not lose events, go through the outbox instead (domain/webhooks).
"""

from __future__ import annotations

import logging
from typing import Any

from domain import clock
from domain.events.bus import tenant_channel
from domain.unit_of_work import after_commit, live_bus

log = logging.getLogger("tally.events")


async def send(channel: str, message: dict[str, Any]) -> None:
    """Publish now on the request's bus (none: nothing to do), logging a failure."""
    bus = live_bus()
    if bus is None:
        return
    try:
        await bus.publish(channel, message)
    except Exception:
        log.exception("could not publish %s for %s", message.get("type"), message.get("object_id"))


def tell(
    event: str,
    row: Any,
    *,
    customer_id: int | None = None,
    tenant_id: int | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Announce, once the current operation has committed, that `row` changed.
    `customer_id` (internal) lets a customer token follow what is its own;
    `tenant_id` is needed only when `row` is the tenant itself."""
    message = {
        "type": event,
        "object_id": row.public_id,
        "customer_id": customer_id,
        "occurred_at": clock.now().isoformat(),
        **(extra or {}),
    }
    channel = tenant_channel(row.tenant_id if tenant_id is None else tenant_id)
    after_commit(lambda: send(channel, message))
