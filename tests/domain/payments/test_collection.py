"""Collection through the real Stripe SDK (against the in-process fake): charges,
declines, 3-D Secure, a crash between the charge and the commit, partial and
manual payments, overpayment, refunds, and the typed errors for bad input."""

from __future__ import annotations

import pytest

from db.invoice_models import BalanceEntry, CreditNote, Invoice
from db.payment_models import Payment
from domain.errors import NotFoundError, ValidationError
from domain.invoicing.service import InvoiceStatusError, void_invoice
from domain.payments import attempt_sending
from domain.payments.operations import (
    Overpayment,
    RefundTooLarge,
    record_payment,
    refund_payment,
)
from domain.payments.paying import pay_invoice
from tests.domain.payments.conftest import customer_with, open_invoice
from tests.factories import admin_of

pytestmark = pytest.mark.usefixtures("fake_stripe")


async def _collect(invoice: Invoice) -> Invoice:
    await attempt_sending.process_pending(invoice_ids=[invoice.id])
    return await Invoice.get(id=invoice.id)


async def test_finalizing_charges_the_default_card_once(stripe_tenant, fake_stripe) -> None:
    customer = await customer_with(stripe_tenant, "pm_card_visa")
    invoice = await _collect(await open_invoice(stripe_tenant, customer, 12_345))
    assert (invoice.status, invoice.amount_paid_minor, invoice.amount_due_minor) == (
        "paid",
        12_345,
        0,
    )
    (payment,) = await Payment.filter(invoice_id=invoice.id)
    assert payment.status == "succeeded" and payment.provider_ref.startswith("pi_")
    assert fake_stripe.charges[payment.idempotency_key] == 1
    assert "sk_test_tally" in fake_stripe.api_key_seen  # the tenant's own key, decrypted
    # Sending the same attempt again changes nothing and charges nothing.
    await attempt_sending.process_payment(payment.id)
    assert fake_stripe.charges[payment.idempotency_key] == 1


async def test_a_run_sends_customers_in_parallel_and_each_customer_in_order(
    stripe_tenant, fake_stripe
) -> None:
    customers = [await customer_with(stripe_tenant, "pm_card_visa") for _ in range(5)]
    invoices = [await open_invoice(stripe_tenant, c, 1_000 + i) for c in customers for i in (0, 1)]
    fake_stripe.max_in_flight, fake_stripe.same_customer_overlap = 0, False
    fake_stripe.intent_delay = 0.05
    try:
        sent = await attempt_sending.process_pending(invoice_ids=[i.id for i in invoices])
    finally:
        fake_stripe.intent_delay = 0.0
    assert sent == 10
    assert fake_stripe.max_in_flight > 1  # several customers at once
    assert not fake_stripe.same_customer_overlap  # never two of one customer's
    for invoice in invoices:
        assert (await Invoice.get(id=invoice.id)).status == "paid"
        (payment,) = await Payment.filter(invoice_id=invoice.id)
        assert fake_stripe.charges[payment.idempotency_key] == 1


async def test_a_decline_is_recorded_with_its_code(stripe_tenant) -> None:
    customer = await customer_with(stripe_tenant, "pm_card_insufficientFunds")
    invoice = await _collect(await open_invoice(stripe_tenant, customer))
    (payment,) = await Payment.filter(invoice_id=invoice.id)
    assert (payment.status, payment.failure_code) == ("failed", "insufficient_funds")
    assert invoice.status == "open" and invoice.next_payment_attempt_at is not None


async def test_off_session_authentication_asks_for_action(stripe_tenant) -> None:
    customer = await customer_with(stripe_tenant, "pm_card_authenticationRequired")
    invoice = await _collect(await open_invoice(stripe_tenant, customer))
    (payment,) = await Payment.filter(invoice_id=invoice.id)
    assert payment.status == "requires_action" and "_secret_" in payment.client_secret
    assert invoice.status == "open"


async def test_a_crash_after_the_charge_retries_with_the_same_key(
    stripe_tenant, fake_stripe, monkeypatch
) -> None:
    customer = await customer_with(stripe_tenant, "pm_card_visa")
    invoice = await open_invoice(stripe_tenant, customer)
    (payment,) = await Payment.filter(invoice_id=invoice.id)

    async def crash(*args, **kwargs):
        raise RuntimeError("killed between the provider call and the commit")

    with monkeypatch.context() as patch:
        patch.setattr(attempt_sending, "apply_result", crash)
        with pytest.raises(RuntimeError):
            await attempt_sending.process_payment(payment.id)
    assert (await Payment.get(id=payment.id)).status == "pending"
    assert fake_stripe.charges[payment.idempotency_key] == 1  # Stripe charged once
    # The sweep sends the pending attempt again: same key, Stripe replays its answer.
    await attempt_sending.process_pending(invoice_ids=[invoice.id])
    assert fake_stripe.charges[payment.idempotency_key] == 1
    invoice = await Invoice.get(id=invoice.id)
    assert (invoice.status, invoice.amount_paid_minor) == ("paid", 10_000)


