"""Credits over time: reservations, expiries, allowances on a test clock, daily
resets at the customer's midnight, blocking, low-balance events and top-ups."""

from __future__ import annotations

from pathlib import Path

import pytest

from db.credit_models import CreditEntry, CreditLot, CreditPurchase, CreditReservation, CreditWallet
from db.models import Customer
from db.payment_models import WebhookEvent
from domain import clock
from domain.billing.simulated_clocks import advance_test_clock
from domain.credits import admin, consume, purchases, queries, reservations
from domain.credits.rules import Refusal
from domain.credits.schedule import run_due, verify_ledger
from domain.errors import ConflictError, IdempotencyError, PermissionDeniedError
from domain.payments.operations import record_payment
from domain.tenancy.access import Principal, Role
from tests.domain.credits.conftest import Credits, make_credits, utc
from tests.factories import (
    admin_of,
    make_customer,
    make_plan,
    make_subscription,
    make_test_clock,
    make_test_tenant,
)

ROOT = Path(__file__).resolve().parents[3]


async def _wallet(c: Credits) -> CreditWallet:
    return await CreditWallet.get(customer_id=c.customer.id)


async def _ledger_ok(c: Credits) -> None:
    _, bad = await verify_ledger()
    assert c.customer.public_id not in {m.customer for m in bad}, bad


async def test_reserve_commit_for_less_release_and_expire(credits: Credits) -> None:
    c = credits
    await c.grant(20)
    with clock.frozen_at(utc(2026, 3, 1, 12)):
        held = await reservations.reserve_credits(
            c.service, c.customer.public_id, "legal", "report", 4, "job-1", expires_in=600
        )
        assert held.reservation is not None and held.decision.cost == 12
        wallet = await _wallet(c)
        assert (wallet.balance, wallet.reserved) == (20, 12)
        # What is held cannot be spent twice.
        refused = await consume.consume_credits(c.service, c.req("r1", "legal", 3))
        assert refused.refusal is Refusal.INSUFFICIENT_CREDITS
        again = await reservations.reserve_credits(
            c.service, c.customer.public_id, "legal", "report", 4, "job-1", expires_in=600
        )
        assert again.replayed and again.reservation.public_id == held.reservation.public_id
        with pytest.raises(IdempotencyError):
            await reservations.reserve_credits(
                c.service, c.customer.public_id, "legal", "report", 5, "job-1"
            )
        done = await reservations.commit_reservation(c.service, held.reservation.public_id, 1)
        assert (done.status, done.committed_amount) == ("committed", 3)
        wallet = await _wallet(c)
        assert (wallet.balance, wallet.reserved, wallet.used_today) == (17, 0, 3)
        with pytest.raises(ConflictError) as twice:
            await reservations.commit_reservation(c.service, held.reservation.public_id)
        assert twice.value.code == "RESERVATION_NOT_HELD"

        second = await reservations.reserve_credits(
            c.service, c.customer.public_id, "rag", "job", 5, "job-2", expires_in=60
        )
        released = await reservations.release_reservation(c.service, second.reservation.public_id)
        assert released.status == "released"
        assert (await _wallet(c)).reserved == 0

        third = await reservations.reserve_credits(
            c.service, c.customer.public_id, "rag", "job", 5, "job-3", expires_in=60
        )
    with clock.frozen_at(utc(2026, 3, 1, 12, 2)):
        with pytest.raises(ConflictError) as late:
            await reservations.commit_reservation(c.service, third.reservation.public_id)
        assert late.value.code == "RESERVATION_EXPIRED"
        assert (await _wallet(c)).reserved == 5  # nothing written by the refused commit
        assert await reservations.expire_due() >= 1
        wallet = await _wallet(c)
        assert (wallet.balance, wallet.reserved, wallet.used_today) == (17, 0, 3)
    assert (await CreditReservation.get(id=third.reservation.id)).status == "expired"
    await _ledger_ok(c)


