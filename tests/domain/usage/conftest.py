"""A test-mode tenant on a clock with a metered plan: a tokens metric split by
direction, priced per unit, and a helper to send events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.billing.simulated_clocks import advance_test_clock
from domain.tenancy.access import Principal
from domain.usage.charges import create_charge
from domain.usage.ingest import IngestReport, ingest_events
from domain.usage.metrics import create_metric
from tests.factories import (
    admin_of,
    make_customer,
    make_plan,
    make_subscription,
    make_test_clock,
    make_test_tenant,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class Metered:
    tenant: Any
    admin: Principal
    clock: Any
    customer: Any
    plan: Any

    async def advance(self, to: datetime) -> None:
        await advance_test_clock(self.admin, self.clock.public_id, to)
        self.clock.frozen_time = to

    async def metric(self, code: str, aggregation: str, **data: Any) -> Any:
        return await create_metric(
            self.admin, {"code": code, "name": code.title(), "aggregation": aggregation, **data}
        )

    async def charge(self, metric: Any, model: str, properties: dict, **data: Any) -> Any:
        currencies = data.pop("currencies", ["EUR"])
        return await create_charge(
            self.admin,
            {
                "plan_id": (data.pop("plan", None) or self.plan).public_id,
                "metric_id": metric.code,
                "model": model,
                "prices": [{"currency": c, "properties": properties} for c in currencies],
                **data,
            },
        )

    async def send(self, *events: dict[str, Any], customer: Any = None) -> IngestReport:
        who = customer or self.customer
        return await ingest_events(
            self.admin, [{"customerId": who.public_id, **event} for event in events]
        )

    async def subscribe(self, customer: Any = None, **data: Any) -> Any:
        return await make_subscription(
            tenant=self.tenant,
            customer=customer or self.customer,
            plan=data.pop("plan", self.plan),
            **data,
        )


@pytest.fixture
async def metered(db: str) -> Metered:
    tenant = await make_test_tenant()
    clock = await make_test_clock(tenant=tenant, at=utc(2027, 3, 1))
    customer = await make_customer(tenant=tenant, country="US", test_clock_id=clock.public_id)
    plan = await make_plan(tenant=tenant, prices=[("EUR", 1_000)], name="Stream")
    return Metered(tenant, admin_of(tenant), clock, customer, plan)
