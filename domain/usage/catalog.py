"""Metrics and charges as the engine reads them: rows turned into frozen specs with
their terms parsed once, in a fixed number of statements whatever the batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from db.usage_models import BillableMetric, Charge
from domain.usage.aggregation import ChargeSpec, MetricSpec
from domain.usage.charge_terms import has_per_event_fee, parse_terms
from domain.usage.units import parse_conversion


def metric_spec(row: BillableMetric) -> MetricSpec:
    return MetricSpec(
        row.id,
        row.public_id,
        row.code,
        row.name,
        row.aggregation,
        row.field_name,
        tuple(row.dimensions or ()),
        parse_conversion(row.conversion),
        row.time_unit,
    )


def charge_spec(row: Charge, metric: MetricSpec) -> ChargeSpec:
    prices = {cur: parse_terms(row.model, terms) for cur, terms in row.prices.items()}
    return ChargeSpec(
        row.id,
        row.public_id,
        row.plan_id,
        metric,
        row.model,
        prices,
        {k: frozenset(str(v) for v in values) for k, values in (row.filters or {}).items()},
        row.invoice_display_name,
        any(has_per_event_fee(t) for t in prices.values()),
    )


async def metrics_by_code(tenant_id: int, codes: Iterable[str]) -> dict[str, MetricSpec]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = await BillableMetric.filter(tenant_id=tenant_id, code__in=wanted, archived_at=None)
    return {row.code: metric_spec(row) for row in rows}


async def plan_charges(plan_ids: Iterable[int]) -> dict[int, list[ChargeSpec]]:
    """Each plan's live charges, in their display order."""
    ids = sorted(set(plan_ids))
    found: dict[int, list[ChargeSpec]] = defaultdict(list)
    if not ids:
        return found
    rows = await Charge.filter(plan_id__in=ids, archived_at=None).order_by("position", "id")
    if not rows:
        return found
    metrics = {
        m.id: metric_spec(m)
        for m in await BillableMetric.filter(id__in=sorted({r.metric_id for r in rows}))
    }
    for row in rows:
        found[row.plan_id].append(charge_spec(row, metrics[row.metric_id]))
    return found
