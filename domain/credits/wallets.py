"""Working on one customer's wallet: lock it, bring it up to date, act, write the
book, publish after commit. Admin operations, checks, top-ups and the schedule all
go through here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tortoise.transactions import in_transaction

from db.credit_models import CreditWallet
from domain.credits import accounts, lots, reservations
from domain.credits.accounts import Account
from domain.credits.book import Book
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
