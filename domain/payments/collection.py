"""Collecting invoices: sending pending attempts to the provider after commit and
applying what comes back (from the call, or later from a webhook).

Each outcome is applied under the invoice's row lock, once: a payment that
succeeded never goes back to failed (a late or replayed failure is ignored), a
success after a failure is applied (the customer finished 3-D Secure or paid
with another card). Money a provider payment brings beyond what is due (a second
attempt succeeding after the invoice was paid) is refunded; a manual payment's
excess, when allowed, becomes customer credit used by the next invoice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from tortoise.exceptions import DoesNotExist
from tortoise.transactions import in_transaction

from db import raw
from db.bulk import update_many
from db.invoice_models import BalanceEntry, Invoice
from db.models import TestClock
from db.payment_models import Payment, Refund
from domain import clock
from domain.credits.purchases import grant_paid
from domain.ids import new_id
from domain.invoicing import settlement
from domain.payments import dunning
from domain.payments.providers.base import ChargeResult
from domain.webhooks import announce

log = logging.getLogger("tally.payments")

OPEN_TO_PAYMENT = ("open", "uncollectible")
# Attempts that may still take the customer's money.
OPEN_ATTEMPTS = ("pending", "requires_action", "processing")
# A refund of money a payment brought beyond what its invoice was owed (a second
# attempt that succeeded after the invoice was paid): no credit note, since the
# invoice itself is not credited.
UNAPPLIED = "unapplied_payment"
NO_METHOD = ChargeResult(
    "failed", "", None, "no_payment_method", "The customer has no default payment method."
)


async def new_refund(
    payment: Payment, amount: int, *, reason: str, now: datetime, status: str = "pending"
) -> Refund:
    """A refund row of `payment`; a pending one is sent to the provider after commit."""
    return await Refund.create(
        public_id=new_id("refund"),
        tenant_id=payment.tenant_id,
        payment_id=payment.id,
        amount_minor=amount,
        currency=payment.currency,
        reason=reason,
        status=status,
        created_at=now,
        updated_at=now,
    )


async def refund_excess(payment: Payment, amount: int, now: datetime) -> None:
    """A provider payment beyond what was due is paid back (as Stripe recommends for
    a duplicate charge), not kept as balance the customer never chose to leave; the
    refund row is sent to the provider after commit (aftermath.py)."""
    await new_refund(payment, amount, reason=UNAPPLIED, now=now)
    log.warning(
        "payment %s brought %s %s beyond what its invoice owed: refunding it",
        payment.public_id,
        amount,
        payment.currency,
    )


async def credit_excess(payment: Payment, amount: int, now: datetime) -> None:
    await BalanceEntry.create(
        tenant_id=payment.tenant_id,
        customer_id=payment.customer_id,
        currency=payment.currency,
        amount_minor=amount,
        source="overpayment",
        reference=payment.public_id,
        created_at=now,
    )


@dataclass(slots=True)
class Locked:
    """A payment and its invoice under row locks, with what applying an outcome
    needs to know about their customer and subscription (read in the same
    statement). Facts left as None are looked up when needed."""

    invoice: Invoice
    payment: Payment
    customer_public_id: str | None = None
    subscription_public_id: str | None = None
    subscription_status: str | None = None
    delinquent: bool = True
    clock_time: datetime | None = None  # the customer's test clock, if it has one

    def now(self) -> datetime:
        return self.clock_time if self.clock_time is not None else clock.now()


# Invoice, then payment: `FOR UPDATE OF i, p` locks in that order, the order every
# writer uses, so two of them never deadlock.
_LOCK_SQL = """
SELECT {invoice}, {payment}, c.public_id AS customer_public_id, c.delinquent AS delinquent,
       s.public_id AS subscription_public_id, s.status AS subscription_status,
       tc.frozen_time AS clock_time
