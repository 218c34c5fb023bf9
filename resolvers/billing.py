"""Subscription, invoice, credit note, test clock and tax resolvers: each parses its
arguments, awaits one domain operation and maps the result."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from domain.billing import run_log, simulated_clocks
from domain.events.bus import tenant_channel
from domain.invoicing import credit_notes, mail
from domain.invoicing import service as invoices
from domain.invoicing.tax import admin as tax_admin
from domain.payments import invoice_actions
from domain.subscriptions import changes
from domain.subscriptions import service as subscriptions
from domain.tenancy.access import Permission
from resolvers import live
from resolvers.common import mutate, paged, query, to_data
from schema import billing as t
from schema import billing_enums as e
from schema import billing_inputs as i
from schema import billing_runs as runs_t
from schema import payloads as p
from schema.common import Connection

# -- queries ------------------------------------------------------------------------------


async def subscription(info: Info, id: strawberry.ID) -> t.Subscription | None:
    return await query(lambda: subscriptions.get_subscription(info.context.caller, id))


async def subscription_list(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    customer_id: strawberry.ID | None = None,
    plan_id: strawberry.ID | None = None,
    status: e.SubscriptionStatus | None = None,
) -> Connection[t.Subscription]:
    return await paged(
        info,
        subscriptions.list_subscriptions,
        first,
        after,
        customer_id=customer_id,
        plan_id=plan_id,
        status=None if status is None else status.value,
    )


async def upcoming_invoice(info: Info, subscription_id: strawberry.ID) -> t.InvoicePreview | None:
    async def run() -> Any:
        draft = await subscriptions.upcoming_invoice(info.context.caller, subscription_id)
        return None if draft is None else t.preview_of(draft)

    return await query(run)


async def subscription_change_preview(
    info: Info, id: strawberry.ID, input: i.ChangeSubscriptionInput
) -> t.InvoicePreview | None:
    """Exactly what `changeSubscription` with this input would bill; writes nothing."""

    async def run() -> Any:
        draft = await changes.preview_change(info.context.caller, id, to_data(input))
        return None if draft is None else t.preview_of(draft)

    return await query(run)


async def invoice(info: Info, id: strawberry.ID) -> t.Invoice | None:
    return await query(lambda: invoices.get_invoice(info.context.caller, id))


async def invoice_list(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    customer_id: strawberry.ID | None = None,
    subscription_id: strawberry.ID | None = None,
    status: e.InvoiceStatus | None = None,
    overdue: bool | None = None,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
) -> Connection[t.Invoice]:
    return await paged(
        info,
        invoices.list_invoices,
        first,
        after,
        customer_id=customer_id,
        subscription_id=subscription_id,
        status=None if status is None else status.value,
        overdue=overdue,
        period_from=period_from,
        period_to=period_to,
    )


async def credit_note(info: Info, id: strawberry.ID) -> t.CreditNote | None:
    return await query(lambda: credit_notes.get_credit_note(info.context.caller, id))


async def credit_note_list(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    invoice_id: strawberry.ID | None = None,
    customer_id: strawberry.ID | None = None,
) -> Connection[t.CreditNote]:
    return await paged(
        info,
        credit_notes.list_credit_notes,
        first,
        after,
        invoice_id=invoice_id,
        customer_id=customer_id,
    )


async def billing_status(info: Info, last_runs: int = 10) -> runs_t.BillingStatus:
    return await query(lambda: run_log.billing_status(info.context.caller, last=last_runs))  # type: ignore[return-value]


async def test_clock(info: Info, id: strawberry.ID) -> t.TestClock | None:
    return await query(lambda: simulated_clocks.get_test_clock(info.context.caller, id))


async def test_clock_list(
    info: Info, first: int | None = None, after: str | None = None
) -> Connection[t.TestClock]:
    return await paged(info, simulated_clocks.list_test_clocks, first, after)


async def tax_rates(info: Info) -> list[t.TaxRate]:
    return await query(lambda: tax_admin.list_tax_rates(info.context.caller))


# -- subscription mutations: each one operation, which bills and announces itself -------


def _sub_success(row: Any) -> p.SubscriptionSuccess:
    return p.SubscriptionSuccess(subscription=row)


def _changed_sub(result: tuple[Any, Any]) -> p.SubscriptionSuccess:
    return p.SubscriptionSuccess(subscription=result[0])


async def create_subscription(
    info: Info, input: i.CreateSubscriptionInput, idempotency_key: str | None = None
) -> p.SubscriptionResult:
    return await mutate(
        subscriptions.create_subscription(
            info.context.caller, to_data(input), idempotency_key=idempotency_key
        ),
        _sub_success,
    )


async def change_subscription(
    info: Info, id: strawberry.ID, input: i.ChangeSubscriptionInput
) -> p.SubscriptionResult:
    return await mutate(
        changes.change_subscription(info.context.caller, id, to_data(input)), _changed_sub
    )


async def cancel_scheduled_change(info: Info, id: strawberry.ID) -> p.SubscriptionResult:
    return await mutate(changes.cancel_scheduled_change(info.context.caller, id), _sub_success)


async def pause_subscription(
    info: Info,
    id: strawberry.ID,
    resume_at: datetime | None = None,
    proration_behavior: e.ProrationBehavior = e.ProrationBehavior.CREATE_PRORATIONS,
) -> p.SubscriptionResult:
    return await mutate(
        changes.pause_subscription(
            info.context.caller, id, resume_at=resume_at, behavior=proration_behavior.value
        ),
        _sub_success,
    )


async def resume_subscription(info: Info, id: strawberry.ID) -> p.SubscriptionResult:
    return await mutate(changes.resume_subscription(info.context.caller, id), _sub_success)


async def cancel_subscription(
    info: Info,
    id: strawberry.ID,
    at_period_end: bool = True,
    prorate: Annotated[
        bool, strawberry.argument(description="Credit the unused time when canceling now.")
    ] = False,
) -> p.SubscriptionResult:
    return await mutate(
        changes.cancel_subscription(
            info.context.caller, id, at_period_end=at_period_end, prorate=prorate
        ),
        _sub_success,
    )


async def reactivate_subscription(info: Info, id: strawberry.ID) -> p.SubscriptionResult:
    return await mutate(changes.reactivate_subscription(info.context.caller, id), _sub_success)


# -- invoice mutations ----------------------------------------------------------------------


def _invoice_success(row: Any) -> p.InvoiceSuccess:
    return p.InvoiceSuccess(invoice=row)


async def create_invoice(
    info: Info, input: i.CreateInvoiceInput, idempotency_key: str | None = None
) -> p.InvoiceResult:
    return await mutate(
        invoice_actions.create_invoice(
            info.context.caller, to_data(input), idempotency_key=idempotency_key
        ),
        _invoice_success,
    )


async def update_draft_invoice(
    info: Info, id: strawberry.ID, input: i.UpdateDraftInvoiceInput
) -> p.InvoiceResult:
    return await mutate(
        invoices.update_draft(info.context.caller, id, to_data(input)), _invoice_success
    )


async def finalize_invoice(info: Info, id: strawberry.ID) -> p.InvoiceResult:
    return await mutate(invoice_actions.finalize_invoice(info.context.caller, id), _invoice_success)


async def void_invoice(info: Info, id: strawberry.ID) -> p.InvoiceResult:
    return await mutate(invoice_actions.void_invoice(info.context.caller, id), _invoice_success)


async def mark_invoice_uncollectible(info: Info, id: strawberry.ID) -> p.InvoiceResult:
    return await mutate(
        invoice_actions.mark_uncollectible(info.context.caller, id), _invoice_success
    )


async def send_invoice(info: Info, id: strawberry.ID) -> p.InvoiceResult:
    """E-mails the PDF to the customer (SMTP_URL), in the customer's language."""
    settings = info.context.request.app.state.settings
    return await mutate(
        mail.send_invoice(info.context.caller, id, settings.smtp_url, sender=settings.mail_from),
        _invoice_success,
    )


