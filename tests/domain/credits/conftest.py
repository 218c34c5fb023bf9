"""Credit fixtures: a tenant whose plans carry modules, allowances and daily caps."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from domain.credits.admin import grant_credits
from domain.credits.consume import ConsumeRequest
from domain.tenancy.access import Principal, Role
from tests.factories import admin_of, make_customer, make_plan, make_subscription, make_tenant

T = TypeVar("T")


def postgres_only(test: T) -> T:
    """For tests of the one-statement path, which exists only on PostgreSQL: on
    SQLite both of its sides take the locked path, so such a test is skipped there
    rather than passing without checking anything."""
    skip = pytest.mark.skipif(
        os.environ.get("TALLY_TEST_DB", "sqlite") != "postgres",
        reason="the one-statement path exists only on PostgreSQL",
    )
    return pytest.mark.postgres(skip(test))  # type: ignore[no-any-return]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@dataclass
class Credits:
    tenant: Any
    admin: Principal
    service: Principal
    customer: Any
    plan: Any

    def req(
        self, request_id: str, module: str = "rag", qty: int = 1, **extra: Any
    ) -> ConsumeRequest:
        return ConsumeRequest(
            extra.pop("customer", self.customer.public_id),
            module,
            extra.pop("action", "query"),
            qty,
            request_id,
            extra.pop("metadata", None),
        )

    async def grant(self, amount: int, **extra: Any) -> Any:
        return await grant_credits(
            self.admin,
            self.customer.public_id,
            amount,
            reason=extra.pop("reason", "test"),
            **extra,
        )


async def make_credits(
    *,
    monthly: int = 0,
    daily: int | None = None,
    features: list[str] | None = None,
    timezone: str = "UTC",
    **plan: Any,
) -> Credits:
    tenant = await make_tenant()
    admin = admin_of(tenant)
    service = Principal(tenant.id, Role.SERVICE, admin.key_id)
    made = await make_plan(
        tenant=tenant,
        monthly_credits=monthly,
        daily_credit_limit=daily,
        features=features if features is not None else ["rag", "legal", "voice"],
        **plan,
    )
    customer = await make_customer(tenant=tenant, timezone=timezone)
    await make_subscription(tenant=tenant, customer=customer, plan=made)
    return Credits(tenant, admin, service, customer, made)


@pytest.fixture
async def credits(db: str) -> Credits:
    return await make_credits()
