"""Bill a set of subscriptions up to an instant: the engine decides, this module
loads what it needs in a fixed number of statements and stores the result.

Shared by the billing run (many subscriptions, claimed with SKIP LOCKED), by test
clocks (the subscriptions of one clock, one instant at a time) and by the
subscription operations that bill at once (creating, changing, resuming). It lives
in subscriptions, below billing, so those operations need not import billing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from db.bulk import update_many
from db.invoice_models import Invoice
from db.models import Coupon, CouponAmount, Customer, PendingItem, Plan, Subscription, Tenant
from domain.analytics import movement_log as mrr_log
from domain.analytics.movement_log import Move, TermsBook
from domain.invoicing.builder import build_draft
from domain.invoicing.issuing import NewInvoice, Party, pending_lines, store_invoices
from domain.invoicing.tax.rates import rate_tables, tax_for
from domain.invoicing.totals import DiscountInput
from domain.subscriptions.state_machine import InvoiceSpec, advance
from domain.usage.closing import Closed, CloseRequest, close_usage, record_usage
from domain.webhooks import announce

SUBSCRIPTION_FIELDS = (
    "status",
    "plan_id",
    "unit_amount_minor",
    "quantity",
    "add_ons",
    "coupon_id",
    "coupon_periods_left",
    "billing_anchor",
    "current_period_start",
    "current_period_end",
    "cancel_at_period_end",
    "ended_at",
    "paused_at",
    "resume_at",
    "pending_change",
    "next_action_at",
    "updated_at",
)


async def coupon_terms(
    coupon_ids: Sequence[int],
) -> tuple[dict[tuple[int, str], DiscountInput], dict[int, str]]:
    """(coupon id, currency) → discount (a percent coupon under currency ''), and
    each coupon's code."""
    discounts: dict[tuple[int, str], DiscountInput] = {}
    codes: dict[int, str] = {}
    ids = sorted(set(coupon_ids))
    if not ids:
        return discounts, codes
    for row in await Coupon.filter(id__in=ids).values("id", "code", "percent_off_bp"):
        codes[row["id"]] = row["code"]
        if row["percent_off_bp"] is not None:
            discounts[(row["id"], "")] = DiscountInput(percent_bp=row["percent_off_bp"])
    for row in await CouponAmount.filter(coupon_id__in=ids).values(
        "coupon_id", "currency", "amount_minor"
    ):
        discounts[(row["coupon_id"], row["currency"])] = DiscountInput(
            amount_minor=row["amount_minor"]
        )
    return discounts, codes


def discount_for(
    discounts: dict[tuple[int, str], DiscountInput], coupon_id: int | None, currency: str
) -> DiscountInput | None:
    if coupon_id is None:
        return None
    return discounts.get((coupon_id, "")) or discounts.get((coupon_id, currency))


async def _usage(
    specs: Sequence[InvoiceSpec], plans: dict[int, Plan] | None, preview: bool
) -> dict[int, Closed]:
    """The usage each spec's invoice bills in arrears, by spec position."""
    asked = [(i, spec) for i, spec in enumerate(specs) if spec.usage is not None]
    if not asked:
        return {}
    if plans is None:
        ids = sorted({spec.usage.plan_id for _, spec in asked})  # type: ignore[union-attr]
        plans = {p.id: p for p in await Plan.filter(id__in=ids)}
    return await close_usage(
        [
            CloseRequest(
                i,
                spec.subscription,
                plans[spec.usage.plan_id],  # type: ignore[union-attr]
                spec.usage.start,  # type: ignore[union-attr]
                spec.usage.end,  # type: ignore[union-attr]
                spec.usage.free,  # type: ignore[union-attr]
            )
            for i, spec in asked
        ],
        preview=preview,
    )


def _coupon_of(spec: InvoiceSpec) -> int | None:
    """The coupon that discounts the spec's period: the one it opened with (a later
    period of the same pass may have run the coupon out and removed it), else the
    subscription's."""
    return spec.coupon_id if spec.coupon_id is not None else spec.subscription.coupon_id


