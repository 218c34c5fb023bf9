"""Bounds on billing inputs: the instants billing does calendar arithmetic on, and
the amount ceiling of a line and of an invoice.

A date such as 9999-12-31T23:59:59-12:00 parses, but moving it to UTC or adding a
month to it overflows; an amount such as 3 x 9·10^18 fits no BIGINT. Both are
refused at the edge with a ValidationError naming the field, never left to fail
deep inside a billing run.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from domain.errors import ValidationError
from domain.money import MAX_AMOUNT_MINOR

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


class DateOutOfRange(ValidationError):
    code = "DATE_OUT_OF_RANGE"


class AmountTooLarge(ValidationError):
    code = "AMOUNT_TOO_LARGE"


def instant(at: datetime, *, field: str) -> datetime:
    """`at` if it lies in [1970-01-01, 2200-01-01) UTC, else DateOutOfRange. A value
    without a time zone is read as UTC (and returned with it, so it compares)."""
    try:
        utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (OverflowError, ValueError):
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise DateOutOfRange(
            f"{field} must lie between {EARLIEST.date()} and {LATEST.date()} (UTC)", field=field
        )
    return at if at.tzinfo is not None else utc


def optional_instant(at: datetime | None, *, field: str) -> datetime | None:
    return None if at is None else instant(at, field=field)


def amount(minor: int, *, field: str, what: str = "amount") -> int:
    """`minor` unchanged if its size is within MAX_AMOUNT_MINOR, else AmountTooLarge."""
    if abs(minor) > MAX_AMOUNT_MINOR:
        raise AmountTooLarge(
            f"{what} is above the ceiling of {MAX_AMOUNT_MINOR} minor units", field=field
        )
    return minor


def total(amounts: Iterable[int], *, field: str, what: str = "the total per period") -> int:
    """The sum of line amounts, checked line by line and as a whole."""
    return amount(sum(amount(a, field=field, what=what) for a in amounts), field=field, what=what)