FROM invoice i
JOIN payment p ON p.invoice_id = i.id
JOIN customer c ON c.id = i.customer_id
LEFT JOIN subscription s ON s.id = i.subscription_id
LEFT JOIN test_clock tc ON tc.id = c.test_clock_id
WHERE {where}
ORDER BY p.id
LIMIT 1
"""
_FROZEN = TestClock._meta.fields_map["frozen_time"]


@lru_cache(maxsize=8)
def _lock_sql(where: str, postgres: bool) -> str:
    sql = _LOCK_SQL.format(
        invoice=raw.columns(Invoice, "i"), payment=raw.columns(Payment, "p"), where=where
    )
    return sql + " FOR UPDATE OF i, p" if postgres else sql


async def _lock(where: str, params: list[Any]) -> Locked | None:
    sql = _lock_sql(where, raw.is_postgres(Payment._meta.db))
    rows = await raw.fetch(Payment, sql, params)
    if not rows:
        return None
    row = rows[0]
    return Locked(
        invoice=raw.instance(Invoice, row, "i"),
        payment=raw.instance(Payment, row, "p"),
        customer_public_id=row["customer_public_id"],
        subscription_public_id=row["subscription_public_id"],
        subscription_status=row["subscription_status"],
        delinquent=bool(row["delinquent"]),
        clock_time=_FROZEN.to_python_value(row["clock_time"]),
    )


async def lock_payment(payment_id: int) -> Locked:
    """A payment and its invoice under row locks (one statement). Caller owns the
    transaction."""
    locked = await _lock("p.id = $1", [payment_id])
    if locked is None:
        raise DoesNotExist(f"no payment {payment_id}")
    return locked


async def find_and_lock(
    tenant_id: int, provider: str, *, public_id: str | None, provider_ref: str | None
) -> Locked | None:
    """The payment a provider event names (by our id in its metadata, else by the
    provider's reference), locked as `lock_payment` does; None if unknown."""
    found = None
    if public_id:
        found = await _lock(
            "p.tenant_id = $1 AND p.provider = $2 AND p.public_id = $3",
            [tenant_id, provider, public_id],
        )
    if found is None and provider_ref:
        found = await _lock(
            "p.tenant_id = $1 AND p.provider = $2 AND p.provider_ref = $3",
            [tenant_id, provider, provider_ref],
        )
    return found


_SETTLED = (
    "amount_paid_minor",
    "amount_due_minor",
    "status",
    "paid_at",
    "next_payment_attempt_at",
    "next_dunning_at",
    "updated_at",
)


async def settle(locked: Locked, now: datetime) -> None:
    """Apply a received payment to its (locked) invoice. Any excess of a manual
    payment (only accepted when the caller allowed it) is customer credit; a provider
    payment's excess, such as a second attempt that succeeded after the invoice was
    paid, is refunded."""
    payment, invoice = locked.payment, locked.invoice
    applied = 0
    if invoice.status in OPEN_TO_PAYMENT:
        applied = min(payment.amount_minor, invoice.amount_due_minor)
        invoice.amount_paid_minor += applied
        invoice.amount_due_minor -= applied
    if payment.amount_minor > applied:
        if payment.provider == "manual":
            await credit_excess(payment, payment.amount_minor - applied, now)
        else:
            await refund_excess(payment, payment.amount_minor - applied, now)
    paid = invoice.status in OPEN_TO_PAYMENT and invoice.amount_due_minor == 0
    if paid:
        invoice.status = "paid"
        invoice.paid_at = now
        await settlement.on_paid(invoice, now, subscription_status=locked.subscription_status)
        if invoice.billing_reason == "credit_purchase":
            await grant_paid(invoice.id)
    invoice.updated_at = now
    await update_many(Invoice, _SETTLED, [invoice])
    if paid:
        await announce.invoices(
            "invoice.paid",
            [invoice],
            customers=_known(invoice.customer_id, locked.customer_public_id),
            subscriptions=_known(invoice.subscription_id, locked.subscription_public_id),
        )
    if locked.delinquent:  # a payment can only end delinquency, never start it
        await settlement.refresh_delinquency([invoice.customer_id])


def _known(key: int | None, public_id: str | None) -> dict[int, str] | None:
    return {key: public_id} if key is not None and public_id is not None else None


async def apply_result(payment_id: int, result: ChargeResult, now: datetime) -> Payment:
    """Record what the provider answered for an attempt (one transaction)."""
    async with in_transaction():
        locked = await lock_payment(payment_id)
        await transition(locked, result, now)
        return locked.payment


_OUTCOME_FIELDS = {
    "succeeded": ("provider_ref", "status", "succeeded_at", "failure_code", "failure_message"),
    "failed": ("provider_ref", "status", "failed_at", "failure_code", "failure_message"),
    "requires_action": ("provider_ref", "status", "client_secret"),
    "processing": ("provider_ref", "status", "client_secret"),
}


async def transition(locked: Locked, result: ChargeResult, now: datetime) -> str:
    """Move a locked payment by an outcome; returns what happened (`applied`,
    `duplicate` or `stale`). Webhooks and direct answers both come through here."""
    payment, invoice = locked.payment, locked.invoice
    if result.provider_ref and not payment.provider_ref:
        payment.provider_ref = result.provider_ref
    if payment.status == "succeeded":
        return "duplicate" if result.status == "succeeded" else "stale"
    if payment.status in ("failed", "canceled") and result.status != "succeeded":
        return "duplicate" if result.status == payment.status else "stale"
    if result.status not in _OUTCOME_FIELDS:
        return "stale"
    if payment.status == result.status:
        return "duplicate"
    payment.status = result.status
    payment.updated_at = now
    if result.status == "succeeded":
        payment.succeeded_at = now
        payment.failure_code = payment.failure_message = None
    elif result.status == "failed":
        payment.failed_at = now
        payment.failure_code = (result.failure_code or "failed")[:64]
        payment.failure_message = (result.failure_message or "")[:500]
    else:
        payment.client_secret = result.client_secret or payment.client_secret
    await update_many(Payment, (*_OUTCOME_FIELDS[result.status], "updated_at"), [payment])
    if result.status == "succeeded":
        await settle(locked, now)
    elif result.status == "failed":
        await dunning.on_failure(payment, invoice, now)
    return "applied"
