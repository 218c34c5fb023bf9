"""Many callers racing on one wallet: exact balances, never negative, never over the
day's limit, each requestId debited once. On PostgreSQL the callers really run in
parallel on a connection pool; SQLite serialises them."""

from __future__ import annotations

import asyncio
import random

from db.credit_models import CreditEntry, CreditWallet
from domain.credits import consume
from domain.credits.schedule import verify_ledger
from tests.domain.credits.conftest import make_credits

CALLERS = 64


async def _race(c, requests) -> list:  # type: ignore[no-untyped-def]
    return await asyncio.gather(*(consume.consume_credits(c.service, r) for r in requests))


async def test_64_consumers_with_replays_end_exact(db: str) -> None:
    c = await make_credits()
    await c.grant(1_000)
    rng = random.Random(5)
    distinct = [c.req(f"req-{i}", "legal") for i in range(58)]  # 3 credits each
    replays = [distinct[rng.randrange(len(distinct))] for _ in range(CALLERS - len(distinct))]
    requests = distinct + replays
    rng.shuffle(requests)
    results = await _race(c, requests)
    assert all(r.consumed for r in results)
    assert sum(r.replayed for r in results) == len(replays)
    by_id: dict[str, set[str | None]] = {}
    for req, r in zip(requests, results, strict=True):
        by_id.setdefault(req.request_id, set()).add(r.entry_id)
    assert all(len(ids) == 1 for ids in by_id.values())  # a replay is the first result
    wallet = await CreditWallet.get(customer_id=c.customer.id)
    assert wallet.balance == 1_000 - 3 * len(distinct)
    entries = await CreditEntry.filter(wallet_id=wallet.id).values_list("amount", "balance_after")
    assert sum(a for a, _ in entries) == wallet.balance
    assert min(b for _, b in entries) >= 0
    _, bad = await verify_ledger()
    assert c.customer.public_id not in {m.customer for m in bad}


async def test_the_balance_never_goes_below_zero(db: str) -> None:
    c = await make_credits()
    await c.grant(100)  # room for 33 legal queries of 3
    results = await _race(c, [c.req(f"r{i}", "legal") for i in range(CALLERS)])
    assert sum(r.consumed for r in results) == 33
    assert {r.refusal.value for r in results if not r.consumed} == {"INSUFFICIENT_CREDITS"}
    assert (await CreditWallet.get(customer_id=c.customer.id)).balance == 1


async def test_the_daily_limit_holds_under_the_same_race(db: str) -> None:
    c = await make_credits(daily=40)
    await c.grant(10_000)
    results = await _race(c, [c.req(f"r{i}", "voice") for i in range(CALLERS)])  # 2 each
    assert sum(r.consumed for r in results) == 20
    assert {r.refusal.value for r in results if not r.consumed} == {"DAILY_LIMIT_REACHED"}
    wallet = await CreditWallet.get(customer_id=c.customer.id)
    assert (wallet.used_today, wallet.balance) == (40, 10_000 - 40)


async def test_batches_and_single_calls_race_safely(db: str) -> None:
    c = await make_credits()
    await c.grant(600)
    batches = [[c.req(f"b{k}-{i}", "rag") for i in range(50)] for k in range(4)]
    singles = [c.req(f"s{i}", "rag") for i in range(100)]
    again = [c.req(f"b0-{i}", "rag") for i in range(50)]  # replays of batch 0
    outcome = await asyncio.gather(
        *(consume.consume_batch(c.service, b) for b in batches),
        consume.consume_batch(c.service, again),
        _race(c, singles),
    )
    flat = [r for group in outcome for r in group]
    consumed_new = sum(r.consumed and not r.replayed for r in flat)
    assert consumed_new == 300
    assert (await CreditWallet.get(customer_id=c.customer.id)).balance == 300
    assert await CreditEntry.filter(customer_id=c.customer.id, kind="consumption").count() == 300
