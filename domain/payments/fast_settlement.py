"""The common webhook in one statement: `payment_intent.succeeded` paying an open
invoice in full, on PostgreSQL.

This is the bulk of a provider's traffic, and the general path (lock, decide in
Python, write, commit) costs about ten round trips. Here the decision is the
WHERE clause and every write hangs off it in one writable CTE, committed on its
own, so the event costs one round trip:

- `target` locks the invoice, then the payment (`FOR UPDATE OF i, p`, the order
  every writer uses) and only matches the plain case: the payment is ours, still
  pending / processing / requires_action, for the amount and currency the event
  names; the invoice is open and owes exactly that amount; the customer is in
  good standing and on real time; the subscription, if any, is not past due.
- `event` stores the event with outcome `processed`. A replay or a concurrent
  duplicate finds the payment already succeeded (the lock waits for the first
  delivery, then rechecks), so it matches nothing; an id stored before with the
  payment still pending fails the unique index, and the statement writes nothing.
- then, exactly as `collection.settle` and `settlement.on_paid` do: the payment
  succeeds, other open attempts of the invoice (pending, awaiting 3-D Secure) are
  canceled (the caller cancels those the provider knows, after commit), the invoice is
  paid and leaves dunning, and the `invoice.paid` outbox row is written with the
  payload `outbox.invoice_object` builds (a test compares the two).

No row back means "not the plain case" (or a duplicate, or a concurrent delivery
that got there first): the caller then takes the general path, which handles
everything, including telling a duplicate apart.
"""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError

from db import raw
from db.payment_models import ProviderEvent
from domain import clock
from domain.ids import new_id
from domain.payments.providers.base import ProviderEventData


def _iso(column: str) -> str:
    """A timestamptz as Python's `datetime.isoformat()` writes an aware UTC time
    (microseconds only when there are some)."""
    return (
        f"CASE WHEN {column} IS NULL THEN NULL ELSE"
        f" to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN extract(microseconds FROM {column})::bigint % 1000000 <> 0"
        f" THEN to_char({column} AT TIME ZONE 'UTC', '.US') ELSE '' END || '+00:00' END"
    )


