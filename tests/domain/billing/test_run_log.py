"""The billing runs' log (issue 18): one row per tenant a run billed or failed to
bill; runs that only fail the same way again fold into one row; old rows go; and
writing the log never fails the run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from db.invoice_models import BillingRun
from domain import clock
from domain.billing import run_log
from tests.factories import make_tenant


def _failing() -> run_log.TenantTally:
    tally = run_log.TenantTally()
    tally.fail("sub_broken", "ValueError('no price')")
    return tally


def _billing() -> run_log.TenantTally:
    tally = run_log.TenantTally(subscriptions=2)
    tally.add_invoice("EUR", 1_200)
    tally.add_invoice("EUR", 3_600)
    return tally


async def _record(tenant: Any, tally: run_log.TenantTally) -> None:
    now = clock.now()
    await run_log.record({tenant.id: tally}, trigger="scheduler", started_at=now, at=now)


async def test_repeated_failures_fold_and_billing_runs_stand_alone(db: str) -> None:
    tenant = await make_tenant()
    await _record(tenant, _billing())
    for _ in range(3):  # the scheduler retrying a subscription that keeps failing
        await _record(tenant, _failing())
    await _record(tenant, _billing())
    rows = await BillingRun.filter(tenant_id=tenant.id).order_by("id")
    assert [(r.invoices, r.failures, r.repeats) for r in rows] == [(2, 0, 1), (0, 1, 3), (2, 0, 1)]
    assert rows[0].totals == {"EUR": 4_800}
    assert rows[1].errors == [["sub_broken", "ValueError('no price')"]]
    # Another failure after a billing run starts a new row (not folded across it).
    await _record(tenant, _failing())
    assert await BillingRun.filter(tenant_id=tenant.id).count() == 4


async def test_rows_older_than_the_retention_go(db: str) -> None:
    tenant = await make_tenant()
    await _record(tenant, _billing())
    old = clock.now() - timedelta(days=run_log.KEEP_DAYS + 1)
    await BillingRun.filter(tenant_id=tenant.id).update(started_at=old)
    await _record(tenant, _billing())
    assert await BillingRun.filter(tenant_id=tenant.id).count() == 1


async def test_a_log_that_cannot_be_written_does_not_fail_the_run(db: str) -> None:
    tenant = await make_tenant()
    broken = run_log.TenantTally(subscriptions=1)
    broken.totals["EUR"] = object()  # type: ignore[assignment]  # not JSON: the insert fails
    await _record(tenant, broken)  # logged, not raised
    assert await BillingRun.filter(tenant_id=tenant.id).count() == 0
