"""A tenant's payment settings: its provider, the Stripe keys (sealed at rest),
the sandbox's webhook secret, and the dunning policy."""

from __future__ import annotations

import secrets
from typing import Any

from db.models import Customer, Tenant
from domain import clock
from domain.errors import ValidationError
from domain.invoicing.dunning_policy import DunningPolicy, updated_policy
from domain.payments.provider_webhooks import forget_tenant
from domain.payments.providers.registry import PROVIDERS, seal
from domain.tenancy.access import Permission, Principal, owned_customer
from domain.unit_of_work import operation


def _provider(value: str, field: str) -> str:
    name = (value or "").lower()
    if name not in PROVIDERS:
        raise ValidationError(f"provider is one of {', '.join(PROVIDERS)}", field=field)
    return name


@operation
async def update_payment_settings(principal: Principal, data: dict[str, Any]) -> Tenant:
    principal.require(Permission.TENANT_WRITE)
    tenant = await Tenant.filter(id=principal.tenant_id).select_for_update().get()
    if "provider" in data:
        tenant.payment_provider = _provider(data["provider"], "provider")
    if data.get("stripe_secret_key") is not None:
        key = data["stripe_secret_key"].strip()
        if not key.startswith(("sk_", "rk_")):
            raise ValidationError(
                "a Stripe secret key starts with sk_ (or rk_ for a restricted key)",
                field="stripeSecretKey",
            )
        tenant.stripe_secret_key = seal(tenant.id, "stripe_secret_key", key)
    if data.get("stripe_webhook_secret") is not None:
        secret = data["stripe_webhook_secret"].strip()
        if not secret.startswith("whsec_"):
            raise ValidationError(
                "a Stripe webhook signing secret starts with whsec_", field="stripeWebhookSecret"
            )
        tenant.stripe_webhook_secret = seal(tenant.id, "stripe_webhook_secret", secret)
    if tenant.payment_provider == "stripe" and not tenant.stripe_secret_key:
        raise ValidationError(
            "give stripeSecretKey to collect with Stripe", field="stripeSecretKey"
        )
    if tenant.payment_provider == "sandbox" and not tenant.sandbox_webhook_secret:
        tenant.sandbox_webhook_secret = seal(
            tenant.id, "sandbox_secret", "whsec_" + secrets.token_urlsafe(24)
        )
    if data.get("dunning") is not None:
        tenant.dunning = updated_policy(DunningPolicy.of(tenant), data["dunning"]).stored()
    tenant.updated_at = clock.now()
    await tenant.save()
    forget_tenant(tenant.public_id)
    return tenant


async def get_payment_settings(principal: Principal) -> Tenant:
    """The tenant's payment settings (admin only: they name the provider's keys)."""
    principal.require(Permission.TENANT_WRITE)
    return await Tenant.get(id=principal.tenant_id)


@operation
async def set_customer_provider(
    principal: Principal, customer_id: str, provider: str | None
) -> Customer:
    """null: follow the tenant's provider."""
    principal.require(Permission.CUSTOMERS_WRITE)
    customer = await owned_customer(principal, customer_id, field="customerId", lock=True)
    customer.payment_provider = _provider(provider, "provider") if provider else None
    customer.updated_at = clock.now()
    await customer.save(update_fields=["payment_provider", "updated_at"])
    return customer
