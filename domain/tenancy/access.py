"""Who is calling, and what their role allows.

admin    everything in its tenant
service  what a partner backend needs: read the catalog, customers,
         subscriptions and invoices; check, consume and reserve credits
customer a frontend token bound to one customer: that customer only (its
         profile, subscriptions, invoices, credit notes, wallet and ledger;
         nothing it can buy or consume)
payee    a token bound to one royalty payee (an author): its own statements,
         ledger and earnings, nothing else
analyst  read-only, tenant-wide: revenue analytics (royalties owed among them),
         exports (royalty statements among them) and the lists they come from
         (catalog, customers, subscriptions, invoices, payments, credits, usage);
         it changes nothing
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from db.models import Customer
from domain.errors import NotFoundError, PermissionDeniedError
from domain.ids import check_id


class Role(enum.StrEnum):
    ADMIN = "admin"
    SERVICE = "service"
    CUSTOMER = "customer"
    PAYEE = "payee"
    ANALYST = "analyst"


class Permission(enum.Enum):
    TENANT_READ = "tenant:read"
    TENANT_WRITE = "tenant:write"
    API_KEYS = "api_keys:manage"
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    CUSTOMER_SELF_WRITE = "customers:self_write"
    SUBSCRIPTIONS_READ = "subscriptions:read"
    SUBSCRIPTIONS_WRITE = "subscriptions:write"
    # A customer token: change its own subscription's plan or quantity, cancel at the
    # period's end, reactivate (the self-service of the customer portal).
    SUBSCRIPTIONS_SELF = "subscriptions:self"
    INVOICES_READ = "invoices:read"
    INVOICES_WRITE = "invoices:write"
    TAX_WRITE = "tax:write"
    TEST_CLOCKS = "test_clocks:manage"
    PAYMENTS_READ = "payments:read"
    PAYMENTS_WRITE = "payments:write"
    PAYMENT_METHODS_SELF = "payment_methods:self"  # a customer token: its own methods, pay
    WEBHOOKS = "webhooks:manage"
    WEBHOOKS_READ = "webhooks:read"  # events and the delivery log (analysts)
    CREDITS_READ = "credits:read"  # a customer token: its own wallet and ledger
    CREDITS_CONSUME = "credits:consume"  # check, consume, reserve
    CREDITS_PURCHASE = "credits:purchase"  # buy top-ups (a customer token: its own)
    CREDITS_MANAGE = "credits:manage"  # grant, block, refund, settings
    USAGE_INGEST = "usage:ingest"  # send usage events
    USAGE_READ = "usage:read"  # a customer token: its own current usage and events
    USAGE_MANAGE = "usage:manage"  # metrics, charges, incidents, spending alerts
    ROYALTIES_READ = "royalties:read"  # a payee token: its own statements, ledger, earnings
    ROYALTIES_READS = "royalties:reads"  # record reads of works
    ROYALTIES_MANAGE = "royalties:manage"  # payees, works, contracts, runs, payouts
    ANALYTICS_READ = "analytics:read"  # revenue, cash, receivables, exports, KPI reports


_GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission) - {Permission.CUSTOMER_SELF_WRITE},
    Role.SERVICE: frozenset(
        {
            Permission.TENANT_READ,
            Permission.CATALOG_READ,
            Permission.CUSTOMERS_READ,
            Permission.SUBSCRIPTIONS_READ,
            Permission.INVOICES_READ,
            Permission.PAYMENTS_READ,
            Permission.CREDITS_READ,
            Permission.CREDITS_CONSUME,
            Permission.CREDITS_PURCHASE,
            Permission.USAGE_INGEST,
            Permission.USAGE_READ,
            Permission.ROYALTIES_READS,
        }
    ),
    Role.CUSTOMER: frozenset(
        {
            Permission.TENANT_READ,
            Permission.CATALOG_READ,
            Permission.CUSTOMERS_READ,
            Permission.CUSTOMER_SELF_WRITE,
            Permission.SUBSCRIPTIONS_READ,
            Permission.SUBSCRIPTIONS_SELF,
            Permission.INVOICES_READ,
            Permission.PAYMENTS_READ,
            Permission.PAYMENT_METHODS_SELF,
            Permission.CREDITS_READ,
            Permission.CREDITS_PURCHASE,
            Permission.USAGE_READ,
        }
    ),
    Role.PAYEE: frozenset({Permission.TENANT_READ, Permission.ROYALTIES_READ}),
    Role.ANALYST: frozenset(
        {
            Permission.TENANT_READ,
            Permission.CATALOG_READ,
            Permission.CUSTOMERS_READ,
            Permission.SUBSCRIPTIONS_READ,
            Permission.INVOICES_READ,
            Permission.PAYMENTS_READ,
            Permission.CREDITS_READ,
            Permission.USAGE_READ,
            Permission.ANALYTICS_READ,
            Permission.WEBHOOKS_READ,
        }
    ),
}


@dataclass(frozen=True, slots=True)
class Principal:
    tenant_id: int
    role: Role
    key_id: int
    # Set only for customer tokens: the one customer this caller may see.
    customer_id: int | None = None
    # Set only for payee tokens: the one payee whose royalties this caller may see.
    payee_id: int | None = None

    def can(self, permission: Permission) -> bool:
        return permission in _GRANTS[self.role]

    def require(self, permission: Permission) -> None:
        if permission not in _GRANTS[self.role]:
            raise PermissionDeniedError(
                f"a {self.role.value} key may not do this ({permission.value})"
            )


# What a caller may see, as query filters. Every context scopes its reads with these,
# so a customer token reads another customer's rows exactly as missing ones.


def scope(principal: Principal) -> dict[str, Any]:
    """Filters for rows that belong to a customer (subscriptions, invoices, payments)."""
    found: dict[str, Any] = {"tenant_id": principal.tenant_id}
    if principal.role is Role.CUSTOMER:
        found["customer_id"] = principal.customer_id
    return found


def customer_scope(principal: Principal) -> dict[str, Any]:
    """Filters for the customer rows themselves: a customer token sees only its own."""
    found: dict[str, Any] = {"tenant_id": principal.tenant_id}
    if principal.role is Role.CUSTOMER:
        found["id"] = principal.customer_id
    return found


async def owned_customer(
    principal: Principal, public_id: str, *, field: str = "id", lock: bool = False
) -> Customer:
    """The caller's customer by public id (a customer token: only its own), else
    NotFoundError naming `field`. Here rather than in the customers context because
    every context that acts for a customer (subscriptions, invoicing, payments) loads
    it, and contexts below customers must not import it."""
    check_id(public_id, "customer", field=field)
    query = Customer.select_for_update() if lock else Customer
    customer = await query.get_or_none(public_id=public_id, **customer_scope(principal))
    if customer is None:
        raise NotFoundError(f"no customer {public_id}", field=field)
    return customer
