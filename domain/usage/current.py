"""A subscription's usage for a period, priced, from the running aggregates only.

Three statements whatever the number of events (the period's aggregates, the
carried levels of time-weighted charges, distinct values across groups when a
unique count spans several), so `currentUsage` costs the same at ten events or
ten million. The billing run prices a closing period with the same function, so
what a customer watched live is what they are invoiced.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

from tortoise.functions import Count

from db.usage_models import Charge, UsageAggregate, UsageUniqueValue
from domain.money import allocate
from domain.usage.aggregation import ZERO, ChargeSpec, group_values, measure
from domain.usage.charge_terms import price
from domain.usage.pricing import EXACT, Priced


@dataclass(frozen=True, slots=True)
class GroupUsage:
    group: dict[str, str]
    units: Decimal
    amount_minor: int  # the charge's amount shared by units (largest remainder)


@dataclass(frozen=True, slots=True)
class ChargeUsage:
    charge: ChargeSpec
    units: Decimal
    events: int
    amount_minor: int
    priced: Priced
    groups: tuple[GroupUsage, ...]


@dataclass(frozen=True, slots=True)
class PeriodUsage:
    subscription: Any
    currency: str
    start: datetime
    end: datetime
    charges: tuple[ChargeUsage, ...]

    @property
    def amount_minor(self) -> int:
        return sum(c.amount_minor for c in self.charges)


Key = tuple[int, datetime]  # subscription id, period start


async def load_aggregates(keys: Sequence[Key]) -> dict[Key, list[Any]]:
    """The aggregates of several (subscription, period start) pairs in one query."""
    found: dict[Key, list[Any]] = defaultdict(list)
    wanted = set(keys)
    if not wanted:
        return found
    rows = await UsageAggregate.filter(
        subscription_id__in=sorted({k[0] for k in wanted}),
        period_start__in=sorted({k[1] for k in wanted}),
    )
    for row in rows:
        if (row.subscription_id, row.period_start) in wanted:
            found[(row.subscription_id, row.period_start)].append(row)
    return found


async def load_carried(
    keys: Sequence[Key], charges: Sequence[ChargeSpec]
) -> dict[tuple[int, int, str], Decimal]:
    """Time-weighted levels at each period's start, per (subscription, metric, group):
    the sum of every earlier change of that metric, whichever charge counted it (a
    charge repriced or a plan changed keeps the level: the streams are still
    running). One row per earlier period and charge, never the events."""
    metrics = sorted({c.metric.id for c in charges if c.metric.aggregation == "TIME_WEIGHTED_SUM"})
    levels: dict[tuple[int, int, str], Decimal] = defaultdict(lambda: ZERO)
    if not metrics or not keys:
        return levels
    counted = dict(await Charge.filter(metric_id__in=metrics).values_list("id", "metric_id"))
    starts = dict(keys)
    rows = await UsageAggregate.filter(
        subscription_id__in=sorted(starts),
        charge_id__in=sorted(counted),
        period_start__lt=max(starts.values()),
    ).values_list("subscription_id", "charge_id", "group_key", "period_start", "total")
    with localcontext(EXACT):
        for sub_id, charge_id, group, period_start, total in rows:
            if period_start < starts[sub_id]:
                levels[(sub_id, counted[charge_id], group)] += Decimal(total)
    return levels


def _level(
    carried: dict[tuple[int, int, str], Decimal], sub_id: int, charge: ChargeSpec
) -> dict[str, Decimal]:
    """The carried level of each group this charge prices (its filters decide)."""
    return {
        group: level
        for (s, metric, group), level in carried.items()
        if s == sub_id and metric == charge.metric.id and charge.matches(_values(group))
    }


def _values(group: str) -> dict[str, str]:
    return group_values([group])[0]


async def distinct_counts(groups_by_charge: dict[int, list[int]]) -> dict[int, int]:
    """COUNT(DISTINCT value) across a charge's groups, for unique counts that span
    several (one group counts its own)."""
    found = {}
    for charge_id, aggregate_ids in groups_by_charge.items():
        rows = (
            await UsageUniqueValue.filter(aggregate_id__in=aggregate_ids)
            .annotate(n=Count("value", distinct=True))
            .values_list("n", flat=True)
        )
        found[charge_id] = int(rows[0]) if rows else 0
    return found


def _by_group(total: int, groups: list[tuple[dict, Decimal]]) -> tuple[GroupUsage, ...]:
    if len(groups) < 2:
        return tuple(GroupUsage(g, u, total) for g, u in groups)
    weights = [max(u, ZERO) for _, u in groups]
    shares = allocate(total, weights) if any(weights) else [0] * len(groups)
    return tuple(GroupUsage(g, u, a) for (g, u), a in zip(groups, shares, strict=True))


def price_period(
    sub: Any,
    charges: Sequence[ChargeSpec],
    start: datetime,
    end: datetime,
    until: datetime,
    rows: Sequence[Any],
    carried: dict[tuple[int, int, str], Decimal],
    distinct: dict[int, int],
    carrying: set[int] | None = None,
) -> PeriodUsage:
    """Price `sub`'s usage in [start, end) as of `until` from loaded aggregates.
    Time-weighted levels carried from earlier periods go to the charges in
    `carrying` (None: all): the plan's live charges, not an archived one or an old
    plan's, so a level is never counted twice."""
    by_charge: dict[int, list[Any]] = defaultdict(list)
    for row in rows:
        by_charge[row.charge_id].append(row)
    found = []
    window = {"period_start": start, "until": min(until, end)}
    for charge in charges:
        terms = charge.prices.get(sub.currency)
        if terms is None:
            continue
        groups = sorted(by_charge.get(charge.id, []), key=lambda g: g.group_key)
        levels = (
            _level(carried, sub.id, charge) if carrying is None or charge.id in carrying else {}
        )
        level = sum(levels.values(), ZERO)
        measured = measure(
            charge.metric, groups, distinct=distinct.get(charge.id), carried=level, **window
        )
        priced = price(
            terms,
            measured.units,
            amount_sum=measured.amount_sum,
            events=measured.events,
            fee_sum=measured.fee_sum if charge.per_event_fee else None,
        )
        amount = priced.minor(sub.currency)
        per_group = []
        if charge.metric.dimensions:
            for g, value in zip(groups, group_values(g.group_key for g in groups), strict=True):
                own = levels.get(g.group_key, ZERO)
                per_group.append((value, measure(charge.metric, [g], carried=own, **window).units))
        found.append(
            ChargeUsage(
                charge,
                measured.units,
                measured.events,
                amount,
                priced,
                _by_group(amount, per_group),
            )
        )
    return PeriodUsage(sub, sub.currency, start, end, tuple(found))


def spanning_uniques(charges: Sequence[ChargeSpec], rows: Sequence[Any]) -> dict[int, list[int]]:
    unique = {c.id for c in charges if c.metric.aggregation == "UNIQUE_COUNT"}
    found: dict[int, list[int]] = defaultdict(list)
    for row in rows:
        if row.charge_id in unique:
            found[row.charge_id].append(row.id)
    return {c: ids for c, ids in found.items() if len(ids) > 1}


async def period_usage(
    sub: Any, charges: Sequence[ChargeSpec], start: datetime, end: datetime, until: datetime
) -> PeriodUsage:
    """Usage of one subscription in [start, end) as of `until`."""
    rows = (await load_aggregates([(sub.id, start)]))[(sub.id, start)]
    carried = await load_carried([(sub.id, start)], charges)
    distinct = await distinct_counts(spanning_uniques(charges, rows))
    return price_period(sub, charges, start, end, until, rows, carried, distinct)
