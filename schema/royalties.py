"""Royalties catalog types: payees, works with their contributors' shares over time,
contracts, exchange rates, settings, advances and adjustments, and their payloads.

Rows are the domain's (public ids exposed as `id`); nested objects come through the
request's royalty DataLoaders (`royalty_loaders`), so a page of works or contracts
costs one statement per kind of object, whatever its size.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from domain import clock
from domain.royalties.payees import payees_by_ids, statements_by_ids
from domain.royalties.settings import RoyaltySettings as SettingsValue
from domain.royalties.works import current_and_history, shares_by_work, works_by_ids
from domain.tenancy.access import Principal
from schema.common import BigInt, Money, money, result_union
from schema.royalty_inputs import PayeeKind, PayoutMethod, RoyaltyBasis, RoyaltyTransactionType


# -- loaders -----------------------------------------------------------------------------
class RoyaltyLoaders:
    """The royalty DataLoaders of one request, made on first use (scoped to the caller:
    a payee token loads only its own payee and statements)."""

    def __init__(self, principal: Principal) -> None:
        self.payee_by_id: DataLoader[int, Any] = DataLoader(
            lambda ids: payees_by_ids(principal, list(ids))
        )
        self.work_by_id: DataLoader[int, Any] = DataLoader(
            lambda ids: works_by_ids(principal, list(ids))
        )
        self.shares_by_work: DataLoader[int, list[Any]] = DataLoader(
            lambda ids: shares_by_work(list(ids))
        )
        self.statement_by_id: DataLoader[int, Any] = DataLoader(
            lambda ids: statements_by_ids(principal, list(ids))
        )


def royalty_loaders(info: Info) -> RoyaltyLoaders:
    """Kept on the request's `Loaders`, which are built per request (and per
    subscription), so these live exactly as long."""
    holder = info.context.loaders.__dict__
    found = holder.get("royalties")
    if found is None:
        found = holder["royalties"] = RoyaltyLoaders(info.context.caller)
    return found  # type: ignore[no-any-return]


def _decimal(text: Any) -> Decimal | None:
    return None if text is None else Decimal(str(text))


# -- payees ------------------------------------------------------------------------------
@strawberry.type(description="Someone a tenant pays royalties to.")
class Payee:
    public_id: strawberry.ID = strawberry.field(name="id")
    name: str
    email: str | None
    kind: PayeeKind
    language: str = strawberry.field(description="Statements' language.")
    payout_currency: str
    payout_method: PayoutMethod
    payout_account: str | None
    tax_id: str | None
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None

    @strawberry.field(description="The minimum payout; null: the tenant's default, converted.")
    def threshold(self) -> Money | None:
        minor = self.threshold_minor  # type: ignore[attr-defined]
        return None if minor is None else money(minor, self.payout_currency)

    @strawberry.field(description="Owed to the payee (negative: recovered from later earnings).")
    def balance(self) -> Money:
        return money(self.balance_minor, self.payout_currency)  # type: ignore[attr-defined]

    @strawberry.field(description="Advances paid and not yet recouped.")
    def advance_remaining(self) -> Money:
        return money(self.advance_minor, self.payout_currency)  # type: ignore[attr-defined]

    @strawberry.field(description="Withheld against returns, not yet released.")
    def reserve_held(self) -> Money:
        return money(self.reserve_minor, self.payout_currency)  # type: ignore[attr-defined]

    @strawberry.field(description="The payee through whom this one is paid.")
    async def agent(self, info: Info) -> Payee | None:
        agent_id = self.agent_id  # type: ignore[attr-defined]
        if agent_id is None:
            return None
        return await royalty_loaders(info).payee_by_id.load(agent_id)  # type: ignore[no-any-return]


# -- works -------------------------------------------------------------------------------
@strawberry.type
class WorkContributor:
    payee_key: strawberry.Private[int]
    share: Decimal = strawberry.field(description="Percent of the work's earnings.")
    role: str

    @strawberry.field(description="null for a payee token looking at a co-contributor.")
    async def payee(self, info: Info) -> Payee | None:
        return await royalty_loaders(info).payee_by_id.load(self.payee_key)  # type: ignore[no-any-return]


@strawberry.type(description="The contributors in force from `effectiveFrom` on.")
class WorkShareSet:
    effective_from: date
    contributors: list[WorkContributor]


def _contributors(rows: list[Any]) -> list[WorkContributor]:
    return [
        WorkContributor(payee_key=r.payee_id, share=Decimal(r.share), role=r.role) for r in rows
    ]


@strawberry.type(description="A book, a course, a track, a model: something that earns royalties.")
class Work:
    public_id: strawberry.ID = strawberry.field(name="id")
    code: str
    title: str
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None

    @strawberry.field(description="The shares in force today (UTC).")
    async def contributors(self, info: Info) -> list[WorkContributor]:
        rows = await royalty_loaders(info).shares_by_work.load(self.id)  # type: ignore[attr-defined]
        current, _ = current_and_history(rows, clock.now().date())
        return _contributors(current)

    @strawberry.field(description="Every set of shares by the date it applies from, oldest first.")
    async def share_history(self, info: Info) -> list[WorkShareSet]:
        rows = await royalty_loaders(info).shares_by_work.load(self.id)  # type: ignore[attr-defined]
        _, history = current_and_history(rows, clock.now().date())
        return [WorkShareSet(effective_from=d, contributors=_contributors(g)) for d, g in history]


# -- contracts ---------------------------------------------------------------------------
@strawberry.type
class ContractEscalator:
    up_to: BigInt | None = strawberry.field(description="null: no upper bound.")
    rate: Decimal


@strawberry.type
class ContractRule:
    type: RoyaltyTransactionType
    basis: RoyaltyBasis | None
    rate: Decimal | None = strawberry.field(description="A flat rate, percent.")
    escalators: list[ContractEscalator]
    flat_fee: list[Money] = strawberry.field(description="LICENSE: per licence, per currency.")


@strawberry.type
class ContractReserve:
    percent: Decimal
    release_after: int = strawberry.field(description="Periods after it is withheld.")


def _rule(kind: str, body: dict[str, Any]) -> ContractRule:
    return ContractRule(
        type=RoyaltyTransactionType(kind),
        basis=RoyaltyBasis(body["basis"]) if body.get("basis") else None,
        rate=_decimal(body.get("rate")),
        escalators=[
            ContractEscalator(up_to=t["upTo"], rate=Decimal(t["rate"]))
            for t in body.get("escalators") or ()
        ],
        flat_fee=[money(a, c) for c, a in sorted((body.get("flatFee") or {}).items())],
    )


@strawberry.type(description="What one payee earns on one work, by transaction type.")
class Contract:
    public_id: strawberry.ID = strawberry.field(name="id")
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None

    @strawberry.field
    def rules(self) -> list[ContractRule]:
        stored: dict[str, Any] = self.rules  # type: ignore[assignment]
        return [_rule(kind, body) for kind, body in stored.items()]

    @strawberry.field(description="null: nothing withheld.")
    def reserve(self) -> ContractReserve | None:
        stored: dict[str, Any] | None = self.reserve  # type: ignore[assignment]
        if not stored:
            return None
        return ContractReserve(
            percent=Decimal(stored["percent"]), release_after=stored["releaseAfter"]
        )

    @strawberry.field
    async def work(self, info: Info) -> Work | None:
        return await royalty_loaders(info).work_by_id.load(self.work_id)  # type: ignore[attr-defined, no-any-return]

    @strawberry.field
    async def payee(self, info: Info) -> Payee | None:
        return await royalty_loaders(info).payee_by_id.load(self.payee_id)  # type: ignore[attr-defined, no-any-return]


# -- rates, settings, advances, adjustments ------------------------------------------------
@strawberry.type(description="1 fromCurrency = rate toCurrency, for statements of `period`.")
class RoyaltyExchangeRate:
    period: str
    from_currency: str
    to_currency: str
    updated_at: datetime

    @strawberry.field
    def rate(self) -> Decimal:
        return Decimal(self.rate)  # type: ignore[arg-type]


@strawberry.type
class RoyaltySettings:
    pool_rate: Decimal = strawberry.field(
        description="Percent of collected subscription revenue shared by reads."
    )
    threshold: Money = strawberry.field(description="The default minimum payout.")
    read_event_code: str = strawberry.field(description="Usage events of this code are reads.")


def settings_view(value: SettingsValue) -> RoyaltySettings:
    return RoyaltySettings(
        pool_rate=value.pool_rate,
        threshold=money(value.threshold_minor, value.threshold_currency),
        read_event_code=value.read_event_code,
    )


@strawberry.type(description="Paid ahead of earnings; recouped from later ones.")
class RoyaltyAdvance:
    public_id: strawberry.ID = strawberry.field(name="id")
    paid_on: date
    reference: str
    created_at: datetime

    @strawberry.field
    def amount(self) -> Money:
        return money(self.amount_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    async def payee(self, info: Info) -> Payee | None:
        return await royalty_loaders(info).payee_by_id.load(self.payee_id)  # type: ignore[attr-defined, no-any-return]

    @strawberry.field
    async def work(self, info: Info) -> Work | None:
        work_id = self.work_id  # type: ignore[attr-defined]
        return None if work_id is None else await royalty_loaders(info).work_by_id.load(work_id)


@strawberry.type(description="An admin's correction of a payee's earnings for a period.")
class RoyaltyAdjustment:
    public_id: strawberry.ID = strawberry.field(name="id")
    period: str
    reason: str
    created_at: datetime

    @strawberry.field(description="Signed.")
    def amount(self) -> Money:
        return money(self.amount_minor, self.currency)  # type: ignore[attr-defined]

    @strawberry.field
    async def payee(self, info: Info) -> Payee | None:
        return await royalty_loaders(info).payee_by_id.load(self.payee_id)  # type: ignore[attr-defined, no-any-return]

    @strawberry.field
    async def work(self, info: Info) -> Work | None:
        work_id = self.work_id  # type: ignore[attr-defined]
        return None if work_id is None else await royalty_loaders(info).work_by_id.load(work_id)


# -- payloads ----------------------------------------------------------------------------
@strawberry.type
class PayeeSuccess:
    payee: Payee


@strawberry.type
class WorkSuccess:
    work: Work


@strawberry.type
class ContractSuccess:
    contract: Contract


@strawberry.type
class RoyaltyAdvanceSuccess:
    advance: RoyaltyAdvance


@strawberry.type
class RoyaltyAdjustmentSuccess:
    adjustment: RoyaltyAdjustment


@strawberry.type
class RoyaltyExchangeRatesSuccess:
    period: str
    rates: list[RoyaltyExchangeRate] = strawberry.field(description="Every rate of the period.")


@strawberry.type
class RoyaltySettingsSuccess:
    settings: RoyaltySettings


PayeeResult = result_union("PayeeResult", PayeeSuccess)
WorkResult = result_union("WorkResult", WorkSuccess)
ContractResult = result_union("ContractResult", ContractSuccess)
RoyaltyAdvanceResult = result_union("RoyaltyAdvanceResult", RoyaltyAdvanceSuccess)
RoyaltyAdjustmentResult = result_union("RoyaltyAdjustmentResult", RoyaltyAdjustmentSuccess)
RoyaltyExchangeRatesResult = result_union("RoyaltyExchangeRatesResult", RoyaltyExchangeRatesSuccess)
RoyaltySettingsResult = result_union("RoyaltySettingsResult", RoyaltySettingsSuccess)
