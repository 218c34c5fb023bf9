"""Stripe through the official SDK. One `StripeClient` is built at start-up
(`configure_client`); each call carries the tenant's own secret key and an
idempotency key, so a call retried after a crash is answered with the first
result instead of charging twice."""

from __future__ import annotations

import logging
from typing import Any

import stripe

from domain.payments.providers import signatures
from domain.payments.providers.base import (
    ChargeRequest,
    ChargeResult,
    Credentials,
    MethodDetails,
    PaymentMethodRejected,
    ProviderError,
    ProviderEventData,
    RefundResult,
    event_from_json,
)

log = logging.getLogger("tally.stripe")
_client: stripe.StripeClient | None = None

# Stripe's refund reasons; ours that have no equivalent are sent without one.
_REFUND_REASONS = {
    "duplicate": "duplicate",
    "fraudulent": "fraudulent",
    "requested_by_customer": "requested_by_customer",
    "unapplied_payment": "duplicate",  # a second charge of an invoice already paid
}


def build_client(api_base: str | None = None) -> stripe.StripeClient:
    # The key given here is never used: every request passes the tenant's own.
    return stripe.StripeClient(
        "sk_tally_placeholder",
        base_addresses={"api": api_base} if api_base else None,
        http_client=stripe.HTTPXClient(timeout=30),
        max_network_retries=2,
    )


def configure_client(client: stripe.StripeClient | None) -> None:
    global _client
    _client = client


def client() -> stripe.StripeClient:
    global _client
    if _client is None:
        _client = build_client()
    return _client


def _options(credentials: Credentials, idempotency_key: str | None = None) -> dict[str, Any]:
    if not credentials.api_key:
        raise ProviderError("this tenant has no Stripe secret key", code="PROVIDER_NOT_CONFIGURED")
    options: dict[str, Any] = {"api_key": credentials.api_key}
    if idempotency_key:
        options["idempotency_key"] = idempotency_key
    return options


def _failure(exc: stripe.StripeError) -> tuple[str, str]:
    code = getattr(exc, "code", None) or "provider_error"
    body = exc.json_body or {}
    decline = (body.get("error") or {}).get("decline_code")
    return (decline if code == "card_declined" and decline else code), (
        exc.user_message or str(exc)
    )[:500]


class StripeProvider:
    name = "stripe"

    async def ensure_customer(
        self, credentials: Credentials, customer: Any, existing_ref: str | None
    ) -> str:
        if existing_ref:
            return existing_ref
        try:
            created = await client().v1.customers.create_async(
                params={
                    "name": customer.name,
                    "email": customer.email or "",
                    "metadata": {"tally_customer": customer.public_id},
                },
                options=_options(credentials, f"tally-customer-{customer.public_id}"),
            )
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe refused the customer: {exc.user_message or exc}") from exc
        return str(created.to_dict()["id"])

    async def attach_method(
        self, credentials: Credentials, customer_ref: str, token: str, idempotency_key: str
    ) -> MethodDetails:
        try:
            method = await client().v1.payment_methods.attach_async(
                token,
                params={"customer": customer_ref},
                options=_options(credentials, idempotency_key),
            )
        except (stripe.InvalidRequestError, stripe.CardError) as exc:
            raise PaymentMethodRejected(
                exc.user_message or str(exc), field="token", code="PAYMENT_METHOD_REJECTED"
            ) from exc
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe could not attach the method: {exc}") from exc
        data = method.to_dict()
        card = data.get("card") or {}
        return MethodDetails(
            str(data["id"]),
            str(data.get("type") or "card"),
            str(card.get("brand") or ""),
            str(card.get("last4") or ""),
            card.get("exp_month"),
            card.get("exp_year"),
        )

    async def charge(self, credentials: Credentials, request: ChargeRequest) -> ChargeResult:
        params: dict[str, Any] = {
            "amount": request.amount_minor,
            "currency": request.currency.lower(),
            "customer": request.customer_ref,
            "payment_method": request.method_ref,
            "payment_method_types": ["card"],
            "confirm": True,
            "off_session": request.off_session,
            "description": request.description,
            "metadata": dict(request.metadata),
        }
        try:
            intent = await client().v1.payment_intents.create_async(
                params=params,  # type: ignore[arg-type]
                options=_options(credentials, request.idempotency_key),  # type: ignore[arg-type]
            )
        except stripe.CardError as exc:
            intent_body = ((exc.json_body or {}).get("error") or {}).get("payment_intent") or {}
            ref = str(intent_body.get("id") or "")
            code, message = _failure(exc)
            if code == "authentication_required":
                # Off-session 3-D Secure: the customer finishes it on a page with
                # the client secret, then a webhook settles the payment.
                return ChargeResult("requires_action", ref, intent_body.get("client_secret"))
            return ChargeResult("failed", ref, None, code, message)
        except (stripe.InvalidRequestError, stripe.AuthenticationError) as exc:
            code, message = _failure(exc)
            return ChargeResult("failed", "", None, code, message)
        except stripe.StripeError as exc:  # network, rate limit, 5xx: try again later
            raise ProviderError(f"Stripe did not answer: {exc}") from exc
        return self._result(intent.to_dict())

    @staticmethod
    def _result(intent: dict[str, Any]) -> ChargeResult:
        status = intent.get("status")
        ref = str(intent["id"])
        if status == "succeeded":
            return ChargeResult("succeeded", ref)
        if status == "requires_action":
            return ChargeResult("requires_action", ref, intent.get("client_secret"))
        if status == "processing":
            return ChargeResult("processing", ref)
        error = intent.get("last_payment_error") or {}
        return ChargeResult(
            "failed",
            ref,
            None,
            error.get("decline_code") or error.get("code") or status,
            (error.get("message") or f"payment {status}")[:500],
        )

    async def refund(
        self,
        credentials: Credentials,
        payment_ref: str,
        amount_minor: int,
        reason: str,
        idempotency_key: str,
    ) -> RefundResult:
        params: dict[str, Any] = {"payment_intent": payment_ref, "amount": amount_minor}
        if reason in _REFUND_REASONS:
            params["reason"] = _REFUND_REASONS[reason]
        try:
            refund = await client().v1.refunds.create_async(
                params=params,  # type: ignore[arg-type]
                options=_options(credentials, idempotency_key),  # type: ignore[arg-type]
            )
        except stripe.InvalidRequestError as exc:
            return RefundResult("", "failed", (exc.user_message or str(exc))[:500])
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe did not answer: {exc}") from exc
        data = refund.to_dict()
        status = data.get("status")
        return RefundResult(
            str(data["id"]),
            "succeeded"
            if status == "succeeded"
            else ("failed" if status == "failed" else "pending"),
        )

    async def cancel(self, credentials: Credentials, payment_ref: str) -> bool:
        try:
            await client().v1.payment_intents.cancel_async(
                payment_ref,
                options=_options(credentials, f"tally-cancel-{payment_ref}"),  # type: ignore[arg-type]
            )
        except stripe.InvalidRequestError as exc:
            # Already canceled is what was asked; any other state (succeeded,
            # processing) means it can no longer be stopped.
            intent = ((exc.json_body or {}).get("error") or {}).get("payment_intent") or {}
            return intent.get("status") == "canceled"
        except stripe.StripeError as exc:
            raise ProviderError(f"Stripe did not answer: {exc}") from exc
        return True

    def parse_webhook(
        self, credentials: Credentials, payload: bytes, signature: str | None, now: int
    ) -> ProviderEventData:
        signatures.verify(payload, signature, credentials.webhook_secret, now)
        return event_from_json(payload)