async def test_what_expires_first_is_spent_first(credits: Credits) -> None:
    c = credits
    with clock.frozen_at(utc(2026, 5, 1)):
        await c.grant(10, kind="grant")  # never expires
        await c.grant(10, kind="promotion", expires_at=utc(2026, 5, 10))
        await consume.consume_credits(c.service, c.req("r1", "rag", 6))
        view = await queries.wallet_view(c.admin, c.customer.public_id)
        assert [(x.kind, x.remaining) for x in view.lots] == [("promotion", 4), ("grant", 10)]
    with clock.frozen_at(utc(2026, 5, 10, 0, 0, 1)):
        # The promotion expired: the next consumption catches up first.
        assert (await consume.consume_credits(c.service, c.req("r2", "rag", 1))).balance == 9
    expiry = await CreditEntry.get(customer_id=c.customer.id, kind="expiry")
    assert (expiry.amount, expiry.created_at) == (-4, utc(2026, 5, 10))
    await _ledger_ok(c)


async def test_allowances_and_rollover_over_a_year_on_a_test_clock(db: str) -> None:
    tenant = await make_test_tenant()
    test_clock = await make_test_clock(tenant=tenant, at=utc(2027, 1, 15, 9))
    customer = await make_customer(tenant=tenant, test_clock_id=test_clock.public_id)
    plan = await make_plan(tenant=tenant, monthly_credits=100, features=["rag"], rollover_cap=30)
    await make_subscription(tenant=tenant, customer=customer, plan=plan)
    service = Principal(tenant.id, Role.SERVICE, 0)
    wallet = await CreditWallet.get(customer_id=customer.id)
    assert wallet.balance == 100
    req = consume.ConsumeRequest(customer.public_id, "rag", "q", 60, "m1")
    assert (await consume.consume_credits(service, req)).balance == 40
    await advance_test_clock(admin_of(tenant), test_clock.public_id, utc(2027, 2, 15, 10))
    # 40 unused: 30 roll over, 10 reset; a fresh 100.
    assert (await CreditWallet.get(customer_id=customer.id)).balance == 130
    await advance_test_clock(admin_of(tenant), test_clock.public_id, utc(2028, 1, 15, 10))
    entries = await CreditEntry.filter(customer_id=customer.id).order_by("id")
    allowances = [e for e in entries if e.kind == "allowance"]
    assert [e.created_at for e in allowances][:3] == [
        utc(2027, 1, 15, 9),
        utc(2027, 2, 15, 9),
        utc(2027, 3, 15, 9),
    ]
    assert len(allowances) == 13
    # Untouched months: 100 + 30 carried, the cap holds, 100 resets every month.
    resets = [e.amount for e in entries if e.kind == "reset"]
    assert resets == [-10] + [-100] * 11
    assert (await CreditWallet.get(customer_id=customer.id)).balance == 130
    open_lots = await CreditLot.filter(wallet_id=wallet.id, closed_at=None)
    assert sorted((x.kind, x.remaining) for x in open_lots) == [
        ("allowance", 100),
        ("rollover", 30),
    ]
    _, bad = await verify_ledger()
    assert customer.public_id not in {m.customer for m in bad}


async def test_the_daily_limit_resets_at_the_customers_midnight(db: str) -> None:
    c = await make_credits(daily=4, timezone="America/New_York")
    await c.grant(100)
    # 23:30 in New York is 04:30 UTC the next day: the customer's day, not UTC's.
    with clock.frozen_at(utc(2026, 11, 23, 4, 30)):
        assert (await consume.consume_credits(c.service, c.req("a", "voice", 1))).consumed
        late = await consume.consume_credits(c.service, c.req("b", "voice", 1))  # 2 credits
        assert late.consumed and late.remaining_today == 0
        blocked = await consume.consume_credits(c.service, c.req("c", "voice", 1))
        assert blocked.refusal is Refusal.DAILY_LIMIT_REACHED
        view = await queries.wallet_view(c.admin, c.customer.public_id)
        assert view.next_reset_at == utc(2026, 11, 23, 5)  # local midnight, EST
    with clock.frozen_at(utc(2026, 11, 23, 5, 0, 1)):
        fresh = await consume.consume_credits(c.service, c.req("d", "rag", 1))
        assert fresh.consumed and fresh.remaining_today == 3
    days = await queries.usage_by_day(
        c.admin, c.customer.public_id, utc(2026, 11, 22).date(), utc(2026, 11, 23).date()
    )
    assert [(d.day, d.module, d.credits, d.consumptions) for d in days] == [
        ("2026-11-22", "voice", 4, 2),
        ("2026-11-23", "rag", 1, 1),
    ]


