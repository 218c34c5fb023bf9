"""One credits transaction, written once: lock the wallets (in id order), bring
each up to date, act, write the book, commit, publish the changes after commit.
Consumptions, reservations, admin operations, checks, top-ups and the schedule
all go through `wallet_transaction` (most of them through `on_wallet`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from db.credit_models import CreditReservation, CreditWallet
from db.models import TestClock
from domain import clock
from domain.credits import accounts, guards, live, lots, rules
from domain.credits.accounts import Account
from domain.credits.ledger_writer import Book
from domain.events.bus import EventBus

Action = Callable[[Book, Account, CreditWallet], Awaitable[Any]]


@dataclass(slots=True)
class Locked:
    """The wallets one transaction has locked, and the book it writes them with."""

    book: Book
    wallets: dict[int, CreditWallet]
    catch_up: bool
    _ready: set[int] = field(default_factory=set)

    async def wallet(self, account: Account, *, sync_allowances: bool = False) -> CreditWallet:
        """The account's locked wallet, brought up to date the first time it is asked
        for (`maintain`), unless the transaction was opened with `catch_up=False`."""
        wallet = self.wallets[account.wallet_id]  # type: ignore[index]
        if self.catch_up and wallet.id not in self._ready:
            self._ready.add(wallet.id)
            await maintain(self.book, account, wallet, sync_allowances=sync_allowances)
        return wallet


@asynccontextmanager
async def wallet_transaction(
    tenant_id: int,
    now: datetime,
    wallet_ids: Sequence[int],
    *,
    bus: EventBus | None,
    catch_up: bool = True,
) -> AsyncIterator[Locked]:
    """lock -> catch up (`Locked.wallet`) -> act (the body) -> flush -> commit ->
    publish. A savepoint inside the caller's transaction, if there is one. If the
    body raises, nothing is written and nothing is published; if it returns early,
    what it did so far is written and published.

    `catch_up=False` is for writers that must not move a lot boundary under what
    they do: committing or releasing a hold (its credits were set aside before any
    boundary since, and are paid from the lots they were held against) and the sweep
    of expired holds (which only gives holds back)."""
    book = Book(tenant_id, now)
    async with in_transaction():
        locked = Locked(book, await accounts.lock_wallets(wallet_ids), catch_up)
        yield locked
        await book.flush()
    await live.publish(bus, tenant_id, book.changes)


async def maintain(
    book: Book, account: Account, wallet: CreditWallet, *, sync_allowances: bool = False
) -> None:
    """What is due before deciding anything on a locked wallet: expiries and
    allowance boundaries, then expired holds. `sync_allowances` also grants the
    allowance of any entitled subscription that has none yet."""
    if sync_allowances or not guards.nothing_due(wallet.next_event_at, account.now):
        book.now = account.now
        await lots.catch_up(book, wallet, account.customer_public_id, account.settings)
    if wallet.reserved > 0:
        await release_expired(book, wallet, account.customer_public_id, account.now)


def give_back(book: Book, wallet: CreditWallet, customer: str, hold: CreditReservation) -> None:
    """A hold's credits return to the available balance, and its usage to the day's
    limit (if it was counted on the wallet's current day)."""
    wallet.reserved -= hold.amount
    if wallet.usage_day == hold.usage_day:
        wallet.used_today = max(wallet.used_today - hold.amount, 0)
    book.touch(wallet, customer)


async def release_expired(book: Book, wallet: CreditWallet, customer: str, now: datetime) -> None:
    expired = list(
        await CreditReservation.filter(wallet_id=wallet.id, status="held", expires_at__lte=now)
    )
    for hold in expired:
        give_back(book, wallet, customer, hold)
        hold.status = "expired"
        hold.updated_at = now
        await hold.save(update_fields=("status", "updated_at"))


async def on_wallet(
    account: Account,
    action: Action | None = None,
    *,
    sync_allowances: bool = False,
    bus: EventBus | None = None,
) -> Any:
    """Run `action` on the customer's locked wallet in one `wallet_transaction`,
    after what is due: expiries, allowance boundaries and expired holds.
    `sync_allowances` also grants the allowance of any entitled subscription that
    has none yet (a new, resumed or upgraded one)."""
    wallet_id = await accounts.ensure_wallet(account)
    async with wallet_transaction(account.tenant_id, account.now, [wallet_id], bus=bus) as tx:
        wallet = await tx.wallet(account, sync_allowances=sync_allowances)
        result = await action(tx.book, account, wallet) if action is not None else None
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
    used = guards.used_on(wallet.usage_day, wallet.used_today, today)
    wallet.usage_day = rules.local_day(now, new_timezone or "UTC")
    wallet.used_today = used
    wallet.updated_at = clock.now()
    await wallet.save(update_fields=["usage_day", "used_today", "updated_at"])
