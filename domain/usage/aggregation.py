"""How events become running aggregates, and aggregates a quantity. Pure.

Every aggregation is kept so that events may arrive in any order and the result
is the same:
- COUNT, SUM: counts and sums; MAX: the greatest; UNIQUE_COUNT: the distinct values
  (stored beside the aggregate, counted once);
- LATEST: the value of the event with the latest timestamp (ties: the greater
  transaction id, so a late resend never flips it);
- TIME_WEIGHTED_SUM: each event's value is a *change of level* (+1 when a stream
  starts, -1 when it stops; +5 GB stored, -2 GB deleted), as Lago's weighted sum.
  The aggregate keeps Σv and Σv·(t - period start); the level-time up to T is
  L₀·D + Σv·D - Σv·(t - start) with D = T - start and L₀ the level carried from
  earlier periods, in hours or days as the metric says.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

import orjson

from domain.usage.errors import EventError
from domain.usage.pricing import EXACT
from domain.usage.requests import number
from domain.usage.units import Conversion, convert

AGGREGATIONS = ("COUNT", "SUM", "MAX", "UNIQUE_COUNT", "LATEST", "TIME_WEIGHTED_SUM")
NEEDS_FIELD = frozenset(AGGREGATIONS) - {"COUNT"}
NUMERIC = frozenset(NEEDS_FIELD) - {"UNIQUE_COUNT"}
TIME_UNITS = {"hour": 3600, "day": 86400}
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class MetricSpec:
    id: int
    public_id: str
    code: str
    name: str
    aggregation: str
    field_name: str | None
    dimensions: tuple[str, ...]
    conversion: Conversion
    time_unit: str = "hour"


@dataclass(frozen=True, slots=True)
class ChargeSpec:
    id: int
    public_id: str
    plan_id: int
    metric: MetricSpec
    model: str
    prices: dict[str, Any]  # currency → parsed terms (domain/usage/charge_terms.py)
    filters: dict[str, frozenset[str]]
    display_name: str
    per_event_fee: bool = False

    def matches(self, properties: dict[str, Any]) -> bool:
        # A plain loop: this runs for every event and charge of an ingestion batch.
        for key, allowed in self.filters.items():
            if str(properties.get(key)) not in allowed:
                return False
        return True


def group_key(metric: MetricSpec, properties: dict[str, Any]) -> str:
    """The dimension group of an event: its dimension values as canonical JSON ("" for
    a metric without dimensions). Cut at 255 characters, the column's width."""
    if not metric.dimensions:
        return ""
    values = {d: str(properties[d]) for d in metric.dimensions if properties.get(d) is not None}
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS).decode()[:255]


def event_value(metric: MetricSpec, properties: dict[str, Any]) -> Decimal | str | None:
    """The value an event adds (None for COUNT); raises EventError when missing or not
    a number. A per-event conversion (seconds → started minutes per session) is
    applied here, once, so the aggregate holds converted units."""
    if metric.aggregation == "COUNT":
        return None
    raw = properties.get(metric.field_name or "")
    if metric.aggregation == "UNIQUE_COUNT":
        if raw is None or isinstance(raw, dict | list):
            raise EventError(
                "MISSING_PROPERTY",
                f"property {metric.field_name!r} must be a string or number",
                field=metric.field_name,
            )
        return str(raw)[:255]
    value = number(raw, metric.field_name or "")
    if metric.conversion.per_event:
        value = convert(value, metric.conversion)
    return value


@dataclass
class Contribution:
    """What a batch adds to one aggregate."""

    events: int = 0
    total: Decimal = ZERO
    maximum: Decimal | None = None
    latest: tuple[datetime, str, Decimal] | None = None
    weighted: Decimal = ZERO
    fees: Decimal = ZERO
    uniques: set[str] = field(default_factory=set)

    def add(
        self,
        metric: MetricSpec,
        value: Decimal | str | None,
        at: datetime,
        transaction_id: str,
        period_start: datetime,
        fee: Decimal | None,
    ) -> None:
        with localcontext(EXACT):
            self._add(metric, value, at, transaction_id, period_start, fee)

    def _add(
        self,
        metric: MetricSpec,
        value: Decimal | str | None,
        at: datetime,
        transaction_id: str,
        period_start: datetime,
        fee: Decimal | None,
    ) -> None:
        self.events += 1
        if fee is not None:
            self.fees += fee
        if isinstance(value, str):
            self.uniques.add(value)
            return
        if value is None:
            return
        self.total += value
        if self.maximum is None or value > self.maximum:
            self.maximum = value
        if self.latest is None or (at, transaction_id) > self.latest[:2]:
            self.latest = (at, transaction_id, value)
        if metric.aggregation == "TIME_WEIGHTED_SUM":
            # Seconds since the period's start, exact to the microsecond (a float's
            # binary expansion would add forty spurious digits).
            held = at - period_start
            seconds = Decimal(held.days * 86_400 + held.seconds) + Decimal(
                held.microseconds
            ).scaleb(-6)
            self.weighted += value * seconds


