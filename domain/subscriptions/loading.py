"""Loading what a subscription operation acts on, scoped to the caller: the
subscription (under a row lock when it is about to change) and its plan."""

from __future__ import annotations

from db.models import Plan, Subscription
from domain.errors import NotFoundError, ValidationError
from domain.ids import check_id
from domain.tenancy.access import Permission, Principal, scope


def require_change(principal: Principal, *, self_service: bool = False) -> None:
    """Subscriptions:write, or (where the change is one a customer may make to its own
    subscription: `self_service`) a customer token's subscriptions:self."""
    if not (self_service and principal.can(Permission.SUBSCRIPTIONS_SELF)):
        principal.require(Permission.SUBSCRIPTIONS_WRITE)


def acting_for_self(principal: Principal) -> bool:
    """True when a customer token changes its own subscription (the portal)."""
    return not principal.can(Permission.SUBSCRIPTIONS_WRITE)


async def load_subscription(
    principal: Principal,
    public_id: str,
    *,
    lock: bool = False,
    field: str = "id",
    self_service: bool = False,
) -> Subscription:
    """The caller's subscription; `lock` (a write) takes its row lock, so two changes
    to one subscription run one after the other. A customer token reaches only its
    own subscriptions (the scope), and changes them only where `self_service`."""
    check_id(public_id, "subscription", field=field)
    query = Subscription.filter(public_id=public_id, **scope(principal))
    if lock:
        require_change(principal, self_service=self_service)
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
