"""Payment fixtures: a tenant collecting with Stripe (the real SDK against the
in-process fake) or the sandbox, a customer with a card, and helpers to post
signed provider webhooks through the real HTTP route."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stripe

from db.invoice_models import Invoice
from db.models import Tenant
from domain import clock
from domain.invoicing.service import create_invoice, finalize_invoice
from domain.payments.methods import attach_payment_method
from domain.payments.providers import stripe_provider
from domain.payments.settings import update_payment_settings
from tests.factories import admin_of, make_customer, make_tenant
from tests.fake_stripe import FakeStripe

WEBHOOK_SECRET = "whsec_test_0123456789abcdef"


@pytest.fixture(scope="session")
def fake_stripe() -> Iterator[FakeStripe]:
    server = FakeStripe().start()
    stripe_provider.configure_client(stripe_provider.build_client(server.url))
    yield server
    stripe_provider.configure_client(None)
    server.stop()


@pytest.fixture
async def stripe_tenant(db: str, fake_stripe: FakeStripe) -> Tenant:
    tenant = await make_tenant()
    await update_payment_settings(
        admin_of(tenant),
        {
            "provider": "stripe",
            "stripe_secret_key": "sk_test_tally",
            "stripe_webhook_secret": WEBHOOK_SECRET,
        },
    )
    return await Tenant.get(id=tenant.id)


@pytest.fixture
async def sandbox_tenant(db: str) -> Tenant:
    tenant = await make_tenant(locale="fr")
    await update_payment_settings(admin_of(tenant), {"provider": "sandbox"})
    return await Tenant.get(id=tenant.id)


async def customer_with(tenant: Tenant, token: str | None, **fields: Any) -> Any:
    """A customer outside the tenant's tax registrations, so amounts stay round."""
    fields.setdefault("country", "US")
    customer = await make_customer(tenant=tenant, email="ada@example.com", **fields)
    if token:
        await attach_payment_method(admin_of(tenant), customer.public_id, token)
    return customer


async def open_invoice(tenant: Tenant, customer: Any, amount: int = 10_000) -> Invoice:
    """A one-off invoice, finalized: charged automatically after the caller's
    `process_pending`."""
    admin = admin_of(tenant)
    draft = await create_invoice(
        admin,
        {
            "customer_id": customer.public_id,
            "items": [
                {"description": "Setup", "unit_price": {"currency": "EUR", "amount_minor": amount}}
            ],
        },
    )
    return await finalize_invoice(admin, draft.public_id)


def signed(event: dict[str, Any], secret: str = WEBHOOK_SECRET, at: int | None = None) -> tuple:
    body = json.dumps(event)
    stamp = at if at is not None else int(clock.real_now().timestamp())
    return body.encode(), stripe.WebhookSignature.generate_signature_header(body, secret, stamp)


def intent_event(event_id: str, type_: str, payment: Any, intent_id: str) -> dict[str, Any]:
    error = (
        None
        if type_ == "payment_intent.succeeded"
        else {"code": "card_declined", "decline_code": "generic_decline", "message": "Declined."}
    )
    return {
        "id": event_id,
        "object": "event",
        "type": type_,
        "created": int(clock.real_now().timestamp()),
        "data": {
            "object": {
                "id": intent_id,
                "object": "payment_intent",
                "amount": payment.amount_minor,
                "currency": payment.currency.lower(),
                "status": "succeeded" if error is None else "requires_payment_method",
                "metadata": {"tally_payment": payment.public_id},
                "last_payment_error": error,
            }
        },
    }


async def post_webhook(
    client: httpx.AsyncClient,
    tenant: Tenant,
    body: bytes,
    header: str | None,
    provider: str = "stripe",
) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return await client.post(
        f"/webhooks/{provider}/{tenant.public_id}", content=body, headers=headers
    )


def days(n: float) -> timedelta:
    return timedelta(days=n)


START = datetime(2026, 3, 1, tzinfo=UTC)
