"""Provider webhook handling on PostgreSQL: events per second through the real
route (verify the signature, store the event once, apply the payment to its
invoice in one transaction), against a baseline in the same run that only
verifies the HMAC and inserts the event row with raw asyncpg.

A third figure, the floor, does the same work as Tally in the cheapest form we
know: one hand-written statement through raw asyncpg (lock the invoice and
payment, mark the payment succeeded, cancel other pending attempts, mark the
invoice paid, write the `invoice.paid` outbox row and the event row; autocommit,
so no BEGIN/COMMIT round trips), with no business rules in Python. It shows how
much of the gap to the baseline is the work itself rather than Tally's code."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import asyncpg
import stripe

from bench.harness import asgi_post, fresh_postgres
from db.invoice_models import Invoice
from db.models import Tenant
from db.payment_models import Payment
from domain import clock
from domain.ids import new_id
from domain.invoicing.service import create_invoice, finalize_invoice
from domain.payments.methods import attach_payment_method
from domain.payments.providers import signatures
from domain.payments.providers.registry import credentials_for
from domain.payments.settings import update_payment_settings
from domain.settings import Settings
from domain.tenancy.access import Principal, Role
from domain.tenancy.tenants import create_tenant

EVENTS = 300  # per round
ROUNDS = 3

# Only valid for the bench's case (a full payment of an open, one-off invoice of
# a customer in good standing); Tally's own path checks all of that in Python.
_FLOOR_SQL = """
WITH target AS (
  SELECT i.id AS invoice_id, p.id AS payment_id, p.amount_minor, i.amount_paid_minor,
         i.public_id AS invoice_public_id, i.number, c.public_id AS customer_public_id,
         i.billing_reason, i.currency, i.total_minor, i.attempt_count, i.period_start,
         i.period_end, i.due_at
  FROM invoice i JOIN payment p ON p.invoice_id = i.id JOIN customer c ON c.id = i.customer_id
  WHERE p.tenant_id = $1 AND p.provider = 'sandbox' AND p.public_id = $2
    AND p.status = 'pending' AND i.status = 'open' AND i.amount_due_minor = p.amount_minor
  FOR UPDATE OF i, p
), pay AS (
  UPDATE payment SET status = 'succeeded', provider_ref = $3, succeeded_at = $4, updated_at = $4
  FROM target WHERE payment.id = target.payment_id
), others AS (
  UPDATE payment SET status = 'canceled', updated_at = $4 FROM target
  WHERE payment.invoice_id = target.invoice_id AND payment.status = 'pending'
    AND payment.id <> target.payment_id
), inv AS (
  UPDATE invoice SET amount_paid_minor = invoice.amount_paid_minor + target.amount_minor,
    amount_due_minor = 0, status = 'paid', paid_at = $4, next_payment_attempt_at = NULL,
    next_dunning_at = NULL, updated_at = $4
  FROM target WHERE invoice.id = target.invoice_id
), outbox AS (
  INSERT INTO webhook_event (public_id, tenant_id, type, payload, dispatched, created_at,
                             updated_at)
  SELECT $5::text, $1, 'invoice.paid', jsonb_build_object('id', $5::text, 'type', 'invoice.paid',
    'created_at', $4::timestamptz, 'data', jsonb_build_object('object', 'invoice',
    'id', t.invoice_public_id, 'number', t.number, 'status', 'paid',
    'customer', t.customer_public_id, 'subscription', NULL, 'billing_reason', t.billing_reason,
    'currency', t.currency, 'total_minor', t.total_minor, 'amount_due_minor', 0,
    'amount_paid_minor', t.amount_paid_minor + t.amount_minor,
    'attempt_count', t.attempt_count, 'period_start', t.period_start,
    'period_end', t.period_end, 'due_at', t.due_at, 'paid_at', $4::timestamptz)),
    false, $4, $4
  FROM target t
)
INSERT INTO provider_event (tenant_id, provider, event_id, type, outcome, note, payload,
                            received_at)
