"""Royalties: the run, statements, the ledger, earnings, payouts and reads (thin
adapters over domain/royalties; the catalog is in resolvers/royalties.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry
from strawberry.types import Info

from domain.errors import NotFoundError
from domain.royalties import payouts, queries
from domain.royalties.reads import record_reads as record
from domain.royalties.run import run_royalties as run
from resolvers.common import mutate, paged, query
from schema import royalty_reads as r
from schema import royalty_statements as s
from schema.common import Connection
from schema.royalty_inputs import RoyaltyReadInput, RoyaltyStatementStatus


# -- queries ---------------------------------------------------------------------------
async def royalty_statements(
    info: Info,
    payee_id: strawberry.ID | None = None,
    period: str | None = None,
    status: RoyaltyStatementStatus | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[s.RoyaltyStatement]:
    """A payee token: its own only (another payee's id is NOT_FOUND)."""
    return await paged(
        info,
        lambda caller, page: queries.list_statements(
            caller,
            payee_id=payee_id,
            period=period,
            status=None if status is None else status.value,
            page=page,
        ),
        first,
        after,
    )


async def royalty_statement(info: Info, id: strawberry.ID) -> s.RoyaltyStatement | None:
    """null when there is no such statement the caller may read."""

    async def load() -> s.RoyaltyStatement | None:
        try:
            return await queries.load_statement(info.context.caller, id)  # type: ignore[return-value]
        except NotFoundError:
            return None

    return await query(load)


async def royalty_ledger(
    info: Info,
    payee_id: strawberry.ID | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Connection[s.RoyaltyLedgerEntry]:
    """Oldest first; a payee token: its own entries."""
    return await paged(
        info,
        lambda caller, page: queries.ledger_page(caller, payee_id=payee_id, page=page),
        first,
        after,
    )


async def royalty_earnings(
    info: Info,
    from_period: Annotated[str, strawberry.argument(name="from", description="YYYY-MM")],
    to_period: Annotated[str, strawberry.argument(name="to", description="YYYY-MM, included")],
    work_id: strawberry.ID | None = None,
    payee_id: strawberry.ID | None = None,
) -> list[s.RoyaltyEarningsRow]:
    """Earned and returned per period, transaction type, work, payee and sale currency."""
    rows = await query(
        lambda: queries.earnings_report(
            info.context.caller,
            work_id=work_id,
            payee_id=payee_id,
            from_period=from_period,
            to_period=to_period,
        )
    )
    return s.earnings_view(rows)


# -- mutations -------------------------------------------------------------------------
def _statement(row: object) -> s.RoyaltyStatementSuccess:
    return s.RoyaltyStatementSuccess(statement=row)  # type: ignore[arg-type]


def _payout(row: object) -> s.RoyaltyPayoutSuccess:
    return s.RoyaltyPayoutSuccess(payout=row)  # type: ignore[arg-type]


async def run_royalties(info: Info, period: str) -> s.RunRoyaltiesResult:
    """Statements for every payee of an ended period, exactly once; a re-run does nothing."""
    return await mutate(run(info.context.caller, period), s.run_view)


async def approve_royalty_statement(info: Info, id: strawberry.ID) -> s.RoyaltyStatementResult:
    return await mutate(payouts.approve_statement(info.context.caller, id), _statement)


async def record_royalty_payout(
    info: Info, statement_id: strawberry.ID, reference: str, paid_on: date | None = None
) -> s.RoyaltyPayoutResult:
    """An approved statement paid by hand; `paidOn` is today by default."""
    return await mutate(
        payouts.record_payout(
            info.context.caller, statement_id, reference=reference, paid_on=paid_on
        ),
        _payout,
    )


async def pay_royalty_statement_with_stripe(
    info: Info, statement_id: strawberry.ID
) -> s.RoyaltyPayoutResult:
    """A Stripe Connect transfer; a failed one is returned FAILED, and may be retried."""
    return await mutate(payouts.pay_with_stripe_connect(info.context.caller, statement_id), _payout)


async def record_reads(info: Info, reads: list[RoyaltyReadInput]) -> r.RecordReadsResult:
    """Up to 1,000 reads, each stored once (idempotent by requestId) or refused with its
    index and a code; one bad read never refuses the others."""
    items = []
    for read in reads:
        item = {"requestId": read.request_id, "workId": read.work_id, "count": read.count}
        if read.occurred_at is not None:
            item["occurredAt"] = read.occurred_at
        if read.customer_id is not None:
            item["customerId"] = read.customer_id
        items.append(item)
    return await mutate(record(info.context.caller, items), r.reads_view)
