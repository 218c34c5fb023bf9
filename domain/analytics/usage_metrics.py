"""Usage analytics (issue 17): each billable metric's events per interval, by the
time the usage happened (the event's timestamp, not when it arrived), over the
event log (db/usage_models.py). Read-only.

Per point, every metric gives its event count; the quantity depends on how the
metric aggregates (domain/usage/aggregation.py folds them for billing; analytics sits
below the usage context and reads the rows itself):
- COUNT: the events; SUM: the sum of the metric's property over the point's events;
  MAX: the greatest value sent in the point (0 without events).
- UNIQUE_COUNT, LATEST, TIME_WEIGHTED_SUM: None. None of them adds up over a point
  the way billing reads them (distinct values across points, the level carried from
  before the range): ask the usage context for a period's billed quantity.
Quantities are in the units the events carry, before any conversion a charge bills
in (bytes, not GB; no per-event rounding), and are the raw figures: corrections
(negative values) count as sent, and a point may be negative where billing clamps a
period at zero. Events are counted once each, whatever charges price them.

Sums are exact. PostgreSQL sums the property as `numeric`. SQLite has no exact
decimal type (its SUM goes through floats), so there the statement groups by the
value's JSON text and the sum and maximum are finished in Python with `Decimal`,
over distinct values rather than events.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from db import raw
from db.usage_models import BillableMetric, UsageEvent
from domain.analytics.buckets import bounds_param, bucket, numbered, stamp, whole
from domain.analytics.cash import Interval, boundaries
from domain.tenancy.access import Permission, Principal

ADDITIVE = frozenset({"COUNT", "SUM"})
VALUED = frozenset({"SUM", "MAX"})  # the aggregations whose property is read here
ZERO = Decimal(0)
# Values are below 10^24 with at most 18 decimals (domain/usage/requests.py): 42
# digits, and a sum of a billion of them 51. Nothing here may round.
PRECISION = 80


@dataclass(frozen=True, slots=True)
class MetricPoint:
    start: datetime
    end: datetime
    events: int
    quantity: Decimal | None  # COUNT, SUM, MAX (see the module's docstring); else None


@dataclass(frozen=True, slots=True)
class MetricUsage:
    metric_id: str  # public id (bm_…)
    code: str
    name: str
    aggregation: str  # COUNT | SUM | MAX | UNIQUE_COUNT | LATEST | TIME_WEIGHTED_SUM
    field_name: str | None  # the property summed or compared
    archived: bool
    points: tuple[MetricPoint, ...]

    @property
    def events(self) -> int:
        return sum(p.events for p in self.points)

    @property
    def quantity(self) -> Decimal | None:
        """Over the whole range: the sum (COUNT, SUM), the greatest (MAX), else None."""
        if self.aggregation in ADDITIVE:
            with localcontext() as ctx:
                ctx.prec = PRECISION
                return sum((p.quantity or ZERO for p in self.points), ZERO)
        if self.aggregation == "MAX":
            seen = [p.quantity for p in self.points if p.events and p.quantity is not None]
            return max(seen, default=ZERO)
        return None


async def usage_by_metric(
    principal: Principal, start: datetime, end: datetime, interval: Interval
) -> list[MetricUsage]:
    """Every live metric of the tenant, and every archived one with events in
    [start, end), by code, each with one point per interval. Two statements."""
    principal.require(Permission.ANALYTICS_READ)
    bounds = boundaries(start, end, interval)
    metrics = list(
        await BillableMetric.filter(tenant_id=principal.tenant_id).order_by("code", "id")
    )
    valued = [m for m in metrics if m.aggregation in VALUED and m.field_name]
    conn = UsageEvent._meta.db
    values: dict[str, Any] = {
        "tenant": principal.tenant_id,
        "start": stamp(conn, start),
        "end": stamp(conn, end),
        "bounds": bounds_param(conn, bounds),
    }
    if raw.is_postgres(conn):
        found = await _postgres(values, valued)
    else:
        found = await _sqlite(values, valued)
    out = []
    for m in metrics:
        cells = found.get(m.id, {})
        if m.archived_at is not None and not cells:
            continue
        out.append(
            MetricUsage(
                m.public_id,
                m.code,
                m.name,
                m.aggregation,
                m.field_name,
                m.archived_at is not None,
                tuple(
                    _point(m.aggregation, bounds[i], bounds[i + 1], cells.get(i + 1))
                    for i in range(len(bounds) - 1)
                ),
            )
        )
    return out


# Per metric and bucket: (events, sum, maximum), the last two None when not read.
Cells = dict[int, dict[int, tuple[int, Decimal | None, Decimal | None]]]


def _point(
    aggregation: str,
    start: datetime,
    end: datetime,
    cell: tuple[int, Decimal | None, Decimal | None] | None,
) -> MetricPoint:
    events, total, maximum = cell or (0, None, None)
    if aggregation == "COUNT":
        quantity: Decimal | None = Decimal(events)
    elif aggregation == "SUM":
        quantity = _tidy(total) if total is not None else ZERO
    elif aggregation == "MAX":
        quantity = _tidy(maximum) if maximum is not None else ZERO
    else:
        quantity = None
    return MetricPoint(start, end, events, quantity)


def _tidy(value: Decimal) -> Decimal:
    """The same figure whichever database summed it: no trailing zeros, no exponent."""
    with localcontext() as ctx:
        ctx.prec = PRECISION
        value = value.normalize()
        return value.quantize(Decimal(1)) if value.as_tuple().exponent > 0 else value  # type: ignore[operator]


_AT = 'e."timestamp"'  # when the usage happened
_FROM = """FROM usage_event e
WHERE e.tenant_id = {tenant} AND e."timestamp" >= {start} AND e."timestamp" < {end}"""


def _case(valued: list[BillableMetric], value: str) -> tuple[str, dict[str, Any]]:
    """CASE e.metric_id WHEN <metric> THEN <value of its property> ... END, where
    `value` has `{field}` for the metric's property, and its parameters."""
    whens, params = [], {}
    for i, m in enumerate(valued):
        whens.append(f"WHEN {{m{i}}} THEN {value.replace('{field}', '{f' + str(i) + '}')}")
        params[f"m{i}"] = m.id
        params[f"f{i}"] = m.field_name
    return f"CASE e.metric_id {' '.join(whens)} END", params


