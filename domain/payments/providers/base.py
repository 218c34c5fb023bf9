"""The provider interface. Implementations talk to the outside world and hold no
database state: the domain stores what they answer, after its own commit."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from domain.errors import BillingError, ValidationError


class ProviderError(BillingError):
    """The provider could not be reached or refused the request itself (not a
    decline): the attempt stays pending and is retried."""

    code = "PROVIDER_ERROR"


class SignatureError(ValidationError):
    code = "BAD_SIGNATURE"


class PaymentMethodRejected(ValidationError):
    code = "PAYMENT_METHOD_REJECTED"


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a tenant configured for a provider, decrypted for one call."""

    api_key: str | None = None
    webhook_secret: str | None = None


@dataclass(frozen=True, slots=True)
class MethodDetails:
    provider_ref: str
    kind: str = "card"
    brand: str = ""
    last4: str = ""
    exp_month: int | None = None
    exp_year: int | None = None


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    amount_minor: int
    currency: str
    customer_ref: str
    method_ref: str
    off_session: bool
    idempotency_key: str
    description: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChargeResult:
    # succeeded | requires_action | failed | processing
    status: str
    provider_ref: str
    client_secret: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None


@dataclass(frozen=True, slots=True)
class RefundResult:
    provider_ref: str
    status: str  # succeeded | pending | failed
    failure_message: str | None = None


@dataclass(frozen=True, slots=True)
class ProviderEventData:
    """A verified webhook: its id, type, creation time and the object it is about."""

    id: str
    type: str
    created: int
    object: dict[str, Any]
    raw: dict[str, Any]


class Provider(Protocol):
    name: str

    async def ensure_customer(
        self, credentials: Credentials, customer: Any, existing_ref: str | None
    ) -> str: ...

    async def attach_method(
        self, credentials: Credentials, customer_ref: str, token: str, idempotency_key: str
    ) -> MethodDetails: ...

    async def charge(self, credentials: Credentials, request: ChargeRequest) -> ChargeResult: ...

    async def refund(
        self,
        credentials: Credentials,
        payment_ref: str,
        amount_minor: int,
        reason: str,
        idempotency_key: str,
    ) -> RefundResult: ...

    async def cancel(self, credentials: Credentials, payment_ref: str) -> bool:
        """Cancel an open payment (one awaiting 3-D Secure, say) so it can no longer
        succeed. False when it cannot be canceled any more (it has succeeded)."""
        ...

    def parse_webhook(
        self, credentials: Credentials, payload: bytes, signature: str | None, now: int
    ) -> ProviderEventData: ...


def event_from_json(payload: bytes) -> ProviderEventData:
    try:
        body = json.loads(payload)
        obj = body["data"]["object"]
        return ProviderEventData(
            id=str(body["id"]),
            type=str(body["type"]),
            created=int(body.get("created") or 0),
            object=obj if isinstance(obj, dict) else {},
            raw=body,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SignatureError("the payload is not an event") from exc
