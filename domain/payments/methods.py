"""Payment methods: a provider token (Stripe `pm_…`, or a sandbox test method)
attached to the customer at the provider and stored with its display details."""

from __future__ import annotations

from tortoise.transactions import in_transaction

from db.models import Customer, Tenant
from db.payment_models import PaymentMethod
from domain import clock
from domain.errors import NotFoundError, ValidationError
from domain.ids import check_id, new_id
from domain.invoicing.attempts import provider_name
from domain.payments.providers.registry import credentials_for, provider_for
from domain.tenancy.access import Permission, Principal, owned_customer

MAX_METHODS = 20


async def attach_payment_method(
    principal: Principal, customer_id: str, token: str, *, make_default: bool = True
) -> PaymentMethod:
    principal.require(Permission.PAYMENT_METHODS_SELF)
    customer = await owned_customer(principal, customer_id, field="customerId")
    token = (token or "").strip()
    if not token or len(token) > 128:
        raise ValidationError("token is 1-128 characters", field="token")
    tenant = await Tenant.get(id=customer.tenant_id)
    name = provider_name(tenant, customer)
    provider = provider_for(name, tenant)
    credentials = credentials_for(name, tenant)
    # Provider calls happen outside any transaction; both are idempotent.
    customer_ref = await provider.ensure_customer(
        credentials, customer, customer.provider_customer_ref
    )
    details = await provider.attach_method(
        credentials, customer_ref, token, f"tally-attach-{customer.public_id}-{token}"
    )
    now = clock.now()
    async with in_transaction():
        locked = await Customer.filter(id=customer.id).select_for_update().get()
        if locked.provider_customer_ref != customer_ref:
            locked.provider_customer_ref = customer_ref
            await locked.save(update_fields=["provider_customer_ref"])
        active = PaymentMethod.filter(customer_id=customer.id, detached_at=None)
        existing = await active.filter(provider=name, provider_ref=details.provider_ref).first()
        if existing is None and await active.count() >= MAX_METHODS:
            raise ValidationError(f"at most {MAX_METHODS} payment methods", field="token")
        if make_default or not await active.filter(is_default=True).exists():
            await active.filter(is_default=True).update(is_default=False, updated_at=now)
            make_default = True
        if existing is not None:
            existing.is_default = existing.is_default or make_default
            existing.updated_at = now
            await existing.save()
            return existing
        return await PaymentMethod.create(
            public_id=new_id("payment_method"),
            tenant_id=customer.tenant_id,
            customer_id=customer.id,
            provider=name,
            provider_ref=details.provider_ref,
            kind=details.kind,
            brand=details.brand,
            last4=details.last4,
            exp_month=details.exp_month,
            exp_year=details.exp_year,
            is_default=make_default,
            created_at=now,
            updated_at=now,
        )


async def owned_method(
    principal: Principal, public_id: str, *, field: str = "paymentMethodId", lock: bool = False
) -> PaymentMethod:
    check_id(public_id, "payment_method", field=field)
    query = PaymentMethod.filter(
        public_id=public_id, tenant_id=principal.tenant_id, detached_at=None
    )
    if principal.customer_id is not None:
        query = query.filter(customer_id=principal.customer_id)
    if lock:
        query = query.select_for_update()
    method = await query.first()
    if method is None:
        raise NotFoundError(f"no payment method {public_id}", field=field)
    return method


async def set_default_payment_method(principal: Principal, public_id: str) -> PaymentMethod:
    principal.require(Permission.PAYMENT_METHODS_SELF)
    now = clock.now()
    async with in_transaction():
        method = await owned_method(principal, public_id, field="id", lock=True)
        await PaymentMethod.filter(customer_id=method.customer_id, is_default=True).update(
            is_default=False, updated_at=now
        )
        method.is_default, method.updated_at = True, now
        await method.save()
    return method


async def detach_payment_method(principal: Principal, public_id: str) -> PaymentMethod:
    """Kept for the payments that used it; never charged again."""
    principal.require(Permission.PAYMENT_METHODS_SELF)
    now = clock.now()
    async with in_transaction():
        method = await owned_method(principal, public_id, field="id", lock=True)
        method.detached_at, method.is_default, method.updated_at = now, False, now
        await method.save()
    return method
