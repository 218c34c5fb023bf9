"""Billing periods: pure calendar maths, no I/O and no clock reads.

Every boundary is computed from the anchor (`anchor + k * interval`), never from
the previous boundary, so month-end anchors clamp and come back:
Jan 31 → Feb 28 (29 in a leap year) → Mar 31 → Apr 30, as Stripe does.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime


def add_months(at: datetime, months: int) -> datetime:
    """`at` moved by whole months, the day clamped to the target month's length."""
    index = at.year * 12 + (at.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


@dataclass(frozen=True, slots=True)
class Period:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    def contains(self, at: datetime) -> bool:
        return self.start <= at < self.end


def boundary(anchor: datetime, interval_months: int, index: int) -> datetime:
    return add_months(anchor, index * interval_months)


def period_at(anchor: datetime, interval_months: int, index: int) -> Period:
    return Period(
        boundary(anchor, interval_months, index), boundary(anchor, interval_months, index + 1)
    )


def index_at(anchor: datetime, interval_months: int, at: datetime) -> int:
    """The index k of the period [anchor + k·i, anchor + (k+1)·i) holding `at` (k ≥ 0)."""
    if at < anchor:
        return 0
    months = (at.year - anchor.year) * 12 + (at.month - anchor.month)
    k = max(0, months // interval_months - 1)
    while boundary(anchor, interval_months, k + 1) <= at:
        k += 1
    return k
