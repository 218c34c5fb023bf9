"""GraphQL `plans(first: 100)` with prices, on PostgreSQL, against raw asyncpg + orjson
producing the same JSON (same auth lookup, same formatting) in the same run.

    make bench            (or: .venv/bin/python -m bench plans)
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import asyncpg
import orjson

from bench.harness import asgi_post, compare, fresh_postgres
from db.querylog import count_statements
from domain.money import format_money
from domain.settings import Settings
from domain.tenancy.access import Principal, Role
from domain.tenancy.api_keys import issue_key
from domain.tenancy.tenants import create_tenant

PLANS = 100
QUERY = """{ plans(first: 100) { edges { node {
  id code name intervalMonths monthlyCredits dailyCreditLimit
  prices { amountMinor amount currency formatted }
} } } }"""

BASELINE_PLANS = """
SELECT id, public_id, code, name, interval_months, monthly_credits, daily_credit_limit
FROM plan WHERE tenant_id = $1 ORDER BY id LIMIT 101"""
BASELINE_PRICES = """
SELECT plan_id, currency, amount_minor FROM plan_price WHERE plan_id = ANY($1::bigint[])"""
BASELINE_KEY = """
SELECT k.secret_hash, k.tenant_id, k.revoked_at, k.expires_at, t.default_locale
FROM api_key k JOIN tenant t ON t.id = k.tenant_id WHERE k.prefix = $1"""


async def _seed() -> tuple[int, str]:
    from domain.catalog.plans import create_plan

    tenant = await create_tenant(name="Bench", country="FR", default_currency="EUR")
    admin = Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=0)
    for i in range(PLANS):
        await create_plan(
            admin,
            {
                "code": f"plan-{i:03d}",
                "name": f"Plan {i}",
                "interval": "month",
                "monthly_credits": 1000 * i,
                "daily_credit_limit": None if i % 5 == 0 else 100 * i,
                "prices": [
                    {"currency": "EUR", "amount_minor": 990 + i},
                    {"currency": "USD", "amount_minor": 1090 + i},
                    {"currency": "DZD", "amount_minor": 150000 + i},
                ],
            },
        )
    key = await issue_key(tenant_id=tenant.id, role=Role.ADMIN, name="bench")
    return tenant.id, key.secret


def baseline_app(pool: asyncpg.Pool) -> Any:
    """The same request served by hand: check the key, two SELECTs, orjson."""

    keys: dict[str, Any] = {}  # Tally caches an authenticated key for 5 s: so does this

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        orjson.loads(message["body"])
        token = dict(scope["headers"])[b"authorization"].decode().split(" ", 1)[1]
        digest = hashlib.sha256(token.encode()).hexdigest()
        async with pool.acquire() as conn:
            key = keys.get(digest)
            if key is None:
                key = await conn.fetchrow(BASELINE_KEY, token.rsplit("_", 1)[0])
                assert key["secret_hash"] == digest
                keys[digest] = key
            plans = await conn.fetch(BASELINE_PLANS, key["tenant_id"])
            rows = await conn.fetch(BASELINE_PRICES, [p["id"] for p in plans[:PLANS]])
        locale = key["default_locale"]
        prices: dict[int, list[dict[str, Any]]] = {}
        for row in sorted(rows, key=lambda r: (r["plan_id"], r["currency"])):
            minor, currency = row["amount_minor"], row["currency"]
            prices.setdefault(row["plan_id"], []).append(
                {
                    "amountMinor": minor,
                    "amount": _amount(minor, currency),
                    "currency": currency,
                    "formatted": format_money(minor, currency, locale),
                }
            )
        edges = [
            {
                "node": {
                    "id": p["public_id"],
                    "code": p["code"],
                    "name": p["name"],
                    "intervalMonths": p["interval_months"],
                    "monthlyCredits": p["monthly_credits"],
                    "dailyCreditLimit": p["daily_credit_limit"],
                    "prices": prices.get(p["id"], []),
                }
            }
            for p in plans[:PLANS]
        ]
        body = orjson.dumps({"data": {"plans": {"edges": edges}}})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/graphql-response+json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def _amount(minor: int, currency: str) -> str:
    from domain.money import Money

    return Money(minor, currency).amount


async def run() -> dict[str, Any]:
    async with fresh_postgres() as url:
        _, secret = await _seed()
        from server import create_app

        app = create_app(Settings.for_database(url), manage_db=False)
        pool = await asyncpg.create_pool(
            url.replace("postgres://", "postgresql://", 1), min_size=4, max_size=4
        )
        baseline = baseline_app(pool)
        body = orjson.dumps({"query": QUERY})
        headers = {
            "authorization": f"Bearer {secret}",
            "content-type": "application/json",
            "accept": "application/graphql-response+json",
        }

        async def ours() -> bytes:
            status, payload = await asgi_post(app, "/graphql", body, headers)
            assert status == 200, payload
            return payload

        async def theirs() -> bytes:
            status, payload = await asgi_post(baseline, "/graphql", body, headers)
            assert status == 200
            return payload

        # Same JSON, byte for byte once parsed: the comparison is of equal work.
        assert orjson.loads(await ours()) == orjson.loads(await theirs())
        with count_statements() as statements:
            await ours()
        tally_rps, raw_rps = await compare(ours, theirs)
        await pool.close()
    return {
        "benchmark": "plans(first: 100) with 3 prices each, PostgreSQL, concurrency 4",
        "tally_rps": round(tally_rps, 1),
        "baseline_rps": round(raw_rps, 1),
        "slowdown": round(raw_rps / tally_rps, 2),
        "sql_statements_per_request": len(statements),
    }


if __name__ == "__main__":
    print(asyncio.run(run()))
