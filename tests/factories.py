"""Keyword-only async factories for tests (docs/ARCHITECTURE.md, Tests)."""

from __future__ import annotations

import secrets
from typing import Any

from db.models import ApiKey, Customer, Plan, Tenant
from domain.catalog.plans import create_plan
from domain.customers.service import create_customer
from domain.tenancy.access import Principal, Role
from domain.tenancy.api_keys import issue_key
from domain.tenancy.tenants import create_tenant


def _admin(tenant: Tenant) -> Principal:
    return Principal(tenant_id=tenant.id, role=Role.ADMIN, key_id=0)


async def make_tenant(
    *, name: str | None = None, country: str = "FR", currency: str = "EUR", locale: str = "en"
) -> Tenant:
    return await create_tenant(
        name=name or f"Tenant {secrets.token_hex(3)}",
        country=country,
        default_currency=currency,
        default_locale=locale,
    )


async def make_key(
    *, tenant: Tenant, role: Role = Role.ADMIN, customer: Customer | None = None, **extra: Any
) -> str:
    issued = await issue_key(
        tenant_id=tenant.id,
        role=role,
        name=f"{role.value} test key",
        customer_id=customer.id if customer else None,
        **extra,
    )
    return issued.secret


async def make_plan(
    *,
    tenant: Tenant,
    code: str | None = None,
    prices: list[tuple[str, int]] | None = None,
    **fields: Any,
) -> Plan:
    data: dict[str, Any] = {
        "code": code or f"plan-{secrets.token_hex(3)}",
        "name": fields.pop("name", "Test plan"),
        "interval": fields.pop("interval", "month"),
        "prices": [{"currency": c, "amount_minor": a} for c, a in (prices or [("EUR", 2_999)])],
        **fields,
    }
    return await create_plan(_admin(tenant), data)


async def make_customer(
    *, tenant: Tenant, name: str = "Ada Lovelace", country: str | None = None, **fields: Any
) -> Customer:
    if country is not None:
        fields["address"] = {**fields.get("address", {}), "country": country}
    return await create_customer(_admin(tenant), {"name": name, **fields})


async def key_row(secret: str) -> ApiKey:
    return await ApiKey.get(prefix=secret.rsplit("_", 1)[0])


async def make_test_tenant(*, country: str = "FR", currency: str = "EUR", **extra: Any) -> Tenant:
    tenant = await make_tenant(country=country, currency=currency)
    tenant.test_mode = True
    for key, value in extra.items():
        setattr(tenant, key, value)
    await tenant.save()
    return tenant


async def make_test_clock(*, tenant: Tenant, at: Any, name: str = "clock") -> Any:
    from domain.billing.simulated_clocks import create_test_clock

    return await create_test_clock(_admin(tenant), name, at)


async def make_subscription(*, tenant: Tenant, customer: Customer, plan: Plan, **data: Any) -> Any:
    from domain.subscriptions.service import create_subscription

    return await create_subscription(
        _admin(tenant), {"customer_id": customer.public_id, "plan_id": plan.public_id, **data}
    )


def admin_of(tenant: Tenant) -> Principal:
    return _admin(tenant)
