"""Dunning: what a failed payment leads to, and the steps that fall due later.

After a failure the invoice is retried on the tenant's schedule (default 3, 5 and
7 days after the first failure), the customer is told in their language, the
subscription turns `past_due`, and the customer is flagged delinquent (which the
credits check reads). After the last attempt the final action runs: the
subscription is canceled, marked `unpaid` or left `past_due`; the invoice is
marked uncollectible or left open. Sent invoices (manual collection) get
reminders before their due date. Every step is driven by `invoice.next_dunning_at`,
which the billing run and test clocks query.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from db.invoice_models import Invoice
from db.models import Customer, Subscription, Tenant
from db.payment_models import Payment
from domain.analytics import movement_log as mrr_log
from domain.invoicing.attempts import default_methods, next_dunning_at, open_attempt, provider_name
from domain.invoicing.dunning_policy import DunningPolicy
from domain.invoicing.settlement import refresh_delinquency
from domain.payments import mails
from domain.webhooks import announce

log = logging.getLogger("tally.dunning")
NO_METHOD_CODE = "no_payment_method"  # collection.NO_METHOD's failure code


def _seller(tenant: Any) -> str:
    return tenant.legal_name or tenant.name


async def on_failure(payment: Payment, invoice: Invoice, now: datetime) -> None:
    """A collected attempt failed (caller holds the invoice lock and transaction).
    A late failure on an invoice paid or closed since changes nothing."""
    if invoice.status != "open":
        return
    tenant = await Tenant.get(id=invoice.tenant_id)
    customer = await Customer.get(id=invoice.customer_id)
    policy = DunningPolicy.of(tenant)
    if _awaits_a_method(payment, invoice, now):
        await _await_method(payment, invoice, customer, tenant, policy, now)
        return
    if invoice.first_failed_at is None:
        invoice.first_failed_at = now
    # Failures since dunning began (a charge tried before the customer had a card
    # and before the due date does not count: see _awaits_a_method).
    failures = await Payment.filter(
        invoice_id=invoice.id, status="failed", failed_at__gte=invoice.first_failed_at
    ).count()
    retry_at = None
    if invoice.status == "open" and invoice.next_payment_attempt_at is None:
        # Failures 1..n map to the schedule's entries; past its end, the final action.
        if failures <= len(policy.retry_days):
            retry_at = invoice.first_failed_at + timedelta(days=policy.retry_days[failures - 1])
            if retry_at <= now:
                retry_at = now + timedelta(hours=1)
            invoice.next_payment_attempt_at = retry_at
        elif invoice.collection_method == "charge_automatically":
            await final_action(invoice, tenant, policy, now)
    elif invoice.next_payment_attempt_at is not None:
        retry_at = invoice.next_payment_attempt_at
    invoice.next_dunning_at = next_dunning_at(invoice, policy)
    invoice.updated_at = now
    await invoice.save()
    if invoice.subscription_id is not None:
        sub = await Subscription.filter(id=invoice.subscription_id).select_for_update().first()
        if sub is not None and sub.status in ("active", "trialing"):
            sub.status, sub.updated_at = "past_due", now
            await sub.save(update_fields=["status", "updated_at"])
            await mrr_log.follow(sub, now, "past_due")  # a trial's failed charge now counts
            await announce.subscription("subscription.updated", sub)
    await _tell_payment_failed(payment, invoice, customer, tenant, retry_at)
    await announce.invoices("invoice.payment_failed", [invoice])
    await refresh_delinquency([invoice.customer_id])


async def _tell_payment_failed(
    payment: Payment, invoice: Invoice, customer: Customer, tenant: Any, retry_at: Any
) -> None:
    await mails.queue(
        "payment_failed",
        invoice,
        customer,
        tenant,
        f"{payment.public_id}:failed",
        reason=payment.failure_message or payment.failure_code or "",
        retry_at=retry_at,
    )


def _awaits_a_method(payment: Payment, invoice: Invoice, now: datetime) -> bool:
    """A charge that failed only because the customer has no card yet (a tenant that
    just moved from manual collection to a provider, say), before the invoice is due,
    is not a missed payment: the customer still has until the due date."""
    return (
        payment.failure_code == NO_METHOD_CODE
        and invoice.first_failed_at is None
        and invoice.due_at is not None
        and invoice.due_at > now
    )


async def _await_method(
    payment: Payment,
    invoice: Invoice,
    customer: Customer,
    tenant: Any,
    policy: DunningPolicy,
    now: datetime,
) -> None:
    """No subscription goes past due and the customer is not delinquent: the
    invoice waits for a card (the customer is told) and is charged again on its
    due date, when ordinary dunning starts if there is still none."""
    invoice.next_payment_attempt_at = invoice.due_at
    invoice.next_dunning_at = next_dunning_at(invoice, policy)
    invoice.updated_at = now
    await invoice.save()
    await _tell_payment_failed(payment, invoice, customer, tenant, invoice.due_at)
    await announce.invoices("invoice.payment_failed", [invoice])


async def final_action(invoice: Invoice, tenant: Any, policy: DunningPolicy, now: datetime) -> None:
    invoice.next_payment_attempt_at = None
    if policy.final_invoice == "uncollectible":
        invoice.status = "uncollectible"
        invoice.marked_uncollectible_at = now
        await announce.invoices("invoice.marked_uncollectible", [invoice])
    if invoice.subscription_id is None or policy.final_subscription == "past_due":
        return
    sub = await Subscription.filter(id=invoice.subscription_id).select_for_update().first()
    if sub is None or sub.status == "canceled":
        return
    if policy.final_subscription == "cancel":
        sub.status = "canceled"
        sub.canceled_at = sub.canceled_at or now
        sub.ended_at = now
        sub.pending_change = None
        sub.next_action_at = None
        sub.cancel_at_period_end = False
        kind = "subscription.canceled"
    else:
        sub.status = "unpaid"
        kind = "subscription.updated"
    sub.updated_at = now
    await sub.save()
    await mrr_log.follow(sub, now, "canceled" if sub.status == "canceled" else "unpaid")
    await announce.subscription(kind, sub)


async def _step(invoice: Invoice, at: datetime) -> list[int]:
    """Run what is due on one locked invoice; returns payments to send."""
    tenant = await Tenant.get(id=invoice.tenant_id)
    customer = await Customer.get(id=invoice.customer_id)
    policy = DunningPolicy.of(tenant)
    created: list[int] = []
    if invoice.status != "open":
        invoice.next_dunning_at = None
    else:
        if invoice.next_payment_attempt_at is not None and invoice.next_payment_attempt_at <= at:
            invoice.next_payment_attempt_at = None
            methods = await default_methods([customer.id])
            payment = await open_attempt(
                invoice,
                provider_name(tenant, customer),
                methods.get(customer.id),
                at,
                off_session=True,
            )
            created.append(payment.id)
        while (
            invoice.collection_method == "send_invoice"
            and invoice.reminders_sent < len(policy.reminder_days)
            and invoice.due_at - timedelta(days=policy.reminder_days[invoice.reminders_sent]) <= at
        ):
            days = policy.reminder_days[invoice.reminders_sent]
            invoice.reminders_sent += 1
            if invoice.due_at > at:  # only the reminders still ahead of the due date
                await mails.queue(
                    "reminder", invoice, customer, tenant, f"{invoice.public_id}:reminder:{days}"
                )
        if not invoice.overdue_flagged and invoice.due_at <= at:
            invoice.overdue_flagged = True
        invoice.next_dunning_at = next_dunning_at(invoice, policy)
    invoice.updated_at = at
    await invoice.save()
    await refresh_delinquency([customer.id])
    return created


async def run_dunning(
    at: datetime, *, test_clock_id: int | None = None, limit: int = 200
) -> list[int]:
    """Every dunning step due at `at` (real customers, or one test clock's), each
    invoice in its own transaction under SKIP LOCKED, so runs share the work and one
    broken invoice holds up no other. Returns the payment attempts created, for the
    caller to send after commit."""
    created: list[int] = []
    done: set[int] = set()
    while True:
        query = Invoice.filter(next_dunning_at__lte=at)
        if test_clock_id is None:
            query = query.filter(customer__test_clock_id__isnull=True)
        else:
            query = query.filter(customer__test_clock_id=test_clock_id)
        if done:
            query = query.exclude(id__in=sorted(done))
        ids = (
            await query.order_by("next_dunning_at", "id").limit(limit).values_list("id", flat=True)
        )
        if not ids:
            return created
        for invoice_id in ids:
            done.add(invoice_id)
            try:
                async with in_transaction():
                    invoice = (
                        await Invoice.filter(id=invoice_id, next_dunning_at__lte=at)
                        .select_for_update(skip_locked=True)
                        .first()
                    )
                    if invoice is not None:
                        created.extend(await _step(invoice, at))
            except Exception:
                log.exception("dunning step for invoice %s failed; retried next run", invoice_id)
