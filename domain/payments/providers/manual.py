"""Manual collection: bank transfer, cash or cheque, recorded by an admin. Nothing
is charged and no webhook arrives; a refund is paid back outside Tally."""

from __future__ import annotations

from typing import Any

from domain.errors import ValidationError
from domain.payments.providers.base import (
    ChargeRequest,
    ChargeResult,
    Credentials,
    MethodDetails,
    ProviderEventData,
    RefundResult,
    SignatureError,
)


class ManualProvider:
    name = "manual"

    async def ensure_customer(
        self, credentials: Credentials, customer: Any, existing_ref: str | None
    ) -> str:
        return existing_ref or ""

    async def attach_method(
        self, credentials: Credentials, customer_ref: str, token: str, idempotency_key: str
    ) -> MethodDetails:
        raise ValidationError(
            "manual collection has no payment methods: record payments instead",
            field="token",
            code="MANUAL_PROVIDER",
        )

    async def charge(self, credentials: Credentials, request: ChargeRequest) -> ChargeResult:
        raise ValidationError("manual collection never charges", code="MANUAL_PROVIDER")

    async def refund(
        self,
        credentials: Credentials,
        payment_ref: str,
        amount_minor: int,
        reason: str,
        idempotency_key: str,
    ) -> RefundResult:
        return RefundResult(f"manual:{idempotency_key}", "succeeded")

    async def cancel(self, credentials: Credentials, payment_ref: str) -> bool:
        return True  # nothing was started at a provider

    def parse_webhook(
        self, credentials: Credentials, payload: bytes, signature: str | None, now: int
    ) -> ProviderEventData:
        raise SignatureError("manual collection receives no webhooks")
