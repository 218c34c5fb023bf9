"""The billing run over 10,000 monthly subscriptions whose period has ended, on
PostgreSQL, against a set-based SQL baseline that inserts the same invoices (same
numbers, totals, lines and subscription updates) in the same database state.

    make bench            (or: .venv/bin/python -m bench billing)
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.harness import fresh_postgres
from db.querylog import count_statements
from domain import clock
from domain.billing.run import run_billing
from domain.catalog.plans import create_plan
from domain.customers.service import create_customer
from domain.tenancy.access import Principal, Role
from domain.tenancy.tenants import create_tenant

SUBSCRIPTIONS = 10_000
CUSTOMERS = 500
BATCH = 500
ROUNDS = 3
NOW = datetime(2026, 3, 1, 6, tzinfo=UTC)
PERIOD_START = datetime(2026, 2, 1, tzinfo=UTC)
PERIOD_END = datetime(2026, 3, 1, tzinfo=UTC)

SEED = """
INSERT INTO subscription (public_id, created_at, updated_at, status, currency, unit_amount_minor,
  quantity, add_ons, coupon_periods_left, started_at, billing_anchor, current_period_start,
  current_period_end, cancel_at_period_end, next_action_at, customer_id, plan_id, tenant_id)
SELECT 'sub_bench' || lpad(g::text, 11, '0'), $1, $1, 'active', 'EUR', 2999, 1 + g % 3, '[]'::jsonb,
  NULL, $1, $1, $1, $2, false, $2, $3 + g % $4, $5, $6
