"""3-D Secure left behind must not charge twice (issue 13, item 5), through the
real Stripe SDK against the in-process fake: paying again reuses the open attempt,
another card cancels it at Stripe first, and a success that still arrives for an
invoice already paid is refunded instead of becoming customer balance."""

from __future__ import annotations

import pytest

from db.invoice_models import BalanceEntry, CreditNote, Invoice
from db.payment_models import Payment, Refund
from domain.ids import new_id
from domain.payments import attempt_sending
from domain.payments.invoice_actions import create_credit_note, void_invoice
from domain.payments.methods import attach_payment_method
from domain.payments.operations import record_payment
from domain.payments.paying import pay_invoice
from tests.domain.payments.conftest import (
    customer_with,
    intent_event,
    open_invoice,
    post_webhook,
    signed,
)
from tests.factories import admin_of

pytestmark = pytest.mark.usefixtures("fake_stripe")


async def _waiting_for_3ds(tenant, amount: int = 10_000):  # type: ignore[no-untyped-def]
    customer = await customer_with(tenant, "pm_card_authenticationRequired")
    invoice = await open_invoice(tenant, customer, amount)
    await attempt_sending.process_pending(invoice_ids=[invoice.id])
    (first,) = await Payment.filter(invoice_id=invoice.id)
    assert first.status == "requires_action" and first.provider_ref
    return customer, invoice, first


async def test_paying_again_reuses_the_attempt_awaiting_3ds(stripe_tenant, fake_stripe) -> None:
    _, invoice, first = await _waiting_for_3ds(stripe_tenant)
    again = await pay_invoice(admin_of(stripe_tenant), invoice.public_id)
    assert (again.id, again.status, again.client_secret) == (
        first.id,
        "requires_action",
        first.client_secret,
    )
    assert await Payment.filter(invoice_id=invoice.id).count() == 1
    assert first.provider_ref not in fake_stripe.canceled
    assert first.provider_ref not in fake_stripe.charges


async def test_another_card_cancels_the_3ds_attempt_at_stripe_first(
    client, stripe_tenant, fake_stripe
) -> None:
    customer, invoice, first = await _waiting_for_3ds(stripe_tenant)
    visa = await attach_payment_method(admin_of(stripe_tenant), customer.public_id, "pm_card_visa")
    second = await pay_invoice(admin_of(stripe_tenant), invoice.public_id, visa.public_id)
    assert (second.attempt, second.status) == (2, "succeeded")
    assert (await Payment.get(id=first.id)).status == "canceled"
    assert first.provider_ref in fake_stripe.canceled
    # The customer's browser finishing the first one now fails at Stripe: one charge.
    assert fake_stripe.complete_authentication(first.provider_ref or "") is False
    assert (await Invoice.get(id=invoice.id)).amount_paid_minor == 10_000


async def test_a_success_for_an_invoice_already_paid_is_refunded(
    client, stripe_tenant, fake_stripe
) -> None:
    customer, invoice, first = await _waiting_for_3ds(stripe_tenant)
    # The customer finishes 3-D Secure at Stripe; before its webhook arrives, the
    # invoice is paid by bank transfer (Tally cancels the attempt, Stripe refuses:
    # it has succeeded).
    assert fake_stripe.complete_authentication(first.provider_ref or "")
    await record_payment(
        admin_of(stripe_tenant),
        {"invoice_id": invoice.public_id, "method": "bank_transfer", "reference": "T-1"},
    )
    assert (await Payment.get(id=first.id)).status == "canceled"
    assert first.provider_ref not in fake_stripe.canceled
    late = intent_event("evt_late_3ds", "payment_intent.succeeded", first, first.provider_ref)
    response = await post_webhook(client, stripe_tenant, *signed(late))
    assert response.json()["outcome"] == "processed"

    paid = await Payment.get(id=first.id)
    assert (paid.status, paid.refunded_minor) == ("succeeded", 10_000)
    (refund,) = await Refund.filter(payment_id=first.id)
    assert (refund.status, refund.reason, refund.credit_note_id) == (
        "succeeded",
        "unapplied_payment",
        None,
    )
    refunded = [
        r["amount"] for r in fake_stripe.refunds if r["payment_intent"] == first.provider_ref
    ]
    assert refunded == [10_000]
    current = await Invoice.get(id=invoice.id)
    assert (current.status, current.amount_paid_minor, current.amount_credited_minor) == (
        "paid",
        10_000,
        0,
    )
    assert not await BalanceEntry.filter(customer_id=customer.id).exists()
    assert not await CreditNote.filter(invoice_id=invoice.id).exists()
    # A replay of the event changes nothing and refunds nothing more.
    again = await post_webhook(client, stripe_tenant, *signed(late))
    assert again.json()["outcome"] == "duplicate"
    assert sum(r["payment_intent"] == first.provider_ref for r in fake_stripe.refunds) == 1


