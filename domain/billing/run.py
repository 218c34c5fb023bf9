"""The billing run: invoice every subscription whose period has ended.

Work is claimed in batches with `SELECT … FOR UPDATE SKIP LOCKED` (ordered by
when it fell due), so several runs — on several machines — share the work and
never bill a subscription twice. Each batch is one transaction: a crash rolls
back the whole batch (no half invoice), and the next run picks the same rows up.
Each invoice also carries a unique dedupe key (subscription, reason, period) as a
last line of defence. A batch that fails is retried one subscription at a time
so one bad row cannot hold up the others; its error is reported.

Subscriptions on a test clock are left to their clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from tortoise.transactions import in_transaction

from db.invoice_models import Invoice
from db.models import Subscription
from domain import clock
from domain.billing import run_log
from domain.events.bus import EventBus
from domain.invoicing.events import publish_invoices
from domain.payments.attempt_sending import process_pending
from domain.payments.dunning import run_dunning
from domain.subscriptions.billing import bill_subscriptions

log = logging.getLogger("tally.billing")
DEFAULT_BATCH = 500


@dataclass
class RunSummary:
    at: datetime
    subscriptions: int = 0
    invoices: int = 0
    batches: int = 0
    totals: Counter[str] = field(default_factory=Counter)  # currency → minor units
    failures: list[tuple[str, str]] = field(default_factory=list)  # (subscription, error)
    invoice_ids: list[int] = field(default_factory=list)
    payments_sent: int = 0  # payment attempts sent to providers (new, retries, leftovers)
    started_at: datetime = field(default_factory=clock.now)
    tenants: dict[int, run_log.TenantTally] = field(default_factory=dict)

    def add(self, subs: list[Subscription], invoices: list[Invoice]) -> None:
        self.subscriptions += len(subs)
        self.invoices += len(invoices)
        for sub in subs:
            self._tally(sub.tenant_id).subscriptions += 1
        for invoice in invoices:
            self.totals[invoice.currency] += invoice.total_minor
            self.invoice_ids.append(invoice.id)
            self._tally(invoice.tenant_id).add_invoice(invoice.currency, invoice.total_minor)

    def failed(self, tenant_id: int, subscription: str, error: str) -> None:
        self.failures.append((subscription, error))
        self._tally(tenant_id).fail(subscription, error)

    def _tally(self, tenant_id: int) -> run_log.TenantTally:
        return self.tenants.setdefault(tenant_id, run_log.TenantTally())


def _due(at: datetime, skip: set[int]):  # type: ignore[no-untyped-def]
    query = Subscription.filter(test_clock_id=None, next_action_at__lte=at)
    if skip:
        query = query.exclude(id__in=sorted(skip))
    return query


async def count_due(at: datetime | None = None) -> int:
    return await _due(at or clock.now(), set()).count()


async def run_billing(
    *,
    at: datetime | None = None,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[RunSummary], None] | None = None,
    bus: EventBus | None = None,
    collect: bool = True,
    trigger: str = "api",
) -> RunSummary:
    """Bill everything due at `at` (now by default). With a `bus`, each committed
    batch's invoices are announced live. With `collect`, dunning steps due and
    pending payment attempts follow the billing. What it did for each tenant is
    recorded (`billing_run`, read by the console) when it ends."""
    at = at or clock.now()
    summary = RunSummary(at=at)
    failed: set[int] = set()
    while True:
        claimed: list[int] = []
        try:
            async with in_transaction():
                subs = (
                    await _due(at, failed)
                    .order_by("next_action_at", "id")
                    .limit(batch_size)
                    .select_for_update(skip_locked=True)
                )
                if not subs:
                    break
                claimed = [s.id for s in subs]
                invoices = await bill_subscriptions(subs, at, at)
            if bus is not None:
                await publish_invoices(bus, invoices)
            summary.batches += 1
            summary.add(subs, invoices)
        except Exception:
            if not claimed:
                raise
            log.warning("a batch of %d failed; billing its subscriptions one by one", len(claimed))
            await _one_by_one(claimed, at, summary, failed, bus)
        if progress is not None:
            progress(summary)
    # Dunning steps due by now (retries, reminders, due dates), then every attempt
    # still pending — this run's first charges, retries, and any a crash left.
    try:
        if collect:
            await run_dunning(at)
            summary.payments_sent = await process_pending(everything=True)
    finally:  # what was billed is logged even when collecting fails
        await run_log.record(summary.tenants, trigger=trigger, started_at=summary.started_at, at=at)
    return summary


async def _one_by_one(
    ids: list[int], at: datetime, summary: RunSummary, failed: set[int], bus: EventBus | None
) -> None:
    for sub_id in ids:
        try:
            async with in_transaction():
                subs = await _due(at, set()).filter(id=sub_id).select_for_update(skip_locked=True)
                invoices = await bill_subscriptions(subs, at, at)
            if bus is not None:
                await publish_invoices(bus, invoices)
            summary.add(subs, invoices)
        except Exception as exc:  # reported in the summary, the run goes on
            log.exception("billing subscription %s failed", sub_id)
            failed.add(sub_id)
            row = await Subscription.filter(id=sub_id).values("public_id", "tenant_id")
            if row:
                summary.failed(row[0]["tenant_id"], row[0]["public_id"], repr(exc))
            else:
                summary.failures.append((str(sub_id), repr(exc)))


async def scheduler_loop(
    interval_seconds: int, bus: EventBus | None = None, stop: asyncio.Event | None = None
) -> None:
    """The optional in-process scheduler of `serve` (BILLING_INTERVAL_SECONDS). Safe
    beside `bill` runs and other servers: the runs share work through SKIP LOCKED.
    `stop` (an asyncio.Event) ends it between two runs: cancelling a task inside a
    SQLite transaction's start can leave Tortoise's connection lock held."""
    while stop is None or not stop.is_set():
        try:
            summary = await run_billing(bus=bus, trigger="scheduler")
            if summary.invoices or summary.failures:
                log.info(
                    "billing run: %d invoices, %d failures", summary.invoices, len(summary.failures)
                )
        except Exception:
            log.exception("billing run failed; retrying at the next interval")
        if stop is None:
            await asyncio.sleep(interval_seconds)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_seconds)
