"""Loading what a subscription operation acts on, scoped to the caller: the
subscription (under a row lock when it is about to change) and its plan."""

from __future__ import annotations

from db.models import Plan, Subscription
from domain.errors import NotFoundError, ValidationError
from domain.ids import check_id
from domain.tenancy.access import Permission, Principal, scope


async def load_subscription(
    principal: Principal, public_id: str, *, lock: bool = False, field: str = "id"
) -> Subscription:
    """The caller's subscription; `lock` (a write) takes its row lock, so two changes
    to one subscription run one after the other."""
    check_id(public_id, "subscription", field=field)
    query = Subscription.filter(public_id=public_id, **scope(principal))
    if lock:
        principal.require(Permission.SUBSCRIPTIONS_WRITE)
        query = query.select_for_update()
    else:
        principal.require(Permission.SUBSCRIPTIONS_READ)
    sub = await query.first()
    if sub is None:
        raise NotFoundError(f"no subscription {public_id}", field=field)
    return sub


async def load_plan(tenant_id: int, public_id: str, *, field: str = "planId") -> Plan:
    """A plan of the tenant that can still be subscribed to (not archived)."""
    check_id(public_id, "plan", field=field)
    plan = await Plan.get_or_none(public_id=public_id, tenant_id=tenant_id)
    if plan is None:
        raise NotFoundError(f"no plan {public_id}", field=field)
    if plan.archived_at is not None:
        raise ValidationError(f"plan {public_id} is archived", field=field, code="PLAN_ARCHIVED")
    return plan