async def test_a_webhook_paying_the_invoice_cancels_the_3ds_attempt_at_stripe(
    client, stripe_tenant, fake_stripe
) -> None:
    """On PostgreSQL the success is applied by the one-statement path, elsewhere by
    the general one: either way the attempt awaiting 3-D Secure is canceled, here
    and at Stripe."""
    _, invoice, first = await _waiting_for_3ds(stripe_tenant)
    second = await Payment.create(
        **{
            **{k: getattr(first, k) for k in Payment._meta.db_fields if k != "id"},
            "public_id": new_id("payment"),
            "idempotency_key": f"{first.idempotency_key}:second",
            "attempt": 2,
            "status": "pending",
            "provider_ref": None,
            "client_secret": None,
        }
    )
    paid = intent_event("evt_second_paid", "payment_intent.succeeded", second, "pi_second")
    response = await post_webhook(client, stripe_tenant, *signed(paid))
    assert response.json()["outcome"] == "processed"
    assert (await Invoice.get(id=invoice.id)).status == "paid"
    assert (await Payment.get(id=first.id)).status == "canceled"
    assert first.provider_ref in fake_stripe.canceled
    assert fake_stripe.complete_authentication(first.provider_ref or "") is False


async def test_paying_again_after_a_partial_payment_replaces_the_3ds_attempt(
    client, stripe_tenant, fake_stripe
) -> None:
    """The open attempt asks for what was due when it was made: after a partial
    bank transfer, handing it back would charge the old amount and refund the
    excess. It is canceled (at Stripe too) and one for what is due now is opened."""
    _, invoice, first = await _waiting_for_3ds(stripe_tenant)
    await record_payment(
        admin_of(stripe_tenant),
        {
            "invoice_id": invoice.public_id,
            "method": "bank_transfer",
            "reference": "T-2",
            "amount": {"currency": "EUR", "amount_minor": 4_000},
        },
    )
    again = await pay_invoice(admin_of(stripe_tenant), invoice.public_id)
    assert again.id != first.id
    assert (again.attempt, again.amount_minor, again.status) == (2, 6_000, "requires_action")
    assert (await Payment.get(id=first.id)).status == "canceled"
    assert first.provider_ref in fake_stripe.canceled
    assert fake_stripe.complete_authentication(first.provider_ref or "") is False
    # Asking once more hands back the new attempt: its amount is still what is due.
    same = await pay_invoice(admin_of(stripe_tenant), invoice.public_id)
    assert (same.id, same.client_secret) == (again.id, again.client_secret)


async def test_voiding_the_invoice_cancels_its_3ds_attempt_at_stripe(
    stripe_tenant, fake_stripe
) -> None:
    _, invoice, first = await _waiting_for_3ds(stripe_tenant)
    voided = await void_invoice(admin_of(stripe_tenant), invoice.public_id)
    assert voided.status == "void"
    assert (await Payment.get(id=first.id)).status == "canceled"
    assert first.provider_ref in fake_stripe.canceled
    # Finishing 3-D Secure now fails at Stripe: a void invoice is never charged.
    assert fake_stripe.complete_authentication(first.provider_ref or "") is False


async def test_a_credit_note_settling_the_invoice_cancels_its_3ds_attempt_at_stripe(
    stripe_tenant, fake_stripe
) -> None:
    _, invoice, first = await _waiting_for_3ds(stripe_tenant)
    await create_credit_note(
        admin_of(stripe_tenant), {"invoice_id": invoice.public_id, "reason": "order_change"}
    )
    assert (await Invoice.get(id=invoice.id)).status == "paid"
    assert (await Payment.get(id=first.id)).status == "canceled"
    assert first.provider_ref in fake_stripe.canceled
    assert fake_stripe.complete_authentication(first.provider_ref or "") is False