async def test_blocking_overdue_auto_block_and_low_balance(db: str) -> None:
    c = await make_credits()
    await admin.update_credit_settings(c.admin, {"low_threshold": 5, "auto_block": True})
    await c.grant(10)
    await admin.set_blocked(c.admin, c.customer.public_id, True, reason="abuse")
    assert (
        await consume.consume_credits(c.service, c.req("a"))
    ).refusal is Refusal.CUSTOMER_BLOCKED
    await admin.set_blocked(c.admin, c.customer.public_id, False)
    await Customer.filter(id=c.customer.id).update(delinquent=True)
    # Delinquent with no invoice past its due date: a failed payment, not "overdue".
    assert (await consume.consume_credits(c.service, c.req("a"))).refusal is Refusal.PAYMENT_FAILED
    await Customer.filter(id=c.customer.id).update(delinquent=False)
    # 10 → 4 crosses the threshold of 5: one `credits.low` event, in the same transaction.
    assert (await consume.consume_credits(c.service, c.req("a", "legal", 2))).balance == 4
    assert (await consume.consume_credits(c.service, c.req("b", "rag", 1))).balance == 3
    low = await WebhookEvent.filter(tenant_id=c.tenant.id, type="credits.low")
    assert len(low) == 1 and low[0].payload["data"]["balance"] == 4
    # Exhausted: auto-blocked; a top-up unblocks.
    assert (await consume.consume_credits(c.service, c.req("c", "legal", 1))).balance == 0
    assert (await _wallet(c)).auto_blocked
    assert (
        await consume.consume_credits(c.service, c.req("d"))
    ).refusal is Refusal.CUSTOMER_BLOCKED
    await c.grant(5)
    assert not (await _wallet(c)).auto_blocked
    assert (await consume.consume_credits(c.service, c.req("d"))).consumed
    await _ledger_ok(c)


async def test_refunds_and_permissions(credits: Credits) -> None:
    c = credits
    await c.grant(10)
    used = await consume.consume_credits(c.service, c.req("a", "legal", 2))  # 6
    back = await admin.refund_consumption(c.admin, used.entry_id, 4, reason="bad answer")
    assert (back.amount, back.balance_after) == (4, 8)
    with pytest.raises(ConflictError):
        await admin.refund_consumption(c.admin, used.entry_id, 3, reason="again")
    customer_token = Principal(c.tenant.id, Role.CUSTOMER, 0, customer_id=c.customer.id)
    with pytest.raises(PermissionDeniedError):
        await consume.consume_credits(customer_token, c.req("b"))
    with pytest.raises(PermissionDeniedError):
        await admin.grant_credits(c.service, c.customer.public_id, 5, reason="self-service")
    own = await queries.wallet_view(customer_token, None)
    assert own.balance == 8
    other = await make_customer(tenant=c.tenant, name="Other")
    from domain.errors import NotFoundError

    with pytest.raises(NotFoundError):
        await queries.wallet_view(customer_token, other.public_id)
    await _ledger_ok(c)


async def test_a_top_up_is_credited_once_when_paid(credits: Credits) -> None:
    c = credits
    await admin.update_credit_settings(
        c.admin, {"unit_prices": [{"currency": "EUR", "amount_minor": 10}]}
    )
    bought = await purchases.purchase_credits(c.service, c.customer.public_id, 500)
    assert bought.status == "pending"
    invoice = await bought.invoice
    assert (invoice.status, invoice.total_minor > 0) == ("open", True)
    assert (await _wallet(c)).balance == 0
    await record_payment(
        c.admin, {"invoice_id": invoice.public_id, "method": "bank_transfer", "reference": "T1"}
    )
    assert (await CreditPurchase.get(id=bought.id)).status == "granted"
    assert (await _wallet(c)).balance == 500
    await run_due()  # the sweep finds nothing left to grant: nothing is granted twice
    assert (await _wallet(c)).balance == 500
    assert (await CreditPurchase.get(id=bought.id)).status == "granted"
    assert (await _wallet(c)).balance == 500
    assert await CreditEntry.filter(customer_id=c.customer.id, kind="purchase").count() == 1
    await _ledger_ok(c)


