"""Usage metering: thin adapters over domain/usage, and the live `usageUpdates` feed."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.catalog.plans import get_plan
from domain.errors import ValidationError
from domain.tenancy.access import Permission
from domain.usage import alerts, charges, incidents, metrics, queries
from domain.usage.ingest import ingest_events
from domain.usage.live import usage_channel
from domain.usage.requests import MAX_EVENTS_PER_CALL
from resolvers import live
from resolvers.common import mutate, paged, query, to_data, to_error
from schema import usage as t
from schema import usage_inputs as i
from schema.common import Connection

# After a change of the followed customer's usage, wait this long for more before
# recomputing: a burst of batches costs a subscriber one read, and it gets at most
# about five pushes a second.
COALESCE_SECONDS = 0.2


# -- queries ---------------------------------------------------------------------------
async def billable_metric(info: Info, id: strawberry.ID) -> t.BillableMetric | None:
    """By id (bm_…) or code."""
    return await query(lambda: metrics.get_metric(info.context.caller, id))


async def billable_metrics(
    info: Info,
    first: int | None = None,
    after: str | None = None,
    include_archived: bool = False,
) -> Connection[t.BillableMetric]:
    return await paged(info, metrics.list_metrics, first, after, include_archived=include_archived)


async def plan_usage_terms(info: Info, plan_id: strawberry.ID) -> t.PlanUsageTerms | None:
    """A plan's usage terms (empty lists: none); null when there is no such plan."""
    plan = await query(lambda: get_plan(info.context.caller, public_id=plan_id))
    return None if plan is None else t.usage_terms_view(plan.usage_terms)


async def current_usage(
    info: Info, customer_id: strawberry.ID, subscription_id: strawberry.ID | None = None
) -> t.CurrentUsage:
    """The open period's usage so far, priced, per charge and dimension group, read
    from the running aggregates. `subscriptionId` is needed only when the customer
    has several metered subscriptions."""
    caller = info.context.caller
    usage = await query(lambda: queries.current_usage(caller, customer_id, subscription_id))
    return t.current_usage_view(usage)


