"""One payee's statement for a period, from the run's earning rows: the pure
statement (`statement.build_statement`), the document the PDF and CSV show, and the
ledger postings that move the payee's balance, advance and reserve.

The opening balance is what was carried: the payee's balance less what earlier
statements made payable and nothing has paid yet (it is owed, but not again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from db.models import Tenant
from db.royalty_models import Payee
from domain.errors import ValidationError
from domain.royalties.balances import ExchangeRate, ReserveTerms, convert
from domain.royalties.earnings import TransactionType
from domain.royalties.facts import AdjustmentFact
from domain.royalties.ledger import Posting
from domain.royalties.period_earnings import EarningRow
from domain.royalties.run_inputs import WorkInfo
from domain.royalties.settings import RoyaltyPeriod, RoyaltySettings
from domain.royalties.statement import EarningLine, ReturnLine, Statement, build_statement

NO_WORK = ""


@dataclass(frozen=True, slots=True)
class PayeeInputs:
    rows: Sequence[EarningRow]
    adjustments: Sequence[AdjustmentFact]
    reserves: Mapping[int, ReserveTerms]  # by work id, this payee's contracts
    released_minor: int


def currencies_needed(inputs: PayeeInputs) -> set[str]:
    return {r.currency for r in inputs.rows} | {a.currency for a in inputs.adjustments}


def missing_rates(
    payee: Payee, inputs: PayeeInputs, rates: Sequence[ExchangeRate], settings: RoyaltySettings
) -> set[tuple[str, str]]:
    """The (from, to) rates this payee's statement needs and the period lacks."""
    have = {(r.from_currency, r.to_currency) for r in rates}
    needed = {(c, payee.payout_currency) for c in currencies_needed(inputs)}
    if payee.threshold_minor is None:
        needed.add((settings.threshold_currency, payee.payout_currency))
    return {(f, t) for f, t in needed if f != t and (f, t) not in have}


def threshold_of(payee: Payee, rates: Sequence[ExchangeRate], settings: RoyaltySettings) -> int:
    """The payee's own threshold, else the tenant's converted at the period's rate."""
    if payee.threshold_minor is not None:
        return payee.threshold_minor
    if settings.threshold_currency == payee.payout_currency:
        return settings.threshold_minor
    for rate in rates:
        if (rate.from_currency, rate.to_currency) == (
            settings.threshold_currency,
            payee.payout_currency,
        ):
            return convert(settings.threshold_minor, rate).to_minor
    raise ValidationError("no rate for the threshold", field="rates", code="MISSING_EXCHANGE_RATE")


def _work_key(work_id: int | None, works: Mapping[int, WorkInfo]) -> str:
    return works[work_id].public_id if work_id is not None else NO_WORK


def compose(
    payee: Payee,
    inputs: PayeeInputs,
    *,
    opening_minor: int,
    rates: Sequence[ExchangeRate],
    settings: RoyaltySettings,
    works: Mapping[int, WorkInfo],
) -> Statement:
    earnings, returns = [], []
    for r in inputs.rows:
        work = _work_key(r.work_id, works)
        if r.movement == "earning":
            earnings.append(
                EarningLine(
                    work, r.kind, r.currency, r.amount_minor, r.units, r.basis_minor, r.rate, r.tier
                )
            )
        elif r.amount_minor:
            returns.append(ReturnLine(work, r.kind, r.currency, r.amount_minor))
    for a in inputs.adjustments:
        work = _work_key(a.work_id, works)
        if a.amount_minor > 0:
            earnings.append(
                EarningLine(work, TransactionType.ADJUSTMENT, a.currency, a.amount_minor)
            )
        else:
            returns.append(
                ReturnLine(work, TransactionType.ADJUSTMENT, a.currency, -a.amount_minor)
            )
    return build_statement(
        currency=payee.payout_currency,
        opening_minor=opening_minor,
        earnings=earnings,
        returns=returns,
        rates=[r for r in rates if r.to_currency == payee.payout_currency],
        advance_remaining_minor=max(payee.advance_minor, 0),
        threshold_minor=threshold_of(payee, rates, settings),
        reserves_by_work={works[w].public_id: t for w, t in inputs.reserves.items() if w in works},
        released_minor=inputs.released_minor,
    )


def _adjusted(statement: Statement, kind_totals: Any) -> int:
    return sum(t.amount_minor for t in kind_totals if t.kind is TransactionType.ADJUSTMENT)