FROM generate_series(0, $7 - 1) AS g"""

# The same invoices, set-based: numbers by row_number, totals and 20 % VAT in SQL,
# one line each, the counter bumped and every subscription rolled to its next period.
BASELINE = [
    """INSERT INTO number_sequence (tenant_id, kind, period, last_value)
       VALUES ($1, 'invoice', '2026', 0) ON CONFLICT DO NOTHING""",
    """WITH due AS (
         SELECT s.*, row_number() OVER (ORDER BY s.next_action_at, s.id) AS n
         FROM subscription s WHERE s.next_action_at <= $2 AND s.test_clock_id IS NULL),
       counter AS (
         UPDATE number_sequence SET last_value = last_value + (SELECT count(*) FROM due)
         WHERE tenant_id = $1 AND kind = 'invoice' AND period = '2026'
         RETURNING last_value - (SELECT count(*) FROM due) AS base),
       inv AS (
         INSERT INTO invoice (public_id, created_at, updated_at, dedupe_key, number, status,
           billing_reason, currency, locale, period_start, period_end, subtotal_minor,
           discount_minor, tax_minor, total_minor, credit_applied_minor, amount_paid_minor,
           amount_credited_minor, amount_due_minor, tax_breakdown, tax_reason, reverse_charge,
           customer_snapshot, seller_snapshot, memo, finalized_at, due_at, customer_id,
           subscription_id, tenant_id)
         SELECT 'in_b' || md5(random()::text), $2, $2,
           d.public_id || ':subscription_cycle:' || d.current_period_end, 'INV-2026-' ||
           lpad((c.base + d.n)::text, 6, '0'), 'open', 'subscription_cycle', d.currency, cu.locale,
           d.current_period_end, d.current_period_end + interval '1 month',
           d.unit_amount_minor * d.quantity, 0,
           round(d.unit_amount_minor * d.quantity * 0.2),
           d.unit_amount_minor * d.quantity + round(d.unit_amount_minor * d.quantity * 0.2),
           0, 0, 0,
           d.unit_amount_minor * d.quantity + round(d.unit_amount_minor * d.quantity * 0.2),
           jsonb_build_array(jsonb_build_object('rate_bp', 2000, 'inclusive', false,
             'taxable_minor', d.unit_amount_minor * d.quantity,
             'tax_minor', round(d.unit_amount_minor * d.quantity * 0.2))),
           'domestic', false,
           jsonb_build_object('name', cu.name, 'country', cu.country, 'locale', cu.locale),
           jsonb_build_object('name', t.name, 'country', t.country),
           '', $2, $2 + interval '30 days', d.customer_id, d.id, d.tenant_id
         FROM due d CROSS JOIN counter c JOIN customer cu ON cu.id = d.customer_id
         JOIN tenant t ON t.id = d.tenant_id
         RETURNING id, subscription_id, subtotal_minor, period_start, period_end)
       INSERT INTO invoice_line (invoice_id, position, kind, description, quantity,
         unit_amount_minor, amount_minor, discount_minor, tax_inclusive, tax_rate_bp,
         period_start, period_end)
       SELECT inv.id, 0, 'plan', p.name, s.quantity, s.unit_amount_minor, inv.subtotal_minor, 0,
         false, 2000, inv.period_start, inv.period_end
       FROM inv JOIN subscription s ON s.id = inv.subscription_id JOIN plan p ON p.id = s.plan_id""",
    """UPDATE subscription SET current_period_start = current_period_end,
         current_period_end = current_period_end + interval '1 month',
         next_action_at = current_period_end + interval '1 month', updated_at = $2
       WHERE tenant_id = $1 AND next_action_at <= $2 AND test_clock_id IS NULL""",
]
RESET = [
    # Everything a billing run writes (invoices, their payments and outbox events);
    # CASCADE takes the rows that hang off them (refunds, deliveries, mails).
    "TRUNCATE invoice_line, credit_note, payment, invoice, number_sequence, pending_item,"
    " balance_entry, webhook_event CASCADE",
    """UPDATE subscription SET current_period_start = $1, current_period_end = $2,
         next_action_at = $2, updated_at = $1""",
]


async def _seed(dsn: str) -> tuple[int, asyncpg.Connection]:
    tenant = await create_tenant(name="Bench", country="FR", default_currency="EUR")
    admin = Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=0)
    with clock.frozen_at(PERIOD_START - timedelta(days=1)):
        plan = await create_plan(
            admin,
            {
                "code": "pro",
                "name": "Pro",
                "interval": "month",
                "prices": [{"currency": "EUR", "amount_minor": 2999}],
            },
        )
        first = None
        for i in range(CUSTOMERS):
            customer = await create_customer(
                admin, {"name": f"Customer {i}", "address": {"country": "FR"}}
            )
            first = first or customer.id
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        SEED, PERIOD_START, PERIOD_END, first, CUSTOMERS, plan.id, tenant.id, SUBSCRIPTIONS
    )
    await conn.execute("ANALYZE")
    return tenant.id, conn


async def _reset(conn: asyncpg.Connection) -> None:
    await conn.execute(RESET[0])
    await conn.execute(RESET[1], PERIOD_START, PERIOD_END)
    await conn.execute("VACUUM ANALYZE subscription")


async def _baseline(conn: asyncpg.Connection, tenant_id: int) -> float:
    started = time.perf_counter()
    async with conn.transaction():
        await conn.execute(BASELINE[0], tenant_id)
        await conn.execute(BASELINE[1], tenant_id, NOW)
        await conn.execute(BASELINE[2], tenant_id, NOW)
    return time.perf_counter() - started


async def _check(conn: asyncpg.Connection) -> tuple[int, int, int]:
    row = await conn.fetchrow(
        """SELECT count(*) AS invoices, sum(total_minor) AS total,
                  (SELECT count(*) FROM invoice_line) AS lines FROM invoice"""
    )
    return row["invoices"], row["total"], row["lines"]


async def run() -> dict[str, Any]:
    async with fresh_postgres() as url:
        dsn = url.replace("postgres://", "postgresql://", 1)
        tenant_id, conn = await _seed(dsn)
        ours: list[float] = []
        reruns: list[float] = []
        theirs: list[float] = []
        counted: list[str]
        for _ in range(ROUNDS):
            await _reset(conn)
            theirs.append(await _baseline(conn, tenant_id))
            expected = await _check(conn)
            await _reset(conn)
            with clock.frozen_at(NOW), count_statements() as counted:
                started = time.perf_counter()
                summary = await run_billing(batch_size=BATCH)
                ours.append(time.perf_counter() - started)
            assert summary.invoices == SUBSCRIPTIONS and not summary.failures
            assert await _check(conn) == expected, (await _check(conn), expected)
            with clock.frozen_at(NOW):
                started = time.perf_counter()
                again = await run_billing(batch_size=BATCH)
                reruns.append(time.perf_counter() - started)
            assert again.invoices == 0
        await conn.close()
    first = statistics.median(ours)
    return {
        "benchmark": f"billing run, {SUBSCRIPTIONS:,} monthly subscriptions, PostgreSQL, "
        f"batches of {BATCH}, median of {ROUNDS}",
        "tally_seconds": round(first, 2),
        "invoices_per_second": round(SUBSCRIPTIONS / first),
        "baseline_sql_seconds": round(statistics.median(theirs), 2),
        "slowdown_vs_set_based_sql": round(first / statistics.median(theirs), 2),
        "rerun_seconds": round(statistics.median(reruns), 3),
        "rerun_share_of_first_run": f"{statistics.median(reruns) / first:.1%}",
        "sql_statements": len(counted),
        "sql_statements_per_batch": round(len(counted) / (SUBSCRIPTIONS / BATCH), 1),
    }
