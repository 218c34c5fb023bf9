"""Racing writers on money: numbering, billing runs, credit notes. On PostgreSQL the
races are real (a connection pool, row locks, two OS processes for the billing
run); on SQLite the same code runs with writers serialised."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from db.invoice_models import Invoice, InvoiceLine
from db.models import Subscription
from db.querylog import count_statements
from domain import clock
from domain.billing.run import run_billing
from domain.errors import BillingError
from domain.invoicing import credit_notes, issuing, service
from tests.conftest import BACKEND
from tests.factories import admin_of, make_customer, make_plan, make_subscription, make_tenant

ROOT = Path(__file__).resolve().parents[3]
ITEM = {"description": "Work", "unit_price": {"currency": "EUR", "amount_minor": 1000}}


async def test_fifty_concurrent_finalizations_number_one_to_fifty(db: str) -> None:
    tenant = await make_tenant(country="FR")
    admin = admin_of(tenant)
    customer = await make_customer(tenant=tenant, country="FR")
    drafts = [
        await service.create_invoice(admin, {"customer_id": customer.public_id, "items": [ITEM]})
        for _ in range(50)
    ]
    await asyncio.gather(*(service.finalize_invoice(admin, d.public_id) for d in drafts))
    numbers = sorted(await Invoice.filter(tenant_id=tenant.id).values_list("number", flat=True))
    year = clock.now().year
    assert numbers == [f"INV-{year}-{n:06d}" for n in range(1, 51)]


async def test_concurrent_credit_notes_never_exceed_the_invoice(db: str) -> None:
    tenant = await make_tenant(country="FR")
    admin = admin_of(tenant)
    customer = await make_customer(tenant=tenant, country="FR")
    invoice = await service.create_invoice(
        admin, {"customer_id": customer.public_id, "items": [ITEM], "finalize": True}
    )  # 12.00 with VAT
    amount = {"currency": "EUR", "amount_minor": 400}

    async def credit() -> str:
        try:
            await credit_notes.create_credit_note(
                admin, {"invoice_id": invoice.public_id, "reason": "other", "amount": amount}
            )
            return "ok"
        except BillingError as exc:
            return exc.code

    outcomes = await asyncio.gather(*(credit() for _ in range(10)))
    assert outcomes.count("ok") == 3
    assert set(outcomes) == {"ok", "CREDIT_NOTE_TOO_LARGE"}
    invoice = await Invoice.get(id=invoice.id)
    assert (invoice.amount_credited_minor, invoice.amount_due_minor, invoice.status) == (
        1200,
        0,
        "paid",
    )


async def _due_subscriptions(count: int) -> tuple[Any, list[Subscription]]:
    """`count` live monthly subscriptions started 40 days ago: one renewal is due."""
    tenant = await make_tenant(country="FR")
    plan = await make_plan(tenant=tenant, prices=[("EUR", 1000)])
    customer = await make_customer(tenant=tenant, country="FR")
    with clock.frozen_at(clock.now() - timedelta(days=40)):
        subs = [
            await make_subscription(tenant=tenant, customer=customer, plan=plan)
            for _ in range(count)
        ]
    return tenant, subs


async def _check_billed_once(tenant: Any, subs: list[Subscription]) -> None:
    invoices = await Invoice.filter(tenant_id=tenant.id).values(
        "subscription_id", "number", "dedupe_key"
    )
    per_sub: dict[int, int] = {}
    for row in invoices:
        per_sub[row["subscription_id"]] = per_sub.get(row["subscription_id"], 0) + 1
    assert per_sub == {s.id: 2 for s in subs}  # the first invoice and one renewal
    numbers = sorted(row["number"] for row in invoices)
    assert len(set(numbers)) == len(numbers) == 2 * len(subs)
    counters = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    assert counters == list(range(1, 2 * len(subs) + 1))  # gapless across the racing runs
    assert await InvoiceLine.filter(invoice__tenant_id=tenant.id).count() == 2 * len(subs)


async def _bill_in_two_processes(database_url: str) -> list[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "server.py",
            "bill",
            "--batch-size",
            "25",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    outputs = []
    for proc in procs:
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        outputs.append(out.decode())
    return outputs


async def test_two_billing_runs_at_once_bill_each_subscription_once(database_url: str) -> None:
    tenant, subs = await _due_subscriptions(200)
    if BACKEND == "postgres":
        # Two OS processes, each claiming batches with FOR UPDATE SKIP LOCKED.
        outputs = await _bill_in_two_processes(database_url)
        created = [int(o.split("invoices created:")[1].split()[0]) for o in outputs]
        assert sum(created) >= 200
    else:
        await asyncio.gather(run_billing(batch_size=25), run_billing(batch_size=25))
    await _check_billed_once(tenant, subs)
    await run_billing()  # a re-run finds nothing of this tenant's left to bill
    await _check_billed_once(tenant, subs)


async def test_a_crash_midway_leaves_no_half_invoice(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant, subs = await _due_subscriptions(30)

    async def crash(*args: Any, **kwargs: Any) -> None:
        raise ConnectionResetError("the database went away")

    # The invoices of a batch are inserted, then their lines fail: all must roll back.
    monkeypatch.setattr(issuing, "insert_lines", crash)
    failed = await run_billing(batch_size=10)
    assert failed.invoices == 0 and len(failed.failures) >= 30
    assert await Invoice.filter(tenant_id=tenant.id).count() == 30  # only the first invoices
    starts = dict(
        await Subscription.filter(id__in=[s.id for s in subs]).values_list(
            "id", "current_period_start"
        )
    )
    assert starts == {s.id: s.current_period_start for s in subs}  # not advanced either
    monkeypatch.undo()
    finished = await run_billing(batch_size=10)
    assert finished.failures == []
    await _check_billed_once(tenant, subs)


@pytest.mark.parametrize("count", [10, 40])
async def test_billing_statements_grow_with_batches_not_subscriptions(db: str, count: int) -> None:
    await _due_subscriptions(count)
    with count_statements() as statements:
        summary = await run_billing(batch_size=100, collect=False)
    assert summary.invoices == count and summary.batches == 1
    # claim, plans, customers, tenants, pending, tax rates, number, balances, insert
    # invoices, read their ids, insert lines, the outbox (subscription ids, insert
    # events), update subscriptions, and the empty claim; usage in arrears: the
    # plans' charges and the subscriptions' usage periods (none here: flat fees);
    # the run's log (one row per tenant, and its retention)
    assert len(statements) == 19, statements


class _Feed:
    """One channel's events, collected by a task; `until(n)` waits for the n-th."""

    def __init__(self, bus: Any, channel: str) -> None:
        self.events: list[dict[str, Any]] = []
        self._arrived = asyncio.Event()
        self._task = asyncio.create_task(self._collect(bus.subscribe(channel)))

    async def _collect(self, stream: Any) -> None:
        async for event in stream:
            self.events.append(event)
            self._arrived.set()

    async def until(self, n: int) -> None:
        while len(self.events) < n:
            self._arrived.clear()
            await self._arrived.wait()

    def cancel(self) -> None:
        self._task.cancel()