def postings(
    statement: Statement, period: RoyaltyPeriod, reserves: Mapping[str, ReserveTerms]
) -> list[Posting]:
    """The ledger entries of a statement, in the order the statement reads."""
    added = _adjusted(statement, statement.earnings)
    removed = _adjusted(statement, statement.returns)
    out = []
    if statement.earnings_minor - added:
        out.append(Posting("earning", statement.earnings_minor - added, memo=f"earnings {period}"))
    if statement.returns_minor - removed:
        out.append(
            Posting("clawback", -(statement.returns_minor - removed), memo=f"returns {period}")
        )
    if added - removed:
        out.append(Posting("adjustment", added - removed, memo=f"adjustments {period}"))
    for work, withheld in statement.withheld_by_work:
        release = RoyaltyPeriod.from_index(period.index + reserves[work].release_after)
        out.append(
            Posting(
                "reserve_withheld",
                -withheld,
                reserve_minor=withheld,
                memo=f"reserve on {work}",
                release_period=str(release),
            )
        )
    if statement.reserve_released_minor:
        released = statement.reserve_released_minor
        out.append(Posting("reserve_released", released, reserve_minor=-released, memo="reserve"))
    if statement.recouped_minor:
        recouped = statement.recouped_minor
        out.append(Posting("recoupment", -recouped, advance_minor=-recouped, memo="advance"))
    if statement.status.value == "CARRIED":
        out.append(Posting("carried_forward", memo=f"carried {statement.closing_minor}"))
    return out


def _money_lines(items: Any, works: Mapping[str, WorkInfo]) -> list[dict[str, Any]]:
    return [
        {
            **_work_fields(t.work, works),
            "kind": t.kind.value,
            "amountMinor": t.amount_minor,
        }
        for t in items
    ]


def _work_fields(work: str, works: Mapping[str, WorkInfo]) -> dict[str, Any]:
    info = works.get(work)
    if info is None:
        return {"work": None, "workCode": None, "workTitle": None}
    return {"work": info.public_id, "workCode": info.code, "workTitle": info.title}


def _rate(rate: Decimal | None) -> str | None:
    return None if rate is None else format(rate.normalize(), "f")


def document(
    statement: Statement,
    *,
    payee: Payee,
    agent: Payee | None,
    tenant: Tenant,
    period: RoyaltyPeriod,
    works: Mapping[int, WorkInfo],
    by_key: Mapping[str, WorkInfo],
    adjustments: Sequence[AdjustmentFact],
) -> dict[str, Any]:
    """Everything the statement's PDF and CSV show (documents.py renders it);
    `by_key` is `works` by public id."""
    address = [
        x
        for x in (
            tenant.address_line1,
            tenant.address_line2,
            " ".join(y for y in (tenant.postal_code, tenant.city) if y),
            tenant.state,
        )
        if x
    ]
    return {
        "payee": {
            "id": payee.public_id,
            "name": payee.name,
            "email": payee.email,
            "taxId": payee.tax_id,
            "language": payee.language,
            "agent": agent.name if agent else None,
        },
        "tenant": {
            "name": tenant.name,
            "legalName": tenant.legal_name,
            "address": address,
            "country": tenant.country,
        },
        "period": str(period),
        "currency": statement.currency,
        "lines": [
            {
                **_work_fields(line.work, by_key),
                "kind": line.kind.value,
                "currency": line.currency,
                "tier": line.tier,
                "rate": _rate(line.rate),
                "units": line.units,
                "basisMinor": line.basis_minor,
                "earnedMinor": line.earned_minor,
                "amountMinor": line.amount_minor,
            }
            for line in statement.lines
        ],
        "earnings": _money_lines(statement.earnings, by_key),
        "returns": _money_lines(statement.returns, by_key),
        "adjustments": [
            {
                "reason": a.reason,
                "amountMinor": a.amount_minor,
                "currency": a.currency,
                "work": works[a.work_id].public_id if a.work_id in works else None,
            }
            for a in adjustments
        ],
        "conversions": [
            {
                "fromCurrency": c.from_currency,
                "fromMinor": c.from_minor,
                "rate": _rate(c.rate),
                "toCurrency": c.to_currency,
                "toMinor": c.to_minor,
            }
            for c in statement.conversions
        ],
        "openingMinor": statement.opening_minor,
        "earningsMinor": statement.earnings_minor,
        "returnsMinor": statement.returns_minor,
        "reserveWithheldMinor": statement.reserve_withheld_minor,
        "reserveReleasedMinor": statement.reserve_released_minor,
        "recoupedMinor": statement.recouped_minor,
        "advanceRemainingMinor": statement.advance_remaining_minor,
        "payableMinor": statement.payable_minor,
        "closingMinor": statement.closing_minor,
        "outcome": statement.status.value,
    }