_SQL = f"""
WITH named AS MATERIALIZED (  -- by the unique index first, whatever the statistics say
  SELECT id, invoice_id FROM payment WHERE public_id = $3
), target AS (
  SELECT i.id AS invoice_id, p.id AS payment_id, p.amount_minor, i.amount_paid_minor,
         i.public_id AS invoice_public_id, i.number, i.billing_reason, i.currency,
         i.total_minor, i.attempt_count, c.public_id AS customer_public_id,
         s.public_id AS subscription_public_id,
         {_iso("i.period_start")} AS period_start, {_iso("i.period_end")} AS period_end,
         {_iso("i.due_at")} AS due_at
  FROM named
  JOIN invoice i ON i.id = named.invoice_id
  JOIN payment p ON p.id = named.id
  JOIN customer c ON c.id = i.customer_id
  LEFT JOIN subscription s ON s.id = i.subscription_id
  WHERE p.tenant_id = $1 AND p.provider = $2
    AND p.amount_minor = $4 AND p.currency = $5
    AND p.status IN ('pending', 'processing', 'requires_action')
    AND i.status = 'open' AND i.amount_due_minor = p.amount_minor
    AND i.billing_reason <> 'credit_purchase'  -- credits are granted by `settle`
    AND NOT c.delinquent AND c.test_clock_id IS NULL
    AND (s.id IS NULL OR s.status NOT IN ('past_due', 'unpaid'))
  FOR UPDATE OF i, p
), event AS (
  INSERT INTO provider_event (tenant_id, provider, event_id, type, outcome, note, payload,
                              received_at)
  SELECT $1, $2, $6, $7, 'processed', '', $8, $13 FROM target
  RETURNING id
), paid AS (
  UPDATE payment SET status = 'succeeded',
    provider_ref = CASE WHEN COALESCE(payment.provider_ref, '') = '' AND $10 <> ''
                        THEN $10 ELSE payment.provider_ref END,
    succeeded_at = $9, failure_code = NULL, failure_message = NULL, updated_at = $9
  FROM target WHERE payment.id = target.payment_id
), others AS (
  UPDATE payment SET status = 'canceled', updated_at = $9
  FROM target
  WHERE payment.invoice_id = target.invoice_id
    AND payment.status IN ('pending', 'requires_action')
    AND payment.id <> target.payment_id
  RETURNING payment.provider_ref
), invoice_paid AS (
  UPDATE invoice SET amount_paid_minor = invoice.amount_paid_minor + target.amount_minor,
    amount_due_minor = 0, status = 'paid', paid_at = $9, next_payment_attempt_at = NULL,
    next_dunning_at = NULL, updated_at = $9
  FROM target WHERE invoice.id = target.invoice_id
), outbox AS (
  INSERT INTO webhook_event (public_id, tenant_id, type, payload, dispatched, created_at,
                             updated_at)
  SELECT $11::text, $1, 'invoice.paid',
    jsonb_build_object('id', $11::text, 'type', 'invoice.paid', 'created_at', $12::text,
      'data', jsonb_build_object(
        'object', 'invoice', 'id', t.invoice_public_id, 'number', t.number, 'status', 'paid',
        'customer', t.customer_public_id, 'subscription', t.subscription_public_id,
        'billing_reason', t.billing_reason, 'currency', t.currency,
        'total_minor', t.total_minor, 'amount_due_minor', 0,
        'amount_paid_minor', t.amount_paid_minor + t.amount_minor,
        'attempt_count', t.attempt_count, 'period_start', t.period_start,
        'period_end', t.period_end, 'due_at', t.due_at, 'paid_at', $12::text)),
    false, $9, $9
  FROM target t
)
SELECT id, (SELECT invoice_id FROM target) AS invoice_id,
  EXISTS (SELECT 1 FROM others WHERE COALESCE(provider_ref, '') <> '') AS cancel_at_provider
FROM event
"""


def eligible(event: ProviderEventData) -> str | None:
    """The payment id a `payment_intent.succeeded` names, if it could be the plain
    case; None sends the event down the general path."""
    if event.type != "payment_intent.succeeded":
        return None
    metadata = event.object.get("metadata")
    amount = event.object.get("amount")
    if not isinstance(metadata, dict) or type(amount) is not int:
        return None
    payment = metadata.get("tally_payment")
    return payment if isinstance(payment, str) and payment else None


async def settle_in_one_statement(
    tenant_id: int,
    provider: str,
    payment: str,
    event: ProviderEventData,
    cancel_at_provider: list[int] | None = None,
) -> bool:
    """True when the event was stored and applied; False when the caller must
    take the general path. The invoice is added to `cancel_at_provider` when it
    canceled attempts the provider knows of."""
    if not raw.is_postgres(ProviderEvent._meta.db):
        return False
    try:
        rows = await raw.fetch(ProviderEvent, _SQL, _params(tenant_id, provider, payment, event))
    except IntegrityError:  # the event id is taken: the general path says "duplicate"
        return False
    if rows and rows[0]["cancel_at_provider"] and cancel_at_provider is not None:
        cancel_at_provider.append(rows[0]["invoice_id"])
    return bool(rows)


def _params(
    tenant_id: int, provider: str, payment_public_id: str, event: ProviderEventData
) -> list[Any]:
    obj: dict[str, Any] = event.object
    now = clock.now()
    return [
        tenant_id,
        provider,
        payment_public_id,
        obj["amount"],
        str(obj.get("currency") or "").upper(),
        event.id[:128],
        event.type[:64],
        ProviderEvent._meta.fields_map["payload"].to_db_value(event.raw, None),
        now,
        str(obj.get("id") or "")[:128],
        new_id("webhook_event"),
        now.isoformat(),
        clock.real_now(),
    ]
