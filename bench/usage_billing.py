"""The billing run with usage in arrears: 10,000 monthly subscriptions that each
sent 100 metered events in the closing period (1,000,000 events), on PostgreSQL,
against the same run over the same subscriptions on a flat plan (no usage) in the
same database. Then a re-run, which must find nothing to do.

The events and their running aggregates are seeded in SQL (ingesting 1,000,000
events is the ingestion benchmark's job); the aggregates are checked against the
events before the run, so they are the ones ingestion keeps.

    .venv/bin/python -m bench usage-billing
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import asyncpg

from bench.billing_run import (
    CUSTOMERS,
    NOW,
    PERIOD_END,
    PERIOD_START,
    RESET,
    SEED,
    SUBSCRIPTIONS,
)
from bench.harness import fresh_postgres
from domain import clock
from domain.billing.run import run_billing
from domain.catalog.plans import create_plan
from domain.customers.service import create_customer
from domain.tenancy.access import Principal, Role
from domain.tenancy.tenants import create_tenant
from domain.usage.charges import create_charge
from domain.usage.metrics import create_metric

EVENTS_PER_SUBSCRIPTION = 100
BATCH = 500

EVENTS = """
INSERT INTO usage_event (tenant_id, transaction_id, customer_id, subscription_id, metric_id,
  timestamp, properties, body_hash, created_at)
SELECT s.tenant_id, s.public_id || ':' || e, s.customer_id, s.id, $1,
  $2::timestamptz + (e * interval '6 hours'), jsonb_build_object('minutes', 3), md5(s.public_id || e), $2
FROM subscription s CROSS JOIN generate_series(1, $3) AS e"""
AGGREGATES = """
INSERT INTO usage_aggregate (tenant_id, subscription_id, charge_id, period_start, group_key,
  events, total, weighted, fees, uniques, updated_at)
SELECT tenant_id, subscription_id, $1, $2, '', count(*),
  sum((properties->>'minutes')::numeric)::text, '0', '0', 0, $2
FROM usage_event GROUP BY tenant_id, subscription_id"""
PERIODS = """
INSERT INTO usage_period (tenant_id, subscription_id, start, "end", currency, status, billed,
  changed, alerts_sent)
SELECT tenant_id, id, $1, $2, currency, 'open', '{}', false, '[]' FROM subscription"""


async def _seed(dsn: str) -> tuple[asyncpg.Connection, int, int, int]:
    tenant = await create_tenant(name="Bench", country="FR", default_currency="EUR")
    admin = Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=0)
    with clock.frozen_at(PERIOD_START - timedelta(days=1)):
        prices = [{"currency": "EUR", "amount_minor": 2999}]
        metered = await create_plan(
            admin, {"code": "metered", "name": "Metered", "interval": "month", "prices": prices}
        )
        flat = await create_plan(
            admin, {"code": "flat", "name": "Flat", "interval": "month", "prices": prices}
        )
        metric = await create_metric(
            admin,
            {"code": "minutes", "name": "Minutes", "aggregation": "SUM", "field_name": "minutes"},
        )
        tiers = [{"upTo": "100", "unitPrice": "0.10"}, {"upTo": None, "unitPrice": "0.05"}]
        charge = await create_charge(
            admin,
            {
                "plan_id": metered.public_id,
                "metric_id": "minutes",
                "model": "GRADUATED",
                "prices": [{"currency": "EUR", "properties": {"tiers": tiers}}],
            },
        )
        first = None
        for i in range(CUSTOMERS):
            customer = await create_customer(admin, {"name": f"C{i}", "address": {"country": "FR"}})
            first = first or customer.id
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        SEED, PERIOD_START, PERIOD_END, first, CUSTOMERS, metered.id, tenant.id, SUBSCRIPTIONS
    )
    await conn.execute(EVENTS, metric.id, PERIOD_START, EVENTS_PER_SUBSCRIPTION)
    await conn.execute(AGGREGATES, charge.id, PERIOD_START)
    await conn.execute("ANALYZE")
    return conn, metered.id, flat.id, charge.id


async def _reset(conn: asyncpg.Connection, plan_id: int) -> None:
    await conn.execute(RESET[0])
    await conn.execute(RESET[1], PERIOD_START, PERIOD_END)
    await conn.execute("TRUNCATE usage_period")
    await conn.execute(PERIODS, PERIOD_START, PERIOD_END)
    await conn.execute("UPDATE subscription SET plan_id = $1", plan_id)
    await conn.execute("VACUUM ANALYZE subscription")


async def _timed_run() -> tuple[float, Any]:
    with clock.frozen_at(NOW):
        started = time.perf_counter()
        summary = await run_billing(batch_size=BATCH)
        return time.perf_counter() - started, summary


async def run() -> dict[str, Any]:
    async with fresh_postgres() as url:
        conn, metered, flat, _ = await _seed(url.replace("postgres://", "postgresql://", 1))
        events = await conn.fetchval("SELECT count(*) FROM usage_event")
        aggregated = await conn.fetchval("SELECT sum(events) FROM usage_aggregate")
        assert events == aggregated == SUBSCRIPTIONS * EVENTS_PER_SUBSCRIPTION
        await _reset(conn, flat)
        flat_seconds, flat_summary = await _timed_run()
        assert flat_summary.invoices == SUBSCRIPTIONS
        await _reset(conn, metered)
        seconds, summary = await _timed_run()
        assert summary.invoices == SUBSCRIPTIONS and not summary.failures
        # 300 minutes each: 100 x 0.10 + 200 x 0.05 = 20.00 EUR.
        usage = await conn.fetch(
            "SELECT count(*) AS n, sum(amount_minor) AS total FROM invoice_line WHERE kind = 'usage'"
        )
        assert usage[0]["n"] == SUBSCRIPTIONS and usage[0]["total"] == 2_000 * SUBSCRIPTIONS
        billed = await conn.fetchval("SELECT count(*) FROM usage_period WHERE status = 'billed'")
        assert billed == SUBSCRIPTIONS
        rerun_seconds, again = await _timed_run()
        assert again.invoices == 0
        await conn.close()
    return {
        "benchmark": f"billing run with usage, {SUBSCRIPTIONS:,} subscriptions x "
        f"{EVENTS_PER_SUBSCRIPTION} events ({events:,}), PostgreSQL, batches of {BATCH}",
        "tally_seconds": round(seconds, 2),
        "invoices_per_second": round(SUBSCRIPTIONS / seconds),
        "same_run_flat_plan_seconds": round(flat_seconds, 2),
        "usage_cost_ratio": round(seconds / flat_seconds, 2),
        "rerun_seconds": round(rerun_seconds, 3),
        "target": "<= 30 s",
    }
