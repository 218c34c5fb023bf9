"""A customer by the reference a caller gives: its public id (`cus_…`) or the
tenant's own external id, as every credit operation accepts."""

from __future__ import annotations

from db.models import Customer
from domain.errors import NotFoundError, ValidationError
from domain.tenancy.access import Principal, customer_scope

_PUBLIC_PREFIX = "cus_"


async def customer_by_ref(principal: Principal, ref: str, *, field: str = "customerId") -> Customer:
    """Within the caller's tenant, and for a customer token only itself: another
    tenant's customer, or another customer of the same tenant, reads as missing."""
    if not isinstance(ref, str) or not 0 < len(ref) <= 128:
        raise ValidationError("give a customer id (cus_…) or external id", field=field)
    by = "public_id" if ref.startswith(_PUBLIC_PREFIX) else "external_id"
    customer = await Customer.get_or_none(**{by: ref}, **customer_scope(principal))
    if customer is None:
        raise NotFoundError(f"no customer {ref}", field=field)
    return customer
