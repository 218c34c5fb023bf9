"""Racing writers: uniqueness holds and every loser gets a typed error, never a 500."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from db.models import Customer, Plan
from tests.api.helpers import data, gql
from tests.factories import make_key

CREATE_CUSTOMER = (
    """mutation($i: CreateCustomerInput!) { createCustomer(input: $i) { __typename } }"""
)
CREATE_PLAN = """mutation($i: CreatePlanInput!) { createPlan(input: $i) { __typename } }"""


async def test_racing_creates_with_one_external_id(client: httpx.AsyncClient, tenant: Any) -> None:
    key = await make_key(tenant=tenant)
    variables = {"i": {"name": "Racer", "externalId": "same"}}
    results = await asyncio.gather(
        *(gql(client, key, CREATE_CUSTOMER, variables) for _ in range(16))
    )
    kinds = sorted(data(r)["createCustomer"]["__typename"] for r in results)
    assert kinds.count("CustomerSuccess") == 1
    assert set(kinds) == {"CustomerSuccess", "ConflictError"}
    assert await Customer.filter(tenant_id=tenant.id, external_id="same").count() == 1


async def test_racing_creates_with_one_plan_code(client: httpx.AsyncClient, tenant: Any) -> None:
    key = await make_key(tenant=tenant)
    plan = {
        "code": "dup",
        "name": "D",
        "interval": "MONTH",
        "prices": [{"currency": "EUR", "amountMinor": 1}],
    }
    results = await asyncio.gather(*(gql(client, key, CREATE_PLAN, {"i": plan}) for _ in range(16)))
    kinds = [data(r)["createPlan"]["__typename"] for r in results]
    assert kinds.count("PlanSuccess") == 1 and set(kinds) == {"PlanSuccess", "ConflictError"}
    assert await Plan.filter(tenant_id=tenant.id, code="dup").count() == 1
