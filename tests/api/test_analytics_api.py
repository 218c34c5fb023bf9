"""The `analytics` query object through real GraphQL documents (issue 17): the figures
of a small book on a test clock, the analyst role, refusals and tenant isolation,
and one query through the stock `gql` client."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from gql import Client
from gql import gql as parse
from gql.transport.httpx import HTTPXAsyncTransport

from domain.billing.simulated_clocks import advance_test_clock
from domain.subscriptions import changes
from domain.tenancy.access import Role
from tests.api.helpers import data, gql
from tests.factories import (
    admin_of,
    make_customer,
    make_key,
    make_plan,
    make_subscription,
    make_test_clock,
    make_test_tenant,
)

REPORT = """
query($from: DateTime!, $to: DateTime!) {
  analytics {
    mrr(from: $from, to: $to, interval: MONTH) {
      start currency mrrStart { amountMinor } mrr { amountMinor amount } arr { amountMinor }
      new { amountMinor } expansion { amountMinor } contraction { amountMinor }
      churn { amountMinor } reactivation { amountMinor } netNew { amountMinor }
      customersStart customers newCustomers churnedCustomers logoChurnRate
    }
    customersOverview(from: $from, to: $to) {
      currency paying churned netRevenueRetention grossRevenueRetention arpa ltv
    }
    cash(from: $from, to: $to) {
      currency invoiced { amountMinor } collected { amountMinor } paymentSuccessRate
    }
    receivables(at: $to) { currency current { amountMinor } total { amountMinor } }
    cohorts(from: $from, to: $to, currency: "EUR") { cohort customers retained retentionRate }
  }
}
"""


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


async def _book() -> dict[str, Any]:
    # Jan 1: Ann basic 10.00, Bob pro 30.00 (new 4000). Jan 20: Bob down to basic
    # (contraction 2000). Feb 10: Ann cancels (churn 1000). MRR: Jan 2000, Feb 1000.
    tenant = await make_test_tenant(country="FR")
    clock = await make_test_clock(tenant=tenant, at=utc(2026, 1, 1))
    admin = admin_of(tenant)
    basic = await make_plan(tenant=tenant, code="basic", prices=[("EUR", 1000)])
    pro = await make_plan(tenant=tenant, code="pro", prices=[("EUR", 3000)])
    ann = await make_customer(tenant=tenant, name="Ann", test_clock_id=clock.public_id)
    bob = await make_customer(tenant=tenant, name="Bob", test_clock_id=clock.public_id)
    ann_sub = await make_subscription(tenant=tenant, customer=ann, plan=basic)
    bob_sub = await make_subscription(tenant=tenant, customer=bob, plan=pro)
    await advance_test_clock(admin, clock.public_id, utc(2026, 1, 20))
    await changes.change_subscription(admin, bob_sub.public_id, {"plan_id": basic.public_id})
    await advance_test_clock(admin, clock.public_id, utc(2026, 2, 10))
    await changes.cancel_subscription(admin, ann_sub.public_id, at_period_end=False, prorate=False)
    return {"tenant": tenant, "admin": await make_key(tenant=tenant)}


VARS = {"from": "2026-01-01T00:00:00Z", "to": "2026-03-01T00:00:00Z"}


async def test_the_report_of_a_small_book(client: httpx.AsyncClient) -> None:
    book = await _book()
    body = data(await gql(client, book["admin"], REPORT, VARS))["analytics"]
    january, february = body["mrr"]
    assert january["mrrStart"]["amountMinor"] == 0
    assert (january["new"]["amountMinor"], january["contraction"]["amountMinor"]) == (4000, 2000)
    assert (january["mrr"]["amountMinor"], january["mrr"]["amount"]) == (2000, "20.00")
    assert january["arr"]["amountMinor"] == 24000
    assert (february["churn"]["amountMinor"], february["mrr"]["amountMinor"]) == (1000, 1000)
    assert (february["customersStart"], february["customers"]) == (2, 1)
    assert (february["churnedCustomers"], february["logoChurnRate"]) == (1, "0.5000")
    assert february["netNew"]["amountMinor"] == -1000
    (overview,) = body["customersOverview"]
    # Nobody paid on Jan 1 before the range: no cohort at the start, no retention.
    assert overview == {
        "currency": "EUR",
        "paying": 1,
        "churned": 1,
        "netRevenueRetention": None,
        "grossRevenueRetention": None,
        "arpa": "1000.00",
        "ltv": None,
    }
    # Invoices: Ann 12.00, Bob 36.00 (20 % VAT), Bob's next 12.00 on Feb 1 (the
    # downgrade's proration credit is on it), nothing paid (manual collection).
    assert [c["currency"] for c in body["cash"]] == ["EUR", "EUR"]
    assert all(c["collected"]["amountMinor"] == 0 for c in body["cash"])
    assert body["receivables"][0]["total"]["amountMinor"] > 0
    assert body["cohorts"] == [
        {
            "cohort": "2026-01",
            "customers": 2,
            "retained": [2, 1],
            "retentionRate": ["1.0000", "0.5000"],
        }
    ]


async def test_analysts_read_and_others_are_refused(client: httpx.AsyncClient) -> None:
    book = await _book()
    analyst = await make_key(tenant=book["tenant"], role=Role.ANALYST)
    points = data(await gql(client, analyst, REPORT, VARS))["analytics"]["mrr"]
    assert [p["mrr"]["amountMinor"] for p in points] == [2000, 1000]
    service = await make_key(tenant=book["tenant"], role=Role.SERVICE)
    refused = await gql(
        client,
        service,
        '{ analytics { mrr(from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { currency } } }',
    )
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # An analyst changes nothing.
    denied = await gql(
        client,
        analyst,
        'mutation { createPlan(input: {code: "x", name: "X", interval: MONTH, prices: []}) { __typename } }',
    )
    assert "PermissionDenied" in str(denied)


async def test_another_tenant_sees_none_of_it(client: httpx.AsyncClient) -> None:
    await _book()
    other = await make_test_tenant(country="FR")
    body = data(await gql(client, await make_key(tenant=other), REPORT, VARS))["analytics"]
    assert body["mrr"] == [] and body["customersOverview"] == []
    assert body["cash"] == [] and body["receivables"] == [] and body["cohorts"] == []


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ('from: "2026-03-01T00:00:00Z", to: "2026-01-01T00:00:00Z"', "to"),
        ('from: "2026-01-01T00:00:00Z", to: "2036-01-01T00:00:00Z", interval: DAY', "interval"),
        ('from: "2026-01-01T00:00:00Z", to: "2026-02-01T00:00:00Z", currency: "EURO"', "currency"),
    ],
)
async def test_bad_ranges_are_typed_errors(
    client: httpx.AsyncClient, args: str, field: str
) -> None:
    key = await make_key(tenant=await make_test_tenant())
    body = await gql(client, key, f"{{ analytics {{ mrr({args}) {{ currency }} }} }}")
    assert body["errors"][0]["extensions"]["field"] == field, body


async def test_a_stock_client_reads_the_series(app: Any) -> None:
    book = await _book()
    transport = HTTPXAsyncTransport(
        url="http://tally/graphql",
        headers={"Authorization": f"Bearer {book['admin']}"},
        transport=httpx.ASGITransport(app=app),
    )
    async with Client(transport=transport) as session:
        result = await session.execute(parse(REPORT), variable_values=VARS)
    assert [p["mrr"]["amountMinor"] for p in result["analytics"]["mrr"]] == [2000, 1000]


FAMILIES = """
query($from: DateTime!, $to: DateTime!) {
  analytics {
    creditsUsage(from: $from, to: $to, interval: MONTH, top: 5) {
      consumed granted purchased points { consumed modules { module consumed } }
      days { day consumed } topConsumers { customerId name consumed }
    }
    usage(from: $from, to: $to, interval: MONTH) { code events }
    royaltiesOwed { currency owed { amountMinor } payees }
  }
}
"""


async def test_credits_usage_and_royalties_families(client: httpx.AsyncClient) -> None:
    from domain import clock
    from domain.credits import admin as credit_admin
    from domain.credits import consume
    from tests.domain.credits.conftest import make_credits

    # 100 credits granted on Mar 1; 7 for rag (1 a unit) on Mar 3.
    with clock.frozen_at(utc(2026, 3, 1)):
        c = await make_credits()
        await credit_admin.grant_credits(c.admin, c.customer.public_id, 100, reason="test")
    with clock.frozen_at(utc(2026, 3, 3)):
        done = await consume.consume_credits(
            c.service, c.req("r-1", "rag", 7, customer=c.customer.public_id)
        )
    assert done.consumed
    key = await make_key(tenant=c.tenant)
    body = data(
        await gql(
            client,
            key,
            FAMILIES,
            {"from": "2026-03-01T00:00:00Z", "to": "2026-03-05T00:00:00Z"},
        )
    )["analytics"]
    credits = body["creditsUsage"]
    assert (credits["consumed"], credits["granted"], credits["purchased"]) == (7, 100, 0)
    assert credits["points"] == [{"consumed": 7, "modules": [{"module": "rag", "consumed": 7}]}]
    assert [d["consumed"] for d in credits["days"]] == [0, 0, 7, 0]
    assert credits["topConsumers"] == [
        {"customerId": c.customer.public_id, "name": c.customer.name, "consumed": 7}
    ]
    assert body["usage"] == [] and body["royaltiesOwed"] == []
