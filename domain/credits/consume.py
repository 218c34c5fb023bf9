"""Check and consume credits: atomic, idempotent by `requestId`, never below zero
and never over the day's limit, however many callers race.

Two paths give the same result (a test on PostgreSQL holds them to it):

- the **one-statement path** (`fast_consume.py`, PostgreSQL, the common case): one
  autocommitted statement that checks and writes, when `rules.decide` finds the
  case plain. With the customer's terms cached (`accounts.cached_terms`) it is the
  only round trip of a consumption: `decide` then runs on the cached view of the
  wallet, and only its "yes" is used (to try the statement, which checks every
  guard again on the row); a "no" sends the request on to read the account.
- the **locked path** (any database, any case): lock the wallets in id order,
  answer replays, catch up expiries and allowances, release expired holds,
  decide each request with `rules.decide` on the locked rows, and write every
  entry, the wallets and any `credits.low` event in one transaction
  (`wallets.wallet_transaction`). Batches always take it (a constant number of
  statements per batch).

Both paths check the same guards (`guards.py`).

A refused request is not stored: retried with the same `requestId` after a
top-up, it can succeed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError

from db import raw
from db.credit_models import CreditEntry, CreditWallet
from domain import clock
from domain.credits import accounts, fast_consume, live, rules
from domain.credits.accounts import Account
from domain.credits.ledger_writer import Book, count_today
from domain.credits.requests import ConsumeRequest, validate
from domain.credits.wallets import on_wallet, wallet_transaction
from domain.errors import BillingError, IdempotencyError, NotFoundError, ValidationError
from domain.events.bus import EventBus
from domain.tenancy.access import Permission, Principal

MAX_BATCH = 1000
_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Outcome:
    customer: str
    module: str
    consumed: bool
    refusal: rules.Refusal | None
    cost: int
    balance: int
    remaining_today: int | None
    entry_id: str | None = None
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class CheckResult:
    customer: str
    module: str
    decision: rules.Decision
    daily_limit: int | None


async def check_credits(principal: Principal, customer: str, module: str, qty: int) -> CheckResult:
    """Could this consumption proceed now? Changes nothing the caller can see (an
    expiry or allowance already due is applied first, as the sweep would)."""
    principal.require(Permission.CREDITS_CONSUME)
    account = await accounts.load_account(principal.tenant_id, customer)
    rules.cost_of(account.ent, module, rules.quantity(qty))
    if account.due() or account.state.reserved > 0:
        await on_wallet(account)  # what is due, and holds that have expired
        account = await accounts.load_account(principal.tenant_id, customer)
    decision = account.decide(module, qty)
    return CheckResult(account.customer_public_id, module, decision, account.ent.daily_limit)


async def consume_credits(
    principal: Principal, req: ConsumeRequest, bus: EventBus | None = None
) -> Outcome:
    principal.require(Permission.CREDITS_CONSUME)
    req = validate(req)
    postgres = raw.is_postgres(CreditEntry._meta.db)
    terms = accounts.cached_terms(principal.tenant_id, req.customer) if postgres else None
    if terms is not None and req.module in terms.ent.costs:
        # Known terms: decide on them, then the one statement checks the row itself.
        now = clock.now()
        day = rules.local_day(now, terms.timezone)
        cached = terms.decide(req.module, req.quantity, day=day, plain_at=now)
        done = await fast_consume.try_one_statement(terms, req, now, cached, day)
        if done is not None:
            await live.publish(bus, terms.tenant_id, [done.change])
            return _done(terms, req, done)
    account = await accounts.load_account(principal.tenant_id, req.customer)
    digest = rules.request_digest(
        account.customer_id, req.module, req.action, req.quantity, req.metadata
    )
    decision = account.decide(req.module, req.quantity, plain_at=account.now)
    if postgres and account.wallet_id is not None:
        done = await fast_consume.try_one_statement(
            account, req, account.now, decision, account.day
        )
        if done is not None:
            await live.publish(bus, account.tenant_id, [done.change])
            return _done(account, req, done)
    first = await _replay_of(account.tenant_id, [req.request_id])
    if req.request_id in first:
        return _replayed(first[req.request_id], account, req, digest)
    if not decision.allowed and not account.due() and account.state.reserved == 0:
        # (With holds open, one may have expired: the locked path gives it back first.)
        return _refused(account, req.module, decision)
    results = await _locked(principal.tenant_id, {req.customer: account}, [req], bus)
    result = results[0]
    if isinstance(result, BillingError):
        raise result
    return result


def _done(account: Account, req: ConsumeRequest, done: fast_consume.Debited) -> Outcome:
    return Outcome(
        account.customer_public_id,
        req.module,
        True,
        None,
        done.cost,
        done.balance,
        done.remaining_today,
        done.entry_id,
    )


async def consume_batch(
    principal: Principal, items: Sequence[ConsumeRequest], bus: EventBus | None = None
) -> list[Outcome | BillingError]:
    """Up to 1,000 consumptions, each with its own result, in one transaction;
    within a batch, items apply in order (a later one sees an earlier one's debit)."""
    principal.require(Permission.CREDITS_CONSUME)
    if not 0 < len(items) <= MAX_BATCH:
        raise ValidationError(f"send 1-{MAX_BATCH} consumptions", field="items")
    results: list[Outcome | BillingError | None] = [None] * len(items)
    valid: list[tuple[int, ConsumeRequest]] = []
    for i, item in enumerate(items):
        try:
            valid.append((i, validate(item)))
        except BillingError as exc:
            results[i] = exc
    found = await accounts.load_accounts(principal.tenant_id, [r.customer for _, r in valid])
    known = []
    for i, item in valid:
        if item.customer in found:
            known.append((i, item))
        else:
            results[i] = NotFoundError(f"no customer {item.customer}", field="customerId")
    if known:
        done = await _locked(principal.tenant_id, found, [r for _, r in known], bus)
        for (i, _), outcome in zip(known, done, strict=True):
            results[i] = outcome
    return [r for r in results if r is not None]


@dataclass(frozen=True, slots=True)
class _Written:
    """What a replay needs of an entry written earlier in the same batch."""

    public_id: str
    customer_id: int
    amount: int
    balance_after: int
    remaining_today: int | None
    request_hash: str
    request_id: str


_FIRST = (
    "SELECT public_id, customer_id, amount, balance_after, remaining_today, request_hash,"
    " request_id FROM credit_entry WHERE tenant_id = $1 AND "
)


# One unique-index lookup per id, whatever the planner believes of the table: with
# `request_id = ANY(...)` a generic plan made while the table had no statistics
# scanned every entry of the tenant, and a batch slowed down as the ledger grew.
# (LIMIT 1 keeps the subquery from being flattened into a join the planner may
# turn into a scan.)
_FIRST_PG = (
    "SELECT e.* FROM unnest($2::text[]) AS r(id) CROSS JOIN LATERAL ("
    + _FIRST.removesuffix("AND ")
    + " AND request_id = r.id LIMIT 1) AS e"
)


async def _replay_of(tenant_id: int, request_ids: Sequence[str]) -> dict[str, _Written]:
    """Entries already written for these request ids. Hand-written: the ORM builds
    a query term per id, which cost more than the batch's own inserts."""
    ids = list(dict.fromkeys(request_ids))
    if raw.is_postgres(CreditEntry._meta.db):
        rows = await raw.fetch(CreditEntry, _FIRST_PG, [tenant_id, ids])
    else:
        marks = ", ".join(f"${i}" for i in range(2, len(ids) + 2))
        rows = await raw.fetch(CreditEntry, _FIRST + f"request_id IN ({marks})", [tenant_id, *ids])
    return {row["request_id"]: _Written(**row) for row in rows}


def _replayed(entry: Any, account: Account, req: ConsumeRequest, digest: str) -> Outcome:
    if entry.request_hash != digest or entry.customer_id != account.customer_id:
        raise IdempotencyError(
            f"requestId {req.request_id!r} was used with other input", field="requestId"
        )
    return Outcome(
        account.customer_public_id,
        req.module,
        True,
        None,
        -entry.amount,
        entry.balance_after,
        entry.remaining_today,
        entry.public_id,
        replayed=True,
    )


def _refused(account: Account, module: str, decision: rules.Decision) -> Outcome:
    return Outcome(
        account.customer_public_id,
        module,
        False,
        decision.refusal,
        decision.cost,
        decision.balance_after,
        decision.remaining_today,
    )


async def _locked(
    tenant_id: int,
    found: dict[str, Account],
    items: Sequence[ConsumeRequest],
    bus: EventBus | None,
) -> list[Outcome | BillingError]:
    for attempt in range(_RETRIES):
        try:
            return await _locked_once(tenant_id, found, items, bus)
        except IntegrityError:
            # A request id committed by a concurrent caller after we looked: look again.
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def _locked_once(
    tenant_id: int,
    found: dict[str, Account],
    items: Sequence[ConsumeRequest],
    bus: EventBus | None,
) -> list[Outcome | BillingError]:
    wallet_ids = {ref: await accounts.ensure_wallet(account) for ref, account in found.items()}
    locking = [wallet_ids[r.customer] for r in items]
    outcomes: list[Outcome | BillingError] = []
    async with wallet_transaction(tenant_id, clock.now(), locking, bus=bus) as tx:
        first = await _replay_of(tenant_id, [r.request_id for r in items])
        for req in items:
            account = found[req.customer]
            wallet = await tx.wallet(account)
            outcomes.append(_apply(tx.book, account, wallet, req, first))
    return outcomes


def _apply(
    book: Book,
    account: Account,
    wallet: CreditWallet,
    req: ConsumeRequest,
    first: dict[str, Any],
) -> Outcome | BillingError:
    digest = rules.request_digest(
        account.customer_id, req.module, req.action, req.quantity, req.metadata
    )
    try:
        if req.request_id in first:
            return _replayed(first[req.request_id], account, req, digest)
        day = rules.counting_day(wallet.usage_day, account.day)
        decision = account.decide(
            req.module, req.quantity, wallet=accounts.state_of(wallet), day=day
        )
    except BillingError as exc:
        return exc
    if not decision.allowed:
        return _refused(account, req.module, decision)
    count_today(wallet, day, decision.cost)
    wallet.consumed_total += decision.cost
    row = book.entry(
        wallet,
        account.customer_public_id,
        "consumption",
        -decision.cost,
        settings=account.settings,
        at=account.now,
        module=req.module,
        action=req.action,
        quantity=req.quantity,
        request_id=req.request_id,
        request_hash=digest,
        remaining_today=decision.remaining_today,
        local_day=day,
        metadata=req.metadata,
    )
    # So that a second use of the id in the same batch is a replay of this one.
    first[req.request_id] = _Written(**{k: row[k] for k in _Written.__slots__})
    return Outcome(
        account.customer_public_id,
        req.module,
        True,
        None,
        decision.cost,
        wallet.balance,
        decision.remaining_today,
        row["public_id"],
    )
