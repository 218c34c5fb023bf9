"""Royalty earnings maths (pure): escalators, the contract basis, contributor shares,
the subscription pool and clawbacks.

Money rule (DESIGN.md, Conventions 4): amounts are integer minor units of one
currency; royalty rates are Decimal PERCENTS as contracts state them (Decimal("70")
is 70 %, Decimal("12.5") is 12.5 %). An amount times a rate is computed exactly and
becomes minor units once, half-up (`money.round_minor`), per escalator slice, per
pool or per conversion; splits use largest remainder (`money.allocate`) so no minor
unit is lost or invented.

No I/O and no clock. Contract terms (rates, schedules, shares) are user input and
fail with a typed `ValidationError`; a negative amount or unit count reaching this
module from the ledger is a programming error (`ValueError`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
)
from enum import StrEnum

from domain.errors import ValidationError
from domain.money import allocate, div_half_up, parse_decimal, shown

# Exact arithmetic: rates are parsed with at most 30 + 30 digits and amounts fit a
# BIGINT, so 120 digits hold every product; Inexact is trapped so nothing is rounded
# silently before the one named rounding.
EXACT = Context(prec=120, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Inexact])
HUNDRED = Decimal(100)


def check_non_negative(**values: int) -> None:
    """Ledger figures are whole minor units or units, never negative (a programming
    error if they are: refunds travel as clawbacks, not as negative sales)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int (got {value!r})")
        if value < 0:
            raise ValueError(f"{name} must not be negative (got {value})")


def check_percent(value: object, *, field: str = "rate", code: str = "INVALID_RATE") -> Decimal:
    """A percent between 0 and 100 inclusive, parsed strictly (no floats)."""
    percent = parse_decimal(value, field=field, what="a percentage")
    if not 0 <= percent <= HUNDRED:
        raise ValidationError(
            f"{field} must be between 0 and 100 (got {shown(value)})", field=field, code=code
        )
    return percent


def apply_percent(amount_minor: int, percent: Decimal) -> int:
    """amount x percent / 100, exact, rounded once half-up: THE royalty rounding.

    In integers (a percent is a finite decimal n x 10^e): the same result as the
    exact Decimal product rounded by `round_minor`, without a Decimal context per
    call (the royalty run applies a rate to every slice of every sale)."""
    sign, digits, exp = percent.as_tuple()
    if not isinstance(exp, int):
        raise ValueError(f"not a finite percent: {percent}")
    numerator = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
    if exp >= 0:
        return div_half_up(amount_minor * numerator * 10**exp, 100)
    return div_half_up(amount_minor * numerator, 100 * 10**-exp)


class TransactionType(StrEnum):
    SALE = "SALE"
    SUBSCRIPTION_READ = "SUBSCRIPTION_READ"
    USAGE = "USAGE"
    LICENSE = "LICENSE"
    ADJUSTMENT = "ADJUSTMENT"


# -- escalators ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EscalatorTier:
    """Units up to `up_to` (inclusive, cumulative over the contract's life, counted from
    zero) earn `rate` percent; None is the unbounded last tier. "10 % up to 5,000 units,
    then 12.5 %" is (EscalatorTier(5000, 10), EscalatorTier(None, 12.5)): unit 5,000
    earns 10 %, unit 5,001 earns 12.5 %."""

    up_to: int | None
    rate: Decimal


def _escalator_error(message: str, field: str) -> ValidationError:
    return ValidationError(message, field=field, code="INVALID_ESCALATORS")


