"""Billable metrics: what an event measures and how a period's events aggregate.

A metric is immutable once a charge prices it (its aggregation, property and
conversion decide amounts already billed); its name and description may change,
and it can be archived when no live charge uses it.
"""

from __future__ import annotations

import re
from typing import Any

from db.usage_models import BillableMetric, Charge
from domain import clock, validation
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.ids import new_id
from domain.pagination import Page, PageRequest, paginate
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation
from domain.usage.aggregation import AGGREGATIONS, NEEDS_FIELD, TIME_UNITS
from domain.usage.errors import MetricInUseError
from domain.usage.units import conversion_json, parse_conversion

ID_SHAPE = re.compile(r"^bm_[0-9A-Za-z]{16}$")
_PROPERTY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
MAX_DIMENSIONS = 5


def _property(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _PROPERTY.match(value):
        raise ValidationError(
            f"{field} must be a property name (letters, digits, _ . -; at most 64)", field=field
        )
    return value


def clean_metric(data: dict[str, Any]) -> dict[str, Any]:
    aggregation = str(data.get("aggregation") or "").upper()
    if aggregation not in AGGREGATIONS:
        raise ValidationError(
            f"aggregation must be one of {', '.join(AGGREGATIONS)}",
            field="aggregation",
            code="INVALID_AGGREGATION",
        )
    field_name = data.get("field_name")
    if aggregation in NEEDS_FIELD:
        field_name = _property(field_name, "fieldName")
    elif field_name is not None:
        raise ValidationError("a COUNT metric reads no property", field="fieldName")
    dimensions = data.get("dimensions") or []
    if not isinstance(dimensions, list) or len(dimensions) > MAX_DIMENSIONS:
        raise ValidationError(f"at most {MAX_DIMENSIONS} dimensions", field="dimensions")
    dims = [_property(d, f"dimensions[{i}]") for i, d in enumerate(dimensions)]
    if len(set(dims)) != len(dims) or field_name in dims:
        raise ValidationError(
            "dimensions must be distinct from each other and the field", field="dimensions"
        )
    time_unit = str(data.get("time_unit") or "hour").lower()
    if time_unit not in TIME_UNITS:
        raise ValidationError("timeUnit must be hour or day", field="timeUnit")
    conversion = parse_conversion(data.get("conversion"))
    return {
        "code": validation.code(data.get("code", "")),
        "name": validation.text(data.get("name"), field="name", max_length=200, required=True),
        "description": validation.text(
            data.get("description"), field="description", max_length=2000
        ),
        "aggregation": aggregation,
        "field_name": field_name,
        "dimensions": dims,
        "conversion": conversion_json(conversion) if data.get("conversion") else None,
        "time_unit": time_unit,
    }


@operation
async def create_metric(principal: Principal, data: dict[str, Any]) -> BillableMetric:
    principal.require(Permission.USAGE_MANAGE)
    fields = clean_metric(data)
    if await BillableMetric.exists(tenant_id=principal.tenant_id, code=fields["code"]):
        raise ConflictError(
            f"a metric {fields['code']} exists", field="code", code="DUPLICATE_CODE"
        )
    now = clock.now()
    return await BillableMetric.create(
        public_id=new_id("billable_metric"),
        tenant_id=principal.tenant_id,
        created_at=now,
        updated_at=now,
        **fields,
    )


async def load_metric(principal: Principal, ref: str, *, field: str = "metricId") -> BillableMetric:
    """A metric by public id (bm_ and 16 characters) or else by code, within the
    caller's tenant (a code may itself start with bm_)."""
    if not isinstance(ref, str) or not ref:
        raise ValidationError("give a metric id (bm_…) or code", field=field)
    found = None
    if ID_SHAPE.match(ref):
        found = await BillableMetric.get_or_none(public_id=ref, tenant_id=principal.tenant_id)
    if found is None:
        found = await BillableMetric.get_or_none(code=ref, tenant_id=principal.tenant_id)
    if found is None:
        raise NotFoundError(f"no metric {ref}", field=field)
    return found


async def get_metric(principal: Principal, ref: str) -> BillableMetric | None:
    principal.require(Permission.CATALOG_READ)
    try:
        return await load_metric(principal, ref)
    except NotFoundError:
        return None


async def list_metrics(
    principal: Principal, page: PageRequest, *, include_archived: bool = False
) -> Page[BillableMetric]:
    principal.require(Permission.CATALOG_READ)
    query = BillableMetric.filter(tenant_id=principal.tenant_id)
    if not include_archived:
        query = query.filter(archived_at=None)
    return await paginate(query, page)


async def metrics_by_ids(tenant_id: int, ids: list[int]) -> list[BillableMetric | None]:
    """Metrics by internal id, archived ones included, in the order asked (a loader)."""
    rows = await BillableMetric.filter(tenant_id=tenant_id, id__in=sorted(set(ids)))
    found = {m.id: m for m in rows}
    return [found.get(i) for i in ids]


@operation
async def update_metric(principal: Principal, ref: str, data: dict[str, Any]) -> BillableMetric:
    """Name and description only: what decides amounts never changes under a charge."""
    principal.require(Permission.USAGE_MANAGE)
    metric = await load_metric(principal, ref)
    if "name" in data:
        metric.name = validation.text(data["name"], field="name", max_length=200, required=True)
    if "description" in data:
        metric.description = validation.text(
            data["description"], field="description", max_length=2000
        )
    metric.updated_at = clock.now()
    await metric.save()
    return metric


@operation
async def archive_metric(principal: Principal, ref: str) -> BillableMetric:
    principal.require(Permission.USAGE_MANAGE)
    metric = await load_metric(principal, ref)
    if await Charge.exists(metric_id=metric.id, archived_at=None):
        raise MetricInUseError("a live charge prices this metric: archive the charge first")
    metric.archived_at = metric.updated_at = clock.now()
    await metric.save()
    return metric
