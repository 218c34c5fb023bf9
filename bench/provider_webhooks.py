"""Provider webhook handling on PostgreSQL: events per second through the real
route (verify the signature, store the event once, apply the payment to its
invoice in one transaction), against a baseline in the same run that only
verifies the HMAC and inserts the event row with raw asyncpg."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import asyncpg
import stripe

from bench.harness import asgi_post, fresh_postgres
from db.models import Invoice, Payment, Tenant
from domain import clock
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


def _event(payment: Payment, n: int, secret: str) -> tuple[bytes, str]:
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


async def run() -> dict[str, Any]:
    from server import create_app

    async with fresh_postgres() as url:
        app = create_app(Settings.for_database(url), manage_db=False)
        tenant, payments = await _payments(EVENTS * ROUNDS)
        secret = credentials_for("sandbox", tenant).webhook_secret
        conn = await asyncpg.connect(url.replace("postgres://", "postgresql://", 1))
        ours: list[float] = []
        theirs: list[float] = []
        path = f"/webhooks/sandbox/{tenant.public_id}"
        for round_ in range(ROUNDS):
            batch = payments[round_ * EVENTS : (round_ + 1) * EVENTS]
            events = [_event(p, round_ * EVENTS + i, secret) for i, p in enumerate(batch)]
            theirs.append(await _baseline(conn, tenant.id, events, secret))
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
        assert paid == EVENTS * ROUNDS, paid
        await conn.close()
    tally_rate = EVENTS / statistics.median(ours)
    base_rate = EVENTS / statistics.median(theirs)
    return {
        "benchmark": f"provider webhooks (payment_intent.succeeded), PostgreSQL, {EVENTS} events "
        f"per round, median of {ROUNDS}",
        "tally_events_per_second": round(tally_rate),
        "baseline_events_per_second": round(base_rate),
        "ratio_tally_to_baseline": round(tally_rate / base_rate, 2),
        "target": ">= 0.5",
    }
