"""Usage pricing: what a metered quantity costs under each charge model (pure).

The money rule (docs/ARCHITECTURE.md, "Money"; DESIGN.md, Conventions 4): charge
terms are MAJOR units as Decimal ("0.0001" EUR per token) and quantities are Decimal
(GB can be fractional). A line is computed exactly, and becomes integer minor units
ONCE, when the line is produced, through `to_minor`: the exact amount is scaled to
the currency's ISO 4217 exponent and rounded half-up by `money.round_minor`.
Nothing is rounded per tier, per package or per event, so a line never depends on
how its quantity was split; tier parts are kept exact and only their sum is rounded.

No I/O and no clock. Inputs are validated where users send them (charge_terms.py);
a negative quantity or price reaching this module is a programming error
(ValueError), never a refund in disguise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from domain.money import exponent, round_minor

# The arithmetic context of usage maths. 200 significant digits hold any product of
# validated inputs (parse_decimal takes at most 30 integer and 30 fraction digits,
# charge terms at most 12 decimals), and Inexact is trapped: an amount that would not
# fit is an error, never a silent rounding before the one rounding of a line.
EXACT = Context(
    prec=200,
    rounding=ROUND_HALF_UP,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)

ZERO = Decimal(0)


def to_minor(amount_major: Decimal, currency: str) -> int:
    """The one rounding of a usage line: exact major units → minor units, half-up
    (0.005 EUR → 1 cent, 0.5 JPY → 1 yen, 0.0005 KWD → 1 fils)."""
    with localcontext(EXACT):
        scaled = amount_major.scaleb(exponent(currency))  # exact: only the exponent moves
    return round_minor(scaled)


def _non_negative(**values: Decimal | int | None) -> None:
    for name, value in values.items():
        if value is not None and value < 0:
            raise ValueError(f"{name} must not be negative (got {value})")


@dataclass(frozen=True, slots=True)
class Tier:
    """One tier of graduated or volume pricing. `up_to` is the inclusive upper bound
    in units, counted from zero (Lago/Stripe style: tiers up to 1000 and up to 5000
    put the first 1000 units in the first tier); None is the unbounded last tier."""

    up_to: Decimal | None
    unit_price: Decimal
    flat_fee: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class TierPart:
    """What one tier contributed to a line, exact (major units), for the invoice
    breakdown: `units` in (from_units, to_units] at `unit_price`, plus `flat_fee`."""

    index: int
    from_units: Decimal
    to_units: Decimal | None
    units: Decimal
    unit_price: Decimal
    flat_fee: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Priced:
    """A priced quantity before rounding. `units` is the quantity billed (after free
    units; for percentage, the amount the rate applies to); `amount` is exact major
    units; `unit_price` is the price shown per unit when one price applies to every
    billed unit (per unit, volume's reached tier), None otherwise."""

    units: Decimal
    amount: Decimal
    unit_price: Decimal | None
    parts: tuple[TierPart, ...] = ()

    def minor(self, currency: str) -> int:
        """The line amount in minor units: the one half-up rounding (`to_minor`)."""
        return to_minor(self.amount, currency)


def check_tiers(tiers: Sequence[Tier]) -> None:
    """The shape both tiered models rely on: at least one tier, bounds positive and
    strictly increasing, only the last unbounded. charge_terms.py reports the same
    rules to users with fields; here a breach is a programming error."""
    if not tiers:
        raise ValueError("at least one tier is needed")
    previous = ZERO
    for index, tier in enumerate(tiers):
        _non_negative(unit_price=tier.unit_price, flat_fee=tier.flat_fee)
        last = index == len(tiers) - 1
        if (tier.up_to is None) != last:
            raise ValueError("only the last tier is unbounded, and it must be")
        if tier.up_to is not None:
            if tier.up_to <= previous:
                raise ValueError("tier bounds must be positive and strictly increasing")
            previous = tier.up_to


def per_unit(units: Decimal, unit_price: Decimal, free_units: Decimal | int = 0) -> Priced:
    """Every unit beyond the free ones at one price."""
    _non_negative(units=units, unit_price=unit_price, free_units=free_units)
    with localcontext(EXACT):
        billed = max(ZERO, units - free_units)
        return Priced(billed, billed * unit_price, unit_price)


def started_packages(billed_units: Decimal, package_size: int) -> int:
    """Blocks of `package_size` needed to hold the units: a started block is a whole
    block (101 units in packages of 100 → 2). Exact for fractional units."""
    if package_size < 1:
        raise ValueError("package_size must be at least 1")
    _non_negative(billed_units=billed_units)
    with localcontext(EXACT):
        whole, rest = divmod(billed_units, Decimal(package_size))
    return int(whole) + (1 if rest else 0)


def package(
    units: Decimal, package_size: int, package_price: Decimal, free_units: Decimal | int = 0
) -> Priced:
    """Every started package of `package_size` units after the free units, at the
    package price. No units, no package (0 → 0)."""
    _non_negative(units=units, package_price=package_price, free_units=free_units)
    with localcontext(EXACT):
        billed = max(ZERO, units - free_units)
        return Priced(billed, started_packages(billed, package_size) * package_price, None)


def graduated(units: Decimal, tiers: Sequence[Tier]) -> Priced:
    """Each tier's units at that tier's price, plus the flat fee of every tier
    entered. A tier is entered when any positive quantity falls in it, so 0 units
    enter no tier and cost 0, flat fees included (as Stripe and Lago bill it: a flat
    fee is the price of starting to use a tier, not of being subscribed)."""
    _non_negative(units=units)
    check_tiers(tiers)
    parts: list[TierPart] = []
    lower = ZERO
    with localcontext(EXACT):
        for index, tier in enumerate(tiers):
            if units <= lower:
                break
            upper = units if tier.up_to is None else min(units, tier.up_to)
            in_tier = upper - lower
            amount = in_tier * tier.unit_price + tier.flat_fee
            parts.append(
                TierPart(index, lower, tier.up_to, in_tier, tier.unit_price, tier.flat_fee, amount)
            )
            lower = upper
        total = sum((part.amount for part in parts), ZERO)
    return Priced(units, total, None, tuple(parts))


def volume(units: Decimal, tiers: Sequence[Tier]) -> Priced:
    """All units at the price of the tier the total reaches, plus that tier's flat
    fee. A total exactly on a bound stays in that tier (bounds are inclusive). 0 units
    reach no tier and cost 0, with no flat fee, as in `graduated`: nothing was used."""
    _non_negative(units=units)
    check_tiers(tiers)
    if units == 0:
        return Priced(units, ZERO, None)
    lower = ZERO
    with localcontext(EXACT):
        for index, tier in enumerate(tiers):
            if tier.up_to is None or units <= tier.up_to:
                amount = units * tier.unit_price + tier.flat_fee
                part = TierPart(
                    index, lower, tier.up_to, units, tier.unit_price, tier.flat_fee, amount
                )
                return Priced(units, amount, tier.unit_price, (part,))
            lower = tier.up_to
    raise AssertionError("unreachable: check_tiers guarantees an unbounded last tier")


def percentage_fee(
    amount: Decimal,
    rate_percent: Decimal,
    fixed_fee: Decimal | int = 0,
    min_fee: Decimal | None = None,
    max_fee: Decimal | None = None,
) -> Decimal:
    """The fee of ONE event (a payment, a transaction): the rate of its amount plus the
    fixed fee, clamped to [min_fee, max_fee]. Min and max apply per event, which is
    why such fees are computed as events land and summed (`fee_sum` in charge_terms)."""
    _non_negative(
        amount=amount,
        rate_percent=rate_percent,
        fixed_fee=fixed_fee,
        min_fee=min_fee,
        max_fee=max_fee,
    )
    if min_fee is not None and max_fee is not None and min_fee > max_fee:
        raise ValueError("min_fee must not be above max_fee")
    with localcontext(EXACT):
        fee = amount * rate_percent.scaleb(-2) + fixed_fee
    if min_fee is not None and fee < min_fee:
        fee = min_fee
    if max_fee is not None and fee > max_fee:
        fee = max_fee
    return fee


def percentage(
    total_amount: Decimal, events: int, rate_percent: Decimal, fixed_fee: Decimal | int = 0
) -> Priced:
    """The period's fee when no per-event min/max applies: the rate is linear, so the
    rate of the summed amounts plus one fixed fee per event equals the sum of the
    per-event fees, and the aggregate and the event count suffice."""
    _non_negative(
        total_amount=total_amount, events=events, rate_percent=rate_percent, fixed_fee=fixed_fee
    )
    with localcontext(EXACT):
        fee = total_amount * rate_percent.scaleb(-2) + events * fixed_fee
    return Priced(total_amount, fee, None)


def minimum_commitment_true_up(usage_minor: int, minimum_minor: int) -> int:
    """The true-up line when usage stays below the committed minimum: the shortfall,
    never negative (usage above the commitment is simply billed)."""
    _non_negative(usage_minor=usage_minor, minimum_minor=minimum_minor)
    return max(0, minimum_minor - usage_minor)


def volume_discount_minor(
    total_minor: int, tiers: Sequence[tuple[int, Decimal]]
) -> tuple[int, Decimal]:
    """A spend discount, volume style: the highest threshold the usage total strictly
    exceeds gives the percent, applied to the WHOLE total ("5 % above 1,000 EUR, 10 %
    above 5,000 EUR": 6,000 EUR → 600 EUR off). Returns (discount in minor units,
    rounded half-up once, percent); (0, 0) when no threshold is exceeded."""
    _non_negative(total_minor=total_minor)
    reached = [(threshold, percent) for threshold, percent in tiers if total_minor > threshold]
    if not reached:
        return 0, ZERO
    _, percent = max(reached, key=lambda tier: tier[0])
    if not 0 <= percent <= 100:
        raise ValueError("a discount percent lies in [0, 100]")
    with localcontext(EXACT):
        exact = Decimal(total_minor) * percent.scaleb(-2)
    return round_minor(exact), percent
