"""Test clocks: a test-mode tenant's simulated time for the customers attached to it.

`advance` moves a clock forward and runs everything due in between in time
order — renewals, trial ends, payment retries, reminders, due dates, credit
allowances and expiries — each at
its own instant (so invoices and payments carry the dates they would have had).
"""

from __future__ import annotations

from datetime import datetime

from tortoise.transactions import in_transaction

from db.invoice_models import Invoice
from db.models import Subscription, Tenant, TestClock
from domain import bounds, clock, validation
from domain.credits import schedule
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.ids import check_id, new_id
from domain.invoicing.events import announce_stored_after_commit
from domain.pagination import Page, PageRequest, paginate
from domain.payments.attempt_sending import process_pending
from domain.payments.dunning import run_dunning
from domain.periods import add_months
from domain.subscriptions.billing import bill_subscriptions
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation

MAX_EVENTS = 100_000  # a runaway guard: ten years of daily events for 25 subscriptions
# One advance runs every event it passes inside the request: two years of renewals,
# retries and reminders at most (a century took 54 s); longer spans go in steps.
MAX_JUMP_MONTHS = 24


class LiveModeError(ConflictError):
    code = "LIVE_MODE"


def _aware(at: datetime, field: str) -> datetime:
    if at.tzinfo is None:
        raise ValidationError("give a time zone (e.g. 2026-01-31T00:00:00Z)", field=field)
    return bounds.instant(at, field=field)


async def _require_test_mode(principal: Principal) -> None:
    principal.require(Permission.TEST_CLOCKS)
    tenant = await Tenant.get(id=principal.tenant_id)
    if not tenant.test_mode:
        raise LiveModeError("test clocks exist only for tenants in test mode")


async def create_test_clock(principal: Principal, name: str, frozen_time: datetime) -> TestClock:
    await _require_test_mode(principal)
    name = validation.text(name, field="name", max_length=200, required=True)
    frozen_time = _aware(frozen_time, "frozenTime")
    now = clock.now()
    async with in_transaction():
        return await TestClock.create(
            public_id=new_id("test_clock"),
            tenant_id=principal.tenant_id,
            name=name,
            frozen_time=frozen_time,
            created_at=now,
            updated_at=now,
        )


async def load_test_clock(principal: Principal, public_id: str, *, lock: bool = False) -> TestClock:
    check_id(public_id, "test_clock")
    query = TestClock.filter(public_id=public_id, tenant_id=principal.tenant_id)
    if lock:
        query = query.select_for_update()
    found = await query.first()
    if found is None:
        raise NotFoundError(f"no test clock {public_id}", field="id")
    return found


async def _next_event(clock_id: int, to: datetime) -> datetime | None:
    """The earliest thing due on a clock up to `to`: a subscription event or an
    invoice's dunning step (retry, reminder, due date)."""
    found = []
    sub = (
        await Subscription.filter(test_clock_id=clock_id, next_action_at__lte=to)
        .order_by("next_action_at")
        .first()
        .values("next_action_at")
    )
    if sub is not None:
        found.append(sub["next_action_at"])
    invoice = (
        await Invoice.filter(customer__test_clock_id=clock_id, next_dunning_at__lte=to)
        .order_by("next_dunning_at")
        .first()
        .values("next_dunning_at")
    )
    if invoice is not None:
        found.append(invoice["next_dunning_at"])
    credits = await schedule.next_event_on_clock(clock_id, to)
    if credits is not None:
        found.append(credits)
    return min(found) if found else None


@operation(transaction=False)
async def advance_test_clock(principal: Principal, public_id: str, to: datetime) -> TestClock:
    """Each event runs in its own transaction at its own instant, and the payments
    it starts are sent to the provider after that commit, as in real time. A failure
    leaves the clock at the last instant fully processed; advancing again goes on
    from there, running each event once."""
    await _require_test_mode(principal)
    to = _aware(to, "to")
    test_clock = await load_test_clock(principal, public_id)
    if to <= test_clock.frozen_time:
        raise ValidationError(
            f"a test clock only moves forward (it is at {test_clock.frozen_time.isoformat()})",
            field="to",
            code="CLOCK_BACKWARDS",
        )
    if to > add_months(test_clock.frozen_time, MAX_JUMP_MONTHS):
        raise ValidationError(
            f"a test clock moves at most {MAX_JUMP_MONTHS} months per advance; advance in steps",
            field="to",
            code="CLOCK_JUMP_TOO_LARGE",
        )
    for _ in range(MAX_EVENTS):
        at = await _next_event(test_clock.id, to)
        if at is None:
            break
        async with in_transaction():
            test_clock = await load_test_clock(principal, public_id, lock=True)
            at = max(at, test_clock.frozen_time)
            with clock.frozen_at(at):
                test_clock.frozen_time = at
                test_clock.updated_at = at
                await test_clock.save()
                subs = (
                    await Subscription.filter(test_clock_id=test_clock.id, next_action_at__lte=at)
                    .order_by("id")
                    .select_for_update()
                )
                await bill_subscriptions(subs, at, at)
                await run_dunning(at, test_clock_id=test_clock.id)
                await schedule.run_due(at, test_clock_id=test_clock.id)
        with clock.frozen_at(at):
            await process_pending(test_clock_id=test_clock.id)
    else:
        raise ConflictError("too many events in one advance; advance in smaller steps")
    async with in_transaction():
        test_clock = await load_test_clock(principal, public_id, lock=True)
        if to > test_clock.frozen_time:
            test_clock.frozen_time = to
            test_clock.updated_at = clock.now()
            await test_clock.save()
    announce_stored_after_commit()  # each event committed on its own; announced at the end
    return test_clock


async def get_test_clock(principal: Principal, public_id: str) -> TestClock | None:
    principal.require(Permission.TEST_CLOCKS)
    try:
        return await load_test_clock(principal, public_id)
    except NotFoundError:
        return None


async def list_test_clocks(principal: Principal, page: PageRequest) -> Page[TestClock]:
    principal.require(Permission.TEST_CLOCKS)
    return await paginate(TestClock.filter(tenant_id=principal.tenant_id), page)
