"""Royalty balances maths (pure): currency conversion, reserves against returns,
advance recoupment and the payout threshold (composed by `statement.py`).

Every figure here is in the payee's PAYOUT currency, except a statement's inputs,
which are converted first: earnings are computed in the sale's currency and turned
into the payout currency at the rate the tenant recorded for the period, one
conversion per currency and movement (earnings, returns), rounded once to the
target's exponent and shown on the statement. A statement's order of operations:

    available = opening + earnings - returns - reserve withheld + reserve released
    recouped  = min(advance remaining, available if positive else 0)
    payable   = available - recouped, if it reaches the threshold, else 0
    closing   = available - recouped - payable        (carried forward)

so a negative balance (a refund after a payout) is recovered from later earnings
before an advance is recouped or anything is paid. No I/O and no clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, localcontext
from enum import StrEnum

from domain.errors import ValidationError
from domain.money import exponent, parse_decimal, round_minor, shown
from domain.royalties.earnings import (
    EXACT,
    apply_percent,
    check_non_negative,
    check_percent,
)

# -- currency conversion -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    """1 `from_currency` = `rate` `to_currency`, in major units, as the tenant records
    it for a period ("1 EUR = 655.957 XOF" is ExchangeRate("EUR", "XOF", 655.957))."""

    from_currency: str
    to_currency: str
    rate: Decimal

    def __post_init__(self) -> None:
        exponent(self.from_currency)
        exponent(self.to_currency)
        rate = parse_decimal(self.rate, field="rate", what="an exchange rate")
        if rate <= 0:
            raise ValidationError(
                f"an exchange rate must be above 0 (got {shown(self.rate)})",
                field="rate",
                code="INVALID_EXCHANGE_RATE",
            )
        object.__setattr__(self, "rate", rate)


@dataclass(frozen=True, slots=True)
class Conversion:
    """One conversion as a statement shows it: from amount, rate, to amount."""

    from_currency: str
    from_minor: int
    rate: Decimal
    to_currency: str
    to_minor: int


def convert(amount_minor: int, rate: ExchangeRate) -> Conversion:
    """`amount_minor` of the rate's source currency in its target currency: exact
    (minor units rescaled between the two ISO exponents, times the rate), rounded
    half-up once to the target's exponent (10.00 EUR at 655.957 → 6,559.57 → 6,560 XOF;
    at 145.6789 DZD → 1,456.789 → 1,456.79 DZD)."""
    shift = exponent(rate.to_currency) - exponent(rate.from_currency)
    with localcontext(EXACT):
        exact = Decimal(amount_minor).scaleb(shift) * rate.rate
    return Conversion(
        rate.from_currency, amount_minor, rate.rate, rate.to_currency, round_minor(exact)
    )


# -- reserves against returns ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReserveTerms:
    """Withhold `percent` of a period's SALE earnings; release them `release_after`
    periods later (withheld in period k, released in period k + release_after)."""

    percent: Decimal
    release_after: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "percent", check_percent(self.percent, field="reserve.percent"))
        if isinstance(self.release_after, bool) or not isinstance(self.release_after, int):
            raise ValidationError("reserve.releaseAfter must be a whole number of periods")
        if self.release_after < 1:
            raise ValidationError(
                "a reserve is released at least one period after it is withheld",
                field="reserve.releaseAfter",
            )


def reserve_withheld(sale_earnings_minor: int, percent: Decimal) -> int:
    """The reserve withheld from a period's gross SALE earnings (before returns: a
    return is charged to the balance when it happens, not to the reserve), rounded
    half-up once; nothing is withheld from a period without sale earnings."""
    return apply_percent(
        max(sale_earnings_minor, 0), check_percent(percent, field="reserve.percent")
    )


def reserve_released(
    withheld_by_period: Mapping[int, int], current_period: int, release_after: int
) -> int:
    """What is released now: exactly what was withheld `release_after` periods ago
    (periods are consecutive integers, e.g. year x 12 + month). Each withholding is
    released once, in full, whatever was returned since."""
    if release_after < 1:
        raise ValueError("release_after must be at least 1")
    released = withheld_by_period.get(current_period - release_after, 0)
    check_non_negative(released=released)
    return released


# -- advances --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recoupment:
    """`payable_minor` is what remains of the earnings after recoupment, before the
    threshold (negative when the earnings were: a debt, carried)."""

    recouped_minor: int
    payable_minor: int
    advance_remaining_minor: int

    @property
    def earned_out(self) -> bool:
        return self.advance_remaining_minor == 0


def recoup(advance_remaining: int, earnings: int) -> Recoupment:
    """Recoup an unearned advance from the earnings available: all of them until the
    advance is earned out, i.e. until cumulative earnings reach the advance; then
    only what exceeds it is payable. Nothing is recouped from a negative amount (the
    advance is never "re-opened" by returns)."""
    check_non_negative(advance_remaining=advance_remaining)
    recouped = min(advance_remaining, max(earnings, 0))
    return Recoupment(recouped, earnings - recouped, advance_remaining - recouped)


# -- threshold and carry -------------------------------------------------------------


class Outcome(StrEnum):
    PAYABLE = "PAYABLE"
    CARRIED = "CARRIED"


@dataclass(frozen=True, slots=True)
class Settlement:
    balance_minor: int  # before any payout
    payable_minor: int
    closing_minor: int  # carried forward
    status: Outcome


def settle(
    *,
    opening_minor: int,
    earnings_minor: int,
    clawbacks_minor: int,
    withheld_minor: int,
    released_minor: int,
    recouped_minor: int,
    threshold_minor: int,
) -> Settlement:
    """The balance is paid in full once it reaches the payee's minimum payout
    threshold (a minimum: exactly 100.00 EUR against 100.00 EUR is paid); below it,
    or when it is negative (returns after a payout), it is carried forward and
    recovered from later earnings."""
    check_non_negative(threshold_minor=threshold_minor)
    balance = (
        opening_minor
        + earnings_minor
        - clawbacks_minor
        - withheld_minor
        + released_minor
        - recouped_minor
    )
    if balance > 0 and balance >= threshold_minor:
        return Settlement(balance, balance, 0, Outcome.PAYABLE)
    return Settlement(balance, 0, balance, Outcome.CARRIED)
