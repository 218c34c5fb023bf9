"""Live invoice events (`invoiceEvents`, `tenantEvents`), published after commit.

Best effort: the invoices are committed already, so a bus failure (Redis down) is
logged and changes nothing. Partner webhooks, which must not lose events, get an
outbox with the payments issue.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from db.invoice_models import Invoice
from db.models import Customer
from domain import clock
from domain.events.bus import EventBus, tenant_channel
from domain.unit_of_work import after_commit, collected, live_bus

log = logging.getLogger("tally.events")
EVENT_BY_STATUS = {"draft": "invoice.created", "open": "invoice.finalized", "paid": "invoice.paid"}


async def publish_invoices(
    bus: EventBus, invoices: Sequence[Any], event: str | None = None
) -> None:
    """One event per invoice: its type follows its status unless `event` is given."""
    if not invoices:
        return
    ids = sorted({invoice.customer_id for invoice in invoices})
    public = dict(await Customer.filter(id__in=ids).values_list("id", "public_id"))
    occurred = clock.now().isoformat()
    for invoice in invoices:
        payload = {
            "type": event or EVENT_BY_STATUS.get(invoice.status, f"invoice.{invoice.status}"),
            "object_id": invoice.public_id,
            # Internal id, used only to filter what a customer token may follow.
            "customer_id": invoice.customer_id,
            "customer": public.get(invoice.customer_id),
            "status": invoice.status,
            "occurred_at": occurred,
        }
        try:
            await bus.publish(tenant_channel(invoice.tenant_id), payload)
        except Exception:
            log.exception("could not publish %s for %s", payload["type"], invoice.public_id)


def announce_after_commit(invoice_id: int, event: str) -> None:
    """Once the operation has committed: announce the invoice as it then stands."""

    async def announce() -> None:
        bus = live_bus()
        if bus is not None:
            await publish_invoices(bus, [await Invoice.get(id=invoice_id)], event)

    after_commit(announce)


def announce_stored_after_commit() -> None:
    """Once the operation has committed: announce every invoice it stored."""
    stored = collected("invoices")
    if stored is None:
        raise RuntimeError("announce_stored_after_commit outside an operation")

    async def announce() -> None:
        bus = live_bus()
        if bus is not None:
            await publish_invoices(bus, stored)

    after_commit(announce)
