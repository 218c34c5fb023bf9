"""Working on one customer's wallet: lock it, bring it up to date, act, write the
book, publish after commit. Admin operations, checks, top-ups and the schedule all
go through here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tortoise.transactions import in_transaction

from db.credit_models import CreditWallet
from db.models import TestClock
from domain import clock
from domain.credits import accounts, lots, reservations, rules
from domain.credits.accounts import Account
from domain.credits.ledger_writer import Book
from domain.credits.live import publish
from domain.events.bus import EventBus

T = TypeVar("T")
Action = Callable[[Book, Account, CreditWallet], Awaitable[Any]]


async def on_wallet(
    account: Account,
    action: Action | None = None,
    *,
    sync_allowances: bool = False,
    bus: EventBus | None = None,
) -> Any:
    """Run `action` on the customer's locked wallet in one transaction (a savepoint
    inside the caller's), after what is due: expiries, allowance boundaries and
    expired holds. `sync_allowances` also grants the allowance of any entitled
    subscription that has none yet (a new, resumed or upgraded one)."""
    wallet_id = await accounts.ensure_wallet(account)
    book = Book(account.tenant_id, account.now)
    async with in_transaction():
        wallet = (await accounts.lock_wallets([wallet_id]))[wallet_id]
        if sync_allowances:
            await lots.catch_up(book, wallet, account.customer_public_id, account.settings)
        await reservations.maintain(book, account, wallet)
        result = await action(book, account, wallet) if action is not None else None
        await book.flush()
    await publish(bus, account.tenant_id, book.changes)
    return result


async def carry_day_over(customer: Any, old_timezone: str, new_timezone: str) -> None:
    """The customer's time zone is changing (inside the caller's transaction, which
    holds the customer's row): today's usage carries over to the new zone's date,
    so the daily limit counts on until the new zone's next local midnight. Without
    it a move east opened a fresh day at once (it is already tomorrow there), and a
    move west kept today's usage until the midnight after next."""
    wallet = await CreditWallet.filter(customer_id=customer.id).select_for_update().first()
    if wallet is None:
        return
    now = clock.now()
    if customer.test_clock_id is not None:
        frozen = await TestClock.filter(id=customer.test_clock_id).first()
        now = frozen.frozen_time if frozen is not None else now
    today = rules.local_day(now, old_timezone or "UTC")
    used = wallet.used_today if rules.counts_on(wallet.usage_day, today) else 0
    wallet.usage_day = rules.local_day(now, new_timezone or "UTC")
    wallet.used_today = used
    wallet.updated_at = clock.now()
    await wallet.save(update_fields=["usage_day", "used_today", "updated_at"])
