"""Dunning driven by a test clock: retries on the tenant's schedule, mail in the
customer's language, past_due then the final action, recovery with a new card,
3-D Secure finished through the sandbox's signed webhook, and reminders."""

from __future__ import annotations

import pytest

from db.invoice_models import Invoice
from db.models import Customer, Subscription
from db.payment_models import MailMessage, Payment, WebhookEvent
from domain.billing.simulated_clocks import advance_test_clock
from domain.payments.attempt_sending import process_pending
from domain.payments.methods import attach_payment_method
from domain.payments.operations import complete_sandbox_action
from domain.payments.providers import sandbox
from tests.domain.payments.conftest import START, customer_with, days, open_invoice
from tests.factories import admin_of, make_plan, make_subscription, make_test_clock


async def _subscribed(tenant, token: str, **customer_fields):
    tenant.test_mode = True
    await tenant.save()
    clock = await make_test_clock(tenant=tenant, at=START)
    customer = await customer_with(
        tenant, token, locale="fr", test_clock_id=clock.public_id, **customer_fields
    )
    plan = await make_plan(tenant=tenant, prices=[("EUR", 2_000)])
    sub = await make_subscription(tenant=tenant, customer=customer, plan=plan)
    await process_pending(test_clock_id=clock.id)
    invoice = await Invoice.get(subscription_id=sub.id)
    return clock, customer, sub, invoice


async def test_a_card_that_keeps_failing_runs_the_whole_schedule(sandbox_tenant) -> None:
    clock, customer, sub, invoice = await _subscribed(sandbox_tenant, "pm_card_chargeDeclined")
    admin = admin_of(sandbox_tenant)
    invoice = await Invoice.get(id=invoice.id)
    assert invoice.next_payment_attempt_at == START + days(3)
    assert (await Subscription.get(id=sub.id)).status == "past_due"
    assert (await Customer.get(id=customer.id)).delinquent
    for step, retry_day in ((2, 3), (3, 5)):
        await advance_test_clock(admin, clock.public_id, START + days(retry_day) + days(0.5))
        current = await Invoice.get(id=invoice.id)
        assert await Payment.filter(invoice_id=invoice.id, status="failed").count() == step
        assert current.status == "open"
    await advance_test_clock(admin, clock.public_id, START + days(7.5))
    payments = await Payment.filter(invoice_id=invoice.id).order_by("attempt")
    assert [(p.attempt, p.status) for p in payments] == [(n, "failed") for n in (1, 2, 3, 4)]
    assert [p.created_at for p in payments] == [START + days(d) for d in (0, 3, 5, 7)]
    final = await Invoice.get(id=invoice.id)
    assert (final.status, final.next_payment_attempt_at) == ("uncollectible", None)
    sub = await Subscription.get(id=sub.id)
    assert (sub.status, sub.ended_at) == ("canceled", START + days(7))
    assert (await Customer.get(id=customer.id)).delinquent
    mails = await MailMessage.filter(tenant_id=sandbox_tenant.id).order_by("id")
    assert [m.kind for m in mails] == ["payment_failed"] * 4
    assert all(m.subject.startswith("Échec du paiement") for m in mails)
    assert "Nous réessaierons le" in mails[0].body and "dernière tentative" in mails[-1].body
    kinds = [e.type for e in await WebhookEvent.filter(tenant_id=sandbox_tenant.id).order_by("id")]
    assert kinds.count("invoice.payment_failed") == 4
    assert {"invoice.marked_uncollectible", "subscription.canceled"} <= set(kinds)
    # Advancing further bills nothing more for the canceled subscription.
    await advance_test_clock(admin, clock.public_id, START + days(70))
    assert await Invoice.filter(subscription_id=sub.id).count() == 1


async def test_a_new_card_recovers_at_the_next_retry(sandbox_tenant) -> None:
    clock, customer, sub, invoice = await _subscribed(sandbox_tenant, "pm_card_chargeDeclined")
    admin = admin_of(sandbox_tenant)
    await attach_payment_method(admin, customer.public_id, "pm_card_visa")
    await advance_test_clock(admin, clock.public_id, START + days(4))
    invoice = await Invoice.get(id=invoice.id)
    assert (invoice.status, invoice.amount_paid_minor, invoice.paid_at) == (
        "paid",
        2_000,
        START + days(3),
    )
    assert (await Subscription.get(id=sub.id)).status == "active"
    assert not (await Customer.get(id=customer.id)).delinquent
    # The next renewal is charged on the new card at once.
    await advance_test_clock(admin, clock.public_id, START + days(32))
    renewal = await Invoice.filter(subscription_id=sub.id).order_by("-id").first()
    assert renewal.status == "paid" and renewal.paid_at == START.replace(month=4)


@pytest.mark.usefixtures("sandbox_to_app")
async def test_three_d_secure_is_finished_by_the_sandbox_webhook(sandbox_tenant) -> None:
    _, _, _, invoice = await _subscribed(sandbox_tenant, "pm_card_authenticationRequired")
    payment = await Payment.get(invoice_id=invoice.id)
    assert payment.status == "requires_action" and payment.client_secret
    await complete_sandbox_action(admin_of(sandbox_tenant), payment.public_id, True)
    await sandbox.flush()
    assert (await Payment.get(id=payment.id)).status == "succeeded"
    assert (await Invoice.get(id=invoice.id)).status == "paid"


async def test_sent_invoices_get_a_reminder_then_flag_the_customer(sandbox_tenant) -> None:
    sandbox_tenant.test_mode = True
    await sandbox_tenant.save()
    clock = await make_test_clock(tenant=sandbox_tenant, at=START)
    customer = await customer_with(sandbox_tenant, None, locale="de", test_clock_id=clock.public_id)
    await Customer.filter(id=customer.id).update(payment_provider="manual")
    invoice = await open_invoice(sandbox_tenant, customer, 900)
    assert (invoice.collection_method, invoice.due_at) == ("send_invoice", START + days(30))
    admin = admin_of(sandbox_tenant)
    await advance_test_clock(admin, clock.public_id, START + days(28))
    (mail,) = await MailMessage.filter(tenant_id=sandbox_tenant.id)
    assert mail.kind == "reminder" and "fällig" in mail.subject
    assert not (await Customer.get(id=customer.id)).delinquent
    await advance_test_clock(admin, clock.public_id, START + days(31))
    assert (await Customer.get(id=customer.id)).delinquent
    assert await Payment.filter(invoice_id=invoice.id).count() == 0  # never charged