def dec(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def text(value: Decimal) -> str:
    """Decimal text without exponent notation (what the columns hold)."""
    return format(value, "f")


def merge(row: Any, c: Contribution, new_uniques: int) -> None:
    """Fold a contribution into a stored aggregate row (attributes of UsageAggregate)."""
    with localcontext(EXACT):  # sums of 18-decimal values stay exact, never rounded to 28 digits
        _merge(row, c, new_uniques)


def _merge(row: Any, c: Contribution, new_uniques: int) -> None:
    row.events += c.events
    row.total = text(Decimal(row.total) + c.total)
    row.fees = text(Decimal(row.fees) + c.fees)
    row.weighted = text(Decimal(row.weighted) + c.weighted)
    row.uniques += new_uniques
    if c.maximum is not None:
        current = dec(row.maximum)
        if current is None or c.maximum > current:
            row.maximum = text(c.maximum)
    if c.latest is not None:
        at, tx, value = c.latest
        if row.latest_at is None or (at, tx) > (row.latest_at, row.latest_tx or ""):
            row.latest_at, row.latest_tx, row.latest_value = at, tx, text(value)


@dataclass(frozen=True, slots=True)
class Measured:
    """A charge's usage in a period: what it is priced on."""

    units: Decimal  # the metric's quantity, converted
    events: int
    amount_sum: Decimal  # Σ values (a percentage charge's basis)
    fee_sum: Decimal  # Σ per-event percentage fees


def measure(
    metric: MetricSpec,
    groups: Sequence[Any],
    *,
    period_start: datetime,
    until: datetime,
    carried: Decimal = ZERO,
    distinct: int | None = None,
) -> Measured:
    """The quantity of a charge over its matching group aggregates, up to `until`.
    `carried` is the TIME_WEIGHTED_SUM level at the period's start; `distinct` the
    count of distinct values across groups for UNIQUE_COUNT (one group: its own)."""
    with localcontext(EXACT):
        return _measure(metric, groups, period_start, until, carried, distinct)


def _measure(
    metric: MetricSpec,
    groups: Sequence[Any],
    period_start: datetime,
    until: datetime,
    carried: Decimal,
    distinct: int | None,
) -> Measured:
    events = sum(g.events for g in groups)
    total = sum((Decimal(g.total) for g in groups), ZERO)
    fees = sum((Decimal(g.fees) for g in groups), ZERO)
    agg = metric.aggregation
    if agg == "COUNT":
        units = Decimal(events)
    elif agg == "SUM":
        units = total
    elif agg == "MAX":
        units = max((Decimal(g.maximum) for g in groups if g.maximum is not None), default=ZERO)
    elif agg == "UNIQUE_COUNT":
        units = Decimal(distinct if distinct is not None else sum(g.uniques for g in groups))
    elif agg == "LATEST":
        stamped = [g for g in groups if g.latest_at is not None]
        last = max(stamped, key=lambda g: (g.latest_at, g.latest_tx or ""), default=None)
        units = Decimal(last.latest_value) if last is not None else ZERO
    else:  # TIME_WEIGHTED_SUM
        seconds = Decimal(max(0, int((until - period_start).total_seconds())))
        weighted = sum((Decimal(g.weighted) for g in groups), ZERO)
        level_time = (carried + total) * seconds - weighted
        units = max(ZERO, level_time) / TIME_UNITS[metric.time_unit]
    # Corrections (negative values) may lower a period's quantity, never below zero:
    # a charge is never a credit because of its own events.
    units = max(units, ZERO)
    if not metric.conversion.per_event:
        units = convert(units, metric.conversion)
    return Measured(units, events, max(total, ZERO), fees)


def group_values(keys: Iterable[str]) -> list[dict[str, str]]:
    return [orjson.loads(k) if k else {} for k in keys]
