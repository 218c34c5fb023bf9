"""Spending alerts: thresholds on a subscription's running usage amount.

A threshold belongs to one customer (optionally one of its subscriptions) or to
the whole tenant (every customer). When events push a period's usage amount to
or past it, Tally emits `usage.threshold_reached` through the webhook outbox
(Standard Webhooks, never lost) and on the tenant's live feed — once per
threshold per period: the period row records which thresholds it has crossed,
and the claim is a conditional UPDATE, so two processes checking at once send
one alert.

Checked after each ingestion commit for the subscriptions it touched, and only
for those that have a threshold (one indexed query when none do).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.expressions import Q

from db.models import Customer, Subscription
from db.raw import fetch, is_postgres
from db.usage_models import SpendingAlert, UsagePeriod
from domain import clock
from domain.errors import NotFoundError, ValidationError
from domain.events import feed
from domain.ids import check_id, new_id
from domain.money import money_from_input
from domain.tenancy.access import Permission, Principal, owned_customer
from domain.unit_of_work import operation
from domain.usage.catalog import plan_charges
from domain.usage.current import period_usage
from domain.webhooks.outbox import emit_many

MAX_ALERTS_PER_CUSTOMER = 20


_ALERTS_SQL = (
    "SELECT * FROM spending_alert WHERE tenant_id = $1 "
    "AND (customer_id IS NULL OR customer_id = ANY($2::bigint[]))"
)


async def _alerts_for(tenant_id: int, customer_ids: Sequence[int]) -> list[SpendingAlert]:
    """The thresholds that may concern these customers: one indexed statement with a
    fixed text (the ids as an array) on PostgreSQL, however many customers a batch
    touched; usually none."""
    ids = sorted(set(customer_ids))
    if is_postgres(SpendingAlert._meta.db):
        rows = await fetch(SpendingAlert, _ALERTS_SQL, [tenant_id, ids])
        return [SpendingAlert._init_from_db(**row) for row in rows]
    return await SpendingAlert.filter(
        Q(customer_id__in=ids) | Q(customer_id=None), tenant_id=tenant_id
    )


@operation
async def check(tenant_id: int, touched: Sequence[tuple[int, int]]) -> None:
    """(customer id, subscription id) pairs whose usage moved."""
    if not touched:
        return
    alerts = await _alerts_for(tenant_id, [c for c, _ in touched])
    if not alerts:
        return
    subs = await Subscription.filter(id__in=sorted({s for _, s in touched}))
    charges = await plan_charges(s.plan_id for s in subs)
    now = clock.now()
    events = []
    for sub in subs:
        mine = [
            a
            for a in alerts
            if a.currency == sub.currency
            and a.customer_id in (None, sub.customer_id)
            and a.subscription_id in (None, sub.id)
        ]
        if not mine:
            continue
        usage = await period_usage(
            sub, charges.get(sub.plan_id, []), sub.current_period_start, sub.current_period_end, now
        )
        period = await UsagePeriod.get_or_none(
            subscription_id=sub.id, start=sub.current_period_start
        )
        if period is None:
            continue
        sent = list(period.alerts_sent or [])
        crossed = [
            a for a in mine if usage.amount_minor >= a.amount_minor and a.public_id not in sent
        ]
        if not crossed:
            continue
        claimed = await UsagePeriod.filter(id=period.id, alerts_sent=period.alerts_sent).update(
            alerts_sent=sent + [a.public_id for a in crossed]
        )
        if not claimed:  # another process claimed first; it sends them
            continue
        customer = await Customer.get(id=sub.customer_id).values("public_id")
        for alert in crossed:
            obj = {
                "object": "usage_threshold",
                "alert": alert.public_id,
                "customer": customer["public_id"],
                "subscription": sub.public_id,
                "threshold_minor": alert.amount_minor,
                "amount_minor": usage.amount_minor,
                "currency": sub.currency,
                "period_start": period.start.isoformat(),
                "period_end": period.end.isoformat(),
            }
            events.append((tenant_id, "usage.threshold_reached", obj))
            feed.tell(
                "usage.threshold_reached",
                alert,
                customer_id=sub.customer_id,
                extra={"amount_minor": usage.amount_minor, "subscription": sub.public_id},
            )
    await emit_many(events)


@operation
async def create_alert(principal: Principal, data: dict[str, Any]) -> SpendingAlert:
    """A threshold for one customer (`customerId`, optionally `subscriptionId`) or,
    without a customer, for every customer of the tenant."""
    principal.require(Permission.USAGE_MANAGE)
    money = money_from_input(
        currency=(data.get("amount") or {}).get("currency"),
        amount_minor=(data.get("amount") or {}).get("amount_minor"),
        amount=(data.get("amount") or {}).get("amount"),
        field="amount",
    )
    if money.amount_minor <= 0:
        raise ValidationError("a threshold must be above zero", field="amount")
    customer = None
    sub_id = None
    if data.get("customer_id"):
        customer = await owned_customer(principal, data["customer_id"], field="customerId")
        count = await SpendingAlert.filter(customer_id=customer.id).count()
        if count >= MAX_ALERTS_PER_CUSTOMER:
            raise ValidationError(
                f"at most {MAX_ALERTS_PER_CUSTOMER} thresholds per customer", field="customerId"
            )
    if data.get("subscription_id"):
        check_id(data["subscription_id"], "subscription", field="subscriptionId")
        sub = await Subscription.get_or_none(
            public_id=data["subscription_id"],
            tenant_id=principal.tenant_id,
            customer_id=customer.id if customer else -1,
        )
        if sub is None:
            raise NotFoundError(
                f"no subscription {data['subscription_id']} of this customer",
                field="subscriptionId",
            )
        sub_id = sub.id
    now = clock.now()
    return await SpendingAlert.create(
        public_id=new_id("spending_alert"),
        tenant_id=principal.tenant_id,
        customer_id=customer.id if customer else None,
        subscription_id=sub_id,
        amount_minor=money.amount_minor,
        currency=money.currency,
        created_at=now,
        updated_at=now,
    )


async def list_alerts(principal: Principal, customer_ref: str | None) -> list[SpendingAlert]:
    principal.require(Permission.USAGE_READ)
    query = SpendingAlert.filter(tenant_id=principal.tenant_id)
    if customer_ref is not None:
        customer = await owned_customer(principal, customer_ref, field="customerId")
        query = query.filter(customer_id=customer.id)
    elif principal.customer_id is not None:
        query = query.filter(customer_id=principal.customer_id)
    return await query.order_by("id")


@operation
async def delete_alert(principal: Principal, public_id: str) -> SpendingAlert:
    principal.require(Permission.USAGE_MANAGE)
    check_id(public_id, "spending_alert")
    alert = await SpendingAlert.get_or_none(public_id=public_id, tenant_id=principal.tenant_id)
    if alert is None:
        raise NotFoundError(f"no spending alert {public_id}")
    await alert.delete()
    return alert
