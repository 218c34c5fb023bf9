"""A page's SQL statement count does not grow with its size (pre-joins and DataLoaders)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.querylog import count_statements
from domain.catalog.coupons import create_coupon
from domain.tenancy.api_keys import forget_keys
from tests.api.helpers import data, gql
from tests.factories import make_key, make_plan

PLANS = (
    "{ plans(first: 100) { edges { node { id code prices { amountMinor currency formatted } } } } }"
)
COUPONS = "{ coupons(first: 100) { nodes { code amountsOff { amount } plans { code prices { currency } } } } }"


@pytest.mark.parametrize("size", [1, 5, 30])
async def test_plans_page_takes_three_statements(
    client: httpx.AsyncClient, tenant: Any, size: int
) -> None:
    key = await make_key(tenant=tenant)
    for i in range(size):
        await make_plan(tenant=tenant, code=f"p{i}", prices=[("EUR", 100 * i), ("USD", 110 * i)])
    forget_keys()  # count the cold case: the key lookup included
    with count_statements() as statements:
        page = data(await gql(client, key, PLANS))
    assert len(page["plans"]["edges"]) == size
    assert all(len(e["node"]["prices"]) == 2 for e in page["plans"]["edges"])
    assert len(statements) == 3, statements  # key+tenant, plans, their prices


@pytest.mark.parametrize("size", [1, 8])
async def test_coupon_plans_go_through_a_dataloader(
    client: httpx.AsyncClient, tenant: Any, admin: Any, size: int
) -> None:
    key = await make_key(tenant=tenant)
    plans = [await make_plan(tenant=tenant, code=f"p{i}") for i in range(3)]
    for i in range(size):
        await create_coupon(
            admin,
            {
                "code": f"C{i:03d}",
                "amounts_off": [{"currency": "EUR", "amount_minor": 100}],
                "duration": "once",
                "plan_ids": [p.public_id for p in plans[: 1 + i % 3]],
            },
        )
    forget_keys()  # count the cold case: the key lookup included
    with count_statements() as statements:
        page = data(await gql(client, key, COUPONS))
    assert len(page["coupons"]["nodes"]) == size
    assert page["coupons"]["nodes"][0]["plans"] == [{"code": "p0", "prices": [{"currency": "EUR"}]}]
    # key, coupons, coupon amounts, then one batch for every coupon's plans and one for their prices
    assert len(statements) == 5, statements
