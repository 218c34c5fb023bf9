"""Subscription, invoice, credit note, test clock and tax resolvers: parse, call one
domain function, map the result; invoice events go out after commit."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from db.invoice_models import Invoice
from domain.billing import simulated_clocks
from domain.events.bus import tenant_channel
from domain.invoicing import credit_notes, mail
from domain.invoicing import service as invoices
from domain.invoicing.events import publish_invoices
from domain.invoicing.issuing import collect_invoices
from domain.invoicing.tax import admin as tax_admin
from domain.pagination import page_request
from domain.payments import collection
from domain.subscriptions import changes
from domain.subscriptions import service as subscriptions
from domain.tenancy.access import Permission, Role
from resolvers import live
from resolvers.common import connection, mutate, query, to_data
from schema import billing as t
from schema import billing_enums as e
from schema import billing_inputs as i
from schema import payloads as p
from schema.common import Connection, Error


def _customer_of(row: Any) -> int | None:
    return row.customer_id


async def announce(info: Info, created: list[Invoice], event: str | None = None) -> None:
    """Publish one event per invoice (created by the billing engine or changed)."""
    await publish_invoices(info.context.bus, created, event)


async def _with_invoices(
    info: Info,
    action: Callable[[], Awaitable[Any]],
    success: Callable[[Any], Any],
    event: str,
) -> Any:
    """A subscription operation that may bill: its invoices are charged (after the
    operation committed) and announced too."""
    with collect_invoices() as created:

        async def run() -> Any:
            result = await action()
            await collection.process_pending(invoice_ids=[i.id for i in created])
            return result

        result = await mutate(info, run, success, event=event, customer_of=_customer_of)
    if not isinstance(result, Error):  # a failed operation rolled its invoices back
        await announce(info, created)
    return result


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
    async def run() -> Any:
        page = await subscriptions.list_subscriptions(
            info.context.caller,
            page_request(first, after),
            customer_id=customer_id,
            plan_id=plan_id,
            status=None if status is None else status.value,
        )
        return connection(page)

    return await query(run)


async def upcoming_of(info: Info, sub: Any) -> t.InvoicePreview | None:
    draft = await changes.preview_next_invoice(sub)
    return None if draft is None else t.preview_of(draft)


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
        info.context.caller.require(Permission.SUBSCRIPTIONS_WRITE)
        _, draft = await changes.change_subscription(
            info.context.caller, id, to_data(input), preview=True
        )
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
    async def run() -> Any:
        page = await invoices.list_invoices(
            info.context.caller,
            page_request(first, after),
            customer_id=customer_id,
            subscription_id=subscription_id,
            status=None if status is None else status.value,
            overdue=overdue,
            period_from=period_from,
            period_to=period_to,
        )
        return connection(page)

    return await query(run)


async def credit_note(info: Info, id: strawberry.ID) -> t.CreditNote | None:
    return await query(lambda: credit_notes.get_credit_note(info.context.caller, id))


async def credit_note_list(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    invoice_id: strawberry.ID | None = None,
    customer_id: strawberry.ID | None = None,
) -> Connection[t.CreditNote]:
    async def run() -> Any:
        page = await credit_notes.list_credit_notes(
            info.context.caller,
            page_request(first, after),
            invoice_id=invoice_id,
            customer_id=customer_id,
        )
        return connection(page)

    return await query(run)


async def test_clock(info: Info, id: strawberry.ID) -> t.TestClock | None:
    return await query(lambda: simulated_clocks.get_test_clock(info.context.caller, id))


async def test_clock_list(
    info: Info, first: int | None = None, after: str | None = None
) -> Connection[t.TestClock]:
    async def run() -> Any:
        return connection(
            await simulated_clocks.list_test_clocks(info.context.caller, page_request(first, after))
        )

    return await query(run)


async def tax_rates(info: Info) -> list[t.TaxRate]:
    return await query(lambda: tax_admin.list_tax_rates(info.context.caller))


# -- subscription mutations ---------------------------------------------------------------


def _sub_success(row: Any) -> p.SubscriptionSuccess:
    return p.SubscriptionSuccess(subscription=row)


async def create_subscription(
    info: Info, input: i.CreateSubscriptionInput, idempotency_key: str | None = None
) -> p.SubscriptionResult:
    return await _with_invoices(
        info,
        lambda: subscriptions.create_subscription(
            info.context.caller, to_data(input), idempotency_key=idempotency_key
        ),
        _sub_success,
        "subscription.created",
    )


async def change_subscription(
    info: Info, id: strawberry.ID, input: i.ChangeSubscriptionInput
) -> p.SubscriptionResult:
    async def run() -> Any:
        sub, _ = await changes.change_subscription(info.context.caller, id, to_data(input))
        return sub

    return await _with_invoices(info, run, _sub_success, "subscription.updated")


async def cancel_scheduled_change(info: Info, id: strawberry.ID) -> p.SubscriptionResult:
    return await _with_invoices(
        info,
        lambda: changes.cancel_scheduled_change(info.context.caller, id),
        _sub_success,
        "subscription.updated",
    )


async def pause_subscription(
    info: Info,
    id: strawberry.ID,
    resume_at: datetime | None = None,
    proration_behavior: e.ProrationBehavior = e.ProrationBehavior.CREATE_PRORATIONS,
) -> p.SubscriptionResult:
    return await _with_invoices(
        info,
        lambda: changes.pause_subscription(
            info.context.caller, id, resume_at=resume_at, behavior=proration_behavior.value
        ),
        _sub_success,
        "subscription.paused",
    )


async def resume_subscription(info: Info, id: strawberry.ID) -> p.SubscriptionResult:
    return await _with_invoices(
        info,
        lambda: changes.resume_subscription(info.context.caller, id),
        _sub_success,
        "subscription.resumed",
    )


async def cancel_subscription(
    info: Info,
    id: strawberry.ID,
    at_period_end: bool = True,
    prorate: Annotated[
        bool, strawberry.argument(description="Credit the unused time when canceling now.")
    ] = False,
) -> p.SubscriptionResult:
    return await _with_invoices(
        info,
        lambda: changes.cancel_subscription(
            info.context.caller, id, at_period_end=at_period_end, prorate=prorate
        ),
        _sub_success,
        "subscription.canceled",
    )


async def reactivate_subscription(info: Info, id: strawberry.ID) -> p.SubscriptionResult:
    return await _with_invoices(
        info,
        lambda: changes.reactivate_subscription(info.context.caller, id),
        _sub_success,
        "subscription.updated",
    )


# -- invoice mutations --------------------------------------------------------------------


def _invoice_success(row: Any) -> p.InvoiceSuccess:
    return p.InvoiceSuccess(invoice=row)


async def _invoice_op(info: Info, action: Callable[[], Awaitable[Invoice]]) -> p.InvoiceResult:
    async def run() -> Invoice:
        invoice = await action()
        if await collection.process_pending(invoice_ids=[invoice.id]):
            await invoice.refresh_from_db()  # charged after the finalization committed
        return invoice

    result = await mutate(info, run, _invoice_success)
    if isinstance(result, p.InvoiceSuccess):
        await announce(info, [result.invoice])  # type: ignore[list-item]
    return result


async def create_invoice(
    info: Info, input: i.CreateInvoiceInput, idempotency_key: str | None = None
) -> p.InvoiceResult:
    return await _invoice_op(
        info,
        lambda: invoices.create_invoice(
            info.context.caller, to_data(input), idempotency_key=idempotency_key
        ),
    )


async def update_draft_invoice(
    info: Info, id: strawberry.ID, input: i.UpdateDraftInvoiceInput
) -> p.InvoiceResult:
    return await mutate(
        info,
        lambda: invoices.update_draft(info.context.caller, id, to_data(input)),
        _invoice_success,
    )


async def finalize_invoice(info: Info, id: strawberry.ID) -> p.InvoiceResult:
    return await _invoice_op(info, lambda: invoices.finalize_invoice(info.context.caller, id))


async def void_invoice(info: Info, id: strawberry.ID) -> p.InvoiceResult:
    return await _invoice_op(info, lambda: invoices.void_invoice(info.context.caller, id))


async def mark_invoice_uncollectible(info: Info, id: strawberry.ID) -> p.InvoiceResult:
    return await _invoice_op(info, lambda: invoices.mark_uncollectible(info.context.caller, id))


async def send_invoice(info: Info, id: strawberry.ID) -> p.InvoiceResult:
    """E-mails the PDF to the customer (SMTP_URL), in the customer's language."""
    settings = info.context.request.app.state.settings
    return await mutate(
        info,
        lambda: mail.send_invoice(
            info.context.caller, id, settings.smtp_url, sender=settings.mail_from
        ),
        _invoice_success,
        event="invoice.sent",
        customer_of=_customer_of,
    )