async def create_credit_note(
    info: Info, input: i.CreateCreditNoteInput, idempotency_key: str | None = None
) -> p.CreditNoteResult:
    return await mutate(
        invoice_actions.create_credit_note(
            info.context.caller, to_data(input), idempotency_key=idempotency_key
        ),
        lambda row: p.CreditNoteSuccess(credit_note=row),
    )


# -- test clocks and tax ------------------------------------------------------------------


def _clock_success(row: Any) -> p.TestClockSuccess:
    return p.TestClockSuccess(test_clock=row)


async def create_test_clock(info: Info, name: str, frozen_time: datetime) -> p.TestClockResult:
    return await mutate(
        simulated_clocks.create_test_clock(info.context.caller, name, frozen_time),
        _clock_success,
    )


async def advance_test_clock(info: Info, id: strawberry.ID, to: datetime) -> p.TestClockResult:
    """Moves the clock forward, running everything due in between, in time order."""
    return await mutate(
        simulated_clocks.advance_test_clock(info.context.caller, id, to), _clock_success
    )


async def set_tax_rate(info: Info, input: i.TaxRateInput) -> p.TaxRateResult:
    return await mutate(
        tax_admin.set_tax_rate(info.context.caller, to_data(input)),
        lambda row: p.TaxRateSuccess(tax_rate=row),
    )


async def delete_tax_rate(info: Info, id: strawberry.ID) -> p.TaxRateResult:
    return await mutate(
        tax_admin.delete_tax_rate(info.context.caller, id),
        lambda row: p.TaxRateSuccess(tax_rate=row),
    )


# -- live -----------------------------------------------------------------------------------


async def invoice_events(
    info: Info, customer_id: strawberry.ID | None = None
) -> AsyncGenerator[t.InvoiceEvent, None]:
    """Invoice status changes as they commit, for the tenant or one customer. A
    customer token follows only its own invoices."""
    sees = await live.audience(info, Permission.INVOICES_READ, customer_id)
    channel = tenant_channel(info.context.caller.tenant_id)
    async for event in live.events(info, channel, sees.customer_id):
        if not event["type"].startswith("invoice.") or "status" not in event:
            continue
        if not sees(event.get("customer_id")):
            continue
        yield t.InvoiceEvent(
            type=event["type"],
            invoice_id=strawberry.ID(event["object_id"]),
            status=e.InvoiceStatus(event["status"]),
            customer_id=strawberry.ID(event["customer"]) if event.get("customer") else None,
            occurred_at=datetime.fromisoformat(event["occurred_at"]),
        )
