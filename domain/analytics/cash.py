"""Cash and receivables (issue 17's foundation): what was invoiced, collected and
refunded per interval and currency, the payment success rate, and what is still due
by days overdue. Read-only over invoices, payments and refunds.

Choices, as ChartMogul's and Stripe's reports make them:
- invoiced: invoices by the time they were finalized (their total, tax included),
  voided ones left out; collected: payments by the time they succeeded; refunded:
  succeeded refunds by the time they were asked for; net = collected - refunded.
- the success rate is succeeded / (succeeded + failed) payment attempts created in
  the interval (pending and canceled ones are neither).
- receivables: open invoices' amount due at an instant, by days overdue.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from db.invoice_models import Invoice
from db.payment_models import Payment, Refund
from domain.analytics.mrr import aging
from domain.errors import ValidationError
from domain.money import normalise_currency
from domain.periods import add_months
from domain.tenancy.access import Permission, Principal

MAX_POINTS = 1000


class Interval(StrEnum):
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"


def boundaries(start: datetime, end: datetime, interval: Interval) -> list[datetime]:
    """[start, start + 1 interval, ..., end]: the last interval may be shorter. Months
    keep the start's day (clamped, as billing periods do)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("give times with a time zone", field="from")
    if end <= start:
        raise ValidationError("to must be after from", field="to")
    out, k = [start], 1
    while out[-1] < end:
        if interval is Interval.MONTH:
            nxt = add_months(start, k)
        else:
            nxt = start + timedelta(days=k * (7 if interval is Interval.WEEK else 1))
        out.append(min(nxt, end))
        k += 1
        if len(out) > MAX_POINTS + 1:
            raise ValidationError(f"at most {MAX_POINTS} points", field="interval")
    return out


@dataclass(frozen=True, slots=True)
class CashPoint:
    start: datetime
    end: datetime
    currency: str
    invoiced_minor: int
    collected_minor: int
    refunded_minor: int
    payments_succeeded: int
    payments_failed: int
    dunning_started: int = 0  # invoices whose first attempt failed in the interval
    dunning_recovered: int = 0  # of those, paid since

    @property
    def net_minor(self) -> int:
        return self.collected_minor - self.refunded_minor

    @property
    def success_rate(self) -> Decimal | None:
        tried = self.payments_succeeded + self.payments_failed
        if tried == 0:
            return None
        return (Decimal(self.payments_succeeded) / tried).quantize(Decimal("0.0001"))

    @property
    def recovery_rate(self) -> Decimal | None:
        """Dunning recovery: invoices paid after a failed first attempt / invoices
        whose first attempt failed, by the interval the failure fell in."""
        if self.dunning_started == 0:
            return None
        return (Decimal(self.dunning_recovered) / self.dunning_started).quantize(Decimal("0.0001"))


def _bucket(bounds: Sequence[datetime], at: datetime | None) -> int | None:
    if at is None:
        return None
    at = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    if not bounds[0] <= at < bounds[-1]:
        return None
    return bisect.bisect_right(bounds, at) - 1


async def cash_series(
    principal: Principal, *, start: datetime, end: datetime, interval: Interval, currency: str
) -> list[CashPoint]:
    """Per interval of [start, end): invoiced, collected, refunded and attempts in
    `currency` (never summed across currencies)."""
    principal.require(Permission.ANALYTICS_READ)
    bounds = boundaries(start, end, interval)
    n = len(bounds) - 1
    sums = [[0, 0, 0, 0, 0, 0, 0] for _ in range(n)]
    tenant = principal.tenant_id
    invoiced = (
        await Invoice.filter(
            tenant_id=tenant, currency=currency, finalized_at__gte=start, finalized_at__lt=end
        )
        .exclude(status="void")
        .values_list("finalized_at", "total_minor")
    )
    for at, total in invoiced:
        if (i := _bucket(bounds, at)) is not None:
            sums[i][0] += total
    paid = await Payment.filter(
        tenant_id=tenant,
        currency=currency,
        status="succeeded",
        succeeded_at__gte=start,
        succeeded_at__lt=end,
    ).values_list("succeeded_at", "amount_minor")
    for at, amount in paid:
        if (i := _bucket(bounds, at)) is not None:
            sums[i][1] += amount
    refunds = await Refund.filter(
        tenant_id=tenant,
        currency=currency,
        status="succeeded",
        created_at__gte=start,
        created_at__lt=end,
    ).values_list("created_at", "amount_minor")
    for at, amount in refunds:
        if (i := _bucket(bounds, at)) is not None:
            sums[i][2] += amount
    attempts = await Payment.filter(
        tenant_id=tenant,
        currency=currency,
        status__in=("succeeded", "failed"),
        created_at__gte=start,
        created_at__lt=end,
    ).values_list("created_at", "status")
    for at, status in attempts:
        if (i := _bucket(bounds, at)) is not None:
            sums[i][3 if status == "succeeded" else 4] += 1
    failed_first = await Invoice.filter(
        tenant_id=tenant, currency=currency, first_failed_at__gte=start, first_failed_at__lt=end
    ).values_list("first_failed_at", "status")
    for at, status in failed_first:
        if (i := _bucket(bounds, at)) is not None:
            sums[i][5] += 1
            sums[i][6] += status == "paid"
    return [CashPoint(bounds[i], bounds[i + 1], currency, *sums[i]) for i in range(n)]


async def receivables(principal: Principal, *, at: datetime, currency: str) -> dict[str, int]:
    """Open invoices' amounts due at `at` by days overdue (analytics.mrr.aging)."""
    principal.require(Permission.ANALYTICS_READ)
    rows = await Invoice.filter(
        tenant_id=principal.tenant_id,
        currency=currency,
        status="open",
        finalized_at__lte=at,
        amount_due_minor__gt=0,
    ).values_list("due_at", "amount_due_minor")
    return aging(rows, at)


async def currencies(principal: Principal) -> list[str]:
    """The currencies the tenant has invoiced or been paid in, alphabetically."""
    principal.require(Permission.ANALYTICS_READ)
    tenant = principal.tenant_id
    found = set(
        await Invoice.filter(tenant_id=tenant).distinct().values_list("currency", flat=True)
    )
    found |= set(
        await Payment.filter(tenant_id=tenant).distinct().values_list("currency", flat=True)
    )
    return sorted(found)


async def cash_by_currency(
    principal: Principal,
    *,
    start: datetime,
    end: datetime,
    interval: Interval,
    currency: str | None = None,
) -> list[CashPoint]:
    """`cash_series` for one currency, or for each the tenant uses (None)."""
    chosen = [normalise_currency(currency)] if currency else await currencies(principal)
    out: list[CashPoint] = []
    for cur in chosen:
        out += await cash_series(principal, start=start, end=end, interval=interval, currency=cur)
    return out


async def receivables_by_currency(
    principal: Principal, *, at: datetime, currency: str | None = None
) -> list[tuple[str, dict[str, int]]]:
    """`receivables` for one currency, or for each the tenant uses (None)."""
    chosen = [normalise_currency(currency)] if currency else await currencies(principal)
    return [(cur, await receivables(principal, at=at, currency=cur)) for cur in chosen]
