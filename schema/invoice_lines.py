"""Invoice lines, tax amounts and previews: how an invoice's (or a draft's) content
is shown, shared by invoices, credit notes and previews."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import strawberry

from domain.invoicing.builder import shown_line
from domain.invoicing.i18n import line_label
from domain.money import bp_to_percent
from schema.billing_enums import LineKind
from schema.common import Money, money
from schema.usage_lines import UsageLineDetails, usage_details


def percent(bp: int) -> str:
    return str(bp_to_percent(bp)) if bp else "0"


@strawberry.type
class InvoiceLine:
    kind: LineKind
    description: str
    quantity: int
    unit_amount: Money
    amount: Money = strawberry.field(
        description="quantity times unit amount (negative for credits). A prorated line "
        "is quantity 1, the seat count in its description and its dates."
    )
    discount: Money
    tax_inclusive: bool
    tax_rate: str = strawberry.field(description='Percent as a decimal string ("20", "25.5").')
    period_start: datetime | None
    period_end: datetime | None
    usage: UsageLineDetails | None = strawberry.field(
        description="What a usage line bills (quantity, unit price, tiers, groups, or the "
        "usage term); null on other lines."
    )
    work_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The work (wrk_…) this line sells, for royalties; null on other lines.",
    )


def line_view(row: Any, currency: str, locale: str, rate_bp: int | None = None) -> InvoiceLine:
    """A stored line or a draft line, as the API shows it (multiplying out)."""
    description, quantity, unit = shown_line(
        row.description, row.quantity, row.unit_amount_minor, row.amount_minor
    )
    return InvoiceLine(
        kind=LineKind(row.kind),
        description=line_label(row.kind, description, locale),
        quantity=quantity,
        unit_amount=money(unit, currency),
        amount=money(row.amount_minor, currency),
        discount=money(getattr(row, "discount_minor", 0), currency),
        tax_inclusive=row.tax_inclusive,
        tax_rate=percent(rate_bp if rate_bp is not None else row.tax_rate_bp),
        period_start=row.period_start,
        period_end=row.period_end,
        usage=usage_details(getattr(row, "details", None), currency),
        work_id=getattr(row, "work_public_id", None),
    )


@strawberry.type
class TaxAmount:
    name: str
    rate: str = strawberry.field(description='Percent as a decimal string ("20").')
    country: str | None
    inclusive: bool = strawberry.field(description="Included in the line prices, not added.")
    taxable: Money
    amount: Money


def tax_views(breakdown: list[dict[str, Any]], currency: str) -> list[TaxAmount]:
    return [
        TaxAmount(
            name=g.get("name") or "",
            rate=percent(g["rate_bp"]),
            country=g.get("country"),
            inclusive=g["inclusive"],
            taxable=money(g["taxable_minor"], currency),
            amount=money(g["tax_minor"], currency),
        )
        for g in breakdown
    ]


@strawberry.type(description="Lines and totals an operation would produce; nothing is stored.")
class InvoicePreview:
    currency: str
    lines: list[InvoiceLine]
    subtotal: Money
    discount: Money
    taxes: list[TaxAmount]
    tax: Money
    total: Money
    reverse_charge: bool
    period_start: datetime | None = None
    period_end: datetime | None = None


def preview_of(draft: Any) -> InvoicePreview:
    """Worded in the customer's language, like the invoice it previews."""
    locale = draft.locale
    currency = draft.currency
    lines = [
        line_view(_DraftRow(line, d), currency, locale, draft.tax.rate_bp)
        for line, d in zip(draft.lines, draft.totals.line_discounts, strict=True)
    ]
    periods = [line for line in draft.lines if line.kind == "plan"]
    return InvoicePreview(
        currency=currency,
        lines=lines,
        subtotal=money(draft.totals.subtotal_minor, currency),
        discount=money(draft.totals.discount_minor, currency),
        taxes=tax_views(draft.tax_breakdown, currency),
        tax=money(draft.totals.tax_minor, currency),
        total=money(draft.totals.total_minor, currency),
        reverse_charge=draft.tax.reverse_charge,
        period_start=periods[0].period_start if periods else None,
        period_end=periods[0].period_end if periods else None,
    )


@dataclass
class _DraftRow:
    line: Any
    discount_minor: int

    def __getattr__(self, name: str) -> Any:
        return getattr(self.line, name)
