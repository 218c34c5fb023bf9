"""What a customer may change itself (the portal, issue 18), and what it may not undo.

A customer token changes its own subscription's plan and quantity, now or at the
period's end, prorated as the tenant bills; cancels at the period's end and takes it
back; withdraws a change it scheduled. Prices, coupons, add-ons, proration and billing
dates stay the tenant's, and so do the tenant's own decisions: a change the tenant
scheduled, a cancellation the tenant set."""

from __future__ import annotations

from typing import Any

from db.models import Plan, Subscription
from domain.errors import PermissionDeniedError

SELF_SERVICE_FIELDS = {"plan_id", "quantity", "effective"}


def check_change(data: dict[str, Any]) -> None:
    """A customer changes its plan and quantity, now or at the period's end, prorated
    as the tenant bills; prices, coupons, add-ons and proration are the tenant's."""
    other = sorted(
        k
        for k, v in data.items()
        if v is not None
        and k not in SELF_SERVICE_FIELDS
        and not (k == "proration_behavior" and v == "create_prorations")
    )
    if other:
        raise PermissionDeniedError(
            "a customer may change only its plan, quantity and when, not " + ", ".join(other)
        )


def check_plan(plan: Plan) -> None:
    """A customer switches only to the plans the tenant offers for it."""
    if not plan.self_service:
        raise PermissionDeniedError(
            f"plan {plan.public_id} is not offered for self-service (the tenant's selfService)",
            field="planId",
        )


def not_the_tenants(sub: Subscription) -> None:
    """A customer does not override what the tenant decided: a change the tenant
    scheduled, or a cancellation the tenant set."""
    if sub.pending_change and sub.pending_change.get("requested_by") != "customer":
        raise PermissionDeniedError("the tenant has scheduled a change: ask them")
    if sub.cancel_at_period_end and sub.cancel_requested_by != "customer":
        raise PermissionDeniedError("the tenant set this subscription to cancel: ask them")
