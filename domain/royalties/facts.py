"""What a royalty period is made of, as plain values: the facts `sources.py` reads
from invoices, credit notes, reads and adjustments, and the run turns into earnings.

Ids are internal integer keys (the run never shows them); a sale is keyed by
(invoice line, work): a usage line grouped by work is one sale per work group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.royalties.earnings import LineFigures, TransactionType


@dataclass(frozen=True, slots=True)
class SaleFact:
    """A work-tagged invoice line paid in the period: SALE or LICENSE lines of one-off
    invoices and add-ons, USAGE lines' work groups. `figures.refunded_minor` holds the
    credit notes issued on it up to the period's end (net of tax)."""

    line_id: int
    work_id: int
    kind: TransactionType
    currency: str
    units: int
    figures: LineFigures
    paid_at: datetime


@dataclass(frozen=True, slots=True)
class ReturnFact:
    """A credit note issued in the period on a work line paid in an EARLIER period:
    `refund_minor` is its part for this line (and work), net of tax."""

    line_id: int
    work_id: int
    credit_note_id: int
    currency: str
    refund_minor: int
    issued_at: datetime


@dataclass(frozen=True, slots=True)
class AdjustmentFact:
    adjustment_id: int
    payee_id: int
    work_id: int | None
    currency: str
    amount_minor: int  # signed
    reason: str


@dataclass(frozen=True, slots=True)
class PeriodFacts:
    sales: tuple[SaleFact, ...] = ()
    returns: tuple[ReturnFact, ...] = ()
    # Subscription revenue collected in the period, net of tax, discounts and the
    # period's refunds, per currency (the pool is this x the tenant's pool rate).
    collected_by_currency: dict[str, int] = field(default_factory=dict)
    reads_by_work: dict[int, int] = field(default_factory=dict)
    adjustments: tuple[AdjustmentFact, ...] = ()
