"""The royalty run: one statement per payee and period, exactly once.

`run_royalties(principal, "2026-11")` and `python server.py calculate-royalties
--period 2026-11` read the period's facts once (domain/royalties/sources.py), compute
every payee's earnings (pure, deterministic: two runs of a period compute the same),
check that every exchange rate they need is recorded (else a typed error and nothing
is written), then write payees in batches, each in its own transaction: the batch's
payees that have no statement for the period yet are locked with SKIP LOCKED (the
billing run's pattern), and for each one the statement, its earning rows and its
ledger entries are written together. The unique (payee, period) key makes a payee's
statement exist once whatever runs race; a run that crashed half way is resumed by
running it again (the payees done are skipped); a completed run returns at once.

Periods are months (UTC), run in order, none skipped, each after the previous one
completed; claiming a period freezes what feeds it (domain/royalties/period_guard.py).
"""

from __future__ import annotations

import asyncio
import gc
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from db.bulk import copy_many
from db.models import Tenant
from db.raw import fetch_rows, is_postgres
from db.royalty_models import Payee, RoyaltyEarning, RoyaltyRun, RoyaltyStatement
from domain.clock import now
from domain.errors import BillingError, ValidationError
from domain.ids import new_id
from domain.royalties import ledger, period_guard, run_inputs, sources
from domain.royalties.earnings import TransactionType
from domain.royalties.payee_statement import (
    PayeeInputs,
    compose,
    document,
    missing_rates,
    postings,
)
from domain.royalties.period_earnings import EarningRow, period_earnings
from domain.royalties.settings import RoyaltyPeriod, RoyaltySettings
from domain.royalties.statement import Statement
from domain.tenancy.access import Permission, Principal

BATCH = 100
WAIT_FOR_OTHERS = 0.2  # seconds between looks at payees another run holds
EARNING_COLUMNS = (
    "tenant_id",
    "payee_id",
    "statement_id",
    "work_id",
    "period",
    "kind",
    "movement",
    "invoice_line_id",
    "credit_note_id",
    "currency",
    "tier",
    "rate",
    "units",
    "basis_minor",
    "amount_minor",
    "line_kept_minor",
    "refund_counted_minor",
)
Progress = Callable[[int, int], None]


class MissingExchangeRate(ValidationError):
    code = "MISSING_EXCHANGE_RATE"


@dataclass(frozen=True, slots=True)
class RunReport:
    period: str
    status: str
    payees: int
    statements_created: int
    already_complete: bool


async def run_royalties(
    principal: Principal, period: str, *, progress: Progress | None = None
) -> RunReport:
    principal.require(Permission.ROYALTIES_MANAGE)
    return await run_period(principal.tenant_id, RoyaltyPeriod.parse(period), progress=progress)


_quiet = 0


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """The run builds hundreds of thousands of small acyclic objects (facts, earning
    rows): reference counting frees them, and the cycle collector's full passes
    over that heap were a sixth of a large run. Off while a run computes and writes
    (counted, so overlapping runs in one process restore it once): for the command
    line and the benchmark, never inside a server, where it is process-wide."""
    global _quiet
    enabled = gc.isenabled() if _quiet == 0 else True
    _quiet += 1
    gc.disable()
    try:
        yield
    finally:
        _quiet -= 1
        if _quiet == 0 and enabled:
            gc.enable()


async def run_period(
    tenant_id: int,
    period: RoyaltyPeriod,
    *,
    progress: Progress | None = None,
    quiet_gc: bool = False,
) -> RunReport:
    """`quiet_gc`: the command line's run (a process of its own) turns the cycle
    collector off while it runs; a server keeps it for its other requests."""
    if not quiet_gc:
        return await _run_period(tenant_id, period, progress)
    with _without_cycle_collection():
        return await _run_period(tenant_id, period, progress)


