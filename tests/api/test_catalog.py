"""Plans, add-ons and coupons through GraphQL: creation, validation, updates,
archiving, listing and idempotency keys."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from db.models import AddOn, Coupon, Plan, PlanPrice
from tests.api.helpers import data, gql
from tests.factories import make_key, make_plan

PLAN_FIELDS = """
id code name description interval intervalMonths trialDays monthlyCredits dailyCreditLimit
features taxBehavior status archivedAt
prices { amountMinor amount currency formatted }
eur: price(currency: "eur") { formattedIn(locale: "fr") }
frAccept: prices { formatted }
"""
CREATE_PLAN = f"""
mutation($input: CreatePlanInput!, $key: String) {{
  createPlan(input: $input, idempotencyKey: $key) {{
    __typename
    ... on PlanSuccess {{ plan {{ {PLAN_FIELDS} }} }}
    ... on Error {{ code message field }}
  }}
}}"""
UPDATE_PLAN = f"""
mutation($id: ID!, $input: UpdatePlanInput!) {{
  updatePlan(id: $id, input: $input) {{
    __typename ... on PlanSuccess {{ plan {{ {PLAN_FIELDS} }} }} ... on Error {{ code field }}
  }}
}}"""
ARCHIVE_PLAN = """
mutation($id: ID!) { archivePlan(id: $id) { __typename ... on PlanSuccess { plan { status archivedAt } } } }
"""
CREATE_ADD_ON = """
mutation($input: CreateAddOnInput!, $key: String) {
  createAddOn(input: $input, idempotencyKey: $key) {
    __typename
    ... on AddOnSuccess { addOn { id code kind status prices { amountMinor currency } } }
    ... on Error { code field }
  }
}"""
CREATE_COUPON = """
mutation($input: CreateCouponInput!, $key: String) {
  createCoupon(input: $input, idempotencyKey: $key) {
    __typename
    ... on CouponSuccess { coupon {
      id code name discountType percentOff amountsOff { amountMinor currency } duration
      durationPeriods redeemBy maxRedemptions timesRedeemed plans { code } status } }
    ... on Error { code field message }
  }
}"""

PREMIUM = {
    "code": "premium",
    "name": "Premium",
    "description": "All features",
    "interval": "MONTH",
    "trialDays": 14,
    "monthlyCredits": 5000,
    "dailyCreditLimit": None,
    "features": ["rag", "legal"],
    "taxBehavior": "INCLUSIVE",
    "prices": [
        {"currency": "EUR", "amount": "29.99"},
        {"currency": "DZD", "amountMinor": "500000"},
    ],
}


@pytest.fixture
async def key(tenant: Any) -> str:
    return await make_key(tenant=tenant)


async def test_create_plan(client: httpx.AsyncClient, key: str, tenant: Any) -> None:
    result = data(await gql(client, key, CREATE_PLAN, {"input": PREMIUM}))["createPlan"]
    assert result["__typename"] == "PlanSuccess"
    plan = result["plan"]
    assert plan["id"].startswith("pln_")
    assert plan["interval"] == "MONTH" and plan["intervalMonths"] == 1
    assert plan["dailyCreditLimit"] is None and plan["monthlyCredits"] == 5000
    assert plan["taxBehavior"] == "INCLUSIVE" and plan["status"] == "ACTIVE"
    assert plan["prices"] == [
        {
            "amountMinor": 500000,
            "amount": "5000.00",
            "currency": "DZD",
            "formatted": "DZD\u00a05,000.00",
        },
        {"amountMinor": 2999, "amount": "29.99", "currency": "EUR", "formatted": "€29.99"},
    ]
    assert plan["eur"] == {"formattedIn": "29,99\u00a0€"}


async def test_formatted_follows_accept_language(
    client: httpx.AsyncClient, key: str, tenant: Any
) -> None:
    await make_plan(tenant=tenant, code="fr", prices=[("EUR", 2999)])
    query = "{ plans { nodes { prices { formatted } } } }"
    french = data(await gql(client, key, query, headers={"accept-language": "fr-FR,fr;q=0.9"}))
    assert french["plans"]["nodes"][0]["prices"] == [{"formatted": "29,99\u00a0€"}]
    german = data(await gql(client, key, query, headers={"accept-language": "it, de;q=0.5"}))
    assert german["plans"]["nodes"][0]["prices"] == [{"formatted": "29,99\u00a0€"}]
    default = data(await gql(client, key, query))  # the tenant's locale: en
    assert default["plans"]["nodes"][0]["prices"] == [{"formatted": "€29.99"}]


@pytest.mark.parametrize(
    ("interval", "months", "expected"),
    [("QUARTER", None, ("QUARTER", 3)), ("YEAR", None, ("YEAR", 12)), ("MONTHS", 6, ("MONTHS", 6))],
)
async def test_intervals(
    client: httpx.AsyncClient,
    key: str,
    interval: str,
    months: int | None,
    expected: tuple[str, int],
) -> None:
    variables = {**PREMIUM, "code": f"p-{interval}", "interval": interval, "intervalMonths": months}
    plan = data(await gql(client, key, CREATE_PLAN, {"input": variables}))["createPlan"]["plan"]
    assert (plan["interval"], plan["intervalMonths"]) == expected


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"prices": []}, "prices", "PRICE_REQUIRED"),
        ({"prices": [{"currency": "EUR", "amountMinor": -1}]}, "prices[0]", "NEGATIVE_AMOUNT"),
        (
            {"prices": [{"currency": "EUX", "amountMinor": 1}]},
            "prices[0].currency",
            "UNKNOWN_CURRENCY",
        ),
        (
            {"prices": [{"currency": "EUR", "amount": "1.999"}]},
            "prices[0].amount",
            "TOO_MANY_DECIMALS",
        ),
        (
            {"prices": [{"currency": "JPY", "amount": "1.5"}]},
            "prices[0].amount",
            "TOO_MANY_DECIMALS",
        ),
        ({"prices": [{"currency": "EUR"}]}, "prices[0]", "VALIDATION_ERROR"),
        (
            {"prices": [{"currency": "EUR", "amount": "1", "amountMinor": 100}]},
            "prices[0]",
            "VALIDATION_ERROR",
        ),
        (
            {"prices": [{"currency": "EUR", "amount": "1"}, {"currency": "eur", "amount": "2"}]},
            "prices[1].currency",
            "VALIDATION_ERROR",
        ),
        ({"code": "has space"}, "code", "VALIDATION_ERROR"),
        ({"name": "  "}, "name", "VALIDATION_ERROR"),
        ({"interval": "MONTHS"}, "intervalMonths", "VALIDATION_ERROR"),
        ({"interval": "MONTHS", "intervalMonths": 0}, "intervalMonths", "VALIDATION_ERROR"),
        ({"trialDays": -1}, "trialDays", "VALIDATION_ERROR"),
        ({"monthlyCredits": -5}, "monthlyCredits", "VALIDATION_ERROR"),
        ({"dailyCreditLimit": -5}, "dailyCreditLimit", "VALIDATION_ERROR"),
        ({"features": ["Not A Code"]}, "features", "VALIDATION_ERROR"),
    ],
)
async def test_plan_validation_writes_nothing(
    client: httpx.AsyncClient, key: str, tenant: Any, change: dict[str, Any], field: str, code: str
) -> None:
    result = data(await gql(client, key, CREATE_PLAN, {"input": {**PREMIUM, **change}}))[
        "createPlan"
    ]
    assert result["__typename"] == "ValidationError", result
    assert (result["field"], result["code"]) == (field, code)
    assert not await Plan.exists(tenant_id=tenant.id)
    assert not await PlanPrice.exists(plan__tenant_id=tenant.id)


async def test_wire_type_errors_are_request_errors(client: httpx.AsyncClient, key: str) -> None:
    from tests.api.helpers import post

    for bad in (29.99, "12.5", True):
        variables = {"input": {**PREMIUM, "prices": [{"currency": "EUR", "amountMinor": bad}]}}
        response = await post(client, key, CREATE_PLAN, variables)
        assert response.status_code == 400, bad
        assert "amountMinor" in response.text or "BigInt" in response.text


async def test_duplicate_code_is_a_conflict(
    client: httpx.AsyncClient, key: str, tenant: Any
) -> None:
    assert (
        data(await gql(client, key, CREATE_PLAN, {"input": PREMIUM}))["createPlan"]["__typename"]
        == "PlanSuccess"
    )
    result = data(await gql(client, key, CREATE_PLAN, {"input": PREMIUM}))["createPlan"]
    assert (result["__typename"], result["code"], result["field"]) == (
        "ConflictError",
        "DUPLICATE_CODE",
        "code",
    )
    assert await Plan.filter(tenant_id=tenant.id).count() == 1


async def test_idempotency_key(client: httpx.AsyncClient, key: str, tenant: Any) -> None:
    first = data(await gql(client, key, CREATE_PLAN, {"input": PREMIUM, "key": "k-1"}))[
        "createPlan"
    ]
    again = data(await gql(client, key, CREATE_PLAN, {"input": PREMIUM, "key": "k-1"}))[
        "createPlan"
    ]
    assert again == first
    other = {**PREMIUM, "name": "Different"}
    reused = data(await gql(client, key, CREATE_PLAN, {"input": other, "key": "k-1"}))["createPlan"]
    assert (reused["__typename"], reused["code"], reused["field"]) == (
        "IdempotencyError",
        "IDEMPOTENCY_KEY_REUSED",
        "idempotencyKey",
    )
    # The same key on another operation is a reuse too.
    add_on = {
        "code": "x",
        "name": "X",
        "kind": "ONE_OFF",
        "prices": [{"currency": "EUR", "amount": "1"}],
    }
    reused = data(await gql(client, key, CREATE_ADD_ON, {"input": add_on, "key": "k-1"}))[
        "createAddOn"
    ]
    assert reused["__typename"] == "IdempotencyError"
    assert await Plan.filter(tenant_id=tenant.id).count() == 1


async def test_concurrent_requests_with_one_key_create_once(
    client: httpx.AsyncClient, key: str, tenant: Any
) -> None:
    results = await asyncio.gather(
        *(gql(client, key, CREATE_PLAN, {"input": PREMIUM, "key": "race"}) for _ in range(8))
    )
    ids = {data(r)["createPlan"]["plan"]["id"] for r in results}
    assert len(ids) == 1
    assert await Plan.filter(tenant_id=tenant.id).count() == 1


async def test_update_and_archive_plan(client: httpx.AsyncClient, key: str, tenant: Any) -> None:
    plan = await make_plan(tenant=tenant, code="basic", prices=[("EUR", 1000)])
    change = {
        "name": "Basic+",
        "prices": [{"currency": "USD", "amount": "12"}],
        "dailyCreditLimit": 50,
    }
    result = data(await gql(client, key, UPDATE_PLAN, {"id": plan.public_id, "input": change}))[
        "updatePlan"
    ]
    assert result["plan"]["name"] == "Basic+" and result["plan"]["dailyCreditLimit"] == 50
    assert [p["currency"] for p in result["plan"]["prices"]] == ["USD"]
    unlimited = data(
        await gql(
            client, key, UPDATE_PLAN, {"id": plan.public_id, "input": {"dailyCreditLimit": None}}
        )
    )
    assert unlimited["updatePlan"]["plan"]["dailyCreditLimit"] is None
    bad = data(
        await gql(
            client,
            key,
            UPDATE_PLAN,
            {
                "id": plan.public_id,
                "input": {"prices": [{"currency": "USD", "amountMinor": -1}], "name": "Nope"},
            },
        )
    )
    assert bad["updatePlan"]["__typename"] == "ValidationError"
    empty = data(await gql(client, key, UPDATE_PLAN, {"id": plan.public_id, "input": {}}))
    assert empty["updatePlan"]["field"] == "input"
    await plan.refresh_from_db()
    assert plan.name == "Basic+"  # the refused update changed nothing

    archived = data(await gql(client, key, ARCHIVE_PLAN, {"id": plan.public_id}))["archivePlan"]
    assert archived["plan"]["status"] == "ARCHIVED" and archived["plan"]["archivedAt"]
    active = data(await gql(client, key, "{ plans(status: ACTIVE) { nodes { code } } }"))
    assert active["plans"]["nodes"] == []
    everything = data(await gql(client, key, "{ plans { nodes { code status } } }"))
    assert everything["plans"]["nodes"] == [{"code": "basic", "status": "ARCHIVED"}]


async def test_fetch_plan_by_id_or_code(client: httpx.AsyncClient, key: str, tenant: Any) -> None:
    plan = await make_plan(tenant=tenant, code="pro")
    by_id = data(
        await gql(client, key, "query($id: ID!) { plan(id: $id) { code } }", {"id": plan.public_id})
    )
    by_code = data(await gql(client, key, '{ plan(code: "pro") { id } }'))
    assert by_id["plan"]["code"] == "pro" and by_code["plan"]["id"] == plan.public_id
    missing = await gql(client, key, '{ plan(code: "nope") { id } }')
    assert missing == {"data": {"plan": None}}
    neither = await gql(client, key, "{ plan { id } }")
    assert neither["errors"][0]["extensions"]["code"] == "VALIDATION_ERROR"


async def test_add_ons(client: httpx.AsyncClient, key: str, tenant: Any) -> None:
    seat = {
        "code": "seat",
        "name": "Seat",
        "kind": "RECURRING",
        "prices": [{"currency": "EUR", "amount": "5"}],
    }
    created = data(await gql(client, key, CREATE_ADD_ON, {"input": seat}))["createAddOn"]
    assert created["addOn"]["kind"] == "RECURRING"
    assert created["addOn"]["prices"] == [{"amountMinor": 500, "currency": "EUR"}]
    bad = data(
        await gql(client, key, CREATE_ADD_ON, {"input": {**seat, "code": "s2", "prices": []}})
    )
    assert bad["createAddOn"]["code"] == "PRICE_REQUIRED"
    dup = data(await gql(client, key, CREATE_ADD_ON, {"input": seat}))
    assert dup["createAddOn"]["__typename"] == "ConflictError"
    update = 'mutation($id: ID!) { updateAddOn(id: $id, input: {prices: [{currency: "USD", amountMinor: 700}]}) { ... on AddOnSuccess { addOn { prices { amount currency } } } } }'
    updated = data(await gql(client, key, update, {"id": created["addOn"]["id"]}))
    assert updated["updateAddOn"]["addOn"]["prices"] == [{"amount": "7.00", "currency": "USD"}]
    archive = (
        "mutation($id: ID!) { archiveAddOn(id: $id) { ... on AddOnSuccess { addOn { status } } } }"
    )
    assert (
        data(await gql(client, key, archive, {"id": created["addOn"]["id"]}))["archiveAddOn"][
            "addOn"
        ]["status"]
        == "ARCHIVED"
    )
    assert await AddOn.filter(tenant_id=tenant.id).count() == 1
    listed = data(
        await gql(
            client, key, '{ addOns(search: "sea") { nodes { code } } addOn(code: "seat") { name } }'
        )
    )
    assert listed == {"addOns": {"nodes": [{"code": "seat"}]}, "addOn": {"name": "Seat"}}


async def test_coupons(client: httpx.AsyncClient, key: str, tenant: Any) -> None:
    pro = await make_plan(tenant=tenant, code="pro")
    percent = {
        "code": "welcome20",
        "percentOff": "12.5",
        "duration": "REPEATING",
        "durationPeriods": 3,
        "maxRedemptions": 10,
        "redeemBy": "2099-01-01T00:00:00Z",
        "planIds": [pro.public_id],
    }
    coupon = data(await gql(client, key, CREATE_COUPON, {"input": percent}))["createCoupon"][
        "coupon"
    ]
    assert coupon["code"] == "WELCOME20" and coupon["percentOff"] == "12.5"
    assert coupon["discountType"] == "PERCENT" and coupon["plans"] == [{"code": "pro"}]
    assert coupon["timesRedeemed"] == 0 and coupon["amountsOff"] == []
    fixed = {
        "code": "TENOFF",
        "amountsOff": [{"currency": "EUR", "amount": "10"}],
        "duration": "ONCE",
    }
    coupon = data(await gql(client, key, CREATE_COUPON, {"input": fixed}))["createCoupon"]["coupon"]
    assert (
        coupon["amountsOff"] == [{"amountMinor": 1000, "currency": "EUR"}]
        and coupon["percentOff"] is None
    )
    by_code = data(await gql(client, key, '{ coupon(code: "tenoff") { id } }'))
    assert by_code["coupon"]["id"] == coupon["id"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"percentOff": "100.5"}, "percentOff"),
        ({"percentOff": "0"}, "percentOff"),
        ({"percentOff": "-3"}, "percentOff"),
        ({"percentOff": "12.345"}, "percentOff"),
        ({"percentOff": None}, "percentOff"),
        ({"amountsOff": [{"currency": "EUR", "amount": "5"}]}, "percentOff"),
        ({"duration": "REPEATING"}, "durationPeriods"),
        ({"durationPeriods": 2}, "durationPeriods"),
        ({"redeemBy": "2001-01-01T00:00:00Z"}, "redeemBy"),
        ({"maxRedemptions": 0}, "maxRedemptions"),
        ({"code": "x"}, "code"),
        ({"planIds": ["pln_0000000000000000"]}, "planIds"),
        ({"planIds": ["nonsense"]}, "planIds"),
    ],
)
async def test_coupon_validation_writes_nothing(
    client: httpx.AsyncClient, key: str, tenant: Any, change: dict[str, Any], field: str
) -> None:
    base = {"code": "SPRING", "percentOff": "20", "duration": "ONCE"}
    result = data(await gql(client, key, CREATE_COUPON, {"input": {**base, **change}}))[
        "createCoupon"
    ]
    assert result["__typename"] in ("ValidationError", "NotFoundError"), result
    assert result["field"] == field
    assert not await Coupon.exists(tenant_id=tenant.id)


async def test_coupon_update_limits(client: httpx.AsyncClient, key: str, tenant: Any) -> None:
    base = {"code": "SPRING", "percentOff": "20", "duration": "FOREVER", "maxRedemptions": 5}
    coupon = data(await gql(client, key, CREATE_COUPON, {"input": base}))["createCoupon"]["coupon"]
    assert coupon["percentOff"] == "20"  # not "2E+1"
    update = """mutation($id: ID!, $input: UpdateCouponInput!) { updateCoupon(id: $id, input: $input) {
      __typename ... on CouponSuccess { coupon { maxRedemptions redeemBy name } } ... on Error { field } } }"""
    ok = data(
        await gql(
            client,
            key,
            update,
            {"id": coupon["id"], "input": {"maxRedemptions": None, "name": "Spring"}},
        )
    )
    assert ok["updateCoupon"]["coupon"] == {
        "maxRedemptions": None,
        "redeemBy": None,
        "name": "Spring",
    }
    bad = data(await gql(client, key, update, {"id": coupon["id"], "input": {"maxRedemptions": 0}}))
    assert bad["updateCoupon"] == {"__typename": "ValidationError", "field": "maxRedemptions"}
