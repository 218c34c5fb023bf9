"""Invoice drafts: lines in, lines + totals out. Pure, so the billing run, the
upcoming-invoice preview, change previews and tests all share one computation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.invoicing.tax.rules import TaxDecision
from domain.invoicing.totals import DiscountInput, LineInput, Totals, compute_totals


@dataclass(frozen=True, slots=True)
class DraftLine:
    kind: str  # plan | add_on | proration_credit | proration_charge | one_off | usage | credit
    description: str
    quantity: int
    unit_amount_minor: int
    amount_minor: int
    tax_inclusive: bool = False
    discountable: bool = True
    period_start: datetime | None = None
    period_end: datetime | None = None


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
