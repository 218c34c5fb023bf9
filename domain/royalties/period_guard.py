"""Which royalty periods are still open, decided under one lock.

A period's run must compute from inputs that do not move: once a run of a period has
started, nothing that feeds that period (adjustments, reads, exchange rates, shares
effective in it) may be added or changed, and contract terms and settings stay put
while any run is in progress. Both sides take the tenant's row lock: the run claims a
period with FOR UPDATE, the writers check with FOR SHARE (they do not block each
other), so a writer either commits before the run's claim and is read by the run, or
sees the run and is refused. SQLite serialises writers, which gives the same order.

Periods are run in order, each after the previous one completed: a month that was
never run would lose its earnings, and its reserves would never be released.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from db.models import Tenant
from db.raw import fetch_rows
from db.royalty_models import RoyaltyRun, RoyaltyStatement
from domain.clock import now
from domain.errors import ValidationError
from domain.royalties.settings import RoyaltyPeriod


class PeriodNotEnded(ValidationError):
    code = "PERIOD_NOT_ENDED"


class PeriodClosed(ValidationError):
    code = "PERIOD_CLOSED"


class RunInProgress(ValidationError):
    code = "RUN_IN_PROGRESS"


async def _lock_tenant(tenant_id: int, mode: str) -> None:
    conn = Tenant._meta.db
    if conn.capabilities.dialect == "postgres":
        await fetch_rows(Tenant, f"SELECT id FROM tenant WHERE id = $1 FOR {mode}", [tenant_id])


async def claim(tenant_id: int, period: RoyaltyPeriod) -> RoyaltyRun:
    """The run row of `period` (created, or the one a crashed run left), refusing a
    period that has not ended, one before the last run, or one whose previous
    period's run has not completed. The caller's transaction holds the tenant lock."""
    if period.end > now():
        raise PeriodNotEnded(
            f"{period} has not ended yet: its royalties are run once it has", field="period"
        )
    await _lock_tenant(tenant_id, "UPDATE")
    last = await RoyaltyRun.filter(tenant_id=tenant_id).order_by("-period").first()
    if last is not None and last.period == str(period):
        return last
    if last is not None:
        previous = RoyaltyPeriod.from_index(period.index - 1)
        if last.period > str(period):
            raise PeriodClosed(
                f"{last.period} was already run: periods are run in order", field="period"
            )
        if last.period != str(previous):
            raise PeriodClosed(
                f"run {RoyaltyPeriod.from_index(RoyaltyPeriod.parse(last.period).index + 1)} "
                f"first: periods are run in order, none skipped",
                field="period",
            )
        if last.status != "completed":
            raise RunInProgress(
                f"the {last.period} run has not completed: run it again first", field="period"
            )
    try:
        return await RoyaltyRun.create(tenant_id=tenant_id, period=str(period), started_at=now())
    except IntegrityError:  # SQLite: another run created it first
        return await RoyaltyRun.get(tenant_id=tenant_id, period=str(period))


async def release(run: RoyaltyRun) -> None:
    """Give up a claim nothing was written under (its run failed while planning)."""
    async with in_transaction():
        await _lock_tenant(run.tenant_id, "UPDATE")
        if not await RoyaltyStatement.exists(run_id=run.id):
            await RoyaltyRun.filter(id=run.id, status="running").delete()


async def open_periods(tenant_id: int, periods: set[str]) -> set[str]:
    """Of `periods`, those no run has started for, nor for a later period (in the
    caller's transaction, with the tenant share-locked until it ends)."""
    await _lock_tenant(tenant_id, "SHARE")
    last = await RoyaltyRun.filter(tenant_id=tenant_id).order_by("-period").first()
    if last is None:
        return set(periods)
    return {p for p in periods if p > last.period}


async def require_open(tenant_id: int, period: RoyaltyPeriod, *, field: str = "period") -> None:
    if not await open_periods(tenant_id, {str(period)}):
        raise PeriodClosed(
            f"the royalties of {period} have been (or are being) run: it is closed",
            field=field,
        )


async def require_no_run_in_progress(tenant_id: int) -> None:
    """Contract terms and settings change between runs, not during one."""
    await _lock_tenant(tenant_id, "SHARE")
    running = await RoyaltyRun.filter(tenant_id=tenant_id, status="running").first()
    if running is not None:
        raise RunInProgress(
            f"the {running.period} royalty run is in progress: change this once it has "
            "completed (run it again to finish it)",
        )
