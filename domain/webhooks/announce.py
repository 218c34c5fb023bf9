"""Outbox events for invoices, subscriptions and credit notes, looking up the
public ids they name (one query per kind, whatever the number of rows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from db.invoice_models import Invoice
from db.models import Customer, Plan, Subscription
from domain.webhooks.outbox import (
    credit_note_object,
    emit_many,
    invoice_object,
    subscription_object,
)


async def _public_ids(model: Any, ids: set[int]) -> dict[int, str]:
    ids.discard(None)  # type: ignore[arg-type]
    if not ids:
        return {}
    return dict(await model.filter(id__in=sorted(ids)).values_list("id", "public_id"))


async def invoices(
    type_: str,
    rows: Sequence[Any],
    customers: dict[int, str] | None = None,
    subscriptions: dict[int, str] | None = None,
) -> None:
    """`customers` and `subscriptions` (id → public id) save a query each when the
    caller has them."""
    if not rows:
        return
    if customers is None or any(r.customer_id not in customers for r in rows):
        customers = await _public_ids(Customer, {r.customer_id for r in rows})
    subs = subscriptions or {}
    if any(r.subscription_id is not None and r.subscription_id not in subs for r in rows):
        subs = await _public_ids(Subscription, {r.subscription_id for r in rows})
    await emit_many(
        [
            (
                r.tenant_id,
                type_,
                invoice_object(r, customers[r.customer_id], subs.get(r.subscription_id)),
            )
            for r in rows
        ]
    )


async def subscriptions(events: Sequence[tuple[str, Any]]) -> None:
    """(type, subscription) pairs."""
    if not events:
        return
    customers = await _public_ids(Customer, {s.customer_id for _, s in events})
    plans = dict(
        await Plan.filter(id__in=sorted({s.plan_id for _, s in events})).values_list("id", "code")
    )
    await emit_many(
        [
            (s.tenant_id, type_, subscription_object(s, customers[s.customer_id], plans[s.plan_id]))
            for type_, s in events
        ]
    )


async def subscription(type_: str, sub: Any) -> None:
    await subscriptions([(type_, sub)])


async def credit_note(note: Any) -> None:
    invoice = await Invoice.get(id=note.invoice_id).values("public_id")
    customer = await Customer.get(id=note.customer_id).values("public_id")
    await emit_many(
        [
            (
                note.tenant_id,
                "credit_note.created",
                credit_note_object(note, invoice["public_id"], customer["public_id"]),
            )
        ]
    )
