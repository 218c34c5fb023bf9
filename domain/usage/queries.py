"""Reading usage: a subscription's current usage (from the aggregates), its events
(paged), and the rows of the streamed exports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from tortoise.expressions import Q

from db.models import Customer, Subscription
from db.usage_models import BillableMetric, Charge, UsageAggregate, UsageEvent, UsagePeriod
from domain import clock
from domain.customers.lookup import customer_by_ref
from domain.errors import NotFoundError, ValidationError
from domain.ids import check_id
from domain.pagination import Page, PageRequest, paginate
from domain.tenancy.access import Permission, Principal
from domain.usage.catalog import plan_charges
from domain.usage.current import PeriodUsage, period_usage
from domain.usage.ingest import BILLABLE

EXPORT_CHUNK = 2_000


async def _subscription(principal: Principal, customer: Customer, ref: str | None) -> Subscription:
    query = Subscription.filter(customer_id=customer.id, tenant_id=principal.tenant_id)
    if ref is not None:
        check_id(ref, "subscription", field="subscriptionId")
        sub = await query.get_or_none(public_id=ref)
        if sub is None:
            raise NotFoundError(f"no subscription {ref} of this customer", field="subscriptionId")
        return sub
    live = await query.filter(status__in=BILLABLE).order_by("id")
    charged = await plan_charges(s.plan_id for s in live)
    metered = [s for s in live if charged.get(s.plan_id)]
    if len(metered) != 1:
        raise ValidationError(
            "the customer has no metered subscription"
            if not metered
            else f"the customer has {len(metered)} metered subscriptions: give subscriptionId",
            field="subscriptionId",
            code="NO_SUBSCRIPTION" if not metered else "AMBIGUOUS_SUBSCRIPTION",
        )
    return metered[0]


async def current_usage(
    principal: Principal, customer_ref: str, subscription_ref: str | None = None
) -> PeriodUsage:
    """The open period's usage so far, per charge and dimension group, priced."""
    principal.require(Permission.USAGE_READ)
    customer = await customer_by_ref(principal, customer_ref)
    sub = await _subscription(principal, customer, subscription_ref)
    return await subscription_usage(sub, customer)


async def subscription_usage(sub: Subscription, customer: Any) -> PeriodUsage:
    now = await clock.customer_now(customer)
    charges = (await plan_charges([sub.plan_id])).get(sub.plan_id, [])
    return await period_usage(sub, charges, sub.current_period_start, sub.current_period_end, now)


async def list_events(
    principal: Principal,
    customer_ref: str,
    page: PageRequest,
    *,
    metric_code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[UsageEvent]:
    principal.require(Permission.USAGE_READ)
    customer = await customer_by_ref(principal, customer_ref)
    query = UsageEvent.filter(tenant_id=principal.tenant_id, customer_id=customer.id)
    if metric_code is not None:
        metric = await BillableMetric.get_or_none(tenant_id=principal.tenant_id, code=metric_code)
        query = query.filter(metric_id=metric.id if metric else -1)
    if since is not None:
        query = query.filter(timestamp__gte=since)
    if until is not None:
        query = query.filter(timestamp__lt=until)
    return await paginate(query, page)


async def metric_codes(tenant_id: int) -> dict[int, str]:
    return dict(await BillableMetric.filter(tenant_id=tenant_id).values_list("id", "code"))


async def export_events(
    principal: Principal, customer_ref: str, *, since: datetime | None, until: datetime | None
) -> AsyncIterator[dict[str, Any]]:
    """A customer's events in time order (ties by arrival), read in keyset chunks
    on the (customer_id, timestamp, id) index, so that an export of any size holds
    one chunk in memory and each chunk starts where the last ended."""
    principal.require(Permission.USAGE_READ)
    customer = await customer_by_ref(principal, customer_ref)
    codes = await metric_codes(principal.tenant_id)
    subs = dict(await Subscription.filter(customer_id=customer.id).values_list("id", "public_id"))
    last: tuple[datetime, int] | None = None
    while True:
        query = UsageEvent.filter(tenant_id=principal.tenant_id, customer_id=customer.id)
        if last is not None:
            query = query.filter(Q(timestamp__gt=last[0]) | Q(timestamp=last[0], id__gt=last[1]))
        if since is not None:
            query = query.filter(timestamp__gte=since)
        if until is not None:
            query = query.filter(timestamp__lt=until)
        rows = (
            await query.order_by("timestamp", "id")
            .limit(EXPORT_CHUNK)
            .values(
                "id", "transaction_id", "subscription_id", "metric_id", "timestamp", "properties"
            )
        )
        for row in rows:
            yield {
                "transaction_id": row["transaction_id"],
                "customer": customer.public_id,
                "subscription": subs.get(row["subscription_id"]),
                "metric": codes.get(row["metric_id"]),
                "timestamp": row["timestamp"],
                "properties": row["properties"],
            }
        if len(rows) < EXPORT_CHUNK:
            return
        last = (rows[-1]["timestamp"], rows[-1]["id"])


async def export_periods(principal: Principal, customer_ref: str) -> AsyncIterator[dict[str, Any]]:
    """The customer's usage per period and charge: the aggregates, group by group."""
    principal.require(Permission.USAGE_READ)
    customer = await customer_by_ref(principal, customer_ref)
    subs = dict(await Subscription.filter(customer_id=customer.id).values_list("id", "public_id"))
    if not subs:
        return
    charges = dict(
        await Charge.filter(tenant_id=principal.tenant_id).values_list("id", "public_id")
    )
    periods = {
        (p.subscription_id, p.start): p
        for p in await UsagePeriod.filter(subscription_id__in=sorted(subs))
    }
    last = 0
    while True:  # keyset chunks: a high-cardinality dimension is never held at once
        rows = (
            await UsageAggregate.filter(subscription_id__in=sorted(subs), id__gt=last)
            .order_by("id")
            .limit(EXPORT_CHUNK)
        )
        for row in rows:
            yield _period_row(row, periods, subs, charges)
        if len(rows) < EXPORT_CHUNK:
            return
        last = rows[-1].id


def _period_row(row: Any, periods: dict, subs: dict[int, str], charges: dict[int, str]) -> dict:
    period = periods.get((row.subscription_id, row.period_start))
    return {
        "subscription": subs[row.subscription_id],
        "charge": charges.get(row.charge_id),
        "period_start": row.period_start,
        "period_end": period.end if period else None,
        "status": period.status if period else "open",
        "group": row.group_key,
        "events": row.events,
        "total": row.total,
        "maximum": row.maximum,
        "latest": row.latest_value,
        "unique": row.uniques,
        "billed_minor": (period.billed or {}).get(charges.get(row.charge_id, ""))
        if period
        else None,
    }
