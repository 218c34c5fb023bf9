"""Provider webhooks (`POST /webhooks/{stripe|sandbox}/{tenantId}`).

The signature is checked before anything is stored. Each event is then stored
once by its id, in the same transaction that applies it: a replay (or a
concurrent duplicate, which waits on the unique index) changes nothing; a
processing failure rolls back both, so the provider's retry finds a clean slate.
Unknown types are stored and acknowledged; events about objects Tally does not
know are stored, acknowledged and flagged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from db.models import Customer, Payment, ProviderEvent, Refund, Tenant
from domain import clock
from domain.errors import ValidationError
from domain.ids import new_id
from domain.invoicing.credit_notes import issue_credit_note
from domain.payments.collection import lock_payment, transition
from domain.payments.operations import record_refunded
from domain.payments.providers.base import ChargeResult, ProviderEventData, SignatureError
from domain.payments.providers.registry import credentials_for, provider_for
from domain.subscriptions.common import customer_now
from domain.webhooks.outbox import emit

log = logging.getLogger("tally.provider_webhooks")
RECEIVERS = ("stripe", "sandbox")


@dataclass(frozen=True, slots=True)
class Receipt:
    event_id: str
    outcome: str  # processed | ignored | flagged | duplicate
    note: str = ""


class _Duplicate(Exception):
    pass


async def receive(
    provider: str, tenant_public_id: str, payload: bytes, signature: str | None
) -> Receipt:
    if provider not in RECEIVERS:
        raise SignatureError(f"no webhooks are received for {provider!r}")
    tenant = await Tenant.get_or_none(public_id=tenant_public_id)
    if tenant is None:
        raise SignatureError("unknown tenant")
    event = provider_for(provider, tenant).parse_webhook(
        credentials_for(provider, tenant),
        payload,
        signature,
        int(clock.real_now().timestamp()),
    )
    try:
        async with in_transaction():
            try:
                row = await ProviderEvent.create(
                    tenant_id=tenant.id,
                    provider=provider,
                    event_id=event.id[:128],
                    type=event.type[:64],
                    outcome="processing",
                    payload=event.raw,
                    received_at=clock.real_now(),
                )
            except IntegrityError as exc:
                raise _Duplicate from exc
            outcome, note = await apply(tenant, provider, event)
            row.outcome, row.note = outcome, note[:300]
            await row.save(update_fields=["outcome", "note"])
    except _Duplicate:
        return Receipt(event.id, "duplicate", "already received")
    if outcome == "flagged":
        log.warning("provider event %s flagged: %s", event.id, note)
    return Receipt(event.id, outcome, note)


async def _payment_for(tenant: Any, provider: str, obj: dict[str, Any], ref: str | None) -> Any:
    metadata = obj.get("metadata") or {}
    payment = None
    if isinstance(metadata, dict) and metadata.get("tally_payment"):
        payment = await Payment.get_or_none(
            public_id=str(metadata["tally_payment"]), tenant_id=tenant.id, provider=provider
        )
    if payment is None and ref:
        payment = await Payment.filter(
            tenant_id=tenant.id, provider=provider, provider_ref=str(ref)
        ).first()
    return payment


async def apply(tenant: Any, provider: str, event: ProviderEventData) -> tuple[str, str]:
    obj = event.object
    if event.type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        payment = await _payment_for(tenant, provider, obj, obj.get("id"))
        if payment is None:
            return "flagged", f"unknown payment intent {obj.get('id')}"
        if int(obj.get("amount") or 0) != payment.amount_minor or (
            str(obj.get("currency") or "").upper() != payment.currency
        ):
            return "flagged", "the amount or currency differs from the payment's"
        error = obj.get("last_payment_error") or {}
        result = ChargeResult(
            "succeeded" if event.type.endswith("succeeded") else "failed",
            str(obj.get("id") or ""),
            None,
            error.get("decline_code") or error.get("code") or "payment_failed",
            error.get("message") or "The payment failed.",
        )
        invoice, payment = await lock_payment(payment.id)
        now = await customer_now(await Customer.get(id=payment.customer_id))
        done = await transition(payment, invoice, result, now)
        if done == "stale":
            return "ignored", f"stale: the payment is already {payment.status}"
        return ("processed", "") if done == "applied" else ("ignored", "no change")
    if event.type == "charge.refunded":
        return await _refunded(tenant, provider, obj)
    if event.type in ("charge.dispute.created", "charge.dispute.closed"):
        return await _dispute(tenant, provider, event.type, obj)
    return "ignored", f"unhandled type {event.type}"


async def _refunded(tenant: Any, provider: str, obj: dict[str, Any]) -> tuple[str, str]:
    payment = await _payment_for(tenant, provider, obj, obj.get("payment_intent"))
    if payment is None:
        return "flagged", f"unknown charge {obj.get('id')}"
    invoice, payment = await lock_payment(payment.id)
    # `amount_refunded` is cumulative, so a late or replayed event is harmless.
    delta = int(obj.get("amount_refunded") or 0) - payment.refunded_minor
    if delta <= 0:
        return "ignored", "no new refund"
    now = await customer_now(await Customer.get(id=payment.customer_id))
    # Refunds Tally asked for and has not recorded yet are these; the rest was
    # refunded at the provider directly.
    for refund in await Refund.filter(payment_id=payment.id, status="pending").order_by("id"):
        if refund.amount_minor > delta:
            break
        await record_refunded(refund, invoice, payment, refund.amount_minor)
        refund.status, refund.updated_at = "succeeded", now
        await refund.save()
        delta -= refund.amount_minor
    if delta > 0:
        refund = await Refund.create(
            public_id=new_id("refund"),
            tenant_id=tenant.id,
            payment_id=payment.id,
            amount_minor=delta,
            currency=payment.currency,
            reason="other",
            status="succeeded",
            created_at=now,
            updated_at=now,
        )
        await record_refunded(refund, invoice, payment, delta)
        await refund.save()
    await emit(
        tenant.id,
        "payment.refunded",
        {
            "object": "payment",
            "id": payment.public_id,
            "invoice": invoice.public_id,
            "refunded_minor": int(obj.get("amount_refunded") or 0),
        },
    )
    return "processed", ""


async def _dispute(tenant: Any, provider: str, type_: str, obj: dict[str, Any]) -> tuple[str, str]:
    payment = await _payment_for(tenant, provider, obj, obj.get("payment_intent"))
    if payment is None:
        return "flagged", f"unknown disputed payment {obj.get('payment_intent')}"
    invoice, payment = await lock_payment(payment.id)
    now = await customer_now(await Customer.get(id=payment.customer_id))
    if type_ == "charge.dispute.created":
        if payment.dispute_status in ("won", "lost"):
            return "ignored", "stale: the dispute is closed"
        payment.dispute_status = invoice.dispute_status = "needs_response"
    else:
        status = obj.get("status")
        if status not in ("won", "lost"):
            raise ValidationError(f"a closed dispute is won or lost, not {status!r}")
        if payment.dispute_status in ("won", "lost"):
            return "ignored", "the dispute is already closed"
        payment.dispute_status = invoice.dispute_status = status
        if status == "lost":
            amount = min(
                int(obj.get("amount") or payment.amount_minor),
                payment.amount_minor - payment.refunded_minor,
                invoice.total_minor - invoice.amount_credited_minor,
            )
            if amount > 0:
                payment.refunded_minor += amount
                await issue_credit_note(
                    invoice,
                    amount,
                    "dispute_lost",
                    f"Dispute {obj.get('id')} lost",
                    now,
                    refunded=amount,
                )
    payment.dispute_ref = str(obj.get("id") or "")[:128] or payment.dispute_ref
    payment.updated_at = invoice.updated_at = now
    await payment.save()
    await invoice.save(update_fields=["dispute_status", "updated_at"])
    await emit(
        tenant.id,
        "payment.disputed",
        {
            "object": "payment",
            "id": payment.public_id,
            "invoice": invoice.public_id,
            "dispute_status": payment.dispute_status,
        },
    )
    return "processed", ""
