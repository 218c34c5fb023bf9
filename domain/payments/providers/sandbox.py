"""The sandbox: a provider simulator with the semantics of Stripe's test payment
methods, for demos and tests. It keeps no state: each answer is a function of
the request and its idempotency key, so a retried call answers the same (and a
provider reference is the same), exactly like Stripe's idempotent requests.

Like a real provider it also sends signed webhooks (`Stripe-Signature`) to the
server, through the sender configured at start-up (`configure_sender`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from domain import clock
from domain.payments.providers import signatures
from domain.payments.providers.base import (
    ChargeRequest,
    ChargeResult,
    Credentials,
    MethodDetails,
    PaymentMethodRejected,
    ProviderEventData,
    RefundResult,
    event_from_json,
)

log = logging.getLogger("tally.sandbox")

# token → (brand, last4, outcome, failure code, message)
TEST_METHODS: dict[str, tuple[str, str, str, str | None, str | None]] = {
    "pm_card_visa": ("visa", "4242", "succeeded", None, None),
    "pm_card_mastercard": ("mastercard", "4444", "succeeded", None, None),
    "pm_card_chargeDeclined": (
        "visa",
        "0002",
        "failed",
        "card_declined",
        "Your card was declined.",
    ),
    "pm_card_insufficientFunds": (
        "visa",
        "9995",
        "failed",
        "insufficient_funds",
        "Your card has insufficient funds.",
    ),
    "pm_card_authenticationRequired": ("visa", "3184", "requires_action", None, None),
}

Sender = Callable[[str, bytes, dict[str, str]], Awaitable[None]]
_sender: Sender | None = None
_pending: set[asyncio.Task[None]] = set()


def configure_sender(sender: Sender | None) -> None:
    """Where sandbox webhooks go: `sender(tenant_public_id, body, headers)`."""
    global _sender
    _sender = sender


async def flush() -> None:
    """Wait for the webhooks sent so far (tests, shutdown)."""
    while _pending:
        await asyncio.gather(*list(_pending), return_exceptions=True)


def _ref(prefix: str, key: str) -> str:
    return f"{prefix}_sbx_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


def build_event(event_id: str, type_: str, obj: dict[str, Any]) -> bytes:
    body = {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created": int(clock.real_now().timestamp()),
        "livemode": False,
        "data": {"object": obj},
    }
    return json.dumps(body, separators=(",", ":")).encode()


def send_event(tenant_ref: str, secret: str | None, event_id: str, type_: str, obj: dict) -> None:
    """Sign and send one event after the caller's work (fire and forget, like a
    provider: the receiver's dedupe makes a duplicate harmless)."""
    if _sender is None or not secret:
        return
    body = build_event(event_id, type_, obj)
    header = signatures.sign(body.decode(), secret, int(clock.real_now().timestamp()))
    sender = _sender

    async def deliver() -> None:
        try:
            await sender(tenant_ref, body, {"Stripe-Signature": header})
        except Exception:
            log.exception("sandbox webhook %s could not be delivered", event_id)

    task = asyncio.get_running_loop().create_task(deliver())
    _pending.add(task)
    task.add_done_callback(_pending.discard)


def intent_object(
    ref: str, request: ChargeRequest, status: str, error: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "id": ref,
        "object": "payment_intent",
        "amount": request.amount_minor,
        "currency": request.currency.lower(),
        "status": status,
        "customer": request.customer_ref,
        "payment_method": request.method_ref,
        "client_secret": f"{ref}_secret_sandbox",
        "metadata": dict(request.metadata),
        "last_payment_error": error,
        "latest_charge": ref.replace("pi_", "ch_", 1),
    }


class SandboxProvider:
    name = "sandbox"

    def __init__(self, tenant_ref: str = "") -> None:
        self.tenant_ref = tenant_ref

    async def ensure_customer(
        self, credentials: Credentials, customer: Any, existing_ref: str | None
    ) -> str:
        return existing_ref or f"cus_sbx_{customer.public_id.split('_', 1)[1]}"

    async def attach_method(
        self, credentials: Credentials, customer_ref: str, token: str, idempotency_key: str
    ) -> MethodDetails:
        if token not in TEST_METHODS:
            raise PaymentMethodRejected(
                f"the sandbox knows the test methods {', '.join(sorted(TEST_METHODS))}",
                field="token",
            )
        brand, last4, *_ = TEST_METHODS[token]
        return MethodDetails(token, "card", brand, last4, 12, 2034)

    async def charge(self, credentials: Credentials, request: ChargeRequest) -> ChargeResult:
        ref = _ref("pi", request.idempotency_key)
        _, _, outcome, code, message = TEST_METHODS.get(
            request.method_ref, ("", "", "failed", "payment_method_unknown", "Unknown method.")
        )
        if outcome == "requires_action":
            return ChargeResult("requires_action", ref, f"{ref}_secret_sandbox")
        if outcome == "failed":
            error = {"code": code, "message": message, "type": "card_error"}
            self._announce(credentials, ref, "payment_intent.payment_failed", request, error)
            return ChargeResult("failed", ref, None, code, message)
        self._announce(credentials, ref, "payment_intent.succeeded", request, None)
        return ChargeResult("succeeded", ref)

    def complete_action(
        self, credentials: Credentials, request: ChargeRequest, provider_ref: str, succeed: bool
    ) -> None:
        """What the customer's browser does after 3-D Secure: the provider then
        tells the server by webhook."""
        if succeed:
            self._announce(credentials, provider_ref, "payment_intent.succeeded", request, None)
        else:
            error = {
                "code": "payment_intent_authentication_failure",
                "message": "The customer did not authenticate.",
                "type": "card_error",
            }
            self._announce(
                credentials, provider_ref, "payment_intent.payment_failed", request, error
            )

    def _announce(
        self,
        credentials: Credentials,
        ref: str,
        type_: str,
        request: ChargeRequest,
        error: dict[str, Any] | None,
    ) -> None:
        status = "succeeded" if error is None else "requires_payment_method"
        obj = intent_object(ref, request, status, error)
        event_id = _ref("evt", f"{ref}:{type_}")
        send_event(self.tenant_ref, credentials.webhook_secret, event_id, type_, obj)

    async def refund(
        self,
        credentials: Credentials,
        payment_ref: str,
        amount_minor: int,
        reason: str,
        idempotency_key: str,
    ) -> RefundResult:
        return RefundResult(_ref("re", idempotency_key), "succeeded")

    async def cancel(self, credentials: Credentials, payment_ref: str) -> bool:
        # Stateless: a sandbox payment completes only through Tally's
        # completeSandboxAction, which refuses a payment that is no longer awaiting
        # action, so a canceled attempt can never succeed.
        return True

    def parse_webhook(
        self, credentials: Credentials, payload: bytes, signature: str | None, now: int
    ) -> ProviderEventData:
        signatures.verify(payload, signature, credentials.webhook_secret, now)
        return event_from_json(payload)
