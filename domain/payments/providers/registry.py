"""Which provider serves a tenant or customer, and its decrypted credentials."""

from __future__ import annotations

from typing import Any

from domain.errors import ValidationError
from domain.payments.providers.base import Credentials, Provider
from domain.payments.providers.manual import ManualProvider
from domain.payments.providers.sandbox import SandboxProvider
from domain.payments.providers.stripe_provider import StripeProvider
from domain.secrets_box import box

PROVIDERS = ("manual", "sandbox", "stripe")


def provider_for(name: str, tenant: Any) -> Provider:
    if name == "stripe":
        return StripeProvider()
    if name == "sandbox":
        return SandboxProvider(tenant.public_id)
    if name == "manual":
        return ManualProvider()
    raise ValidationError(f"unknown provider {name!r}", field="provider")


def _open(tenant: Any, value: str | None, what: str) -> str | None:
    if not value:
        return None
    return box().decrypt(value, context=f"tenant:{tenant.id}:{what}")


def seal(tenant_id: int, what: str, value: str) -> str:
    return box().encrypt(value, context=f"tenant:{tenant_id}:{what}")


def credentials_for(name: str, tenant: Any) -> Credentials:
    if name == "stripe":
        return Credentials(
            _open(tenant, tenant.stripe_secret_key, "stripe_secret_key"),
            _open(tenant, tenant.stripe_webhook_secret, "stripe_webhook_secret"),
        )
    if name == "sandbox":
        return Credentials(None, _open(tenant, tenant.sandbox_webhook_secret, "sandbox_secret"))
    return Credentials()