async def specs_to_invoices(
    specs: Sequence[InvoiceSpec],
    parties: dict[int, Party],
    pending: dict[int, list[PendingItem]],
    *,
    plans: dict[int, Plan] | None = None,
    preview: bool = False,
) -> list[NewInvoice]:
    """Drafts for the specs: engine lines + the usage the invoice bills in arrears +
    the subscription's pending items (once) + the coupon's discount + the
    customer's tax on the invoice date. With `preview`, usage is priced but no
    period is locked or marked billed (`store_with_usage` records it)."""
    coupon_ids = [c for spec in specs if (c := _coupon_of(spec)) is not None]
    discounts, codes = await coupon_terms(coupon_ids)
    tables = await rate_tables(party.tenant.id for party in parties.values())
    usage = await _usage(specs, plans, preview)
    new: list[NewInvoice] = []
    for position, spec in enumerate(specs):
        sub = spec.subscription
        party = parties[sub.customer_id]
        items = pending.pop(sub.id, [])
        closed = usage.get(position)
        usage_lines = closed.lines if closed else []
        if spec.only_if_pending and not items and not usage_lines:
            continue
        on = (spec.period.start if spec.period else sub.ended_at or sub.updated_at).date()
        tax = tax_for(party.tenant, party.customer, tables[party.tenant.id], on)
        coupon = _coupon_of(spec)
        discount = discount_for(discounts, coupon, sub.currency) if spec.apply_coupon else None
        draft = build_draft(
            sub.currency,
            [*usage_lines, *spec.lines, *pending_lines(items)],
            tax,
            discount,
            codes.get(coupon) if discount and coupon is not None else None,
            party.customer.locale,
        )
        new.append(
            NewInvoice(
                tenant=party.tenant,
                customer=party.customer,
                draft=draft,
                billing_reason=spec.billing_reason,
                subscription_id=sub.id,
                dedupe_key=spec.dedupe_key,
                period=spec.period,
                pending=items,
                usage=closed,
            )
        )
    return new


async def drafts_for(
    specs: Sequence[InvoiceSpec],
    pending: dict[int, list[PendingItem]],
    *,
    preview: bool = False,
) -> list[NewInvoice]:
    """`specs_to_invoices` for specs made by a subscription operation (or a preview)."""
    subs = [spec.subscription for spec in specs]
    if not subs:
        return []
    return await specs_to_invoices(specs, await parties_for(subs), pending, preview=preview)


async def store_with_usage(new: Sequence[NewInvoice], now: datetime) -> list[Invoice]:
    """Store invoices, then record the usage periods they bill (and credit the late
    differences that lowered a billed period)."""
    invoices = await store_invoices(new, now)
    await record_usage(
        [(item.usage, invoice) for item, invoice in zip(new, invoices, strict=True) if item.usage],
        now,
    )
    return invoices


async def parties_for(subs: Sequence[Any]) -> dict[int, Party]:
    customers = await Customer.filter(id__in=sorted({s.customer_id for s in subs}))
    tenants = {
        t.id: t for t in await Tenant.filter(id__in=sorted({c.tenant_id for c in customers}))
    }
    return {c.id: Party(tenants[c.tenant_id], c) for c in customers}


async def pending_for(sub_ids: Sequence[int]) -> dict[int, list[PendingItem]]:
    found: dict[int, list[PendingItem]] = defaultdict(list)
    if sub_ids:
        for item in await PendingItem.filter(
            subscription_id__in=list(sub_ids), invoice_id=None
        ).order_by("id"):
            found[item.subscription_id].append(item)
    return found


async def bill_subscriptions(
    subs: Sequence[Subscription], until: datetime, now: datetime
) -> list[Invoice]:
    """Advance locked subscriptions to `until`, storing every invoice that falls due
    (finalized at `now`). The caller holds the rows and the transaction."""
    if not subs:
        return []
    plan_ids = {s.plan_id for s in subs} | {
        s.pending_change["plan_id"] for s in subs if s.pending_change
    }
    plans = {p.id: p for p in await Plan.filter(id__in=sorted(plan_ids))}
    specs: list[InvoiceSpec] = []
    before = {sub.id: sub.status for sub in subs}
    book = await TermsBook.load(subs, plans)
    moves: list[Move] = []
    for sub in subs:

        def moved(at: datetime, cause: str, sub: Subscription = sub) -> None:
            if cause != "renewed":  # a plain renewal keeps the terms
                moves.append(Move(sub, at, cause, book.terms(sub)))

        due, _ = advance(sub, plans[sub.plan_id], plans, until, moved)
        sub.updated_at = now
        specs.extend(due)
    parties = await parties_for(subs)
    pending = await pending_for([spec.subscription.id for spec in specs])
    invoices = await store_with_usage(
        await specs_to_invoices(specs, parties, pending, plans=plans), now
    )
    # One prepared UPDATE for all rows: bulk_update builds a CASE per column and row.
    await update_many(Subscription, SUBSCRIPTION_FIELDS, subs)
    # Last, after the invoices (their numbering lock): every writer takes the MRR log's
    # rows after everything else, so two writers never wait on each other in a circle.
    await mrr_log.record(moves)
    # Status changes (trial over, resumed, canceled at period end) reach partners;
    # plain renewals are announced by their invoice.finalized.
    await announce.subscriptions(
        [
            ("subscription.canceled" if s.status == "canceled" else "subscription.updated", s)
            for s in subs
            if s.status != before[s.id]
        ]
    )
    return invoices