@dataclass(frozen=True, slots=True)
class RateSchedule:
    """A contract's rate by cumulative units. Validated on construction: at least one
    tier, bounds positive and strictly increasing, only the last unbounded, rates
    0-100 %. A flat rate is `RateSchedule.flat(Decimal("70"))`."""

    tiers: tuple[EscalatorTier, ...]

    def __post_init__(self) -> None:
        if not self.tiers:
            raise _escalator_error("a rate schedule needs at least one tier", "escalators")
        previous, normalised = 0, []
        for index, tier in enumerate(self.tiers):
            rate = check_percent(tier.rate, field=f"escalators[{index}].rate")
            normalised.append(EscalatorTier(tier.up_to, rate))
            bound, where = tier.up_to, f"escalators[{index}].upTo"
            if (bound is None) != (index == len(self.tiers) - 1):
                raise _escalator_error("only the last tier is unbounded, and it must be", where)
            if bound is not None:
                if isinstance(bound, bool) or not isinstance(bound, int) or bound <= previous:
                    raise _escalator_error("bounds must be whole, rising unit counts", where)
                previous = bound
        object.__setattr__(self, "tiers", tuple(normalised))

    @classmethod
    def flat(cls, rate: Decimal) -> RateSchedule:
        return cls((EscalatorTier(None, rate),))

    def tier_of(self, unit: int) -> int:
        """Index of the tier the 1-based cumulative `unit` falls in."""
        for index, tier in enumerate(self.tiers):
            if tier.up_to is None or unit <= tier.up_to:
                return index
        raise AssertionError("unreachable: the last tier is unbounded")


@dataclass(frozen=True, slots=True)
class Slice:
    """The part of a sale earned in one escalator tier: `units` of it, `basis_minor`
    of its basis, at `rate` percent, earning `earned_minor` (rounded once)."""

    tier: int
    units: int
    basis_minor: int
    rate: Decimal
    earned_minor: int


def earn_units(
    units_before: int, units: int, amount_basis_minor: int, schedule: RateSchedule
) -> list[Slice]:
    """Earnings of a sale of `units` with one basis amount, the contract having already
    counted `units_before` units.

    A sale that crosses an escalator boundary is split at it (units_before=4,999,
    units=3 with a 5,000 boundary: 1 unit in tier 0, 2 in tier 1). The basis is shared
    between the slices in proportion to their units by largest remainder, so the slices'
    bases sum to the sale's exactly; each slice earns basis x rate, exact, rounded half-up
    once per slice (a slice is a statement line, and a line is rounded when produced).
    A batch with no units (a fee) earns in the tier the next unit would fall in.
    """
    check_non_negative(
        units_before=units_before, units=units, amount_basis_minor=amount_basis_minor
    )
    if len(schedule.tiers) == 1:  # a flat rate: one slice, nothing to share
        rate = schedule.tiers[0].rate
        return [Slice(0, units, amount_basis_minor, rate, apply_percent(amount_basis_minor, rate))]
    if units == 0:
        index = schedule.tier_of(units_before + 1)
        rate = schedule.tiers[index].rate
        return [Slice(index, 0, amount_basis_minor, rate, apply_percent(amount_basis_minor, rate))]
    parts: list[tuple[int, int]] = []  # (tier index, units in it)
    lower = 0
    first, last = units_before + 1, units_before + units
    for index, tier in enumerate(schedule.tiers):
        upper = tier.up_to if tier.up_to is not None else last
        overlap = min(upper, last) - max(lower + 1, first) + 1
        if overlap > 0:
            parts.append((index, overlap))
        if tier.up_to is None or tier.up_to >= last:
            break
        lower = tier.up_to
    bases = allocate(amount_basis_minor, [n for _, n in parts])
    slices = []
    for (index, n), basis in zip(parts, bases, strict=True):
        rate = schedule.tiers[index].rate
        slices.append(Slice(index, n, basis, rate, apply_percent(basis, rate)))
    return slices


# -- contract basis --------------------------------------------------------------------


class Basis(StrEnum):
    NET_RECEIPTS = "NET_RECEIPTS"
    LIST_PRICE = "LIST_PRICE"


