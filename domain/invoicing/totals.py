"""Invoice totals: pure maths over integer minor units.

One discount is spread over the discountable lines by largest remainder (a percent
discount over charges and, negatively, over credits, each rounded once); tax is
computed once per (rate, inclusive) group on the group's discounted amount and
rounded half-up once (docs/ARCHITECTURE.md, Money), then shown per rate.

    total = subtotal - discount + exclusive tax

Inclusive lines already contain their tax, so it is extracted, not added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.money import allocate, div_half_up

BP = 10_000  # basis points of a percent: 20 % = 2000


@dataclass(frozen=True, slots=True)
class LineInput:
    amount_minor: int
    tax_inclusive: bool = False
    discountable: bool = True


@dataclass(frozen=True, slots=True)
class DiscountInput:
    percent_bp: int | None = None
    amount_minor: int | None = None


@dataclass(frozen=True, slots=True)
class TaxGroup:
    rate_bp: int
    inclusive: bool
    taxable_minor: int  # discounted amount; for inclusive groups it contains the tax
    tax_minor: int


@dataclass(frozen=True, slots=True)
class Totals:
    line_discounts: tuple[int, ...]
    subtotal_minor: int
    discount_minor: int
    tax_groups: tuple[TaxGroup, ...]
    tax_minor: int
    exclusive_tax_minor: int
    total_minor: int


def discount_amount(base_minor: int, discount: DiscountInput | None) -> int:
    if discount is None or base_minor <= 0:
        return 0
    if discount.percent_bp is not None:
        return min(base_minor, div_half_up(base_minor * discount.percent_bp, BP))
    return min(base_minor, discount.amount_minor or 0)


def tax_of(taxable_minor: int, rate_bp: int, *, inclusive: bool) -> int:
    if rate_bp == 0:
        return 0
    if inclusive:
        return taxable_minor - div_half_up(taxable_minor * BP, BP + rate_bp)
    return div_half_up(taxable_minor * rate_bp, BP)


def _spread(
    line_discounts: list[int], lines: Sequence[LineInput], indexes: list[int], total: int
) -> None:
    if total:
        weights = [abs(lines[i].amount_minor) for i in indexes]
        for i, share in zip(indexes, allocate(total, weights), strict=True):
            line_discounts[i] = share


def compute_totals(
    lines: Sequence[LineInput], discount: DiscountInput | None, rate_bp: int
) -> Totals:
    line_discounts = [0] * len(lines)
    charges = [i for i, line in enumerate(lines) if line.discountable and line.amount_minor > 0]
    base = sum(lines[i].amount_minor for i in charges)
    _spread(line_discounts, lines, charges, discount_amount(base, discount))
    if discount is not None and discount.percent_bp is not None:
        # A percent coupon also reduces a credit for time it discounted (a proration's
        # unused time), as Stripe does: the credit gives back what was paid, not more.
        # A fixed amount is taken off what is charged only.
        credits = [i for i, line in enumerate(lines) if line.discountable and line.amount_minor < 0]
        credited = -sum(lines[i].amount_minor for i in credits)
        _spread(line_discounts, lines, credits, -discount_amount(credited, discount))
    discount_total = sum(line_discounts)
    taxable: dict[bool, int] = {}
    for line, line_discount in zip(lines, line_discounts, strict=True):
        taxable[line.tax_inclusive] = (
            taxable.get(line.tax_inclusive, 0) + line.amount_minor - line_discount
        )
    groups = tuple(
        TaxGroup(rate_bp, inclusive, amount, tax_of(amount, rate_bp, inclusive=inclusive))
        for inclusive, amount in sorted(taxable.items())
    )
    subtotal = sum(line.amount_minor for line in lines)
    exclusive_tax = sum(g.tax_minor for g in groups if not g.inclusive)
    return Totals(
        line_discounts=tuple(line_discounts),
        subtotal_minor=subtotal,
        discount_minor=discount_total,
        tax_groups=groups,
        tax_minor=sum(g.tax_minor for g in groups),
        exclusive_tax_minor=exclusive_tax,
        total_minor=subtotal - discount_total + exclusive_tax,
    )
