"""A royalty statement (pure): one payee's period composed from the earnings and
balances maths, with every figure the statement shows.

Earnings are computed in the sale's currency and turned into the payout currency at
the rate the tenant recorded for the period: one conversion per sale currency and
movement (earnings, returns), rounded once to the target's exponent, shown on the
statement, then shared back over the lines by largest remainder so they sum to it.
The order of operations is `domain.royalties.balances`'s. No I/O and no clock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from domain.errors import ValidationError
from domain.money import allocate, exponent
from domain.royalties.balances import (
    Conversion,
    ExchangeRate,
    Outcome,
    ReserveTerms,
    convert,
    recoup,
    reserve_released,
    reserve_withheld,
    settle,
)
from domain.royalties.earnings import Slice, TransactionType, check_non_negative


@dataclass(frozen=True, slots=True)
class EarningLine:
    """An earning of the period, in the sale's currency (a slice of a sale, a pool
    part, a usage share, a licence fee, a positive adjustment)."""

    work: str
    kind: TransactionType
    currency: str
    earned_minor: int
    units: int = 0
    basis_minor: int = 0
    rate: Decimal | None = None
    tier: int | None = None

    @classmethod
    def from_slice(cls, work: str, kind: TransactionType, currency: str, s: Slice) -> EarningLine:
        return cls(work, kind, currency, s.earned_minor, s.units, s.basis_minor, s.rate, s.tier)


@dataclass(frozen=True, slots=True)
class ReturnLine:
    """Earnings clawed back in the period (a refund's `Clawback.clawed_minor`, or a
    negative adjustment), positive, in the sale's currency."""

    work: str
    kind: TransactionType
    currency: str
    clawed_minor: int


@dataclass(frozen=True, slots=True)
class StatementLine:
    """Earning lines of one work, type, currency, tier and rate, summed; `amount_minor`
    is their share of the converted total, in the payout currency."""

    work: str
    kind: TransactionType
    currency: str
    tier: int | None
    rate: Decimal | None
    units: int
    basis_minor: int
    earned_minor: int
    amount_minor: int


@dataclass(frozen=True, slots=True)
class WorkTotal:
    work: str
    kind: TransactionType
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Statement:
    """Every figure a statement shows, in `currency` (the payout currency).
    Invariant: closing = opening + earnings - returns - withheld + released -
    recouped - payable."""

    currency: str
    opening_minor: int
    lines: tuple[StatementLine, ...]
    earnings: tuple[WorkTotal, ...]
    earnings_minor: int
    returns: tuple[WorkTotal, ...]
    returns_minor: int
    conversions: tuple[Conversion, ...]
    reserve_withheld_minor: int
    reserve_released_minor: int
    recouped_minor: int
    advance_remaining_minor: int
    payable_minor: int
    closing_minor: int
    status: Outcome
    # With per-work reserves: what was withheld from each work's sales (payout currency).
    withheld_by_work: tuple[tuple[str, int], ...] = ()

    @property
    def carried_forward_minor(self) -> int:
        return self.closing_minor


def _to_payout(
    amounts: Sequence[int],
    currencies: Sequence[str],
    payout: str,
    rates: Mapping[str, ExchangeRate],
) -> tuple[list[int], list[Conversion]]:
    """Each currency's total converted once, then shared back over its items by
    largest remainder, so the items sum to the converted total exactly."""
    converted = list(amounts)
    conversions = []
    for code in set(currencies):
        exponent(code)
    for currency in sorted(set(currencies) - {payout}):
        indexes = [i for i, c in enumerate(currencies) if c == currency]
        if currency not in rates:
            raise ValidationError(
                f"no {currency} → {payout} rate is recorded for the period",
                field="rates",
                code="MISSING_EXCHANGE_RATE",
            )
        conversion = convert(sum(amounts[i] for i in indexes), rates[currency])
        conversions.append(conversion)
        weights = [amounts[i] for i in indexes]
        parts = allocate(conversion.to_minor, weights) if any(weights) else [0] * len(indexes)
        for i, part in zip(indexes, parts, strict=True):
            converted[i] = part
    return converted, conversions


def _totals(items: Sequence[tuple[str, TransactionType, int]]) -> tuple[WorkTotal, ...]:
    sums: dict[tuple[str, TransactionType], int] = defaultdict(int)
    for work, kind, amount in items:
        sums[(work, kind)] += amount
    return tuple(WorkTotal(w, k, a) for (w, k), a in sorted(sums.items()))