async def create_credit_note(
    info: Info, input: i.CreateCreditNoteInput, idempotency_key: str | None = None
) -> p.CreditNoteResult:
    async def run() -> Any:
        note = await credit_notes.create_credit_note(
            info.context.caller, to_data(input), idempotency_key=idempotency_key
        )
        return note

    result = await mutate(
        info,
        run,
        lambda row: p.CreditNoteSuccess(credit_note=row),
        event="credit_note.created",
        customer_of=_customer_of,
    )
    if isinstance(result, p.CreditNoteSuccess):
        await announce(
            info,
            [await Invoice.get(id=result.credit_note.invoice_id)],
            "invoice.updated",  # type: ignore[attr-defined]
        )
    return result


# -- test clocks and tax ------------------------------------------------------------------


async def create_test_clock(info: Info, name: str, frozen_time: datetime) -> p.TestClockResult:
    return await mutate(
        info,
        lambda: simulated_clocks.create_test_clock(info.context.caller, name, frozen_time),
        lambda row: p.TestClockSuccess(test_clock=row),
    )


async def advance_test_clock(info: Info, id: strawberry.ID, to: datetime) -> p.TestClockResult:
    """Moves the clock forward, running everything due in between, in time order."""
    with collect_invoices() as created:
        result = await mutate(
            info,
            lambda: simulated_clocks.advance_test_clock(info.context.caller, id, to),
            lambda row: p.TestClockSuccess(test_clock=row),
        )
    if not isinstance(result, Error):
        await announce(info, created)
    return result


