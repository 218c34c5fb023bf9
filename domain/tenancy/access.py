"""Who is calling, and what their role allows.

admin    everything in its tenant
service  what a partner backend needs: read the catalog, customers,
         subscriptions and invoices; check, consume and reserve credits
customer a frontend token bound to one customer: that customer only (its
         profile, subscriptions, invoices, credit notes, wallet and ledger;
         nothing it can buy or consume)
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from domain.errors import PermissionDeniedError


class Role(enum.StrEnum):
    ADMIN = "admin"
    SERVICE = "service"
    CUSTOMER = "customer"


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
    INVOICES_READ = "invoices:read"
    INVOICES_WRITE = "invoices:write"
    TAX_WRITE = "tax:write"
    TEST_CLOCKS = "test_clocks:manage"
    PAYMENTS_READ = "payments:read"
    PAYMENTS_WRITE = "payments:write"
    PAYMENT_METHODS_SELF = "payment_methods:self"  # a customer token: its own methods, pay
    WEBHOOKS = "webhooks:manage"
    CREDITS_READ = "credits:read"  # a customer token: its own wallet and ledger
    CREDITS_CONSUME = "credits:consume"  # check, consume, reserve, buy top-ups
    CREDITS_MANAGE = "credits:manage"  # grant, block, refund, settings


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
        }
    ),
    Role.CUSTOMER: frozenset(
        {
            Permission.TENANT_READ,
            Permission.CATALOG_READ,
            Permission.CUSTOMERS_READ,
            Permission.CUSTOMER_SELF_WRITE,
            Permission.SUBSCRIPTIONS_READ,
            Permission.INVOICES_READ,
            Permission.PAYMENTS_READ,
            Permission.PAYMENT_METHODS_SELF,
            Permission.CREDITS_READ,
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

    def can(self, permission: Permission) -> bool:
        return permission in _GRANTS[self.role]

    def require(self, permission: Permission) -> None:
        if permission not in _GRANTS[self.role]:
            raise PermissionDeniedError(
                f"a {self.role.value} key may not do this ({permission.value})"
            )
