"""Consuming credits through the domain: idempotency, refusals, limits, both paths."""

from __future__ import annotations

import pytest
from tortoise.transactions import in_transaction

from db import raw
from db.credit_models import CreditEntry, CreditWallet
from domain.credits import consume, fast_consume, rules
from domain.credits.rules import Refusal
from domain.credits.schedule import verify_ledger
from domain.errors import IdempotencyError, NotFoundError, ValidationError
from tests.domain.credits.conftest import Credits, make_credits, postgres_only


async def test_consume_debits_once_per_request_id(credits: Credits) -> None:
    await credits.grant(10)
    first = await consume.consume_credits(credits.service, credits.req("r1", "legal"))
    assert (first.consumed, first.cost, first.balance, first.replayed) == (True, 3, 7, False)
    again = await consume.consume_credits(credits.service, credits.req("r1", "legal"))
    assert (again.consumed, again.balance, again.entry_id, again.replayed) == (
        True,
        7,
        first.entry_id,
        True,
    )
    wallet = await CreditWallet.get(customer_id=credits.customer.id)
    assert wallet.balance == 7
    assert await CreditEntry.filter(wallet_id=wallet.id, kind="consumption").count() == 1
    checked, bad = await verify_ledger()
    assert checked >= 1 and not [m for m in bad if m.customer == credits.customer.public_id]


async def test_reused_request_id_with_other_input_is_an_error(credits: Credits) -> None:
    await credits.grant(10)
    await consume.consume_credits(credits.service, credits.req("r1", "rag", 2))
    with pytest.raises(IdempotencyError):
        await consume.consume_credits(credits.service, credits.req("r1", "rag", 3))
    assert (await CreditWallet.get(customer_id=credits.customer.id)).balance == 8


async def test_refusals_change_nothing(credits: Credits) -> None:
    await credits.grant(2)
    refused = await consume.consume_credits(credits.service, credits.req("r1", "legal"))
    assert (refused.consumed, refused.refusal, refused.balance) == (
        False,
        Refusal.INSUFFICIENT_CREDITS,
        2,
    )
    not_in_plan = await consume.consume_credits(credits.service, credits.req("r2", "fiscal"))
    assert not_in_plan.refusal is Refusal.MODULE_NOT_IN_PLAN
    with pytest.raises(ValidationError) as unknown:
        await consume.consume_credits(credits.service, credits.req("r3", "nope"))
    assert unknown.value.code == "UNKNOWN_MODULE"
    with pytest.raises(ValidationError):
        await consume.consume_credits(credits.service, credits.req("r4", "rag", 0))
    with pytest.raises(NotFoundError):
        await consume.consume_credits(credits.service, credits.req("r5", customer="cus_nobody"))
    assert (
        await CreditEntry.filter(kind="consumption", customer_id=credits.customer.id).count() == 0
    )
    # A refused request id is not spent: after a top-up the same id goes through.
    await credits.grant(5)
    assert (await consume.consume_credits(credits.service, credits.req("r1", "legal"))).consumed


async def test_daily_limit(db: str) -> None:
    c = await make_credits(daily=5)
    await c.grant(100)
    results = [await consume.consume_credits(c.service, c.req(f"r{i}", "voice")) for i in range(4)]
    assert [r.consumed for r in results] == [True, True, False, False]
    assert results[1].remaining_today == 1
    assert results[2].refusal is Refusal.DAILY_LIMIT_REACHED
    assert (await consume.consume_credits(c.service, c.req("x", "rag"))).consumed


async def test_batch_applies_in_order_with_own_results(credits: Credits) -> None:
    await credits.grant(5)
    results = await consume.consume_batch(
        credits.service,
        [
            credits.req("b1", "legal"),
            credits.req("b2", "legal"),  # only 2 left: refused
            credits.req("b3", "rag", 2),
            credits.req("b1", "legal"),  # a replay of the first
            credits.req("b4", "nope"),
            credits.req("b5", customer="cus_nobody"),
        ],
    )
    assert [getattr(r, "consumed", None) for r in results[:4]] == [True, False, True, True]
    assert results[3].replayed and results[3].entry_id == results[0].entry_id
    assert results[4].code == "UNKNOWN_MODULE" and isinstance(results[5], NotFoundError)
    assert (await CreditWallet.get(customer_id=credits.customer.id)).balance == 0


