"""Incidents: outages the tenant records. Each customer's monthly uptime is computed
from those that touched it (or every customer), and a plan's SLA tiers turn it
into a credit on that period's invoice (domain/usage/closing.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db.models import Customer
from db.usage_models import Incident
from domain import bounds, clock, validation
from domain.errors import NotFoundError, ValidationError
from domain.ids import check_id, new_id
from domain.pagination import Page, PageRequest, paginate
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation

MAX_CUSTOMERS = 1_000


@operation
async def record_incident(principal: Principal, data: dict[str, Any]) -> Incident:
    principal.require(Permission.USAGE_MANAGE)
    started = bounds.instant(data.get("started_at"), field="startedAt")
    ended = bounds.instant(data.get("ended_at"), field="endedAt")
    if ended <= started:
        raise ValidationError("endedAt must be after startedAt", field="endedAt")
    refs = data.get("customer_ids") or []
    if len(refs) > MAX_CUSTOMERS:
        raise ValidationError(f"at most {MAX_CUSTOMERS} customers", field="customerIds")
    for i, ref in enumerate(refs):
        check_id(ref, "customer", field=f"customerIds[{i}]")
    rows = (
        dict(
            await Customer.filter(tenant_id=principal.tenant_id, public_id__in=refs).values_list(
                "public_id", "id"
            )
        )
        if refs
        else {}
    )
    missing = [r for r in refs if r not in rows]
    if missing:
        raise NotFoundError(f"no customer {missing[0]}", field="customerIds")
    now = clock.now()
    return await Incident.create(
        public_id=new_id("incident"),
        tenant_id=principal.tenant_id,
        title=validation.text(data.get("title"), field="title", max_length=200, required=True),
        started_at=started,
        ended_at=ended,
        customer_ids=sorted(set(rows.values())),
        created_at=now,
        updated_at=now,
    )


async def list_incidents(
    principal: Principal, page: PageRequest, *, since: datetime | None = None
) -> Page[Incident]:
    principal.require(Permission.USAGE_READ)
    query = Incident.filter(tenant_id=principal.tenant_id)
    if since is not None:
        query = query.filter(ended_at__gt=since)
    own = principal.customer_id
    if own is None:
        return await paginate(query, page)
    # A customer token sees the incidents that touched every customer or itself, and
    # among an incident's customers only itself. The affected ids are a JSON list
    # (no portable containment query): the tenant's incidents are few, and read as
    # (id, customers) pairs to pick the page's ids.
    rows = await query.order_by("id").values_list("id", "customer_ids")
    ids = [i for i, customers in rows if not customers or own in customers]
    result = await paginate(Incident.filter(id__in=ids), page)
    for incident in result.items:
        if incident.customer_ids:
            incident.customer_ids = [own]
    return result


@operation
async def delete_incident(principal: Principal, public_id: str) -> Incident:
    """A mistaken record; periods already billed keep the credit they got."""
    principal.require(Permission.USAGE_MANAGE)
    check_id(public_id, "incident")
    incident = await Incident.get_or_none(public_id=public_id, tenant_id=principal.tenant_id)
    if incident is None:
        raise NotFoundError(f"no incident {public_id}")
    await incident.delete()
    return incident
