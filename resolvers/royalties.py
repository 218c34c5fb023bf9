"""Royalties: thin adapters over domain/royalties (the catalog here; the run,
statements, payouts and reads in resolvers/royalty_runs.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

import strawberry
from strawberry.types import Info

from domain.money import money_from_input
from domain.royalties import adjustments, advances, contracts, payees, works
from domain.royalties import rates as rate_ops
from resolvers.common import mutate, paged, query, to_data
from schema import royalties as t
from schema import royalty_inputs as i
from schema.common import Connection


# -- queries ---------------------------------------------------------------------------
async def payee_list(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    include_archived: bool = False,
    kind: i.PayeeKind | None = None,
) -> Connection[t.Payee]:
    """A payee token: itself."""
    return await paged(
        info,
        payees.list_payees,
        first,
        after,
        include_archived=include_archived,
        kind=None if kind is None else kind.value,
    )


async def payee(info: Info, id: strawberry.ID) -> t.Payee | None:
    return await query(lambda: payees.get_payee(info.context.caller, id))


async def work_list(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    include_archived: bool = False,
    payee_id: strawberry.ID | None = None,
) -> Connection[t.Work]:
    """The tenant's works (a payee token: its own); `payeeId`: that payee's."""
    return await paged(
        info, works.list_works, first, after, include_archived=include_archived, payee_id=payee_id
    )


async def work(info: Info, id: strawberry.ID) -> t.Work | None:
    """By id (wrk_…) or code."""
    return await query(lambda: works.get_work(info.context.caller, id))


async def contract_list(
    info: Info,
    work_id: strawberry.ID | None = None,
    payee_id: strawberry.ID | None = None,
    first: int | None = None,
    after: str | None = None,
    include_archived: bool = False,
) -> Connection[t.Contract]:
    return await paged(
        info,
        contracts.list_contracts,
        first,
        after,
        work_id=work_id,
        payee_id=payee_id,
        include_archived=include_archived,
    )


async def royalty_exchange_rates(info: Info, period: str) -> list[t.RoyaltyExchangeRate]:
    return await query(lambda: rate_ops.list_rates(info.context.caller, period))


async def royalty_settings(info: Info) -> t.RoyaltySettings:
    return t.settings_view(await query(lambda: rate_ops.royalty_settings(info.context.caller)))


# -- mutations -------------------------------------------------------------------------
def _payee(row: object) -> t.PayeeSuccess:
    return t.PayeeSuccess(payee=row)  # type: ignore[arg-type]


def _work(row: object) -> t.WorkSuccess:
    return t.WorkSuccess(work=row)  # type: ignore[arg-type]


def _contract(row: object) -> t.ContractSuccess:
    return t.ContractSuccess(contract=row)  # type: ignore[arg-type]


def _money(data: dict[str, Any], field: str) -> Any:
    return money_from_input(
        currency=data.get("currency"),
        amount_minor=data.get("amount_minor"),
        amount=data.get("amount"),
        field=field,
    )


async def create_payee(info: Info, input: i.CreatePayeeInput) -> t.PayeeResult:
    return await mutate(payees.create_payee(info.context.caller, to_data(input)), _payee)


async def update_payee(info: Info, id: strawberry.ID, input: i.UpdatePayeeInput) -> t.PayeeResult:
    return await mutate(payees.update_payee(info.context.caller, id, to_data(input)), _payee)


async def archive_payee(info: Info, id: strawberry.ID) -> t.PayeeResult:
    """No new shares, contracts or advances; what it is owed is still stated and paid."""
    return await mutate(payees.archive_payee(info.context.caller, id), _payee)


async def create_work(info: Info, input: i.CreateWorkInput) -> t.WorkResult:
    return await mutate(works.create_work(info.context.caller, to_data(input)), _work)


async def update_work(info: Info, id: strawberry.ID, input: i.UpdateWorkInput) -> t.WorkResult:
    """`id`: wrk_… or the work's code."""
    return await mutate(works.update_work(info.context.caller, id, to_data(input)), _work)


async def archive_work(info: Info, id: strawberry.ID) -> t.WorkResult:
    return await mutate(works.archive_work(info.context.caller, id), _work)


async def set_work_shares(
    info: Info, work_id: strawberry.ID, shares: list[i.WorkShareInput], effective_from: date
) -> t.WorkResult:
    """Shares summing to exactly 100, from `effectiveFrom` on (that date's earlier
    shares are replaced; other dates stay as history)."""
    items = [{"payeeId": s.payee_id, "share": s.share, "role": s.role} for s in shares]
    return await mutate(
        works.set_work_shares(info.context.caller, work_id, items, effective_from), _work
    )


async def create_contract(info: Info, input: i.CreateContractInput) -> t.ContractResult:
    return await mutate(contracts.create_contract(info.context.caller, to_data(input)), _contract)


async def update_contract(
    info: Info, id: strawberry.ID, input: i.UpdateContractInput
) -> t.ContractResult:
    return await mutate(
        contracts.update_contract(info.context.caller, id, to_data(input)), _contract
    )


async def archive_contract(info: Info, id: strawberry.ID) -> t.ContractResult:
    return await mutate(contracts.archive_contract(info.context.caller, id), _contract)


async def record_royalty_advance(
    info: Info, input: i.RecordRoyaltyAdvanceInput
) -> t.RoyaltyAdvanceResult:
    data = to_data(input)

    async def record() -> Any:
        amount = _money(data["amount"], "amount")
        return await advances.record_advance(
            info.context.caller,
            data["payee_id"],
            amount.amount_minor,
            amount.currency,
            data.get("paid_on"),
            data.get("reference"),
            data.get("idempotency_key"),
            work_id=data.get("work_id"),
        )

    return await mutate(record(), lambda row: t.RoyaltyAdvanceSuccess(advance=row))


async def record_royalty_adjustment(
    info: Info, input: i.RecordRoyaltyAdjustmentInput
) -> t.RoyaltyAdjustmentResult:
    data = to_data(input)

    async def record() -> Any:
        amount = _money(data["amount"], "amount")
        return await adjustments.record_adjustment(
            info.context.caller,
            data["payee_id"],
            amount.amount_minor,
            amount.currency,
            data["reason"],
            data["period"],
            data.get("work_id"),
            idempotency_key=data.get("idempotency_key"),
        )

    return await mutate(record(), lambda row: t.RoyaltyAdjustmentSuccess(adjustment=row))


async def set_royalty_exchange_rates(
    info: Info, period: str, rates: list[i.RoyaltyExchangeRateInput]
) -> t.RoyaltyExchangeRatesResult:
    """Record (or correct) a period's rates; rates not named stay. Frozen once a run
    has started for the period (PERIOD_CLOSED)."""
    items = [
        {"fromCurrency": r.from_currency, "toCurrency": r.to_currency, "rate": r.rate}
        for r in rates
    ]
    return await mutate(
        rate_ops.set_exchange_rates(info.context.caller, period, items),
        lambda rows: t.RoyaltyExchangeRatesSuccess(period=rows[0].period, rates=rows),
    )


async def update_royalty_settings(
    info: Info, input: i.UpdateRoyaltySettingsInput
) -> t.RoyaltySettingsResult:
    data = to_data(input)
    names = {"pool_rate": "poolRate", "read_event_code": "readEventCode"}
    raw = {names.get(k, k): v for k, v in data.items()}
    return await mutate(
        rate_ops.update_royalty_settings(info.context.caller, raw),
        lambda value: t.RoyaltySettingsSuccess(settings=t.settings_view(value)),
    )