@postgres_only
async def test_both_paths_write_the_same(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-statement path (PostgreSQL) and the locked path leave the same rows,
    consumption after consumption (test_guard_parity.py: one, in random states)."""

    async def no_row(*args: object) -> None:
        return None  # what the statement answers when the case is not plain

    async def run(force_locked: bool) -> tuple[list, tuple]:
        c = await make_credits(daily=50)
        await c.grant(100)
        if force_locked:
            monkeypatch.setattr(fast_consume, "_one_statement", no_row)
        out = [
            await consume.consume_credits(c.service, c.req(f"r{i}", "legal", 2, metadata={"n": i}))
            for i in range(3)
        ]
        monkeypatch.undo()
        entries = await CreditEntry.filter(customer_id=c.customer.id, kind="consumption").order_by(
            "id"
        )
        wallet = await CreditWallet.get(customer_id=c.customer.id)
        rows = [
            (
                e.amount,
                e.balance_after,
                e.module,
                e.action,
                e.quantity,
                e.request_id,
                e.remaining_today,
                e.local_day,
                e.metadata,
                e.request_hash is not None,
            )
            for e in entries
        ]
        result = [(o.consumed, o.cost, o.balance, o.remaining_today) for o in out]
        state = (wallet.balance, wallet.used_today, wallet.usage_day, wallet.consumed_total)
        return [rows, result], state

    assert await run(False) == await run(True)


async def test_postgres_takes_the_one_statement_path(
    credits: Credits, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL answers the plain case in one statement; SQLite always locks."""
    from db import raw

    await credits.grant(10)

    async def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("took the other path")

    postgres = raw.is_postgres(CreditEntry._meta.db)
    if postgres:
        monkeypatch.setattr(consume, "_locked", boom)
    else:
        monkeypatch.setattr(fast_consume, "try_one_statement", boom)
    assert (await consume.consume_credits(credits.service, credits.req("fast"))).consumed


async def test_replay_lookup_finds_earlier_entries_by_unique_index(credits: Credits) -> None:
    """A batch looks up its request ids already in the ledger. On PostgreSQL that is
    one unique-index probe per id even in a generic plan made without statistics
    (`request_id = ANY(...)` scanned every entry of the tenant then)."""
    await credits.grant(10)
    await consume.consume_batch(credits.service, [credits.req("a"), credits.req("b", qty=2)])
    found = await consume._replay_of(credits.tenant.id, ["b", "a", "missing", "a"])
    assert {k: (v.amount, v.balance_after) for k, v in found.items()} == {
        "a": (-1, 9),
        "b": (-2, 7),
    }
    if not raw.is_postgres(CreditEntry._meta.db):
        return
    async with in_transaction() as conn:
        await conn.execute_script("SET LOCAL plan_cache_mode = force_generic_plan")
        await conn.execute_script(f"PREPARE tally_replay AS {consume._FIRST_PG}")
        try:
            _, rows = await conn.execute_query("EXPLAIN EXECUTE tally_replay(1, '{a,b}')")
        finally:
            await conn.execute_script("DEALLOCATE tally_replay")
    plan = "\n".join(r["QUERY PLAN"] for r in rows)
    assert "Index Scan using uid_credit_entr" in plan, plan
    assert "request_id" in plan.split("Index Cond:", 1)[1].splitlines()[0], plan
    assert "Seq Scan on credit_entry" not in plan and "Bitmap" not in plan, plan


async def test_batch_entries_keep_every_column(credits: Credits) -> None:
    """Entries written together (one JSON document on PostgreSQL) keep nested
    metadata, unicode, large numbers and microsecond timestamps exactly."""
    await credits.grant(10**12)
    metadata = {"doc": {"pages": [1, 2], "title": "Évaluation ✓"}, "big": 2**53 + 1}
    done = await consume.consume_batch(
        credits.service,
        [
            credits.req(
                "m1", "rag", rules.MAX_QUANTITY, metadata=metadata, action='ask "quoted" \\ \''
            ),
            credits.req("m2", "legal"),
        ],
    )
    assert all(d.consumed for d in done)
    first, second = await CreditEntry.filter(request_id__in=["m1", "m2"]).order_by("id")
    assert (first.amount, first.quantity, first.metadata) == (
        -rules.MAX_QUANTITY,
        rules.MAX_QUANTITY,
        metadata,
    )
    assert first.action == 'ask "quoted" \\ \'' and first.module == "rag"
    assert (second.amount, second.metadata, second.local_day) == (-3, None, first.local_day)
    assert first.public_id == done[0].entry_id and first.request_hash
    assert (
        first.balance_after == 10**12 - rules.MAX_QUANTITY
        and second.balance_after == first.balance_after - 3
    )
    assert first.created_at == second.created_at and first.created_at.tzinfo is not None
    granted = await CreditEntry.filter(customer_id=credits.customer.id, kind="grant").first()
    assert granted is not None and first.created_at >= granted.created_at
