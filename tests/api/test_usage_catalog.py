"""Managing usage pricing through real GraphQL documents: metrics, charges and a
plan's usage terms, incidents and spending alerts, and the statement count of a page
of plans with their charges."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.querylog import count_statements
from domain.tenancy.access import Role
from domain.tenancy.api_keys import forget_keys
from tests.api.helpers import data, gql
from tests.api.usage_world import CREATE_CHARGE, CREATE_METRIC, PLAN_CHARGES, TIERS, metered_world
from tests.factories import make_customer, make_key, make_plan

METRIC = """query($id: ID!) { billableMetric(id: $id) { id code name description archivedAt } }"""
UPDATE_METRIC = """mutation($id: ID!) { updateBillableMetric(id: $id, input: {name: "Minutes streamed"}) {
  __typename ... on BillableMetricSuccess { metric { name } } ... on Error { code } } }"""
ARCHIVE_METRIC = """mutation($id: ID!) { archiveBillableMetric(id: $id) {
  __typename ... on BillableMetricSuccess { metric { archivedAt } } ... on Error { code } } }"""
ARCHIVE_CHARGE = """mutation($id: ID!) { archiveUsageCharge(id: $id) {
  __typename ... on UsageChargeSuccess { charge { archivedAt } } ... on Error { code } } }"""
SET_TERMS = """mutation($p: ID!, $t: JSON) { setPlanUsageTerms(planId: $p, terms: $t) {
  __typename
  ... on PlanUsageTermsSuccess { plan { code } usageTerms { minimumCommitment { amountMinor currency }
      volumeDiscounts { above { amountMinor } percent } slaCredits { below creditPercent } } }
  ... on Error { code field } } }"""
TERMS = """query($p: ID!) { planUsageTerms(planId: $p) { minimumCommitment { amount } } }"""
INCIDENT = """mutation($i: RecordIncidentInput!) { recordIncident(input: $i) {
  __typename ... on IncidentSuccess { incident { id title affectsEveryCustomer customers { id } } }
  ... on Error { code field } } }"""
INCIDENTS = "{ incidents { nodes { id customers { id } } } }"
DELETE_INCIDENT = """mutation($id: ID!) { deleteIncident(id: $id) { __typename } }"""
ALERT = """mutation($c: ID) { createSpendingAlert(input: {customerId: $c,
  amount: {currency: "EUR", amount: "10.00"}}) {
  __typename ... on SpendingAlertSuccess { spendingAlert { id amount { amountMinor }
      customer { id } subscription { id } } }
  ... on Error { code field } } }"""
ALERTS = "query($c: ID) { spendingAlerts(customerId: $c) { id amount { amountMinor } } }"
DELETE_ALERT = "mutation($id: ID!) { deleteSpendingAlert(id: $id) { __typename } }"


async def test_metrics_charges_and_plan_terms_are_managed(
    client: httpx.AsyncClient, db: str
) -> None:
    w = await metered_world(client)
    admin, metric_id = w["admin"], w["metric"]["metric"]["id"]
    by_code = data(await gql(client, admin, METRIC, {"id": "minutes"}))["billableMetric"]
    assert (by_code["id"], by_code["description"]) == (metric_id, "")
    renamed = data(await gql(client, admin, UPDATE_METRIC, {"id": metric_id}))
    assert renamed["updateBillableMetric"]["metric"] == {"name": "Minutes streamed"}
    in_use = data(await gql(client, admin, ARCHIVE_METRIC, {"id": metric_id}))
    assert in_use["archiveBillableMetric"] == {
        "__typename": "ConflictError",
        "code": "METRIC_IN_USE",
    }
    duplicate = data(
        await gql(
            client,
            admin,
            CREATE_METRIC,
            {"i": {"code": "minutes", "name": "Again", "aggregation": "COUNT"}},
        )
    )["createBillableMetric"]
    assert duplicate == {"__typename": "ConflictError", "code": "DUPLICATE_CODE", "field": "code"}
    bad_tiers = data(
        await gql(
            client,
            admin,
            CREATE_CHARGE,
            {
                "i": {
                    "planId": w["plan"].public_id,
                    "metricId": metric_id,
                    "model": "VOLUME",
                    "prices": [{"currency": "EUR", "properties": {"tiers": TIERS[:1]}}],
                }
            },
        )
    )["createUsageCharge"]
    assert bad_tiers == {
        "__typename": "ValidationError",
        "code": "LAST_TIER_BOUNDED",
        "field": "prices[0].properties.tiers[0].upTo",
    }
    archived = data(await gql(client, admin, ARCHIVE_CHARGE, {"id": w["charge"]["charge"]["id"]}))
    assert archived["archiveUsageCharge"]["charge"]["archivedAt"] is not None
    plan = data(await gql(client, admin, PLAN_CHARGES, {"id": w["plan"].public_id}))
    assert plan["plan"]["charges"] == []
    gone = data(await gql(client, admin, ARCHIVE_METRIC, {"id": metric_id}))
    assert gone["archiveBillableMetric"]["metric"]["archivedAt"] is not None

    terms = {
        "minimumCommitment": {"EUR": "100.00"},
        "volumeDiscounts": [{"above": {"EUR": "1000.00"}, "percent": "5"}],
        "slaCredits": [{"below": "99.9", "creditPercent": "10"}],
    }
    plan_id = w["plan"].public_id
    set_terms = data(await gql(client, admin, SET_TERMS, {"p": plan_id, "t": terms}))
    assert set_terms["setPlanUsageTerms"] == {
        "__typename": "PlanUsageTermsSuccess",
        "plan": {"code": "stream"},
        "usageTerms": {
            "minimumCommitment": [{"amountMinor": 10_000, "currency": "EUR"}],
            "volumeDiscounts": [{"above": [{"amountMinor": 100_000}], "percent": "5"}],
            "slaCredits": [{"below": "99.9", "creditPercent": "10"}],
        },
    }
    read = data(await gql(client, w["service"], TERMS, {"p": plan_id}))["planUsageTerms"]
    assert read == {"minimumCommitment": [{"amount": "100.00"}]}
    wrong = data(
        await gql(
            client, admin, SET_TERMS, {"p": plan_id, "t": {"minimumCommitment": {"EUR": "1.001"}}}
        )
    )
    assert wrong["setPlanUsageTerms"] == {
        "__typename": "ValidationError",
        "code": "VALIDATION_ERROR",
        "field": "minimumCommitment.EUR",
    }
    cleared = data(await gql(client, admin, SET_TERMS, {"p": plan_id, "t": None}))
    assert cleared["setPlanUsageTerms"]["usageTerms"] == {
        "minimumCommitment": [],
        "volumeDiscounts": [],
        "slaCredits": [],
    }


async def test_incidents_and_spending_alerts(client: httpx.AsyncClient, db: str) -> None:
    w = await metered_world(client)
    admin, customer = w["admin"], w["customer"]
    neighbour = await make_customer(tenant=w["tenant"], name="Neighbour")
    token = await make_key(tenant=w["tenant"], role=Role.CUSTOMER, customer=customer)
    outage = {
        "title": "Edge outage",
        "startedAt": "2027-03-10T10:00:00Z",
        "endedAt": "2027-03-10T12:00:00Z",
        "customerIds": [customer.public_id, neighbour.public_id],
    }
    made = data(await gql(client, admin, INCIDENT, {"i": outage}))["recordIncident"]
    assert made["__typename"] == "IncidentSuccess"
    assert made["incident"]["affectsEveryCustomer"] is False
    assert {c["id"] for c in made["incident"]["customers"]} == {
        customer.public_id,
        neighbour.public_id,
    }
    backwards = {**outage, "endedAt": "2027-03-10T09:00:00Z"}
    refused = data(await gql(client, admin, INCIDENT, {"i": backwards}))["recordIncident"]
    assert refused == {
        "__typename": "ValidationError",
        "code": "VALIDATION_ERROR",
        "field": "endedAt",
    }
    # A customer sees the incident, and only itself among those it touched.
    seen = data(await gql(client, token, INCIDENTS))["incidents"]["nodes"]
    assert seen == [{"id": made["incident"]["id"], "customers": [{"id": customer.public_id}]}]
    deleted = data(await gql(client, admin, DELETE_INCIDENT, {"id": made["incident"]["id"]}))
    assert deleted["deleteIncident"]["__typename"] == "IncidentSuccess"
    assert data(await gql(client, admin, INCIDENTS))["incidents"]["nodes"] == []

    alert = data(await gql(client, admin, ALERT, {"c": customer.public_id}))["createSpendingAlert"]
    assert alert["__typename"] == "SpendingAlertSuccess"
    assert alert["spendingAlert"]["amount"] == {"amountMinor": 1_000}
    assert alert["spendingAlert"]["customer"] == {"id": customer.public_id}
    tenant_wide = data(await gql(client, admin, ALERT, {"c": None}))["createSpendingAlert"]
    assert tenant_wide["spendingAlert"]["customer"] is None
    mine = data(await gql(client, token, ALERTS, {"c": None}))["spendingAlerts"]
    assert [a["id"] for a in mine] == [alert["spendingAlert"]["id"]]
    denied = data(await gql(client, token, ALERT, {"c": customer.public_id}))
    assert denied["createSpendingAlert"]["__typename"] == "PermissionDeniedError"
    done = data(await gql(client, admin, DELETE_ALERT, {"id": alert["spendingAlert"]["id"]}))
    assert done["deleteSpendingAlert"]["__typename"] == "SpendingAlertSuccess"
    everyone = data(await gql(client, admin, ALERTS, {"c": None}))["spendingAlerts"]
    assert [a["id"] for a in everyone] == [tenant_wide["spendingAlert"]["id"]]


PLANS_WITH_CHARGES = """{ plans(first: 100) { nodes { code charges { id metric { code }
  plan { code } } } } }"""


@pytest.mark.parametrize("size", [1, 4])
async def test_plan_charges_go_through_dataloaders(
    client: httpx.AsyncClient, tenant: Any, size: int
) -> None:
    admin = await make_key(tenant=tenant)
    for n in range(2):
        await gql(
            client,
            admin,
            CREATE_METRIC,
            {"i": {"code": f"m{n}", "name": f"M{n}", "aggregation": "COUNT"}},
        )
    for n in range(size):
        plan = await make_plan(tenant=tenant, code=f"p{n}")
        for m in range(2):
            made = data(
                await gql(
                    client,
                    admin,
                    CREATE_CHARGE,
                    {
                        "i": {
                            "planId": plan.public_id,
                            "metricId": f"m{m}",
                            "model": "PER_UNIT",
                            "prices": [{"currency": "EUR", "properties": {"unitPrice": "0.01"}}],
                        }
                    },
                )
            )
            assert made["createUsageCharge"]["__typename"] == "UsageChargeSuccess"
    forget_keys()
    with count_statements() as statements:
        page = data(await gql(client, admin, PLANS_WITH_CHARGES))["plans"]["nodes"]
    assert [[c["metric"]["code"] for c in p["charges"]] for p in page] == [["m0", "m1"]] * size
    # key+tenant, plans, their prices, their charges, the charges' metrics, and the
    # charges' plans through the plan loader (plans, prices): one batch each
    assert len(statements) == 7, statements
