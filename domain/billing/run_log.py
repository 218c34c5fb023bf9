"""The billing runs' log: what each run did for each tenant, and the tenant's view of
its billing (what is due now, the last runs) for the console's operations page."""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from db.invoice_models import BillingRun
from db.models import Subscription
from domain import clock
from domain.errors import PermissionDeniedError
from domain.tenancy.access import Permission, Principal

MAX_ERRORS = 20
MAX_RUNS = 50
KEEP_DAYS = 90
log = logging.getLogger("tally.billing")


@dataclass
class TenantTally:
    subscriptions: int = 0
    invoices: int = 0
    totals: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[str, str]] = field(default_factory=list)
    failures: int = 0

    def add_invoice(self, currency: str, total_minor: int) -> None:
        self.invoices += 1
        self.totals[currency] += total_minor

    def fail(self, subscription: str, error: str) -> None:
        self.failures += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append((subscription, error[:500]))


@dataclass(frozen=True, slots=True)
class BillingStatus:
    due_now: int  # subscriptions whose period has ended and await a run (no test clock)
    next_due_at: datetime | None
    runs: list[BillingRun]


async def record(
    tallies: dict[int, TenantTally], *, trigger: str, started_at: datetime, at: datetime
) -> None:
    """One row per tenant the run billed or failed to bill (a run with nothing to do
    records nothing: the scheduler runs every few seconds). A run that only failed,
    the same way as the tenant's last row, is folded into it (`repeats`), so a
    subscription that fails on every tick does not write a row per tick. Rows older
    than KEEP_DAYS go. Never raises: the run's invoices are committed already, and
    the log must not turn a run that billed into one that failed."""
    if not tallies:
        return
    try:
        await _record(tallies, trigger=trigger, started_at=started_at, at=at)
    except Exception:
        log.exception("the billing run's log could not be written")


async def _record(
    tallies: dict[int, TenantTally], *, trigger: str, started_at: datetime, at: datetime
) -> None:
    run_id = secrets.token_hex(8)
    finished = clock.now()
    rows = []
    for tenant_id, t in sorted(tallies.items()):
        errors = [list(e) for e in t.errors]
        if t.invoices == 0 and t.subscriptions == 0:
            last = await BillingRun.filter(tenant_id=tenant_id).order_by("-id").first()
            if last and last.invoices == 0 and last.subscriptions == 0 and last.errors == errors:
                await BillingRun.filter(id=last.id).update(
                    repeats=last.repeats + 1, finished_at=finished, billed_at=at
                )
                continue
        rows.append(
            BillingRun(
                tenant_id=tenant_id,
                run_id=run_id,
                trigger=trigger,
                started_at=started_at,
                finished_at=finished,
                billed_at=at,
                subscriptions=t.subscriptions,
                invoices=t.invoices,
                failures=t.failures,
                totals=dict(t.totals),
                errors=errors,
            )
        )
    if rows:
        await BillingRun.bulk_create(rows)
    await BillingRun.filter(
        tenant_id__in=list(tallies), started_at__lt=finished - timedelta(days=KEEP_DAYS)
    ).delete()


async def billing_status(principal: Principal, *, last: int = 10) -> BillingStatus:
    """The tenant's billing: due now, the next period end, its last runs (newest first)."""
    principal.require(Permission.INVOICES_READ)
    if principal.customer_id is not None:  # the tenant's runs are not a customer's to see
        raise PermissionDeniedError("a customer key may not read the billing runs")
    last = max(1, min(last, MAX_RUNS))
    now = clock.now()
    due = Subscription.filter(tenant_id=principal.tenant_id, test_clock_id=None)
    due_now = await due.filter(next_action_at__lte=now).count()
    upcoming = (
        await due.filter(next_action_at__gt=now)
        .order_by("next_action_at")
        .first()
        .values_list("next_action_at", flat=True)
    )
    runs = (
        await BillingRun.filter(tenant_id=principal.tenant_id)
        .order_by("-started_at", "-id")
        .limit(last)
    )
    return BillingStatus(due_now=due_now, next_due_at=upcoming, runs=runs)
