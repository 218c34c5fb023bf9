"""SLA credits (pure): measured uptime → the credit owed on a period's usage.

Uptime is 100 x (1 - downtime / period), where downtime is the union of the incident
intervals clipped to the period [start, end): two overlapping incidents are one outage,
not two, and an incident that began before the period only counts from its start.
The percent is floored to 3 decimals: a customer is never shown more uptime than they
had, so a credit is never lost to rounding (99.8999 % is "99.899", below 99.9).

Credits follow the usual tiered SLA table ("below 99.9 % → 10 %, below 99 % → 25 %,
below 95 % → 50 %"): the largest credit among the thresholds the uptime falls below,
applied to the period's usage and rounded half-up once, like every money line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from domain.errors import ValidationError
from domain.money import round_minor
from domain.usage.charge_terms import decimal_at, decimal_text, object_fields
from domain.usage.pricing import EXACT

MAX_SLA_TIERS = 20
_MICROSECOND = timedelta(microseconds=1)


def _utc(at: datetime) -> datetime:
    # Two aware datetimes sharing one tzinfo subtract by wall clock in Python, so an
    # outage across a DST change would be an hour off: measure everything in UTC.
    return at if at.tzinfo is None else at.astimezone(UTC)


def uptime_percent(
    start: datetime, end: datetime, incidents: Sequence[tuple[datetime, datetime]]
) -> Decimal:
    """The uptime of [start, end) in percent, floored to 3 decimals ("99.900")."""
    start, end = _utc(start), _utc(end)
    if end <= start:
        raise ValueError("the period must end after it starts")
    clipped: list[tuple[datetime, datetime]] = []
    for began, ended in incidents:
        began, ended = _utc(began), _utc(ended)
        if ended < began:
            raise ValueError("an incident must end after it begins")
        began, ended = max(began, start), min(ended, end)
        if began < ended:
            clipped.append((began, ended))
    clipped.sort()
    downtime = timedelta(0)
    current: tuple[datetime, datetime] | None = None
    for began, ended in clipped:
        if current is not None and began <= current[1]:  # overlapping or touching: merge
            current = (current[0], max(current[1], ended))
            continue
        if current is not None:
            downtime += current[1] - current[0]
        current = (began, ended)
    if current is not None:
        downtime += current[1] - current[0]
    period = (end - start) // _MICROSECOND
    up = period - downtime // _MICROSECOND
    thousandths = 100_000 * up // period  # integer floor: exact, never rounds up
    return Decimal(thousandths).scaleb(-3)


@dataclass(frozen=True, slots=True)
class SlaTier:
    below: Decimal  # uptime percent; the tier applies when uptime is strictly below it
    credit_percent: Decimal  # of the period's usage


def sla_credit_percent(uptime: Decimal, tiers: Sequence[SlaTier]) -> Decimal:
    """The largest credit among the tiers whose threshold the uptime is strictly
    below (exactly 99.9 % meets a 99.9 % SLA); 0 when every threshold is met."""
    return max((tier.credit_percent for tier in tiers if uptime < tier.below), default=Decimal(0))


def sla_credit_minor(usage_minor: int, percent: Decimal) -> int:
    """The credit in minor units: `percent` of the usage, half-up once, and never more
    than the usage itself (a credit refunds a bill, it does not pay the customer)."""
    if usage_minor < 0 or percent < 0:
        raise ValueError("usage and percent must not be negative")
    with localcontext(EXACT):
        exact = Decimal(usage_minor) * percent.scaleb(-2)
    return min(usage_minor, round_minor(exact))


def _percent(value: object, *, field: str, code: str, what: str) -> Decimal:
    number = decimal_at(value, field=field, allow_negative=True, what="a percentage")
    if not 0 < number <= 100:
        raise ValidationError(f"{what} must be above 0 and at most 100", field=field, code=code)
    return number


def parse_sla_tiers(data: list[Any], *, field: str = "slaTiers") -> tuple[SlaTier, ...]:
    """SLA tiers from JSON, e.g. [{"below": "99.9", "creditPercent": "10"}]; an empty
    list is an SLA without credits."""
    if not isinstance(data, list):
        raise ValidationError(f"{field} must be a list", field=field, code="INVALID_SLA_TIERS")
    if len(data) > MAX_SLA_TIERS:
        raise ValidationError(
            f"at most {MAX_SLA_TIERS} SLA tiers", field=field, code="INVALID_SLA_TIERS"
        )
    tiers: list[SlaTier] = []
    for index, item in enumerate(data):
        at = f"{field}[{index}]"
        values = object_fields(
            item, required=("below", "creditPercent"), field=at, code="INVALID_SLA_TIERS"
        )
        below = _percent(
            values["below"], field=f"{at}.below", code="INVALID_SLA_THRESHOLD", what="below"
        )
        if any(tier.below == below for tier in tiers):
            # Two credits for one threshold: which one the customer gets would be a guess.
            raise ValidationError(
                f"two tiers below {decimal_text(below)}",
                field=f"{at}.below",
                code="DUPLICATE_SLA_THRESHOLD",
            )
        credit = _percent(
            values["creditPercent"],
            field=f"{at}.creditPercent",
            code="INVALID_CREDIT_PERCENT",
            what="creditPercent",
        )
        tiers.append(SlaTier(below, credit))
    return tuple(tiers)


def sla_tiers_json(tiers: Sequence[SlaTier]) -> list[dict[str, str]]:
    """The canonical JSON of SLA tiers, the inverse of `parse_sla_tiers`."""
    return [
        {"below": decimal_text(tier.below), "creditPercent": decimal_text(tier.credit_percent)}
        for tier in tiers
    ]
