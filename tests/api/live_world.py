"""Shared by the live-group tests: a tenant with two customers, waiting on the server's
state, and credit messages as domain/credits/live.py publishes them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from domain.tenancy.access import Role
from tests.api.raw_ws import RawSocket
from tests.factories import make_customer, make_key, make_plan, make_subscription

USAGE = "subscription { usageEvents { customerId kind amount module } }"
BALANCE = "subscription($c: ID) { creditBalance(customerId: $c) { customerId balance } }"
BALANCE_TOO = "subscription($c: ID) { creditBalance(customerId: $c) { balance usedToday } }"
GRANT = """mutation($c: ID!) { grantCredits(customerId: $c, amount: 10, reason: "x") {
  __typename } }"""


async def world(tenant: Any) -> tuple[str, str, Any, Any]:
    admin = await make_key(tenant=tenant)
    plan = await make_plan(tenant=tenant, features=["rag"])
    me = await make_customer(tenant=tenant, name="Me")
    other = await make_customer(tenant=tenant, name="Other")
    for customer in (me, other):
        await make_subscription(tenant=tenant, customer=customer, plan=plan)
    token = await make_key(tenant=tenant, role=Role.CUSTOMER, customer=me)
    return admin, token, me, other


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(1000):  # a bound on waiting (10 s), never a pause
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


async def grant(host: str, key: str, customer: str) -> None:
    async with httpx.AsyncClient(base_url=f"http://{host}") as http:
        answer = await http.post(
            "/graphql",
            json={"query": GRANT, "variables": {"c": customer}},
            headers={"authorization": f"Bearer {key}"},
        )
    assert answer.json()["data"]["grantCredits"]["__typename"] == "CreditWalletSuccess"


async def follow(
    raw: RawSocket, query: str, variables: dict[str, Any] | None = None, op: str = "1"
) -> None:
    assert json.loads(await raw.text())["type"] == "connection_ack"
    payload = {"query": query, "variables": variables or {}}
    await raw.send({"id": op, "type": "subscribe", "payload": payload})


def after_id(text: str, op: str) -> str:
    """A `next` frame's text after its operation id (the part a group shares)."""
    head = '{"id":' + json.dumps(op) + ","
    assert text.startswith(head), text[:80]
    return text[len(head) :]


def change(customer: Any, seq: int, module: str = "rag") -> dict[str, Any]:
    """One wallet change as domain/credits/live.py publishes it."""
    return {
        "customer_id": customer.id,
        "customer": customer.public_id,
        "wallet": {"balance": seq, "reserved": 0, "used_today": 0, "blocked": False},
        "entry": {
            "id": f"ce_{seq:012d}",
            "kind": "consumption",
            "amount": -1,
            "balance_after": seq,
            "module": module,
            "action": "ask",
            "quantity": 1,
            "created_at": "2026-12-04T10:00:00+00:00",
        },
    }


def credits_message(*changes: dict[str, Any]) -> dict[str, Any]:
    return {"type": "credits.changes", "committed_at": time.time(), "changes": list(changes)}
