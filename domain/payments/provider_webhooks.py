"""Provider webhooks (`POST /webhooks/{stripe|sandbox}/{tenantId}`).

The signature is checked before anything is stored. Each event is then stored
once by its id, in the same transaction that applies it: a replay (or a
concurrent duplicate, which waits on the invoice's lock, then on the unique index)
changes nothing; a processing failure rolls back both, so the provider's retry
finds a clean slate. Unknown types are stored and acknowledged; events about
objects Tally does not know are stored, acknowledged and flagged.

On PostgreSQL the commonest event, a payment that pays its invoice in full, is
applied by one statement (fast_settlement.py); everything else comes through `apply`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from db import raw
from db.bulk import insert_many
from db.models import Tenant
from db.payment_models import Payment, ProviderEvent, Refund
from domain import clock
from domain.analytics.live import metrics_moved_now
from domain.errors import ValidationError
from domain.invoicing.credit_notes import issue_credit_note
from domain.payments import aftermath, fast_settlement
from domain.payments.collection import Locked, find_and_lock, new_refund, transition
from domain.payments.providers.base import (
    ChargeResult,
    Credentials,
    ProviderEventData,
    SignatureError,
)
from domain.payments.providers.registry import credentials_for, provider_for
from domain.payments.refund_sending import record_refunded
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


_TENANT_SQL = (
    "SELECT id, public_id, payment_provider, stripe_secret_key, stripe_webhook_secret,"
    " sandbox_webhook_secret FROM tenant WHERE public_id = $1"
)
_EVENT_COLUMNS = ("tenant_id", "provider", "event_id", "type", "outcome", "note", "payload")


@dataclass(frozen=True, slots=True)
class _Tenant:
    """The tenant columns receiving a webhook needs (cached below)."""

    id: int
    public_id: str
    payment_provider: str | None
    stripe_secret_key: str | None
    stripe_webhook_secret: str | None
    sandbox_webhook_secret: str | None


# Webhook credentials are read once per tenant per CACHE_SECONDS, not per event.
# A rotation made by this process applies at once (`forget_tenant`); one made by
# another process is picked up by the first event the cached secret rejects, and
# the old secret stays valid here for at most CACHE_SECONDS (Stripe itself keeps a
# rolled secret valid for up to a day).
CACHE_SECONDS = 30.0
_MAX_CACHED = 10_000
_tenants: dict[str, tuple[float, _Tenant]] = {}


async def _tenant(public_id: str, *, fresh: bool = False) -> tuple[_Tenant, bool]:
    """(tenant, whether it came from the cache)."""
    hit = _tenants.get(public_id)
    if hit is not None and not fresh and hit[0] > time.monotonic():
        return hit[1], True
    rows = await raw.fetch(Tenant, _TENANT_SQL, [public_id])
    if not rows:
        _tenants.pop(public_id, None)
        raise SignatureError("unknown tenant")
    if len(_tenants) >= _MAX_CACHED:
        _tenants.clear()
    tenant = _Tenant(**rows[0])
    _tenants[public_id] = (time.monotonic() + CACHE_SECONDS, tenant)
    return tenant, False


def forget_tenant(public_id: str) -> None:
    """Its payment settings changed: read them again on the next event."""
    _tenants.pop(public_id, None)


@lru_cache(maxsize=1024)
def _credentials(provider: str, tenant: _Tenant) -> Credentials:
    # Keyed on the sealed values too: a rotated secret is a new entry.
    return credentials_for(provider, tenant)


def _parse(
    provider: str, tenant: _Tenant, payload: bytes, signature: str | None
) -> ProviderEventData:
    return provider_for(provider, tenant).parse_webhook(
        _credentials(provider, tenant),
        payload,
        signature,
        int(clock.real_now().timestamp()),
    )


async def receive(
    provider: str, tenant_public_id: str, payload: bytes, signature: str | None
) -> Receipt:
    if provider not in RECEIVERS:
        raise SignatureError(f"no webhooks are received for {provider!r}")
    tenant, cached = await _tenant(tenant_public_id)
    try:
        event = _parse(provider, tenant, payload, signature)
    except SignatureError:
        if not cached:
            raise
        tenant, _ = await _tenant(tenant_public_id, fresh=True)  # rotated elsewhere?
        event = _parse(provider, tenant, payload, signature)
    payment = fast_settlement.eligible(event)
    to_cancel: list[int] = []
    if payment is not None and await fast_settlement.settle_in_one_statement(
        tenant.id, provider, payment, event, to_cancel
    ):
        for invoice_id in to_cancel:
            await aftermath.cancel_at_provider(invoice_id)
        await metrics_moved_now(tenant.id)
        return Receipt(event.id, "processed", "")
    try:
        async with in_transaction():
            outcome, note = await apply(tenant, provider, event)
            # Stored last, with its outcome, in the same transaction: a replay, or a
            # concurrent duplicate (which waits on the invoice lock, then on the
            # unique index), fails here and rolls back whatever it did.
            try:
                await insert_many(
                    ProviderEvent,
                    (*_EVENT_COLUMNS, "received_at"),
                    [
                        (
                            tenant.id,
                            provider,
                            event.id[:128],
                            event.type[:64],
                            outcome,
                            note[:300],
                            event.raw,
                            clock.real_now(),
                        )
                    ],
                )
            except IntegrityError as exc:
                raise _Duplicate from exc
    except _Duplicate:
        return Receipt(event.id, "duplicate", "already received")
    if outcome == "flagged":
        log.warning("provider event %s flagged: %s", event.id, note)
    if outcome == "processed":
        await metrics_moved_now(tenant.id)  # today's cash may have moved
    if outcome == "processed" and event.type == "payment_intent.succeeded":
        invoice_id = await _invoice_of(tenant.id, provider, event.object)
        if invoice_id is not None:
            await aftermath.after_success(invoice_id)
    return Receipt(event.id, outcome, note)


async def _invoice_of(tenant_id: int, provider: str, obj: dict[str, Any]) -> int | None:
    metadata = obj.get("metadata") or {}
    public_id = metadata.get("tally_payment") if isinstance(metadata, dict) else None
    query = Payment.filter(tenant_id=tenant_id, provider=provider)
    if public_id:
        query = query.filter(public_id=str(public_id))
    elif obj.get("id"):
        query = query.filter(provider_ref=str(obj["id"]))
    else:
        return None
    found = await query.first().values_list("invoice_id", flat=True)
    return found if isinstance(found, int) else None


async def _find(tenant: Any, provider: str, obj: dict[str, Any], ref: Any) -> Locked | None:
    metadata = obj.get("metadata") or {}
    public_id = metadata.get("tally_payment") if isinstance(metadata, dict) else None
    return await find_and_lock(
        tenant.id,
        provider,
        public_id=str(public_id) if public_id else None,
        provider_ref=str(ref) if ref else None,
    )


async def apply(tenant: Any, provider: str, event: ProviderEventData) -> tuple[str, str]:
    obj = event.object
    if event.type in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        locked = await _find(tenant, provider, obj, obj.get("id"))
        if locked is None:
            return "flagged", f"unknown payment intent {obj.get('id')}"
        payment = locked.payment
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
        done = await transition(locked, result, locked.now())
        if done == "stale":
            return "ignored", f"stale: the payment is already {payment.status}"
        return ("processed", "") if done == "applied" else ("ignored", "no change")
    if event.type == "charge.refunded":
        return await _refunded(tenant, provider, obj)
    if event.type in ("charge.dispute.created", "charge.dispute.closed"):
        return await _dispute(tenant, provider, event.type, obj)
    return "ignored", f"unhandled type {event.type}"


async def _refunded(tenant: Any, provider: str, obj: dict[str, Any]) -> tuple[str, str]:
    locked = await _find(tenant, provider, obj, obj.get("payment_intent"))
    if locked is None:
        return "flagged", f"unknown charge {obj.get('id')}"
    invoice, payment = locked.invoice, locked.payment
    # `amount_refunded` is cumulative, so a late or replayed event is harmless.
    delta = int(obj.get("amount_refunded") or 0) - payment.refunded_minor
    if delta <= 0:
        return "ignored", "no new refund"
    now = locked.now()
    # Refunds Tally asked for and has not recorded yet are these; the rest was
    # refunded at the provider directly.
    for refund in await Refund.filter(payment_id=payment.id, status="pending").order_by("id"):
        if refund.amount_minor > delta:
            break
        await record_refunded(refund, locked, refund.amount_minor)
        refund.status, refund.updated_at = "succeeded", now
        await refund.save()
        delta -= refund.amount_minor
    if delta > 0:
        refund = await new_refund(payment, delta, reason="other", now=now, status="succeeded")
        await record_refunded(refund, locked, delta)
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
    locked = await _find(tenant, provider, obj, obj.get("payment_intent"))
    if locked is None:
        return "flagged", f"unknown disputed payment {obj.get('payment_intent')}"
    invoice, payment, now = locked.invoice, locked.payment, locked.now()
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
