"""A refund Tally owes stays owed until the provider has it (issue 13, items 5 and
7, found in review): a duplicate charge's refund that Stripe did not answer used to
stay pending for ever (a replayed webhook is a duplicate and changes nothing), and
the pending row blocked a refund by hand. The worker's sweep sends it once the
claim of the failed attempt has expired, exactly once however many workers run."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from db.invoice_models import BalanceEntry, Invoice
from db.payment_models import Payment, Refund
from domain import clock
from domain.payments import aftermath, attempt_sending, refund_sending
from domain.payments.operations import record_payment
from domain.payments.refund_sending import send_refund
from tests.domain.payments.conftest import (
    customer_with,
    intent_event,
    open_invoice,
    post_webhook,
    signed,
)
from tests.factories import admin_of

pytestmark = pytest.mark.usefixtures("fake_stripe")


async def _expire_claims(refund: Refund) -> None:
    """Time passes: the claim of the attempt that failed is older than its lease."""
    earlier = clock.real_now() - refund_sending.REFUND_LEASE - timedelta(seconds=1)
    await Refund.filter(id=refund.id).update(updated_at=earlier)


async def test_a_refund_stripe_did_not_take_is_sent_by_the_sweep_once(
    client, stripe_tenant, fake_stripe
) -> None:
    customer = await customer_with(stripe_tenant, "pm_card_authenticationRequired")
    invoice = await open_invoice(stripe_tenant, customer)
    await attempt_sending.process_pending(invoice_ids=[invoice.id])
    (first,) = await Payment.filter(invoice_id=invoice.id)
    assert fake_stripe.complete_authentication(first.provider_ref or "")
    await record_payment(
        admin_of(stripe_tenant),
        {"invoice_id": invoice.public_id, "method": "bank_transfer", "reference": "T-3"},
    )
    # The duplicate charge's success arrives while Stripe is down for its refund.
    fake_stripe.fail_next = 3  # the SDK retries twice, then gives up
    late = intent_event("evt_late_refund", "payment_intent.succeeded", first, first.provider_ref)
    assert (await post_webhook(client, stripe_tenant, *signed(late))).json()[
        "outcome"
    ] == "processed"
    (refund,) = await Refund.filter(payment_id=first.id)
    key = f"tally:{refund.public_id}"
    assert (refund.status, fake_stripe.refund_requests[key]) == ("pending", 3)
    # A replayed webhook is a duplicate: it does not pick the refund up.
    assert (await post_webhook(client, stripe_tenant, *signed(late))).json()[
        "outcome"
    ] == "duplicate"
    # The sweep leaves a refund alone while the attempt's claim holds ...
    assert await aftermath.send_due_refunds() == 0
    # ... nor does a sender that reads the claimed row (a sweep that listed it just
    # before the claim was made): a live claim is never taken over.
    assert await send_refund(refund.id) is None
    assert fake_stripe.refund_requests[key] == 3
    # ... and once it has expired, of two workers sweeping at once one sends it.
    await _expire_claims(refund)
    sent = await asyncio.gather(aftermath.send_due_refunds(), aftermath.send_due_refunds())
    assert sorted(sent) == [0, 1]
    assert fake_stripe.refund_requests[key] == 4
    done = await Refund.get(id=refund.id)
    assert (done.status, done.reason) == ("succeeded", "unapplied_payment")
    assert (await Payment.get(id=first.id)).refunded_minor == 10_000
    assert [
        r["amount"] for r in fake_stripe.refunds if r["payment_intent"] == first.provider_ref
    ] == [10_000]
    # Nothing left to send: later sweeps change nothing.
    await _expire_claims(done)
    assert await aftermath.send_due_refunds() == 0
    assert fake_stripe.refund_requests[key] == 4
    current = await Invoice.get(id=invoice.id)
    assert (current.status, current.amount_paid_minor) == ("paid", 10_000)
    assert not await BalanceEntry.filter(customer_id=customer.id).exists()
