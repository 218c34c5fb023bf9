"""The fast execution path gives exactly what graphql-core's stock execution gives:
same data, same errors, same paths — on real rows and on rows with bad values."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from api.context import Context
from api.schema import build_schema
from domain.catalog.repository import CatalogItems
from domain.events.bus import InProcessBus
from domain.money import Money
from domain.pagination import Page
from domain.tenancy.api_keys import authenticate
from tests.factories import make_customer, make_key, make_plan

FAST, STOCK = build_schema(), build_schema(fast=False)

DOCUMENTS = [
    "{ plans(first: 50) { edges { cursor node { id code name interval intervalMonths dailyCreditLimit features taxBehavior status archivedAt prices { amountMinor amount currency formatted } } } pageInfo { hasNextPage endCursor } } }",
    "{ plans { nodes { c: code n: name prices { a: amount, b: amount, currency __typename } } } }",
    "query($skip: Boolean!) { plans { nodes { code description @skip(if: $skip) prices { currency amountMinor @include(if: $skip) } } } }",
    "{ plans { nodes { ... on Plan { code } ...F } } } fragment F on Plan { prices { ... on Money { currency formatted } } }",
    "{ customers { nodes { id name email externalId metadata address { city country } status } } }",
]


async def _context(key: str) -> Context:
    ctx = Context(request=None, response=None, bus=InProcessBus())  # type: ignore[arg-type]
    ctx.sign_in(await authenticate(key), None)
    return ctx


async def _both(
    key: str, document: str, variables: dict[str, Any] | None = None
) -> tuple[Any, Any]:
    fast = await FAST.execute(
        document, variable_values=variables, context_value=await _context(key)
    )
    stock = await STOCK.execute(
        document, variable_values=variables, context_value=await _context(key)
    )
    return fast, stock


def _errors(result: Any) -> list[tuple[str, Any]]:
    return [(e.message, e.path) for e in result.errors or ()]


@pytest.mark.parametrize("document", DOCUMENTS)
async def test_fast_path_matches_stock_execution(tenant: Any, document: str) -> None:
    key = await make_key(tenant=tenant)
    await make_plan(
        tenant=tenant, code="a", prices=[("EUR", 2999), ("JPY", 500)], daily_credit_limit=None
    )
    await make_plan(
        tenant=tenant, code="b", features=["rag"], description="x", daily_credit_limit=7
    )
    await make_customer(tenant=tenant, name="C", email=None, metadata={"k": [1, 2]})
    fast, stock = await _both(key, document, {"skip": True})
    assert fast.errors is None and stock.errors is None
    assert fast.data == stock.data
    fast, stock = await _both(key, document, {"skip": False})
    assert fast.data == stock.data


async def test_bad_values_fail_the_same_way(tenant: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    key = await make_key(tenant=tenant)
    good = SimpleNamespace(amount_minor=100, amount="1.00", currency="EUR", formatted="€1.00")
    missing_currency = SimpleNamespace(
        amount_minor=100, amount="1.00", currency=None, formatted="x"
    )
    not_an_int = SimpleNamespace(amount_minor="lots", amount="1.00", currency="EUR", formatted="x")
    row = SimpleNamespace(
        id=1,
        public_id="pln_0000000000000000",
        code=None,
        name="N",
        description="",
        interval_months=1,
        daily_credit_limit=None,
        status="bogus",
        price_list=[good, missing_currency, not_an_int, Money(5, "JPY")],
    )

    async def fake_list(*args: Any, **kwargs: Any) -> Page[Any]:
        async def count() -> int:
            return 1

        return Page(items=[row], has_next=False, has_previous=False, count=count)

    monkeypatch.setattr(CatalogItems, "list", fake_list)
    for document in (
        "{ plans { nodes { code } } }",
        "{ plans { nodes { name status } } }",
        "{ plans { nodes { name dailyCreditLimit prices { amountMinor currency } } } }",
        "{ plans { nodes { prices { currency } } } }",
    ):
        fast, stock = await _both(key, document)
        assert fast.data == stock.data, document
        assert _errors(fast) == _errors(stock), document
        assert fast.errors, document