async def _run_period(
    tenant_id: int, period: RoyaltyPeriod, progress: Progress | None
) -> RunReport:
    run = await RoyaltyRun.get_or_none(tenant_id=tenant_id, period=str(period))
    if run is not None and run.status == "completed":
        return RunReport(str(period), run.status, run.payees, 0, True)
    async with in_transaction():
        # From here on the period's inputs are frozen (period_guard.py).
        run = await period_guard.claim(tenant_id, period)
    try:
        plan = await _plan(tenant_id, period)
    except BillingError:
        # Refused before anything was written (a missing exchange rate): the claim
        # is let go, so the period's inputs can be completed and the run made again.
        await period_guard.release(run)
        raise
    created = 0
    todo = sorted(plan.inputs)
    if progress is not None:
        progress(0, len(todo))
    while todo:
        for start in range(0, len(todo), BATCH):
            created += await _write_batch(run, period, plan, todo[start : start + BATCH])
            if progress is not None:
                progress(min(start + BATCH, len(todo)), len(todo))
        todo = await _without_statement(period, todo)
        if todo:  # held by a concurrent run: wait for it to commit or let go
            await asyncio.sleep(WAIT_FOR_OTHERS)
    await RoyaltyRun.filter(id=run.id, status="running").update(
        status="completed", payees=len(plan.inputs), completed_at=now()
    )
    await RoyaltyRun.filter(id=run.id).update(statements=await _count(run))
    return RunReport(str(period), "completed", len(plan.inputs), created, False)


async def _count(run: RoyaltyRun) -> int:
    return await RoyaltyStatement.filter(run_id=run.id).count()


@dataclass
class _Plan:
    tenant: Tenant
    settings: RoyaltySettings
    inputs: dict[int, PayeeInputs]
    payees: dict[int, Payee]
    rates: list[Any]
    works: dict[int, run_inputs.WorkInfo]

    @property
    def works_by_key(self) -> dict[str, run_inputs.WorkInfo]:
        if self._by_key is None:
            self._by_key = {w.public_id: w for w in self.works.values()}
        return self._by_key

    _by_key: dict[str, run_inputs.WorkInfo] | None = None


async def _plan(tenant_id: int, period: RoyaltyPeriod) -> _Plan:
    """Everything the run will write, computed before it writes anything."""
    tenant = await Tenant.get(id=tenant_id)
    settings = RoyaltySettings.of(tenant.royalty_settings)
    facts = await sources.period_facts(tenant_id, period)
    contracts = await run_inputs.load_contracts(tenant_id)
    shares = await run_inputs.load_shares(tenant_id)
    history = await run_inputs.load_history(
        tenant_id, period, sorted({r.line_id for r in facts.returns})
    )
    rows = period_earnings(
        facts,
        contracts=contracts,
        shares_at=shares.at,
        history=history,
        pool_rate=settings.pool_rate,
        last_day=(period.end - timedelta(days=1)).date(),
    )
    by_payee: dict[int, list[EarningRow]] = defaultdict(list)
    for row in rows:
        by_payee[row.payee_id].append(row)
    adjustments = defaultdict(list)
    for a in facts.adjustments:
        adjustments[a.payee_id].append(a)
    releases = await run_inputs.load_releases(tenant_id, period)
    payees = await run_inputs.load_payees(tenant_id)
    reserves: dict[int, dict[int, Any]] = defaultdict(dict)
    for (work, payee), terms in contracts.items():
        if terms.reserve is not None:
            reserves[payee][work] = terms.reserve
    wanted = set(by_payee) | set(adjustments) | set(releases)
    wanted |= {p.id for p in payees.values() if p.balance_minor or p.advance_minor}
    inputs = {
        p: PayeeInputs(by_payee.get(p, ()), adjustments.get(p, ()), reserves[p], releases.get(p, 0))
        for p in wanted
        if p in payees
    }
    rates = await run_inputs.load_rates(tenant_id, period)
    missing = set()
    for p, payee_inputs in inputs.items():
        missing |= missing_rates(payees[p], payee_inputs, rates, settings)
    if missing:
        pairs = ", ".join(f"{f} → {t}" for f, t in sorted(missing))
        raise MissingExchangeRate(
            f"record these exchange rates for {period} first: {pairs}", field="rates"
        )
    work_ids = {r.work_id for r in rows if r.work_id is not None}
    work_ids |= {a.work_id for a in facts.adjustments if a.work_id is not None}
    work_ids |= {w for p in inputs.values() for w in p.reserves}
    works = await run_inputs.load_works(work_ids)
    return _Plan(tenant, settings, inputs, payees, rates, works)


async def _without_statement(period: RoyaltyPeriod, payee_ids: Sequence[int]) -> list[int]:
    done = set(
        await RoyaltyStatement.filter(payee_id__in=list(payee_ids), period=str(period)).values_list(
            "payee_id", flat=True
        )
    )
    return [p for p in payee_ids if p not in done]


_LOCK = (
    "SELECT p.id FROM royalty_payee p WHERE p.id = ANY($1) AND NOT EXISTS "
    "(SELECT 1 FROM royalty_statement s WHERE s.payee_id = p.id AND s.period = $2) "
    "ORDER BY p.id FOR UPDATE OF p SKIP LOCKED"
)


