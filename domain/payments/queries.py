"""Batched reads for DataLoaders: one query per batch of keys."""

from __future__ import annotations

from collections import defaultdict

from db.models import Tenant
from db.payment_models import Payment, PaymentMethod, ProviderEvent
from domain.invoicing.dunning_policy import DunningPolicy
from domain.pagination import Page, PageRequest, paginate
from domain.tenancy.access import Permission, Principal


async def methods_by_customer(customer_ids: list[int]) -> list[list[PaymentMethod]]:
    found: dict[int, list[PaymentMethod]] = defaultdict(list)
    for method in await PaymentMethod.filter(
        customer_id__in=customer_ids, detached_at=None
    ).order_by("id"):
        found[method.customer_id].append(method)
    return [found[i] for i in customer_ids]


async def payments_by_invoice(tenant_id: int, invoice_ids: list[int]) -> list[list[Payment]]:
    found: dict[int, list[Payment]] = defaultdict(list)
    for payment in await Payment.filter(tenant_id=tenant_id, invoice_id__in=invoice_ids).order_by(
        "id"
    ):
        found[payment.invoice_id].append(payment)
    return [found[i] for i in invoice_ids]


async def credits_blocking(tenant_ids: list[int]) -> list[bool]:
    tenants = {t.id: t for t in await Tenant.filter(id__in=tenant_ids)}
    return [DunningPolicy.of(tenants[i]).block_credits_when_delinquent for i in tenant_ids]


async def list_provider_events(
    principal: Principal, page: PageRequest, *, outcome: str | None = None
) -> Page[ProviderEvent]:
    principal.require(Permission.PAYMENTS_WRITE)
    query = ProviderEvent.filter(tenant_id=principal.tenant_id)
    if outcome is not None:
        query = query.filter(outcome=outcome)
    return await paginate(query, page)