async def test_a_provider_outage_leaves_the_attempt_pending(stripe_tenant, fake_stripe) -> None:
    customer = await customer_with(stripe_tenant, "pm_card_visa")
    invoice = await open_invoice(stripe_tenant, customer)
    fake_stripe.fail_next = 3  # the SDK retries twice, then gives up
    await attempt_sending.process_pending(invoice_ids=[invoice.id])
    (payment,) = await Payment.filter(invoice_id=invoice.id)
    assert payment.status == "pending"
    await attempt_sending.process_pending(invoice_ids=[invoice.id])
    assert (await Invoice.get(id=invoice.id)).status == "paid"


async def test_partial_manual_payments_then_overpayment_becomes_credit(stripe_tenant) -> None:
    customer = await customer_with(stripe_tenant, None)
    await customer.__class__.filter(id=customer.id).update(payment_provider="manual")
    invoice = await open_invoice(stripe_tenant, customer, 10_000)
    admin = admin_of(stripe_tenant)

    async def pay(amount: int, ref: str, target: Invoice = invoice, **extra: bool):
        return await record_payment(
            admin,
            {
                "invoice_id": target.public_id,
                "method": "bank_transfer",
                "reference": ref,
                "amount": {"currency": "EUR", "amount_minor": amount},
                **extra,
            },
        )

    await pay(4_000, "T1")
    current = await Invoice.get(id=invoice.id)
    assert (current.status, current.amount_due_minor, current.amount_paid_minor) == (
        "open",
        6_000,
        4_000,
    )
    await pay(6_000, "T2")
    assert (await Invoice.get(id=invoice.id)).status == "paid"
    with pytest.raises(InvoiceStatusError):  # nothing left to pay
        await pay(1, "T3")
    # Money beyond what is due is refused unless explicitly allowed; then it
    # becomes customer credit for the next invoice.
    other = await open_invoice(stripe_tenant, customer, 500)
    with pytest.raises(Overpayment) as refused:
        await pay(800, "T4", other)
    assert (refused.value.code, refused.value.field) == ("OVERPAYMENT", "amount")
    assert not await Payment.filter(invoice_id=other.id, provider="manual").exists()
    await pay(800, "T4", other, allow_overpayment=True)
    assert (await Invoice.get(id=other.id)).status == "paid"
    credit = await BalanceEntry.filter(customer_id=customer.id, source="overpayment")
    assert [e.amount_minor for e in credit] == [300]


async def test_bad_payment_input_is_refused_and_changes_nothing(stripe_tenant) -> None:
    customer = await customer_with(stripe_tenant, "pm_card_visa")
    other = await customer_with(stripe_tenant, "pm_card_visa", name="Other")
    invoice = await open_invoice(stripe_tenant, customer)
    admin = admin_of(stripe_tenant)
    foreign = (await other.payment_methods.all())[0]
    with pytest.raises(NotFoundError):  # another customer's card
        await pay_invoice(admin, invoice.public_id, foreign.public_id)
    await attempt_sending.process_pending(invoice_ids=[invoice.id])
    with pytest.raises(InvoiceStatusError):  # paid already
        await pay_invoice(admin, invoice.public_id)
    draft_void = await open_invoice(stripe_tenant, other, 100)
    await Payment.filter(invoice_id=draft_void.id).delete()
    await void_invoice(admin, draft_void.public_id)
    with pytest.raises(InvoiceStatusError):
        await pay_invoice(admin, draft_void.public_id)
    unpaid = await open_invoice(stripe_tenant, other, 100)
    with pytest.raises(ValidationError):
        await record_payment(
            admin, {"invoice_id": unpaid.public_id, "method": "gold", "reference": "x"}
        )
    assert await Payment.filter(invoice_id=invoice.id).count() == 1
    assert await Payment.filter(invoice_id=unpaid.id).count() == 1  # only its pending charge


async def test_refunds_become_credit_notes_and_never_exceed_the_payment(
    stripe_tenant, fake_stripe
) -> None:
    customer = await customer_with(stripe_tenant, "pm_card_visa")
    invoice = await _collect(await open_invoice(stripe_tenant, customer, 10_000))
    (payment,) = await Payment.filter(invoice_id=invoice.id)
    admin = admin_of(stripe_tenant)
    refund = await refund_payment(
        admin,
        {"payment_id": payment.public_id, "amount": {"currency": "EUR", "amount_minor": 2_500}},
    )
    assert refund.status == "succeeded" and refund.provider_ref.startswith("re_")
    note = await CreditNote.get(id=refund.credit_note_id)
    assert (note.total_minor, note.refunded_minor, note.credited_to_balance_minor) == (
        2_500,
        2_500,
        0,
    )
    with pytest.raises(RefundTooLarge):
        await refund_payment(
            admin,
            {"payment_id": payment.public_id, "amount": {"currency": "EUR", "amount_minor": 7_501}},
        )
    rest = await refund_payment(admin, {"payment_id": payment.public_id})
    assert rest.amount_minor == 7_500
    assert (await Payment.get(id=payment.id)).refunded_minor == 10_000
    assert (
        sum(r["amount"] for r in fake_stripe.refunds if r["payment_intent"] == payment.provider_ref)
        == 10_000
    )
    with pytest.raises(RefundTooLarge):
        await refund_payment(admin, {"payment_id": payment.public_id})
