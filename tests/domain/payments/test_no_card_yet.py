"""A first charge that fails only because the customer has no card yet (issue 13,
item 19) waits for the due date instead of starting dunning at once."""

from __future__ import annotations

from db.invoice_models import Invoice
from db.models import Customer, Subscription
from db.payment_models import Payment
from domain.billing.simulated_clocks import advance_test_clock
from domain.payments.methods import attach_payment_method
from tests.domain.payments.conftest import START, days
from tests.domain.payments.test_dunning import _subscribed
from tests.factories import admin_of


async def test_without_a_card_dunning_starts_on_the_due_date(sandbox_tenant) -> None:
    clock, customer, sub, invoice = await _subscribed(sandbox_tenant, None)
    invoice = await Invoice.get(id=invoice.id)
    assert (invoice.status, invoice.first_failed_at, invoice.due_at) == (
        "open",
        None,
        START + days(30),
    )
    assert invoice.next_payment_attempt_at == invoice.due_at
    assert (await Subscription.get(id=sub.id)).status == "active"
    assert not (await Customer.get(id=customer.id)).delinquent
    # Still no card on the due date: charged again, and now it is a missed payment.
    await advance_test_clock(admin_of(sandbox_tenant), clock.public_id, START + days(30.5))
    invoice = await Invoice.get(id=invoice.id)
    assert (invoice.overdue_flagged, invoice.first_failed_at) == (True, START + days(30))
    assert invoice.next_payment_attempt_at == START + days(33)  # the schedule's first retry
    assert (await Subscription.get(id=sub.id)).status == "past_due"
    assert (await Customer.get(id=customer.id)).delinquent


async def test_a_card_added_before_the_due_date_pays_on_it(sandbox_tenant) -> None:
    clock, customer, sub, invoice = await _subscribed(sandbox_tenant, None)
    admin = admin_of(sandbox_tenant)
    await advance_test_clock(admin, clock.public_id, START + days(10))
    await attach_payment_method(admin, customer.public_id, "pm_card_visa")
    await advance_test_clock(admin, clock.public_id, START + days(30.5))
    invoice = await Invoice.get(id=invoice.id)
    assert (invoice.status, invoice.paid_at) == ("paid", START + days(30))
    attempts = await Payment.filter(invoice_id=invoice.id).order_by("attempt")
    assert [(p.attempt, p.status) for p in attempts] == [(1, "failed"), (2, "succeeded")]
    assert (await Subscription.get(id=sub.id)).status == "active"
    assert not (await Customer.get(id=customer.id)).delinquent
