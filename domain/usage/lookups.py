"""The reads that place a batch of events: its customers and their live
subscriptions, as plain rows.

On PostgreSQL they are hand-written statements whose text never changes with the
batch (`= ANY($1)` arrays, not `IN (…)` lists, so asyncpg reuses one prepared
statement) and whose rows are not built into ORM models: for a batch spanning
1,000 customers, building the models cost more than the rest of placing it. On
SQLite the ORM's `values()` reads the same columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.models import Customer, Subscription
from db.raw import fetch, is_postgres
from domain.tenancy.access import Principal, Role


@dataclass(frozen=True, slots=True)
class CustomerRow:
    id: int
    public_id: str
    external_id: str | None
    test_clock_id: int | None


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    id: int
    public_id: str
    tenant_id: int
    customer_id: int
    plan_id: int
    status: str
    currency: str
    current_period_start: datetime
    current_period_end: datetime
    started_at: datetime


CUSTOMER_COLUMNS = ("id", "public_id", "external_id", "test_clock_id")
SUBSCRIPTION_COLUMNS = tuple(SubscriptionRow.__slots__)  # type: ignore[attr-defined]

# One statement per kind of reference, each on its own index (public_id is unique;
# (tenant_id, external_id) is unique); a customer token adds `AND id = …`.
_CUSTOMERS_BY = {
    kind: "SELECT id, public_id, external_id, test_clock_id FROM customer "
    f"WHERE tenant_id = $1 AND {kind} = ANY($2::text[])"
    for kind in ("public_id", "external_id")
}
_SUBSCRIPTIONS_SQL = (
    f"SELECT {', '.join(SUBSCRIPTION_COLUMNS)} FROM subscription "
    "WHERE tenant_id = $1 AND customer_id = ANY($2::bigint[]) AND status <> 'canceled'"
)


async def customers_by_refs(principal: Principal, refs: Iterable[str]) -> dict[str, CustomerRow]:
    """The caller's customers by public id or external id (a customer token: only
    itself), keyed by the reference given."""
    wanted = set(refs)
    public = sorted(r for r in wanted if r.startswith("cus_"))
    external = sorted(wanted - set(public))
    own = principal.customer_id if principal.role is Role.CUSTOMER else None
    if is_postgres(Customer._meta.db):
        found = []
        for kind, refs_of_kind in (("public_id", public), ("external_id", external)):
            if refs_of_kind:
                found += await fetch(
                    Customer, _CUSTOMERS_BY[kind], [principal.tenant_id, refs_of_kind]
                )
        if own is not None:
            found = [row for row in found if row["id"] == own]
    else:
        scope: dict[str, Any] = {"tenant_id": principal.tenant_id}
        if own is not None:
            scope["id"] = own
        found = []
        if public:
            found += await Customer.filter(public_id__in=public, **scope).values(*CUSTOMER_COLUMNS)
        if external:
            found += await Customer.filter(external_id__in=external, **scope).values(
                *CUSTOMER_COLUMNS
            )
    rows: dict[str, CustomerRow] = {}
    for row in found:
        customer = CustomerRow(**row)
        if customer.public_id in wanted:
            rows[customer.public_id] = customer
        if customer.external_id in wanted:
            rows[customer.external_id] = customer  # type: ignore[index]
    return rows


async def live_subscriptions(tenant_id: int, customer_ids: Iterable[int]) -> list[SubscriptionRow]:
    """Every subscription of these customers (of this tenant) that has not ended."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    if is_postgres(Subscription._meta.db):
        found = await fetch(Subscription, _SUBSCRIPTIONS_SQL, [tenant_id, ids])
    else:
        found = await Subscription.filter(
            tenant_id=tenant_id, customer_id__in=ids, status__not="canceled"
        ).values(*SUBSCRIPTION_COLUMNS)
    return [SubscriptionRow(**row) for row in found]