@dataclass(frozen=True, slots=True)
class LineFigures:
    """An invoice line as royalties see it, all in its currency's minor units.

    `list_minor` is list price x quantity as invoiced, before discounts (it contains
    the tax when the price is tax-inclusive); `discount_minor` the line's share of
    discounts; `included_tax_minor` the tax contained in a tax-inclusive line (0 for an
    exclusive line, whose tax is added on top and is never in the basis);
    `refunded_minor` what was refunded, net of tax, before the line is earned (later
    refunds go through `claw_back`)."""

    list_minor: int
    discount_minor: int = 0
    included_tax_minor: int = 0
    refunded_minor: int = 0

    def __post_init__(self) -> None:
        check_non_negative(
            list_minor=self.list_minor,
            discount_minor=self.discount_minor,
            included_tax_minor=self.included_tax_minor,
            refunded_minor=self.refunded_minor,
        )
        if self.discount_minor > self.list_minor:
            raise ValueError("a discount cannot exceed the line")
        if self.included_tax_minor > self.paid_minor:
            raise ValueError("included tax cannot exceed what was paid")
        if self.refunded_minor > self.net_minor:
            raise ValueError("refunds cannot exceed the net amount paid")

    @property
    def paid_minor(self) -> int:
        """What the customer was charged for the line (tax included if it was in)."""
        return self.list_minor - self.discount_minor

    @property
    def net_minor(self) -> int:
        """Paid, without tax."""
        return self.paid_minor - self.included_tax_minor

    @property
    def kept_minor(self) -> int:
        """Net receipts: paid, without tax, after refunds. A later `claw_back` of this
        line takes `paid_minor=kept_minor`."""
        return self.net_minor - self.refunded_minor


def basis_amount(line: LineFigures, basis: Basis) -> int:
    """The amount a contract's rate applies to.

    NET_RECEIPTS: price after discounts, without tax, after refunds (`kept_minor`).
    LIST_PRICE: the list price, without tax, of the share of the line the customer
    kept: list x kept / paid, rounded half-up once. The tax of an inclusive line is
    taken out of the list price at the line's own proportion, and a refunded half of a
    line earns on half the list price. A line nobody paid for (100 % discount) earns
    nothing on either basis: royalties are paid out of revenue.
    """
    if basis is Basis.NET_RECEIPTS:
        return line.kept_minor
    if line.paid_minor == 0:
        return 0
    return div_half_up(line.list_minor * line.kept_minor, line.paid_minor)


# -- allocation with a documented tie-break -------------------------------------------


def _allocate_keyed(total: int, weights: Mapping[str, int | Decimal]) -> dict[str, int]:
    """Largest remainder over keyed weights. Ties in the remainder go to the larger
    weight, then to the smaller key (str order), whatever the mapping's order, so a
    split does not depend on the order rows came back from a query."""
    order = sorted(weights, key=lambda k: (-weights[k], k))
    parts = dict(zip(order, allocate(total, [weights[k] for k in order]), strict=True))
    return {k: parts[k] for k in sorted(parts)}


# -- contributor shares ----------------------------------------------------------------


def check_shares(shares: Mapping[str, object]) -> dict[str, Decimal]:
    """Contributor shares of a work: each a percent above 0 (a contributor with 0 % is
    not a contributor), together exactly 100 (not "about 100": 33.33 + 33.33 + 33.33
    is refused, so the author of the split decides who gets the last 0.01 %)."""
    if not shares:
        raise ValidationError(
            "a work needs at least one contributor", field="shares", code="SHARES_NOT_100"
        )
    parsed = {}
    for key, value in shares.items():
        share = check_percent(value, field=f"shares[{key}]", code="INVALID_SHARE")
        if share == 0:
            raise ValidationError(
                "a share must be above 0", field=f"shares[{key}]", code="INVALID_SHARE"
            )
        parsed[key] = share
    total = sum(parsed.values(), Decimal(0))
    if total != HUNDRED:
        raise ValidationError(
            f"contributor shares must sum to exactly 100 (they sum to {total})",
            field="shares",
            code="SHARES_NOT_100",
        )
    return parsed


