"""Royalty statements, the royalty ledger, earnings reports, runs and payouts.

A statement's lines and conversions are read from its stored `document` (what its
PDF and CSV show, written once by the royalty run), so they never change after it.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.types import Info

from domain.royalties.documents import statement_csv
from domain.royalties.queries import EarningsRow
from domain.royalties.run import RunReport
from schema.common import BigInt, Money, money, result_union
from schema.royalties import Payee, royalty_loaders
from schema.royalty_inputs import PayoutMethod, RoyaltyStatementStatus, RoyaltyTransactionType


@strawberry.type(description="A work as the statement named it when it was written.")
class StatementWork:
    id: strawberry.ID
    code: str | None
    title: str | None


def _work(item: dict[str, Any]) -> StatementWork | None:
    if not item.get("work"):
        return None
    return StatementWork(
        id=strawberry.ID(item["work"]), code=item.get("workCode"), title=item.get("workTitle")
    )


def _decimal(text: Any) -> Decimal | None:
    return None if text is None else Decimal(str(text))


@strawberry.type(
    description="Earnings of one work, type, sale currency, escalator tier and rate: "
    "`earned` in the sale's currency, `amount` its share in the statement's currency."
)
class RoyaltyStatementLine:
    work: StatementWork | None
    type: RoyaltyTransactionType
    tier: int | None = strawberry.field(description="The escalator tier, from 0.")
    rate: Decimal | None = strawberry.field(description="Percent.")
    units: BigInt
    basis: Money
    earned: Money
    amount: Money


@strawberry.type(description="A total per work and type (returns), statement currency.")
class RoyaltyStatementTotal:
    work: StatementWork | None
    type: RoyaltyTransactionType
    amount: Money


@strawberry.type(description="One conversion: `from` at `rate` gives `to` (rounded once).")
class RoyaltyConversion:
    from_amount: Money = strawberry.field(name="from")
    rate: Decimal
    to_amount: Money = strawberry.field(name="to")


@strawberry.type
class RoyaltyStatementAdjustment:
    work: StatementWork | None
    reason: str
    amount: Money


def _figure(name: str) -> Any:
    def read(self: Any) -> Money:
        return money(getattr(self, name), self.currency)

    return read


@strawberry.type(description="One payee's royalty statement for one period.")
class RoyaltyStatement:
    public_id: strawberry.ID = strawberry.field(name="id")
    period: str
    status: RoyaltyStatementStatus
    currency: str = strawberry.field(description="The payee's payout currency.")
    language: str
    created_at: datetime
    approved_at: datetime | None
    paid_at: datetime | None

    opening = strawberry.field(resolver=_figure("opening_minor"), graphql_type=Money)
    earnings = strawberry.field(resolver=_figure("earnings_minor"), graphql_type=Money)
    returns = strawberry.field(resolver=_figure("returns_minor"), graphql_type=Money)
    adjustments = strawberry.field(
        resolver=_figure("adjustments_minor"),
        graphql_type=Money,
        description="Manual adjustments, net (included in earnings and returns).",
    )
    reserve_withheld = strawberry.field(
        resolver=_figure("reserve_withheld_minor"), graphql_type=Money
    )
    reserve_released = strawberry.field(
        resolver=_figure("reserve_released_minor"), graphql_type=Money
    )
    recouped = strawberry.field(
        resolver=_figure("recouped_minor"), graphql_type=Money, description="Advance recouped."
    )
    advance_remaining = strawberry.field(
        resolver=_figure("advance_remaining_minor"), graphql_type=Money
    )
    payable = strawberry.field(resolver=_figure("payable_minor"), graphql_type=Money)
    closing = strawberry.field(
        resolver=_figure("closing_minor"), graphql_type=Money, description="Carried forward."
    )

    @strawberry.field
    def lines(self) -> list[RoyaltyStatementLine]:
        doc: dict[str, Any] = self.document or {}  # type: ignore[attr-defined]
        return [
            RoyaltyStatementLine(
                work=_work(line),
                type=RoyaltyTransactionType(line["kind"]),
                tier=line.get("tier"),
                rate=_decimal(line.get("rate")),
                units=line.get("units", 0),
                basis=money(line.get("basisMinor", 0), line["currency"]),
                earned=money(line.get("earnedMinor", 0), line["currency"]),
                amount=money(line.get("amountMinor", 0), self.currency),
            )
            for line in doc.get("lines", ())
        ]

    @strawberry.field(description="Returns clawed back, per work and type.")
    def return_lines(self) -> list[RoyaltyStatementTotal]:
        doc: dict[str, Any] = self.document or {}  # type: ignore[attr-defined]
        return [
            RoyaltyStatementTotal(
                work=_work(r),
                type=RoyaltyTransactionType(r["kind"]),
                amount=money(r["amountMinor"], self.currency),
            )
            for r in doc.get("returns", ())
        ]

    @strawberry.field(description="The manual adjustments of the period, with their reasons.")
    def adjustment_lines(self) -> list[RoyaltyStatementAdjustment]:
        doc: dict[str, Any] = self.document or {}  # type: ignore[attr-defined]
        return [
            RoyaltyStatementAdjustment(
                work=_work(a), reason=a["reason"], amount=money(a["amountMinor"], a["currency"])
            )
            for a in doc.get("adjustments", ())
        ]

    @strawberry.field(description="Each sale currency converted into the payout currency.")
    def conversions(self) -> list[RoyaltyConversion]:
        doc: dict[str, Any] = self.document or {}  # type: ignore[attr-defined]
        return [
            RoyaltyConversion(
                from_amount=money(c["fromMinor"], c["fromCurrency"]),
                rate=Decimal(c["rate"]),
                to_amount=money(c["toMinor"], c["toCurrency"]),
            )
            for c in doc.get("conversions", ())
        ]

    @strawberry.field(
        description="The statement as CSV (also GET /v1/royalty-statements/{id}.csv; the "
        "PDF: …/{id}.pdf)."
    )
    def csv(self) -> str:
        return statement_csv(self.document, status=self.status)  # type: ignore[attr-defined]

    @strawberry.field
    async def payee(self, info: Info) -> Payee | None:
        return await royalty_loaders(info).payee_by_id.load(self.payee_id)  # type: ignore[attr-defined, no-any-return]


@strawberry.type(description="An append-only royalty ledger entry, payout currency.")
class RoyaltyLedgerEntry:
    public_id: strawberry.ID = strawberry.field(name="id")
    kind: str = strawberry.field(
        description="earning, clawback, adjustment, reserve_withheld, reserve_released, "
        "advance, recoupment, payout or carried_forward."
    )
    period: str | None
    memo: str
    created_at: datetime
    amount = strawberry.field(
        resolver=_figure("amount_minor"), graphql_type=Money, description="On the balance owed."
    )
    advance = strawberry.field(
        resolver=_figure("advance_minor"),
        graphql_type=Money,
        description="On the unrecouped advance.",
    )
    reserve = strawberry.field(
        resolver=_figure("reserve_minor"), graphql_type=Money, description="On the reserve held."
    )
    balance_after = strawberry.field(resolver=_figure("balance_after_minor"), graphql_type=Money)

    @strawberry.field
    async def payee(self, info: Info) -> Payee | None:
        return await royalty_loaders(info).payee_by_id.load(self.payee_id)  # type: ignore[attr-defined, no-any-return]

    @strawberry.field
    async def statement(self, info: Info) -> RoyaltyStatement | None:
        key = self.statement_id  # type: ignore[attr-defined]
        return None if key is None else await royalty_loaders(info).statement_by_id.load(key)


@strawberry.type(description="Earnings of one period, type, work, payee and sale currency.")
class RoyaltyEarningsRow:
    period: str
    type: RoyaltyTransactionType
    work_id: strawberry.ID | None
    payee_id: strawberry.ID
    currency: str
    units: BigInt
    basis: Money
    earned: Money
    returned: Money = strawberry.field(description="Clawed back by refunds in the period.")


def earnings_view(rows: list[EarningsRow]) -> list[RoyaltyEarningsRow]:
    return [
        RoyaltyEarningsRow(
            period=r.period,
            type=RoyaltyTransactionType(r.kind),
            work_id=None if r.work_id is None else strawberry.ID(r.work_id),
            payee_id=strawberry.ID(r.payee_id),
            currency=r.currency,
            units=r.units,  # type: ignore[arg-type]
            basis=money(r.basis_minor, r.currency),
            earned=money(r.earned_minor, r.currency),
            returned=money(r.returned_minor, r.currency),
        )
        for r in rows
    ]


@strawberry.enum
class RoyaltyPayoutStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    FAILED = "failed"


@strawberry.type(description="The payment of one statement's payable amount.")
class RoyaltyPayout:
    public_id: strawberry.ID = strawberry.field(name="id")
    method: PayoutMethod
    status: RoyaltyPayoutStatus
    reference: str
    provider_ref: str | None = strawberry.field(description="The Stripe transfer (tr_…).")
    failure: str | None
    paid_on: date | None
    created_at: datetime

    @strawberry.field
    def amount(self) -> Money:
        return money(self.amount_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    async def statement(self, info: Info) -> RoyaltyStatement | None:
        return await royalty_loaders(info).statement_by_id.load(self.statement_id)  # type: ignore[attr-defined, no-any-return]


# -- payloads ----------------------------------------------------------------------------
@strawberry.type
class RunRoyaltiesSuccess:
    period: str
    status: str = strawberry.field(description='"completed".')
    payees: int
    statements_created: int = strawberry.field(description="By this call (0 on a re-run).")
    already_complete: bool


def run_view(report: RunReport) -> RunRoyaltiesSuccess:
    return RunRoyaltiesSuccess(
        period=report.period,
        status=report.status,
        payees=report.payees,
        statements_created=report.statements_created,
        already_complete=report.already_complete,
    )


@strawberry.type
class RoyaltyStatementSuccess:
    statement: RoyaltyStatement


@strawberry.type
class RoyaltyPayoutSuccess:
    payout: RoyaltyPayout


RunRoyaltiesResult = result_union("RunRoyaltiesResult", RunRoyaltiesSuccess)
RoyaltyStatementResult = result_union("RoyaltyStatementResult", RoyaltyStatementSuccess)
RoyaltyPayoutResult = result_union("RoyaltyPayoutResult", RoyaltyPayoutSuccess)