async def _postgres(values: dict[str, Any], valued: list[BillableMetric]) -> Cells:
    conn = UsageEvent._meta.db
    extra = ", NULL AS total, NULL AS maximum"
    params: dict[str, Any] = {}
    if valued:
        # Only the metrics that read a property reach the cast: an event of another
        # metric may carry anything under that name.
        case, params = _case(valued, "CAST(e.properties ->> CAST({field} AS text) AS numeric)")
        extra = f", SUM({case}) AS total, MAX({case}) AS maximum"
    sql = (
        f"SELECT e.metric_id AS metric_id, {bucket(conn, _AT, 'bounds')} AS k,"
        f" COUNT(*) AS events{extra}\n{_FROM}\nGROUP BY e.metric_id, k"
    )
    # The CASE is written twice; each copy binds its own parameters.
    text, bound = numbered(sql, {**values, **params})
    found: Cells = defaultdict(dict)
    for r in await raw.fetch(UsageEvent, text, bound):
        found[whole(r["metric_id"])][whole(r["k"])] = (
            whole(r["events"]),
            r["total"],
            r["maximum"],
        )
    return found


async def _sqlite(values: dict[str, Any], valued: list[BillableMetric]) -> Cells:
    conn = UsageEvent._meta.db
    value = "NULL"
    params: dict[str, Any] = {}
    if valued:
        # `->` gives the value's JSON text as sent ('0.1', '"1.5"'), not a float.
        value, params = _case(valued, "TRIM(e.properties -> {field}, '\"')")
        params.update({k: f'$."{v}"' for k, v in params.items() if k.startswith("f")})
    sql = (
        f"SELECT e.metric_id AS metric_id, {bucket(conn, _AT, 'bounds')} AS k,"
        f" {value} AS v, COUNT(*) AS events\n{_FROM}\nGROUP BY e.metric_id, k, v"
    )
    text, bound = numbered(sql, {**values, **params})
    sums: dict[tuple[int, int], list[Any]] = {}
    with localcontext() as ctx:
        ctx.prec = PRECISION
        for r in await raw.fetch(UsageEvent, text, bound):
            key = (whole(r["metric_id"]), whole(r["k"]))
            cell = sums.setdefault(key, [0, None, None])
            count = whole(r["events"])
            cell[0] += count
            number = _number(r["v"])
            if number is not None:
                cell[1] = (cell[1] or ZERO) + number * count
                cell[2] = number if cell[2] is None else max(cell[2], number)
    found: Cells = defaultdict(dict)
    for (metric, k), (events, total, maximum) in sums.items():
        found[metric][k] = (events, total, maximum)
    return found


def _number(text: Any) -> Decimal | None:
    if text is None:
        return None
    try:
        parsed = Decimal(str(text).strip())
    except InvalidOperation:
        return None  # validated on ingestion: only an event of another shape
    return parsed if parsed.is_finite() else None