def split_by_shares(amount_minor: int, shares: Mapping[str, object]) -> dict[str, int]:
    """`amount_minor` split between contributors by their shares, exactly (largest
    remainder, ties to the larger share then the smaller key). A negative amount (a
    clawback) splits symmetrically."""
    return _allocate_keyed(amount_minor, check_shares(shares))


# -- subscription pool -----------------------------------------------------------------


def pool_amount(collected_net_minor: int, pool_rate: Decimal) -> int:
    """The subscription pool of a period and currency: the subscription revenue
    actually collected (net of tax, discounts and refunds) x the tenant's pool rate
    percent, rounded half-up once. A period whose refunds exceed its collections has an
    empty pool: subscription refunds are not clawed back from works' reads."""
    rate = check_percent(pool_rate, field="poolRate")
    return apply_percent(max(collected_net_minor, 0), rate)


@dataclass(frozen=True, slots=True)
class PoolAllocation:
    """Each work's part of the pool (works with reads only) and what no work earned."""

    by_work: dict[str, int] = field(default_factory=dict)
    unallocated_minor: int = 0


def allocate_pool(pool_minor: int, reads_by_work: Mapping[str, int]) -> PoolAllocation:
    """The pool split between works pro rata to their reads, by largest remainder, so
    the parts sum to the pool exactly; remainder ties go to the work with more reads,
    then the smaller work id. With no reads at all nothing is allocated: the pool stays
    with the tenant and is returned as `unallocated_minor` (nobody earned it)."""
    check_non_negative(pool_minor=pool_minor)
    for work, reads in reads_by_work.items():
        check_non_negative(**{f"reads[{work}]": reads})
    read = {work: reads for work, reads in reads_by_work.items() if reads > 0}
    if not read:
        return PoolAllocation({}, pool_minor)
    return PoolAllocation(_allocate_keyed(pool_minor, read), 0)


# -- clawbacks -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClawbackSlice:
    """What a refund takes back from one original slice, at that slice's rate."""

    tier: int
    rate: Decimal
    basis_minor: int
    clawed_minor: int


@dataclass(frozen=True, slots=True)
class Clawback:
    """`refund_counted_minor` is the part of the refund that had not been refunded
    before (refunds beyond what was paid count for nothing)."""

    slices: tuple[ClawbackSlice, ...]
    refund_counted_minor: int
    clawed_minor: int


def claw_back(
    slices: Sequence[Slice], *, paid_minor: int, refunded_before_minor: int, refund_minor: int
) -> Clawback:
    """Earnings taken back by a refund of part of a sold line.

    The line earned `slices` when `paid_minor` (net receipts, `LineFigures.kept_minor`)
    had been paid. A refund claws back the refunded share of each slice's earnings, at
    the rate that slice earned then (escalators included; later sales never re-rate
    it). Per slice the CUMULATIVE clawback is earned x refunded so far / paid, rounded
    half-up, and this refund takes the increase: so successive partial refunds never
    drift, a full refund takes back exactly what was earned, and refunds beyond what
    was paid are capped (never more than was earned on those items).
    """
    check_non_negative(
        paid_minor=paid_minor,
        refunded_before_minor=refunded_before_minor,
        refund_minor=refund_minor,
    )
    before = min(refunded_before_minor, paid_minor)
    after = min(before + refund_minor, paid_minor)
    parts = []
    for s in slices:
        check_non_negative(earned_minor=s.earned_minor, basis_minor=s.basis_minor)
        if paid_minor == 0:
            parts.append(ClawbackSlice(s.tier, s.rate, 0, 0))
            continue
        clawed = div_half_up(s.earned_minor * after, paid_minor) - div_half_up(
            s.earned_minor * before, paid_minor
        )
        basis = div_half_up(s.basis_minor * after, paid_minor) - div_half_up(
            s.basis_minor * before, paid_minor
        )
        parts.append(ClawbackSlice(s.tier, s.rate, basis, clawed))
    return Clawback(tuple(parts), after - before, sum(p.clawed_minor for p in parts))