SELECT $1, 'floor', $6, $7, 'processed', '', $8, $4 FROM target
RETURNING id
"""


async def _payments(count: int) -> tuple[Tenant, list[Payment]]:
    tenant = await create_tenant(name="Bench", country="FR", default_currency="EUR")
    admin = Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=0)
    await update_payment_settings(admin, {"provider": "sandbox"})
    from domain.customers.service import create_customer

    customer = await create_customer(admin, {"name": "Bench", "address": {"country": "US"}})
    await attach_payment_method(admin, customer.public_id, "pm_card_visa")
    for _ in range(count):
        draft = await create_invoice(
            admin,
            {
                "customer_id": customer.public_id,
                "items": [
                    {"description": "x", "unit_price": {"currency": "EUR", "amount_minor": 900}}
                ],
            },
        )
        await finalize_invoice(admin, draft.public_id)  # leaves its charge pending
    tenant = await Tenant.get(id=tenant.id)
    return tenant, list(await Payment.filter(tenant_id=tenant.id, status="pending").order_by("id"))


def _event(payment: Payment, n: int | str, secret: str) -> tuple[bytes, str]:
    body = json.dumps(
        {
            "id": f"evt_bench_{n}",
            "type": "payment_intent.succeeded",
            "created": int(clock.real_now().timestamp()),
            "data": {
                "object": {
                    "id": f"pi_bench_{n}",
                    "amount": payment.amount_minor,
                    "currency": "eur",
                    "status": "succeeded",
                    "metadata": {"tally_payment": payment.public_id},
                }
            },
        }
    )
    stamp = int(clock.real_now().timestamp())
    return body.encode(), stripe.WebhookSignature.generate_signature_header(body, secret, stamp)


async def _baseline(conn: asyncpg.Connection, tenant_id: int, events: list, secret: str) -> float:
    started = time.perf_counter()
    for body, header in events:
        signatures.verify(body, header, secret, int(time.time()))
        event = json.loads(body)
        await conn.execute(
            "INSERT INTO provider_event (tenant_id, provider, event_id, type, outcome, note,"
            " payload, received_at) VALUES ($1, 'baseline', $2, $3, 'stored', '', $4, now())",
            tenant_id,
            event["id"],
            event["type"],
            body.decode(),
        )
    return time.perf_counter() - started


async def _floor(
    conn: asyncpg.Connection, tenant_id: int, payments: list, events: list, secret: str
) -> float:
    started = time.perf_counter()
    for payment, (body, header) in zip(payments, events, strict=True):
        signatures.verify(body, header, secret, int(time.time()))
        event = json.loads(body)
        applied = await conn.fetch(
            _FLOOR_SQL,
            tenant_id,
            event["data"]["object"]["metadata"]["tally_payment"],
            event["data"]["object"]["id"],
            clock.real_now(),
            new_id("webhook_event"),
            event["id"],
            event["type"],
            body.decode(),
        )
        assert len(applied) == 1, payment.public_id
    return time.perf_counter() - started


async def run() -> dict[str, Any]:
    from server import create_app

    async with fresh_postgres() as url:
        app = create_app(Settings.for_database(url), manage_db=False)
        tenant, payments = await _payments(2 * EVENTS * ROUNDS)
        secret = credentials_for("sandbox", tenant).webhook_secret
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        await conn.execute("ANALYZE")  # planner statistics, as a live database has them
        ours: list[float] = []
        theirs: list[float] = []
        floor: list[float] = []
        path = f"/webhooks/sandbox/{tenant.public_id}"
        for round_ in range(ROUNDS):
            batch = payments[round_ * EVENTS : (round_ + 1) * EVENTS]
            events = [_event(p, round_ * EVENTS + i, secret) for i, p in enumerate(batch)]
            theirs.append(await _baseline(conn, tenant.id, events, secret))
            others = payments[(ROUNDS + round_) * EVENTS : (ROUNDS + round_ + 1) * EVENTS]
            floor_events = [_event(p, f"floor_{round_}_{i}", secret) for i, p in enumerate(others)]
            floor.append(await _floor(conn, tenant.id, others, floor_events, secret))
            started = time.perf_counter()
            for body, header in events:
                status, answer = await asgi_post(
                    app,
                    path,
                    body,
                    {"content-type": "application/json", "stripe-signature": header},
                )
                assert status == 200 and b'"processed"' in answer, answer
            ours.append(time.perf_counter() - started)
        paid = await Invoice.filter(tenant_id=tenant.id, status="paid").count()
        assert paid == 2 * EVENTS * ROUNDS, paid
        await conn.close()
    tally_rate = EVENTS / statistics.median(ours)
    base_rate = EVENTS / statistics.median(theirs)
    floor_rate = EVENTS / statistics.median(floor)
    return {
        "benchmark": f"provider webhooks (payment_intent.succeeded), PostgreSQL, {EVENTS} events "
        f"per round, median of {ROUNDS}",
        "tally_events_per_second": round(tally_rate),
        "baseline_events_per_second": round(base_rate),
        "ratio_tally_to_baseline": round(tally_rate / base_rate, 2),
        "target": ">= 0.5",
        "floor_events_per_second": round(floor_rate),
        "ratio_floor_to_baseline": round(floor_rate / base_rate, 2),
        "ratio_tally_to_floor": round(tally_rate / floor_rate, 2),
    }