async def _write_batch(
    run: RoyaltyRun, period: RoyaltyPeriod, plan: _Plan, payee_ids: list[int]
) -> int:
    async with in_transaction() as conn:
        if is_postgres(conn):
            rows = await fetch_rows(Payee, _LOCK, [payee_ids, str(period)])
            # Locked, but NOT EXISTS was judged on the snapshot taken before the wait:
            # a statement another run committed meanwhile is seen only by a new one.
            free = await _without_statement(period, [r["id"] for r in rows])
        else:  # SQLite serialises writers: the transaction is the lock
            free = await _without_statement(period, payee_ids)
        if not free:
            return 0
        payees = {p.id: p for p in await Payee.filter(id__in=free)}
        agents = {
            a.id: a
            for a in await Payee.filter(id__in=[p.agent_id for p in payees.values() if p.agent_id])
        }
        owed = await _outstanding(free)
        earning_rows: list[tuple[Any, ...]] = []
        at = now()
        for payee_id in free:
            payee = payees[payee_id]
            inputs = plan.inputs[payee_id]
            carried = payee.balance_minor - owed.get(payee_id, 0)
            statement = compose(
                payee,
                inputs,
                opening_minor=carried,
                rates=plan.rates,
                settings=plan.settings,
                works=plan.works,
            )
            row = await _store_statement(run, period, plan, payee, agents, inputs, statement, at)
            earning_rows += [_earning_row(run.tenant_id, row.id, period, r) for r in inputs.rows]
            reserves = {
                plan.works[w].public_id: t for w, t in inputs.reserves.items() if w in plan.works
            }
            await ledger.post(
                payee,
                postings(statement, period, reserves),
                at=at,
                statement_id=row.id,
                period=str(period),
            )
        await copy_many(RoyaltyEarning, EARNING_COLUMNS, earning_rows)
        return len(free)


async def _outstanding(payee_ids: list[int]) -> dict[int, int]:
    """Per payee, what earlier statements made payable and nothing has paid yet."""
    rows = await RoyaltyStatement.filter(
        payee_id__in=payee_ids, status__in=("draft", "approved")
    ).values_list("payee_id", "payable_minor")
    owed: dict[int, int] = defaultdict(int)
    for payee_id, payable in rows:
        owed[payee_id] += payable
    return owed


async def _store_statement(
    run: RoyaltyRun,
    period: RoyaltyPeriod,
    plan: _Plan,
    payee: Payee,
    agents: dict[int, Payee],
    inputs: PayeeInputs,
    statement: Statement,
    at: datetime,
) -> RoyaltyStatement:
    added = sum(t.amount_minor for t in statement.earnings if t.kind is TransactionType.ADJUSTMENT)
    removed = sum(t.amount_minor for t in statement.returns if t.kind is TransactionType.ADJUSTMENT)
    return await RoyaltyStatement.create(
        public_id=new_id("royalty_statement"),
        tenant_id=run.tenant_id,
        payee_id=payee.id,
        run_id=run.id,
        period=str(period),
        currency=statement.currency,
        language=payee.language,
        status="draft" if statement.payable_minor > 0 else "carried",
        opening_minor=statement.opening_minor,
        earnings_minor=statement.earnings_minor - added,
        returns_minor=statement.returns_minor - removed,
        adjustments_minor=added - removed,
        reserve_withheld_minor=statement.reserve_withheld_minor,
        reserve_released_minor=statement.reserve_released_minor,
        recouped_minor=statement.recouped_minor,
        advance_remaining_minor=statement.advance_remaining_minor,
        payable_minor=statement.payable_minor,
        closing_minor=statement.closing_minor,
        document=document(
            statement,
            payee=payee,
            agent=agents.get(payee.agent_id) if payee.agent_id else None,
            tenant=plan.tenant,
            period=period,
            works=plan.works,
            by_key=plan.works_by_key,
            adjustments=inputs.adjustments,
        ),
        created_at=at,
        updated_at=at,
    )


def _earning_row(tenant_id: int, statement_id: int, period: RoyaltyPeriod, r: EarningRow) -> tuple:
    return (
        tenant_id,
        r.payee_id,
        statement_id,
        r.work_id,
        str(period),
        r.kind.value,
        r.movement,
        r.line_id,
        r.credit_note_id,
        r.currency,
        r.tier,
        None if r.rate is None else format(r.rate, "f"),
        r.units,
        r.basis_minor,
        r.amount_minor,
        r.line_kept_minor,
        r.refund_counted_minor,
    )
