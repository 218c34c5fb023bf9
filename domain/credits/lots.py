"""Lots, expiries and monthly allowances.

A consumption touches only the wallet row (`consumed_total`), so the hot path is
one statement. The lots learn what was drawn from them lazily: `settle` draws the
consumption since the last settlement, earliest expiry first, before anything
that reads or closes a lot. Every consumption happens before the wallet's next
lot expiry (the hot path refuses to run past `next_event_at`, the locked path
catches up first), so drawing in one go gives the same result as drawing one
consumption at a time.

At a lot's expiry: an allowance's unused credits roll over up to the plan's cap
(`reset` for the rest) and the next month's allowance is granted if the
subscription still entitles to it; any other lot's remainder is an `expiry`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db.bulk import update_many
from db.credit_models import CreditLot, CreditWallet
from db.models import Subscription
from domain.credits import rules
from domain.credits.ledger_writer import Book
from domain.periods import add_months
from domain.subscriptions.statuses import ENTITLED_STATUSES

MAX_STEPS = 10_000  # boundaries caught up in one go (a runaway guard)
ALLOWANCE_KINDS = ("allowance", "rollover")


@dataclass(frozen=True, slots=True)
class SubTerms:
    id: int
    status: str
    started_at: datetime
    ended_at: datetime | None
    monthly_credits: int
    rollover_cap: int | None

    def entitled_at(self, at: datetime) -> bool:
        if self.monthly_credits <= 0:
            return False
        if self.status in ENTITLED_STATUSES:
            return self.ended_at is None or self.ended_at > at
        # A canceled subscription still entitles until it has ended: a boundary
        # caught up late, at an instant before the cancellation took effect.
        if self.status == "canceled":
            return self.ended_at is not None and self.ended_at > at
        return False


def month_window(anchor: datetime, at: datetime) -> tuple[datetime, datetime]:
    """The allowance month containing `at`: anchor + k months ≤ at < anchor + k+1."""
    k = max((at.year - anchor.year) * 12 + at.month - anchor.month, 0)
    while k > 0 and add_months(anchor, k) > at:
        k -= 1
    while add_months(anchor, k + 1) <= at:
        k += 1
    return add_months(anchor, k), add_months(anchor, k + 1)


async def open_lots(wallet_id: int) -> list[CreditLot]:
    return list(await CreditLot.filter(wallet_id=wallet_id, closed_at=None).order_by("id"))


async def settle(wallet: CreditWallet, lots: list[CreditLot]) -> None:
    """Draw the consumption not yet drawn from the open lots."""
    pending = wallet.consumed_total - wallet.consumed_settled
    if pending > 0:
        takes = rules.draw([rules.Lot(x.id, x.remaining, x.expires_at) for x in lots], pending)
        changed = []
        for lot in lots:
            if lot.id in takes:
                lot.remaining -= takes[lot.id]
                changed.append(lot)
        await update_many(CreditLot, ("remaining",), changed)
    wallet.consumed_settled = wallet.consumed_total


async def add_lot(
    book: Book,
    wallet: CreditWallet,
    customer: str,
    kind: str,
    amount: int,
    *,
    expires_at: datetime | None,
    subscription_id: int | None = None,
    entry_kind: str | None = None,
    settings: rules.CreditSettings | None = None,
    **entry: Any,
) -> CreditLot:
    """A lot, and (unless it only moves credits between lots) its ledger entry.
    What was consumed before it existed is drawn from the other lots first."""
    if wallet.consumed_total != wallet.consumed_settled:
        await settle(wallet, await open_lots(wallet.id))
    lot = await CreditLot.create(
        tenant_id=wallet.tenant_id,
        wallet_id=wallet.id,
        kind=kind,
        amount=amount,
        remaining=amount,
        expires_at=expires_at,
        subscription_id=subscription_id,
        created_at=entry.get("at") or book.now,
    )
    if entry_kind is not None:
        book.entry(wallet, customer, entry_kind, amount, settings=settings, lot_id=lot.id, **entry)
    if expires_at is not None and (
        wallet.next_event_at is None or expires_at < wallet.next_event_at
    ):
        wallet.next_event_at = expires_at  # the hot path stops there until it is caught up
    return lot


async def subscription_terms(customer_id: int) -> dict[int, SubTerms]:
    rows = await Subscription.filter(customer_id=customer_id).values(
        "id", "status", "started_at", "ended_at", "plan__monthly_credits", "plan__rollover_cap"
    )
    return {
        r["id"]: SubTerms(
            r["id"],
            r["status"],
            r["started_at"],
            r["ended_at"],
            r["plan__monthly_credits"] or 0,
            r["plan__rollover_cap"],
        )
        for r in rows
    }


async def catch_up(
    book: Book, wallet: CreditWallet, customer: str, settings: rules.CreditSettings
) -> None:
    """Run every expiry and allowance boundary up to `book.now`, in time order,
    then grant the allowance of any entitled subscription that has none open."""
    now = book.now
    lots = await open_lots(wallet.id)
    await settle(wallet, lots)
    subs = await subscription_terms(wallet.customer_id)
    for _ in range(MAX_STEPS):
        due = [x for x in lots if x.closed_at is None and x.expires_at and x.expires_at <= now]
        if not due:
            break
        at = min(x.expires_at for x in due if x.expires_at is not None)
        lots += await _boundary(book, wallet, customer, settings, subs, at, due)
    for sub in subs.values():
        if sub.entitled_at(now) and not any(
            x.closed_at is None and x.subscription_id == sub.id and x.kind == "allowance"
            for x in lots
        ):
            start, end = month_window(sub.started_at, now)
            lots.append(await _allowance(book, wallet, customer, settings, sub, start, end))
    expiries = [x.expires_at for x in lots if x.closed_at is None and x.expires_at]
    wallet.next_event_at = min(expiries) if expiries else None
    book.wallets[wallet.id] = wallet


async def _allowance(
    book: Book,
    wallet: CreditWallet,
    customer: str,
    settings: rules.CreditSettings,
    sub: SubTerms,
    start: datetime,
    end: datetime,
    *,
    at: datetime | None = None,
) -> CreditLot:
    return await add_lot(
        book,
        wallet,
        customer,
        "allowance",
        sub.monthly_credits,
        expires_at=end,
        subscription_id=sub.id,
        entry_kind="allowance",
        settings=settings,
        at=at,
        reason=f"monthly allowance {start.date().isoformat()} to {end.date().isoformat()}",
    )


async def _boundary(
    book: Book,
    wallet: CreditWallet,
    customer: str,
    settings: rules.CreditSettings,
    subs: dict[int, SubTerms],
    at: datetime,
    due: list[CreditLot],
) -> list[CreditLot]:
    """Close the lots expiring at `at`; returns the lots it opened."""
    opened: list[CreditLot] = []
    closing = [x for x in due if x.expires_at == at]
    allowance: dict[int | None, list[CreditLot]] = defaultdict(list)
    for lot in closing:
        if lot.kind in ALLOWANCE_KINDS:
            allowance[lot.subscription_id].append(lot)
        elif lot.remaining > 0:
            book.entry(
                wallet,
                customer,
                "expiry",
                -lot.remaining,
                at=at,
                lot_id=lot.id,
                reason=f"{lot.kind} credits expired",
            )
    for sub_id, group in allowance.items():
        sub = subs.get(sub_id) if sub_id is not None else None
        entitled = sub is not None and sub.entitled_at(at)
        unused = sum(x.remaining for x in group)
        kept, dropped = rules.rollover(unused, sub.rollover_cap if entitled and sub else None)
        if dropped:
            book.entry(
                wallet,
                customer,
                "reset",
                -dropped,
                at=at,
                reason="unused allowance at the month's end",
            )
        if entitled and sub is not None:
            start, end = month_window(sub.started_at, at)
            if kept:
                opened.append(
                    await add_lot(
                        book,
                        wallet,
                        customer,
                        "rollover",
                        kept,
                        expires_at=end,
                        subscription_id=sub.id,
                    )
                )
            opened.append(
                await _allowance(book, wallet, customer, settings, sub, start, end, at=at)
            )
    for lot in closing:
        lot.remaining = 0
        lot.closed_at = at
    await update_many(CreditLot, ("remaining", "closed_at"), closing)
    return opened
