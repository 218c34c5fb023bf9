"""The transactional outbox: an event row is written in the same transaction as
the change it announces, so a committed change always has its event and a
rolled-back one never does. The delivery worker (delivery.py) sends them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from db.bulk import insert_many
from db.payment_models import WebhookEvent
from domain import clock
from domain.analytics.live import metrics_moved
from domain.ids import new_id

EVENT_TYPES = (
    "invoice.finalized",
    "invoice.paid",
    "invoice.payment_failed",
    "invoice.marked_uncollectible",
    "subscription.created",
    "subscription.updated",
    "subscription.canceled",
    "credit_note.created",
    "payment.refunded",
    "payment.disputed",
    "credits.low",
    "royalty_statement.approved",
    "payout.paid",
)
_COLUMNS = ("public_id", "tenant_id", "type", "payload", "dispatched", "created_at", "updated_at")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def envelope(event_id: str, type_: str, at: datetime, obj: dict[str, Any]) -> dict[str, Any]:
    return {"id": event_id, "type": type_, "created_at": at.isoformat(), "data": obj}


_CASH_EVENTS = ("invoice.", "payment.", "charge.", "refund.", "credit_note.")


async def emit_many(events: Sequence[tuple[int, str, dict[str, Any]]]) -> None:
    """(tenant id, type, object) → event rows, one statement for all of them."""
    if not events:
        return
    at = clock.now()
    rows = []
    for tenant_id, type_, obj in events:
        event_id = new_id("webhook_event")
        rows.append((event_id, tenant_id, type_, envelope(event_id, type_, at, obj), False, at, at))
    await insert_many(WebhookEvent, _COLUMNS, rows)
    for tenant_id in {t for t, type_, _ in events if type_.startswith(_CASH_EVENTS)}:
        metrics_moved(tenant_id)  # today's cash moved: live dashboards read it again


async def emit(tenant_id: int, type_: str, obj: dict[str, Any]) -> None:
    await emit_many([(tenant_id, type_, obj)])


def invoice_object(
    invoice: Any, customer_public_id: str, subscription_public_id: str | None = None
) -> dict[str, Any]:
    return {
        "object": "invoice",
        "id": invoice.public_id,
        "number": invoice.number,
        "status": invoice.status,
        "customer": customer_public_id,
        "subscription": subscription_public_id,
        "billing_reason": invoice.billing_reason,
        "currency": invoice.currency,
        "total_minor": invoice.total_minor,
        "amount_due_minor": invoice.amount_due_minor,
        "amount_paid_minor": invoice.amount_paid_minor,
        "attempt_count": invoice.attempt_count,
        "period_start": _iso(invoice.period_start),
        "period_end": _iso(invoice.period_end),
        "due_at": _iso(invoice.due_at),
        "paid_at": _iso(invoice.paid_at),
    }


def subscription_object(sub: Any, customer_public_id: str, plan_code: str) -> dict[str, Any]:
    return {
        "object": "subscription",
        "id": sub.public_id,
        "status": sub.status,
        "customer": customer_public_id,
        "plan": plan_code,
        "quantity": sub.quantity,
        "currency": sub.currency,
        "current_period_start": _iso(sub.current_period_start),
        "current_period_end": _iso(sub.current_period_end),
        "cancel_at_period_end": sub.cancel_at_period_end,
        "canceled_at": _iso(sub.canceled_at),
        "ended_at": _iso(sub.ended_at),
    }


def credit_note_object(note: Any, invoice_public_id: str, customer_public_id: str) -> dict:
    return {
        "object": "credit_note",
        "id": note.public_id,
        "number": note.number,
        "invoice": invoice_public_id,
        "customer": customer_public_id,
        "currency": note.currency,
        "reason": note.reason,
        "total_minor": note.total_minor,
        "refunded_minor": note.refunded_minor,
        "credited_to_balance_minor": note.credited_to_balance_minor,
    }