def build_statement(
    *,
    currency: str,
    opening_minor: int,
    earnings: Sequence[EarningLine],
    returns: Sequence[ReturnLine] = (),
    rates: Sequence[ExchangeRate] = (),
    reserve: ReserveTerms | None = None,
    reserve_history: Mapping[int, int] | None = None,
    period: int = 0,
    advance_remaining_minor: int = 0,
    threshold_minor: int = 0,
    reserves_by_work: Mapping[str, ReserveTerms] | None = None,
    released_minor: int = 0,
) -> Statement:
    """One payee's statement for `period` from plain inputs: the period's earning lines
    and returns (sale currencies), the period's rates into `currency`, the reserve
    terms and what was withheld in earlier periods (payout currency, by period index),
    the advance still unearned and the payout threshold (payout currency).

    A payee with several contracts has a reserve per contract: `reserves_by_work`
    withholds each work's percent of that work's SALE earnings (rounded once per
    work), and `released_minor` is what earlier withholdings release now (the caller
    knows each one's release period); it replaces `reserve`/`reserve_history`.

    Returns are converted at this period's rate, like every movement of the period. The
    reserve is withheld from this period's SALE earnings after conversion; the caller
    adds `reserve_withheld_minor` to the history for later periods. Without reserve
    terms nothing is withheld and nothing released."""
    exponent(currency)
    check_non_negative(
        advance_remaining_minor=advance_remaining_minor, threshold_minor=threshold_minor
    )
    by_currency: dict[str, ExchangeRate] = {}
    for rate in rates:
        if rate.to_currency != currency or rate.from_currency in by_currency:
            raise ValidationError(
                f"one rate per currency into {currency} is expected; got {rate.from_currency} → {rate.to_currency}",
                field="rates",
                code="INVALID_EXCHANGE_RATE",
            )
        by_currency[rate.from_currency] = rate
    groups: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for e in earnings:
        check_non_negative(earned_minor=e.earned_minor, units=e.units, basis_minor=e.basis_minor)
        sums = groups[(e.work, e.kind, e.currency, e.tier, e.rate)]
        sums[0] += e.units
        sums[1] += e.basis_minor
        sums[2] += e.earned_minor
    keys = sorted(
        groups,
        key=lambda k: (
            k[0],
            k[1],
            k[2],
            -1 if k[3] is None else k[3],
            Decimal(-1) if k[4] is None else k[4],
        ),
    )
    earned = [groups[k][2] for k in keys]
    amounts, conversions = _to_payout(earned, [k[2] for k in keys], currency, by_currency)
    lines = tuple(
        StatementLine(k[0], k[1], k[2], k[3], k[4], groups[k][0], groups[k][1], groups[k][2], a)
        for k, a in zip(keys, amounts, strict=True)
    )
    for r in returns:
        check_non_negative(clawed_minor=r.clawed_minor)
    ordered = sorted(returns, key=lambda r: (r.work, r.kind, r.currency))
    clawed, returned_conversions = _to_payout(
        [r.clawed_minor for r in ordered], [r.currency for r in ordered], currency, by_currency
    )
    earnings_minor = sum(amounts)
    returns_minor = sum(clawed)
    sales = sum(line.amount_minor for line in lines if line.kind is TransactionType.SALE)
    withheld = released = 0
    by_work: dict[str, int] = {}
    if reserves_by_work is not None:
        check_non_negative(released_minor=released_minor)
        sold: dict[str, int] = defaultdict(int)
        for line in lines:
            if line.kind is TransactionType.SALE and line.work in reserves_by_work:
                sold[line.work] += line.amount_minor
        for work in sorted(sold):
            kept = reserve_withheld(sold[work], reserves_by_work[work].percent)
            if kept:
                by_work[work] = kept
        withheld, released = sum(by_work.values()), released_minor
    elif reserve is not None:
        withheld = reserve_withheld(sales, reserve.percent)
        released = reserve_released(reserve_history or {}, period, reserve.release_after)
    available = opening_minor + earnings_minor - returns_minor - withheld + released
    recoupment = recoup(advance_remaining_minor, available)
    settlement = settle(
        opening_minor=opening_minor,
        earnings_minor=earnings_minor,
        clawbacks_minor=returns_minor,
        withheld_minor=withheld,
        released_minor=released,
        recouped_minor=recoupment.recouped_minor,
        threshold_minor=threshold_minor,
    )
    return Statement(
        currency=currency,
        opening_minor=opening_minor,
        lines=lines,
        earnings=_totals([(line.work, line.kind, line.amount_minor) for line in lines]),
        earnings_minor=earnings_minor,
        returns=_totals([(r.work, r.kind, c) for r, c in zip(ordered, clawed, strict=True)]),
        returns_minor=returns_minor,
        conversions=tuple(conversions + returned_conversions),
        reserve_withheld_minor=withheld,
        reserve_released_minor=released,
        recouped_minor=recoupment.recouped_minor,
        advance_remaining_minor=recoupment.advance_remaining_minor,
        payable_minor=settlement.payable_minor,
        closing_minor=settlement.closing_minor,
        status=settlement.status,
        withheld_by_work=tuple(sorted(by_work.items())),
    )
