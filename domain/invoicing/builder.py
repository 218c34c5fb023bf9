"""Invoice drafts: lines in, lines + totals out. Pure, so the billing run, the
upcoming-invoice preview, change previews and tests all share one computation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.invoicing.tax.rules import TaxDecision
from domain.invoicing.totals import DiscountInput, LineInput, Totals, compute_totals


@dataclass(frozen=True, slots=True)
class DraftLine:
    # plan | add_on | proration_credit | proration_charge | one_off | usage |
    # usage_adjustment | usage_minimum | usage_discount | sla_credit | credit
    kind: str
    description: str
    quantity: int
    unit_amount_minor: int
    amount_minor: int
    tax_inclusive: bool = False
    discountable: bool = True
    period_start: datetime | None = None
    period_end: datetime | None = None
    # Usage lines: charge, metric, exact quantity and unit price, tier breakdown.
    details: dict[str, Any] | None = None
    # Royalties (issue 16): the work (internal id) the line sells and how, SALE or
    # LICENSE; a sale's author is paid from it once the invoice is paid.
    work_id: int | None = None
    work_use: str | None = None


TIMES = "\N{MULTIPLICATION SIGN}"


def seats_label(name: str, quantity: int) -> str:
    """Three seats of Seat as "3", the multiplication sign and "Seat", as Stripe words
    proration lines."""
    return name if quantity == 1 else f"{quantity} {TIMES} {name}"


def prorated_line(
    kind: str,
    name: str,
    quantity: int,
    amount_minor: int,
    tax_inclusive: bool,
    period_start: datetime | None,
    period_end: datetime | None,
) -> DraftLine:
    """A line for part of a period. A prorated amount rarely divides by the seats
    (20.00 for 3 seats), so the line is quantity 1 at its amount with the seats in
    the description (`seats_label`) and the part of the period in its dates: every
    line then shows quantity times unit price = amount, on the API and the PDF."""
    return DraftLine(
        kind,
        seats_label(name, quantity),
        1,
        amount_minor,
        amount_minor,
        tax_inclusive,
        True,
        period_start,
        period_end,
    )


def shown_line(description: str, quantity: int, unit_minor: int, amount_minor: int) -> tuple:
    """(description, quantity, unit) as a stored line is shown: as stored when it
    multiplies out, else folded like `prorated_line` (lines stored before it)."""
    if quantity * unit_minor == amount_minor:
        return description, quantity, unit_minor
    return seats_label(description, quantity), 1, amount_minor


@dataclass(frozen=True, slots=True)
class Draft:
    currency: str
    lines: tuple[DraftLine, ...]
    totals: Totals
    tax: TaxDecision
    coupon_code: str | None = None
    locale: str = "en"  # the customer's: the language the invoice will be in

    @property
    def tax_breakdown(self) -> list[dict[str, object]]:
        return [
            {
                "rate_bp": g.rate_bp,
                "inclusive": g.inclusive,
                "taxable_minor": g.taxable_minor,
                "tax_minor": g.tax_minor,
                "name": self.tax.name,
                "country": self.tax.country,
                "region": self.tax.region,
            }
            for g in self.totals.tax_groups
        ]


def build_draft(
    currency: str,
    lines: Sequence[DraftLine],
    tax: TaxDecision,
    discount: DiscountInput | None = None,
    coupon_code: str | None = None,
    locale: str = "en",
) -> Draft:
    totals = compute_totals(
        [LineInput(line.amount_minor, line.tax_inclusive, line.discountable) for line in lines],
        discount,
        tax.rate_bp,
    )
    code = coupon_code if totals.discount_minor else None
    return Draft(currency, tuple(lines), totals, tax, code, locale)