async def test_expired_wallets_catch_up_in_the_sweep(credits: Credits) -> None:
    c = credits
    with clock.frozen_at(utc(2026, 6, 1)):
        await c.grant(7, kind="promotion", expires_at=utc(2026, 6, 2))
    assert (await _wallet(c)).next_event_at == utc(2026, 6, 2)
    with clock.frozen_at(utc(2026, 6, 3)):
        assert await run_due() >= 1
    wallet = await _wallet(c)
    assert (wallet.balance, wallet.next_event_at) == (0, None)


async def test_verify_ledger_command(credits: Credits, database_url: str) -> None:
    """`python server.py verify-ledger` proves every wallet; a tampered one fails it."""
    import asyncio
    import os
    import sys

    await credits.grant(10)
    await consume.consume_credits(credits.service, credits.req("v1", "legal"))

    async def run() -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "server.py",
            "verify-ledger",
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        return process.returncode or 0, out.decode()

    wallet = await _wallet(credits)
    code, out = await run()
    assert code == 0 and "wallets checked, 0 mismatched" in out, out
    await CreditWallet.filter(id=wallet.id).update(balance=wallet.balance + 1)
    try:
        code, out = await run()
        assert code == 1
        assert (
            f"MISMATCH wallet {wallet.id} ({credits.customer.public_id}): stored 8, ledger 7" in out
        )
    finally:
        await CreditWallet.filter(id=wallet.id).update(balance=wallet.balance)


async def test_an_expired_hold_is_given_back_without_the_sweep(credits: Credits) -> None:
    c = credits
    await c.grant(6)
    with clock.frozen_at(utc(2026, 4, 1, 9)):
        held = await reservations.reserve_credits(
            c.service, c.customer.public_id, "legal", "job", 2, "hold-1", expires_in=30
        )
        assert held.reservation is not None
        check = await consume.check_credits(c.service, c.customer.public_id, "legal", 1)
        assert check.decision.refusal is Refusal.INSUFFICIENT_CREDITS
    with clock.frozen_at(utc(2026, 4, 1, 9, 1)):
        check = await consume.check_credits(c.service, c.customer.public_id, "legal", 2)
        assert check.decision.allowed and check.decision.balance_after == 0
        assert (await consume.consume_credits(c.service, c.req("after", "legal", 2))).consumed
    hold = await CreditReservation.get(id=held.reservation.id)
    assert hold.status == "expired"
    wallet = await _wallet(c)
    assert (wallet.balance, wallet.reserved, wallet.used_today) == (0, 0, 6)
    await _ledger_ok(c)


async def test_a_new_lot_is_not_drawn_for_what_was_spent_before_it(credits: Credits) -> None:
    c = credits
    with clock.frozen_at(utc(2026, 7, 1)):
        await c.grant(20, kind="promotion", expires_at=utc(2026, 7, 30))
        await consume.consume_credits(c.service, c.req("early", "rag", 6))
        await c.grant(10, kind="promotion", expires_at=utc(2026, 7, 5))  # expires sooner
        view = await queries.wallet_view(c.admin, c.customer.public_id)
        assert [(x.remaining, x.expires_at) for x in view.lots] == [
            (10, utc(2026, 7, 5)),
            (14, utc(2026, 7, 30)),
        ]
    with clock.frozen_at(utc(2026, 7, 6)):
        assert (await consume.consume_credits(c.service, c.req("late", "rag", 1))).balance == 13
    await _ledger_ok(c)


async def test_an_upgrade_brings_its_allowance_at_once(db: str) -> None:
    from domain.subscriptions.changes import change_subscription
    from domain.subscriptions.service import create_subscription

    tenant = await make_test_tenant()
    admin = admin_of(tenant)
    free = await make_plan(tenant=tenant, features=["rag"])
    paid = await make_plan(tenant=tenant, features=["rag", "legal"], monthly_credits=300)
    customer = await make_customer(tenant=tenant)
    sub = await create_subscription(
        admin, {"customer_id": customer.public_id, "plan_id": free.public_id}
    )
    service = Principal(tenant.id, Role.SERVICE, 0)
    before = await consume.check_credits(service, customer.public_id, "legal", 1)
    assert before.decision.refusal is Refusal.MODULE_NOT_IN_PLAN
    await change_subscription(admin, sub.public_id, {"plan_id": paid.public_id})
    after = await consume.check_credits(service, customer.public_id, "legal", 1)
    assert after.decision.allowed and after.decision.balance_after == 297
