"""The usage metering cases of the tenant-isolation tests (merged into
isolation_cases.py): the victim's metric, charge, incident and alert, and a document
per usage query and mutation that names one of the victim's ids."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.tenancy.access import Principal
from domain.usage.alerts import create_alert
from domain.usage.charges import create_charge
from domain.usage.incidents import record_incident
from domain.usage.metrics import create_metric

OBJECTS = ("metric", "charge", "incident", "alert")


async def make_victim_usage(admin: Principal, plan: str, customer: str) -> dict[str, str]:
    metric = await create_metric(
        admin, {"code": "victim-metric", "name": "Calls", "aggregation": "COUNT"}
    )
    charge = await create_charge(
        admin,
        {
            "plan_id": plan,
            "metric_id": metric.public_id,
            "model": "PER_UNIT",
            "prices": [{"currency": "EUR", "properties": {"unitPrice": "0.01"}}],
        },
    )
    incident = await record_incident(
        admin,
        {
            "title": "Outage",
            "started_at": datetime(2026, 1, 1, tzinfo=UTC),
            "ended_at": datetime(2026, 1, 1, 1, tzinfo=UTC),
            "customer_ids": [customer],
        },
    )
    alert = await create_alert(
        admin, {"amount": {"currency": "EUR", "amount_minor": 100}, "customer_id": customer}
    )
    return {
        "metric": metric.public_id,
        "charge": charge.public_id,
        "incident": incident.public_id,
        "alert": alert.public_id,
    }


QUERIES = {
    "billableMetric": ("query($id: ID!) { billableMetric(id: $id) { id } }", "metric"),
    "planUsageTerms": (
        "query($id: ID!) { planUsageTerms(planId: $id) { minimumCommitment { amount } } }",
        "plan",
    ),
}
COMPUTED = {
    "currentUsage": ("query($id: ID!) { currentUsage(customerId: $id) { currency } }", "customer"),
    "meteredEvents": (
        "query($id: ID!) { meteredEvents(customerId: $id) { nodes { transactionId } } }",
        "customer",
    ),
    "spendingAlerts": ("query($id: ID!) { spendingAlerts(customerId: $id) { id } }", "customer"),
}
BY_CODE = ['{ billableMetric(id: "victim-metric") { id } }']
BY_EXTERNAL_ID = ['{ currentUsage(customerId: "victim-1") { currency } }']
LISTS = {
    "billableMetrics": "{ billableMetrics(includeArchived: true) { nodes { id } totalCount } }",
    "incidents": "{ incidents { nodes { id } totalCount } }",
    "spendingAlerts": "{ spendingAlerts { id } }",
}
MUTATIONS = {
    "updateBillableMetric": (
        'mutation($id: ID!) { updateBillableMetric(id: $id, input: {name: "X"}) { __typename } }',
        "metric",
    ),
    "archiveBillableMetric": (
        "mutation($id: ID!) { archiveBillableMetric(id: $id) { __typename } }",
        "metric",
    ),
    "createUsageCharge": (
        'mutation($id: ID!) { createUsageCharge(input: {planId: $id, metricId: "victim-metric", model: PER_UNIT, prices: [{currency: "EUR", properties: {unitPrice: "1"}}]}) { __typename } }',
        "plan",
    ),
    "archiveUsageCharge": (
        "mutation($id: ID!) { archiveUsageCharge(id: $id) { __typename } }",
        "charge",
    ),
    "setPlanUsageTerms": (
        'mutation($id: ID!) { setPlanUsageTerms(planId: $id, terms: {minimumCommitment: {EUR: "1"}}) { __typename } }',
        "plan",
    ),
    "recordIncident": (
        'mutation($id: ID!) { recordIncident(input: {title: "x", startedAt: "2026-01-01T00:00:00Z", endedAt: "2026-01-01T01:00:00Z", customerIds: [$id]}) { __typename } }',
        "customer",
    ),
    "deleteIncident": ("mutation($id: ID!) { deleteIncident(id: $id) { __typename } }", "incident"),
    "createSpendingAlert": (
        'mutation($id: ID!) { createSpendingAlert(input: {customerId: $id, amount: {currency: "EUR", amountMinor: 1}}) { __typename } }',
        "customer",
    ),
    "deleteSpendingAlert": (
        "mutation($id: ID!) { deleteSpendingAlert(id: $id) { __typename } }",
        "alert",
    ),
}
# Usage events answer per event: another tenant's customer is an unknown customer.
PER_EVENT = {
    "ingestUsageEvents": (
        'mutation($id: ID!) { ingestUsageEvents(events: [{transactionId: "steal-4", customerId: $id, metricCode: "victim-metric"}]) { ... on IngestUsageEventsSuccess { results { status error { code } } } } }',
        "customer",
    ),
}
CREATES_OWN = {"createBillableMetric"}