async def _until(condition: Any) -> None:
    """Poll `condition()` (a coroutine function) until true, failing after 10 s: a
    subscription taking effect announces itself by no event."""
    async with asyncio.timeout(10):
        while not await condition():  # noqa: ASYNC110  (no event to wait on)
            await asyncio.sleep(0.01)


async def test_the_scheduler_inside_serve_bills_and_announces(db: str) -> None:
    from domain.billing.run import scheduler_loop
    from domain.events.bus import InProcessBus, tenant_channel

    tenant, subs = await _due_subscriptions(3)
    bus = InProcessBus()
    await bus.start()
    channel = tenant_channel(tenant.id)
    feed = _Feed(bus, channel)

    async def subscribed() -> bool:
        return bus.subscriber_count(channel) == 1

    stop = asyncio.Event()
    task: asyncio.Task[None] | None = None
    try:
        await _until(subscribed)
        task = asyncio.create_task(scheduler_loop(1, bus, stop))
        async with asyncio.timeout(60):
            await feed.until(3)
    finally:
        stop.set()  # between two runs, never inside a transaction
        if task is not None:
            await asyncio.wait_for(task, 120)
        feed.cancel()
        await bus.close()
    await _check_billed_once(tenant, subs)
    assert [e["type"] for e in feed.events] == ["invoice.finalized"] * 3
    assert {e["status"] for e in feed.events} == {"open"}


async def test_the_bill_command_announces_through_redis(database_url: str, redis_url: str) -> None:
    from domain.events.bus import RedisBus, tenant_channel

    tenant, subs = await _due_subscriptions(4)
    bus = RedisBus(redis_url)
    await bus.start()
    channel = tenant_channel(tenant.id)
    feed = _Feed(bus, channel)

    async def subscribed() -> bool:
        # SUBSCRIBE is sent without waiting for Redis's reply: ask the server.
        return (await bus._redis.pubsub_numsub(channel))[0][1] == 1

    try:
        await _until(subscribed)
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "server.py",
            "bill",
            cwd=ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert "invoices created:" in out.decode()
        async with asyncio.timeout(60):
            await feed.until(4)
    finally:
        feed.cancel()
        await bus.close()
    await _check_billed_once(tenant, subs)
    assert sorted(e["object_id"] for e in feed.events) == sorted(
        await Invoice.filter(tenant_id=tenant.id, billing_reason="subscription_cycle").values_list(
            "public_id", flat=True
        )
    )
