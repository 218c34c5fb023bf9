"""24 monthly points of MRR with movements (issue 17) on PostgreSQL: 100,000
subscriptions of 100,000 customers (90 % EUR, 10 % USD) and 400,000 movements over
two years, read through GraphQL (`analytics { mrr(...) }`, the whole HTTP request in
process), against hand-written SQL baselines in the same run: one statement that sums
the daily sums (`mrr_daily`, what the server reads) per currency, month and kind with
`date_trunc`, and the same over the whole movement log, each assembled into the same
points. All three must agree on every figure of every point, or the run fails.

    .venv/bin/python -m bench mrr [--scale 0.1]

Targets: ≤ 150 ms per request (median), ≤ 2x the baseline.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from bench.harness import asgi_post, fresh_postgres
from domain.settings import Settings
from domain.tenancy.access import Role
from domain.tenancy.api_keys import issue_key
from domain.tenancy.tenants import create_tenant

TARGET_MS = 150.0
TARGET_RATIO = 2.0
ROUNDS = 15
START = datetime(2025, 1, 1, tzinfo=UTC)
END = datetime(2027, 1, 1, tzinfo=UTC)
KINDS = ("new", "expansion", "contraction", "churn", "reactivation")
QUERY = """
query($from: DateTime!, $to: DateTime!) { analytics { mrr(from: $from, to: $to) {
  start currency mrrStart { amountMinor } mrr { amountMinor } new { amountMinor }
  expansion { amountMinor } contraction { amountMinor } churn { amountMinor }
  reactivation { amountMinor } customersStart customers newCustomers churnedCustomers
} } }
"""
BASELINE = """
SELECT currency,
       CASE WHEN occurred_at < $2 THEN NULL
            ELSE date_trunc('month', occurred_at AT TIME ZONE 'UTC') END AS month,
       kind,
       SUM(subscription_mrr_after - subscription_mrr_before) AS amount,
       SUM(customers_delta) AS customers
FROM mrr_movement WHERE tenant_id = $1 AND occurred_at < $3
GROUP BY 1, 2, 3
"""


DAILY_BASELINE = """
SELECT currency,
       CASE WHEN day < $2 THEN NULL ELSE date_trunc('month', day)::date END AS month,
       NULLIF(kind, '') AS kind, SUM(amount_minor) AS amount, SUM(customers) AS customers
FROM mrr_daily WHERE tenant_id = $1 AND day < $3
GROUP BY 1, 2, 3
"""
DAILY_BACKFILL = """
INSERT INTO mrr_daily (tenant_id, currency, day, kind, amount_minor, customers, movements)
SELECT tenant_id, currency, (occurred_at AT TIME ZONE 'UTC')::date, COALESCE(kind, ''),
       SUM(subscription_mrr_after - subscription_mrr_before), SUM(customers_delta), COUNT(*)