async def metered_events(
    info: Info,
    customer_id: strawberry.ID,
    first: int | None = None,
    after: str | None = None,
    metric_code: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Connection[t.MeteredEvent]:
    """A customer's stored usage events in the order received; `until` is exclusive."""
    return await paged(
        info,
        lambda caller, page, **filters: queries.list_events(caller, customer_id, page, **filters),
        first,
        after,
        metric_code=metric_code,
        since=since,
        until=until,
    )


async def incidents_list(
    info: Info, first: int | None = None, after: str | None = None, since: datetime | None = None
) -> Connection[t.Incident]:
    """Incidents that ended after `since`; a customer token sees those that touched it."""
    return await paged(info, incidents.list_incidents, first, after, since=since)


async def spending_alerts(
    info: Info, customer_id: strawberry.ID | None = None
) -> list[t.SpendingAlert]:
    """A customer's thresholds, or without customerId every threshold of the tenant (a
    customer token: its own)."""
    return await query(lambda: alerts.list_alerts(info.context.caller, customer_id))


# -- mutations -------------------------------------------------------------------------
def _metric(row: object) -> t.BillableMetricSuccess:
    return t.BillableMetricSuccess(metric=row)  # type: ignore[arg-type]


def _charge(row: object) -> t.UsageChargeSuccess:
    return t.UsageChargeSuccess(charge=row)  # type: ignore[arg-type]


async def create_billable_metric(
    info: Info, input: i.CreateBillableMetricInput
) -> t.BillableMetricResult:
    data = i.metric_data(to_data(input))
    return await mutate(metrics.create_metric(info.context.caller, data), _metric)


async def update_billable_metric(
    info: Info, id: strawberry.ID, input: i.UpdateBillableMetricInput
) -> t.BillableMetricResult:
    """`id`: bm_… or the metric's code."""
    return await mutate(metrics.update_metric(info.context.caller, id, to_data(input)), _metric)


async def archive_billable_metric(info: Info, id: strawberry.ID) -> t.BillableMetricResult:
    """Refused (METRIC_IN_USE) while a live charge prices it."""
    return await mutate(metrics.archive_metric(info.context.caller, id), _metric)


async def create_usage_charge(info: Info, input: i.CreateUsageChargeInput) -> t.UsageChargeResult:
    return await mutate(charges.create_charge(info.context.caller, to_data(input)), _charge)


async def archive_usage_charge(info: Info, id: strawberry.ID) -> t.UsageChargeResult:
    """Events from now on no longer go to it; its usage so far is billed at period end."""
    return await mutate(charges.archive_charge(info.context.caller, id), _charge)


async def set_plan_usage_terms(
    info: Info, plan_id: strawberry.ID, terms: JSON | None = None
) -> t.PlanUsageTermsResult:
    """The terms' shape is domain/usage/plan_terms.py's (see the field's description)."""
    return await mutate(
        charges.set_plan_usage_terms(info.context.caller, plan_id, terms),  # type: ignore[arg-type]
        lambda plan: t.PlanUsageTermsSuccess(
            plan_key=plan.id, usage_terms=t.usage_terms_view(plan.usage_terms)
        ),
    )


async def ingest_usage_events(
    info: Info, events: list[i.UsageEventInput]
) -> t.IngestUsageEventsResult:
    """Up to 1,000 events, each stored once: accepted, a duplicate (same transactionId
    and body: nothing changes) or refused with a code and its index, the others kept."""
    if len(events) > MAX_EVENTS_PER_CALL:
        return to_error(
            ValidationError(
                f"send at most {MAX_EVENTS_PER_CALL} events a call "
                "(POST /v1/events takes larger batches)",
                field="events",
                code="TOO_MANY_EVENTS",
            )
        )
    raw = [i.event_dict(event) for event in events]
    return await mutate(ingest_events(info.context.caller, raw), t.ingest_view)


async def record_incident(info: Info, input: i.RecordIncidentInput) -> t.IncidentResult:
    return await mutate(
        incidents.record_incident(info.context.caller, to_data(input)),
        lambda row: t.IncidentSuccess(incident=row),
    )


async def delete_incident(info: Info, id: strawberry.ID) -> t.IncidentResult:
    """A mistaken record; periods already billed keep the credit they got."""
    return await mutate(
        incidents.delete_incident(info.context.caller, id),
        lambda row: t.IncidentSuccess(incident=row),
    )


async def create_spending_alert(
    info: Info, input: i.CreateSpendingAlertInput
) -> t.SpendingAlertResult:
    return await mutate(
        alerts.create_alert(info.context.caller, to_data(input)),
        lambda row: t.SpendingAlertSuccess(spending_alert=row),
    )


async def delete_spending_alert(info: Info, id: strawberry.ID) -> t.SpendingAlertResult:
    return await mutate(
        alerts.delete_alert(info.context.caller, id),
        lambda row: t.SpendingAlertSuccess(spending_alert=row),
    )


# -- live ------------------------------------------------------------------------------
async def usage_updates(
    info: Info, customer_id: strawberry.ID, subscription_id: strawberry.ID | None = None
) -> AsyncGenerator[t.CurrentUsage, None]:
    """The customer's current usage when the subscription opens, then again after
    events land (coalesced: at most about five a second). A customer token follows
    only itself; another customer is NOT_FOUND before the stream opens."""
    sees = await live.audience(info, Permission.USAGE_READ, customer_id)
    caller = info.context.caller

    async def now() -> t.CurrentUsage:
        return t.current_usage_view(
            await query(lambda: queries.current_usage(caller, customer_id, subscription_id))
        )

    async for usage in live.refreshed(
        info,
        usage_channel(caller.tenant_id),
        now,
        concerns=lambda message: any(
            sees(change["customer_id"]) for change in message.get("changes", ())
        ),
        coalesce=COALESCE_SECONDS,
        customer_id=sees.customer_id,
    ):
        yield usage
