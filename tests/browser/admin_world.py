"""A small tenant for the admin console's browser tests: two paying customers on a
real clock (MRR 40.00 EUR this month: Ann on basic 10.00, Bob on pro 30.00), an
admin, an analyst and a service key, and an outbound webhook endpoint that cannot
be reached, whose first delivery has failed for good."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from db.models import Customer, Tenant
from db.payment_models import WebhookDelivery
from domain.tenancy.access import Role
from domain.webhooks.delivery import deliver_due
from domain.webhooks.endpoints import create_endpoint
from tests.factories import (
    admin_of,
    make_customer,
    make_key,
    make_plan,
    make_subscription,
    make_tenant,
)

MRR_TEXT = "€40.00"  # en formatting of 4000 EUR minor units
UNREACHABLE = "http://127.0.0.1:9/partner-hooks"  # discard port: the connection is refused


@dataclass
class AdminWorld:
    tenant: Tenant
    admin: str
    analyst: str
    service: str
    ann: Customer
    bob: Customer
    endpoint_id: str
    pro_id: str


async def make_world(*, webhooks: bool = False) -> AdminWorld:
    tenant = await make_tenant(name="Acme Legal", country="FR", currency="EUR")
    basic = await make_plan(
        tenant=tenant, code="basic", name="Basic", prices=[("EUR", 1000)], features=["legal"]
    )
    pro = await make_plan(
        tenant=tenant, code="pro", name="Pro", prices=[("EUR", 3000)], features=["legal"]
    )
    ann = await make_customer(
        tenant=tenant, name="Ann Archer", email="ann@example.com", external_id="user-ann"
    )
    bob = await make_customer(
        tenant=tenant, name="Bob Brewer", email="bob@example.com", external_id="user-bob"
    )
    await make_subscription(tenant=tenant, customer=ann, plan=basic)
    await make_subscription(tenant=tenant, customer=bob, plan=pro)
    endpoint_id = ""
    if webhooks:
        endpoint, _ = await create_endpoint(
            admin_of(tenant), {"url": UNREACHABLE, "event_types": ["*"]}
        )
        endpoint_id = endpoint.public_id
        async with httpx.AsyncClient() as http:
            await deliver_due(http)
        # The retry schedule ran out (days of it, in production): failed for good.
        await WebhookDelivery.filter(endpoint_id=endpoint.id).update(
            status="failed", next_attempt_at=None
        )
    return AdminWorld(
        tenant=tenant,
        admin=await make_key(tenant=tenant),
        analyst=await make_key(tenant=tenant, role=Role.ANALYST),
        service=await make_key(tenant=tenant, role=Role.SERVICE),
        ann=ann,
        bob=bob,
        endpoint_id=endpoint_id,
        pro_id=pro.public_id,
    )


async def deliveries(endpoint_id: str) -> list[Any]:
    from db.payment_models import WebhookEndpoint

    endpoint = await WebhookEndpoint.get(public_id=endpoint_id)
    return await WebhookDelivery.filter(endpoint_id=endpoint.id).order_by("id")