FROM mrr_movement WHERE tenant_id = $1 GROUP BY 1, 2, 3, 4
"""


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench mrr", add_help=False)
    parser.add_argument("--scale", type=float, default=1.0)
    known, _ = parser.parse_known_args(sys.argv[1:])
    return known


async def _ids(conn: asyncpg.Connection, table: str, count: int) -> list[int]:
    rows = await conn.fetch(
        f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, $1)",
        count,
    )
    return [r[0] for r in rows]


def _history(rng: random.Random, begin: datetime) -> list[tuple[datetime, int]]:
    """A subscription's MRR over time: starts, then 3 moves on average (changes of
    price, a churn, a reactivation), within the two years (and a few months before)."""
    mrr = rng.choice((900, 1900, 4900, 9900))
    out, at = [(begin, mrr)], begin
    for _ in range(rng.choice((2, 3, 4, 5, 6))):
        at = at + timedelta(days=rng.randint(15, 120), seconds=rng.randint(0, 86399))
        if at >= END:
            break
        if mrr == 0:
            mrr = rng.choice((900, 1900, 4900))
        elif rng.random() < 0.3:
            mrr = 0
        else:
            mrr = max(100, mrr + rng.choice((-1000, -500, 500, 1000, 2000)))
        out.append((at, mrr))
    return out


async def build(conn: asyncpg.Connection, tenant_id: int, subscriptions: int) -> int:
    """Customers, subscriptions and their movements with COPY; returns the movements."""
    rng = random.Random(17)
    before = START - timedelta(days=120)
    customers = await _ids(conn, "customer", subscriptions)
    currencies = ["USD" if i % 10 == 0 else "EUR" for i in range(subscriptions)]
    await conn.copy_records_to_table(
        "customer",
        columns=(
            "id public_id created_at updated_at tenant_id name email address_line1 "
            "address_line2 city postal_code state country locale currency timezone metadata "
            "search_text status"
        ).split(),
        records=[
            (pk, f"cus_mrr{pk:012d}", before, before, tenant_id, f"C {i}", f"c{i}@example.com",
             "", "", "Paris", "75001", "", "FR", "en", currencies[i], "UTC", "{}", f"c {i}",
             "active")
            for i, pk in enumerate(customers)
        ],
    )  # fmt: skip
    [plan_id] = await _ids(conn, "plan", 1)
    await conn.execute(
        "INSERT INTO plan (id, public_id, created_at, updated_at, tenant_id, code, name,"
        " description, interval_months, trial_days, monthly_credits, features, tax_behavior,"
        " status) VALUES ($1, 'pln_mrr', $2, $2, $3, 'p', 'P', '', 1, 0, 0, '[]', 'exclusive',"
        " 'active')",
        plan_id,
        before,
        tenant_id,
    )
    subs = await _ids(conn, "subscription", subscriptions)
    sub_rows, moves = [], []
    span = (END - before).total_seconds() - 86400 * 30
    for i, (sub_id, customer) in enumerate(zip(subs, customers, strict=True)):
        begin = before + timedelta(seconds=rng.uniform(0, span))
        history = _history(rng, begin)
        previous, paid = 0, False
        for at, mrr in history:
            kind = (
                ("reactivation" if paid else "new")
                if previous == 0
                else "churn"
                if mrr == 0
                else "expansion"
                if mrr > previous
                else "contraction"
            )
            counted = {"new": 1, "reactivation": 1, "churn": -1}.get(kind, 0)
            moves.append(
                (tenant_id, customer, sub_id, currencies[i], at, "bench", kind, previous, mrr,
                 previous, mrr, counted, "{}")
            )  # fmt: skip
            paid, previous = True, mrr
        sub_rows.append(
            (sub_id, f"sub_mrr{sub_id:012d}", begin, begin, "active" if previous else "canceled",
             currencies[i], 1000, 1, "[]", begin, begin, begin, begin, False, customer, plan_id,
             tenant_id, previous)
        )  # fmt: skip
    await conn.copy_records_to_table(
        "subscription",
        columns=(
            "id public_id created_at updated_at status currency unit_amount_minor quantity "
            "add_ons started_at billing_anchor current_period_start current_period_end "
            "cancel_at_period_end customer_id plan_id tenant_id mrr_minor"
        ).split(),
        records=sub_rows,
    )
    await conn.copy_records_to_table(
        "mrr_movement",
        columns=(
            "tenant_id customer_id subscription_id currency occurred_at cause kind "
            "subscription_mrr_before subscription_mrr_after customer_mrr_before "
            "customer_mrr_after customers_delta terms"
        ).split(),
        records=moves,
    )
    # The daily sums the writer keeps, back-filled the way a migration would.
    await conn.execute(DAILY_BACKFILL, tenant_id)
    await conn.execute("ANALYZE mrr_movement")
    await conn.execute("ANALYZE mrr_daily")
    return len(moves)


async def baseline(
    pool: asyncpg.Pool, tenant_id: int, *, daily: bool = True
) -> list[dict[str, Any]]:
    """The same points from one hand-written statement and a little Python: over the
    daily sums (what the server reads), or over the whole log."""
    if daily:
        rows = await pool.fetch(DAILY_BASELINE, tenant_id, START.date(), END.date())
        months: list[Any] = [date(2025 + m // 12, m % 12 + 1, 1) for m in range(24)]
    else:
        rows = await pool.fetch(BASELINE, tenant_id, START, END)
        months = [datetime(2025 + m // 12, m % 12 + 1, 1) for m in range(24)]
    out = []
    for currency in sorted({r["currency"] for r in rows}):
        mine = [r for r in rows if r["currency"] == currency]
        mrr = sum(r["amount"] for r in mine if r["month"] is None)
        paying = sum(r["customers"] for r in mine if r["month"] is None)
        for month in months:
            cells = {r["kind"]: r for r in mine if r["month"] == month}
            moved = {k: abs(int(cells[k]["amount"])) if k in cells else 0 for k in KINDS}
            delta = sum(int(c["amount"]) for c in cells.values())
            counts = {k: int(c["customers"]) for k, c in cells.items()}
            out.append(
                {
                    "currency": currency,
                    "mrrStart": int(mrr),
                    "mrr": int(mrr + delta),
                    **moved,
                    "customersStart": int(paying),
                    "customers": int(paying + sum(counts.values())),
                    "newCustomers": counts.get("new", 0),
                    "churnedCustomers": -counts.get("churn", 0),
                }
            )
            mrr, paying = mrr + delta, paying + sum(counts.values())
    return out


def _flatten(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "currency": p["currency"],
            "mrrStart": p["mrrStart"]["amountMinor"],
            "mrr": p["mrr"]["amountMinor"],
            **{k: p[k]["amountMinor"] for k in KINDS},
            "customersStart": p["customersStart"],
            "customers": p["customers"],
            "newCustomers": p["newCustomers"],
            "churnedCustomers": p["churnedCustomers"],
        }
        for p in points
    ]


async def run() -> dict[str, Any]:
    scale = options().scale
    async with fresh_postgres() as url:
        tenant = await create_tenant(name="Bench", country="FR", default_currency="EUR")
        secret = (await issue_key(tenant_id=tenant.id, role=Role.ADMIN, name="bench")).secret
        dsn = url.replace("postgres://", "postgresql://", 1)
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=2)
        async with pool.acquire() as conn:
            started = time.perf_counter()
            moves = await build(conn, tenant.id, max(100, int(100_000 * scale)))
            built = time.perf_counter() - started
        from server import create_app

        app = create_app(Settings.for_database(url), manage_db=False)
        body = orjson.dumps(
            {"query": QUERY, "variables": {"from": START.isoformat(), "to": END.isoformat()}}
        )
        headers = {
            "authorization": f"Bearer {secret}",
            "content-type": "application/json",
            "accept": "application/graphql-response+json",
        }

        async def ours() -> list[dict[str, Any]]:
            status, raw = await asgi_post(app, "/graphql", body, headers)
            answer = orjson.loads(raw)
            assert status == 200 and "errors" not in answer, raw[:500]
            return _flatten(answer["data"]["analytics"]["mrr"])

        mine, theirs = await ours(), await baseline(pool, tenant.id)  # warm both
        if mine != theirs or mine != await baseline(pool, tenant.id, daily=False):
            for a, b in zip(mine, theirs, strict=False):
                if a != b:
                    print("ours    ", a, "\nbaseline", b)
                    break
            raise SystemExit("the GraphQL series and the SQL baseline disagree")
        ours_ms, base_ms, log_ms = [], [], []
        for _ in range(ROUNDS):  # interleaved, so drift on a shared machine hits each
            t = time.perf_counter()
            await ours()
            ours_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await baseline(pool, tenant.id)
            base_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await baseline(pool, tenant.id, daily=False)
            log_ms.append((time.perf_counter() - t) * 1000)
        await pool.close()
    median, base = statistics.median(ours_ms), statistics.median(base_ms)
    return {
        "benchmark": f"24 monthly MRR points, {len(mine)} with both currencies, {moves:,} movements",
        "data built with COPY (s)": f"{built:.1f}",
        "GraphQL median (ms)": f"{median:.1f} (target <= {TARGET_MS:.0f})",
        "GraphQL best (ms)": f"{min(ours_ms):.1f}",
        "SQL baseline, daily sums (ms)": f"{base:.1f}",
        "SQL over the whole log (ms)": f"{statistics.median(log_ms):.1f}",
        "ratio": f"{median / base:.2f}x (target <= {TARGET_RATIO:.0f}x)",
        "points equal": "yes",
    }