async def set_tax_rate(info: Info, input: i.TaxRateInput) -> p.TaxRateResult:
    return await mutate(
        info,
        lambda: tax_admin.set_tax_rate(info.context.caller, to_data(input)),
        lambda row: p.TaxRateSuccess(tax_rate=row),
    )


async def delete_tax_rate(info: Info, id: strawberry.ID) -> p.TaxRateResult:
    return await mutate(
        info,
        lambda: tax_admin.delete_tax_rate(info.context.caller, id),
        lambda row: p.TaxRateSuccess(tax_rate=row),
    )


# -- live -----------------------------------------------------------------------------------


async def invoice_events(
    info: Info, customer_id: strawberry.ID | None = None
) -> AsyncGenerator[t.InvoiceEvent, None]:
    """Invoice status changes as they commit, for the tenant or one customer. A
    customer token follows only its own invoices."""
    principal = info.context.caller
    live.permit(info, Permission.INVOICES_READ)
    own = principal.customer_id if principal.role is Role.CUSTOMER else None
    followed = await live.followed_customer(info, customer_id)
    wanted = followed[1] if followed else None
    async for event in live.events(info, tenant_channel(principal.tenant_id)):
        if not event["type"].startswith("invoice.") or "status" not in event:
            continue
        if own is not None and event.get("customer_id") != own:
            continue
        if wanted is not None and event.get("customer") != wanted:
            continue
        yield t.InvoiceEvent(
            type=event["type"],
            invoice_id=strawberry.ID(event["object_id"]),
            status=e.InvoiceStatus(event["status"]),
            customer_id=strawberry.ID(event["customer"]) if event.get("customer") else None,
            occurred_at=datetime.fromisoformat(event["occurred_at"]),
        )
