"""A metered world for the usage API tests: a test-mode tenant on a clock, a plan
with a graduated charge on streamed minutes (seconds per session, each started minute
counts, split by quality), and a customer subscribed to it, set up through GraphQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from domain.tenancy.access import Role
from tests.api.helpers import data, gql
from tests.factories import make_customer, make_key, make_plan, make_test_clock, make_test_tenant

CREATE_METRIC = """mutation($i: CreateBillableMetricInput!) { createBillableMetric(input: $i) {
  __typename
  ... on BillableMetricSuccess { metric { id code aggregation fieldName dimensions timeUnit
      conversion { divisor rounding decimals perEvent } } }
  ... on Error { code field } } }"""
CREATE_CHARGE = """mutation($i: CreateUsageChargeInput!) { createUsageCharge(input: $i) {
  __typename
  ... on UsageChargeSuccess { charge { id model invoiceDisplayName prices { currency properties }
      filters { key values } metric { code } plan { code } } }
  ... on Error { code field } } }"""
SUBSCRIBE = """mutation($c: ID!, $p: ID!) { createSubscription(input: {customerId: $c, planId: $p}) {
  __typename ... on SubscriptionSuccess { subscription { id } } ... on Error { code message } } }"""
PLAN_CHARGES = """query($id: ID!) { plan(id: $id) { charges { id invoiceDisplayName
  metric { code } } } }"""

TIERS = [
    {"upTo": "100", "unitPrice": "0.10", "flatFee": "0"},
    {"upTo": None, "unitPrice": "0.05", "flatFee": "1.00"},
]
# 150 started minutes: 100 x 0.10 = 10.00 in the first tier, then 50 x 0.05 + 1.00 for
# entering the second = 3.50; 13.50 EUR in all. HD has 80 of them, SD 70: the amount is
# shared by units, 7.20 and 6.30.


def minutes_event(tx: str, seconds: Any, quality: str = "HD", **extra: Any) -> dict[str, Any]:
    return {
        "transactionId": tx,
        "metricCode": "minutes",
        "properties": {"seconds": seconds, "quality": quality},
        **extra,
    }


async def metered_world(client: httpx.AsyncClient) -> dict[str, Any]:
    """A test-mode tenant on a clock; a plan with a graduated charge on streamed
    minutes (seconds per session, each started minute counts), a subscribed customer."""
    tenant = await make_test_tenant()
    admin = await make_key(tenant=tenant)
    clock = await make_test_clock(tenant=tenant, at=datetime(2027, 3, 1, tzinfo=UTC))
    customer = await make_customer(
        tenant=tenant, country="US", external_id="acme", test_clock_id=clock.public_id
    )
    plan = await make_plan(tenant=tenant, code="stream", prices=[("EUR", 1_000)], name="Stream")
    metric = data(
        await gql(
            client,
            admin,
            CREATE_METRIC,
            {
                "i": {
                    "code": "minutes",
                    "name": "Minutes",
                    "aggregation": "SUM",
                    "fieldName": "seconds",
                    "dimensions": ["quality"],
                    "conversion": {
                        "divisor": "60",
                        "rounding": "CEIL",
                        "decimals": 0,
                        "perEvent": True,
                    },
                }
            },
        )
    )["createBillableMetric"]
    charge = data(
        await gql(
            client,
            admin,
            CREATE_CHARGE,
            {
                "i": {
                    "planId": plan.public_id,
                    "metricId": "minutes",
                    "model": "GRADUATED",
                    "prices": [{"currency": "EUR", "properties": {"tiers": TIERS}}],
                    "invoiceDisplayName": "Streaming minutes",
                }
            },
        )
    )["createUsageCharge"]
    sub = data(await gql(client, admin, SUBSCRIBE, {"c": customer.public_id, "p": plan.public_id}))[
        "createSubscription"
    ]
    assert sub["__typename"] == "SubscriptionSuccess", sub
    return {
        "tenant": tenant,
        "admin": admin,
        "service": await make_key(tenant=tenant, role=Role.SERVICE),
        "clock": clock,
        "customer": customer,
        "plan": plan,
        "metric": metric,
        "charge": charge,
        "subscription": sub["subscription"]["id"],
    }
