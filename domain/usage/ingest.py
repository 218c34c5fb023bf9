"""Ingesting usage events: validate a batch in bulk, store each new event once, and
fold it into the running aggregates in the same transaction.

A batch costs a fixed number of statements whatever its size (metrics, customers,
subscriptions, charges, clocks, past periods: one each; then the periods, the
events, the aggregates). Each event gets its own outcome: accepted, a duplicate
(the same transaction id with the same body: nothing changes), or refused with a
code and the event's index (nothing of it is stored). One bad event never
refuses the others.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from db.models import Plan, Tenant, TestClock
from db.usage_models import UsagePeriod
from domain import clock
from domain.periods import add_months
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import after_commit, operation
from domain.usage import event_store, live
from domain.usage.aggregation import ChargeSpec, Contribution, event_value, group_key
from domain.usage.catalog import metrics_by_code, plan_charges
from domain.usage.charge_terms import event_fee
from domain.usage.errors import EventError
from domain.usage.lookups import CustomerRow, customers_by_refs, live_subscriptions
from domain.usage.requests import EventInput, body_hash, parse_event

FUTURE_SKEW = timedelta(minutes=5)
BILLABLE = ("trialing", "active", "past_due")
ACCEPTED, DUPLICATE, REJECTED = "ACCEPTED", "DUPLICATE", "REJECTED"


@dataclass(frozen=True, slots=True)
class EventOutcome:
    index: int
    transaction_id: str | None
    status: str
    error: EventError | None = None


@dataclass(frozen=True, slots=True)
class IngestReport:
    outcomes: tuple[EventOutcome, ...]

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


@dataclass(slots=True)
class _Placed:
    event: EventInput
    customer_id: int
    sub: Any
    charges: list[ChargeSpec]
    timestamp: datetime
    period: tuple[datetime, datetime]
    value: Any
    hash: str


async def _customer_times(customers: Sequence[CustomerRow]) -> dict[int, datetime]:
    now = clock.now()
    clocks = sorted({c.test_clock_id for c in customers if c.test_clock_id})
    frozen = {}
    if clocks:
        frozen = dict(await TestClock.filter(id__in=clocks).values_list("id", "frozen_time"))
    return {c.id: frozen.get(c.test_clock_id, now) for c in customers}


def _choose(event: EventInput, metric_id: int, subs: list[Any], charges: dict) -> tuple[Any, list]:
    """`charges`: (plan id, metric id) → the plan's charges of that metric."""

    def charging(sub: Any) -> list[ChargeSpec]:
        return charges.get((sub.plan_id, metric_id), [])

    if event.subscription_ref is not None:
        named = [s for s in subs if s.public_id == event.subscription_ref]
        if not named:
            raise EventError(
                "UNKNOWN_SUBSCRIPTION",
                f"no subscription {event.subscription_ref} of this customer",
                field="subscriptionId",
            )
        sub = named[0]
        if sub.status not in BILLABLE:
            raise EventError(
                "SUBSCRIPTION_NOT_BILLABLE",
                f"the subscription is {sub.status}",
                field="subscriptionId",
            )
        if not charging(sub):
            raise EventError(
                "METRIC_NOT_CHARGED",
                f"the subscription's plan has no charge for {event.metric_code}",
                field="metricCode",
            )
        return sub, charging(sub)
    candidates = [s for s in subs if s.status in BILLABLE and charging(s)]
    if len(candidates) > 1:
        raise EventError(
            "AMBIGUOUS_SUBSCRIPTION",
            f"{len(candidates)} subscriptions of this customer charge {event.metric_code}: "
            "give subscriptionId",
            field="subscriptionId",
        )
    if not candidates:
        if any(s.status == "paused" and charging(s) for s in subs):
            raise EventError("SUBSCRIPTION_NOT_BILLABLE", "the subscription is paused")
        raise EventError(
            "NO_SUBSCRIPTION",
            f"no live subscription of this customer charges {event.metric_code}",
            field="metricCode",
        )
    return candidates[0], charging(candidates[0])


def _period(
    sub: Any, at: datetime, now: datetime, interval: int, past: list[UsagePeriod], grace: int
) -> tuple[datetime, datetime]:
    """The usage period holding `at`: the current one, the next (the billing run has
    not renewed yet), or a closed one still inside the tenant's grace window."""
    if at >= sub.current_period_start:
        if at < sub.current_period_end or sub.current_period_end <= sub.current_period_start:
            return sub.current_period_start, max(sub.current_period_end, sub.current_period_start)
        return sub.current_period_end, add_months(sub.current_period_end, interval)
    for period in past:
        if period.start <= at < period.end:
            if now > period.end + timedelta(days=grace):
                raise EventError(
                    "TOO_LATE",
                    f"its period closed on {period.end.date()}, more than {grace} days ago",
                    field="timestamp",
                )
            return period.start, period.end
    if at < sub.started_at:
        raise EventError(
            "BEFORE_SUBSCRIPTION", "the subscription had not started", field="timestamp"
        )
    raise EventError("TOO_LATE", "its period is closed", field="timestamp")


@operation
async def ingest_events(principal: Principal, raw_events: Sequence[Any]) -> IngestReport:
    """Validate, store and aggregate a batch (the caller bounds its size)."""
    principal.require(Permission.USAGE_INGEST)
    tenant_id = principal.tenant_id
    outcomes: dict[int, EventOutcome] = {}
    parsed: list[EventInput] = []
    for index, raw in enumerate(raw_events):
        try:
            parsed.append(parse_event(index, raw))
        except EventError as exc:
            tx = raw.get("transactionId") if isinstance(raw, dict) else None
            outcomes[index] = EventOutcome(
                index, tx if isinstance(tx, str) else None, REJECTED, exc
            )
    placed = await _place(principal, parsed, outcomes)
    fresh = _first_of_each(placed, outcomes)
    if fresh:
        await _store(tenant_id, fresh, outcomes)
    return IngestReport(tuple(outcomes[i] for i in sorted(outcomes)))


async def _place(
    principal: Principal, parsed: list[EventInput], outcomes: dict[int, EventOutcome]
) -> list[_Placed]:
    if not parsed:
        return []
    tenant_id = principal.tenant_id
    metrics = await metrics_by_code(tenant_id, (e.metric_code for e in parsed))
    customers = await customers_by_refs(principal, {e.customer_ref for e in parsed})
    times = await _customer_times(list({c.id: c for c in customers.values()}.values()))
    subs_by_customer: dict[int, list[Any]] = defaultdict(list)
    subs = await live_subscriptions(tenant_id, times)
    for sub in subs:
        subs_by_customer[sub.customer_id].append(sub)
    charges: dict[tuple[int, int], list[ChargeSpec]] = defaultdict(list)
    for plan_id, specs in (await plan_charges(s.plan_id for s in subs)).items():
        for spec in specs:
            charges[(plan_id, spec.metric.id)].append(spec)
    intervals = (
        dict(
            await Plan.filter(id__in=sorted({s.plan_id for s in subs})).values_list(
                "id", "interval_months"
            )
        )
        if subs
        else {}
    )
    grace = await Tenant.get(id=tenant_id).values_list("usage_grace_days", flat=True)
    # Closed periods are read only for subscriptions that have an event older than the
    # current period (late events), in one query.
    late_subs = set()
    placed: list[_Placed] = []
    pending: list[tuple[EventInput, int, Any, list[ChargeSpec], datetime, Any, str]] = []
    for event in parsed:
        try:
            metric = metrics.get(event.metric_code)
            if metric is None:
                raise EventError(
                    "UNKNOWN_METRIC", f"no metric {event.metric_code}", field="metricCode"
                )
            customer = customers.get(event.customer_ref)
            if customer is None:
                raise EventError(
                    "UNKNOWN_CUSTOMER", f"no customer {event.customer_ref}", field="customerId"
                )
            now = times[customer.id]
            at = event.timestamp or now
            if at > now + FUTURE_SKEW:
                raise EventError(
                    "TIMESTAMP_IN_FUTURE",
                    "timestamp is more than 5 minutes ahead",
                    field="timestamp",
                )
            sub, sub_charges = _choose(event, metric.id, subs_by_customer[customer.id], charges)
            value = event_value(metric, event.properties)
        except EventError as exc:
            outcomes[event.index] = EventOutcome(event.index, event.transaction_id, REJECTED, exc)
            continue
        if at < sub.current_period_start:
            late_subs.add(sub.id)
        pending.append(
            (event, customer.id, sub, sub_charges, at, value, body_hash(event, customer.id))
        )
    past: dict[int, list[UsagePeriod]] = defaultdict(list)
    if late_subs:
        for period in await UsagePeriod.filter(subscription_id__in=sorted(late_subs)):
            past[period.subscription_id].append(period)
    for event, customer_id, sub, sub_charges, at, value, digest in pending:
        try:
            period = _period(
                sub, at, times[customer_id], intervals[sub.plan_id], past[sub.id], grace
            )
        except EventError as exc:
            outcomes[event.index] = EventOutcome(event.index, event.transaction_id, REJECTED, exc)
            continue
        placed.append(_Placed(event, customer_id, sub, sub_charges, at, period, value, digest))
    return placed


def _first_of_each(placed: list[_Placed], outcomes: dict[int, EventOutcome]) -> list[_Placed]:
    """One event per transaction id within the batch: a repeat with the same body is
    a duplicate, with another body a conflict."""
    seen: dict[str, str] = {}
    fresh = []
    for p in placed:
        tx = p.event.transaction_id
        if tx in seen:
            outcomes[p.event.index] = _repeat(p, seen[tx])
            continue
        seen[tx] = p.hash
        fresh.append(p)
    return fresh


def _repeat(p: _Placed, stored_hash: str) -> EventOutcome:
    if stored_hash == p.hash:
        return EventOutcome(p.event.index, p.event.transaction_id, DUPLICATE)
    error = EventError(
        "TRANSACTION_ID_CONFLICT",
        f"transaction id {p.event.transaction_id} was used for another event",
        field="transactionId",
    )
    return EventOutcome(p.event.index, p.event.transaction_id, REJECTED, error)


async def _store(tenant_id: int, fresh: list[_Placed], outcomes: dict[int, EventOutcome]) -> None:
    now = clock.now()
    periods = await event_store.hold_periods(
        tenant_id,
        {(p.sub.id, p.period[0]): (p.period[1], p.sub.currency) for p in fresh},
    )
    rows = sorted(
        (
            {
                "tenant_id": tenant_id,
                "transaction_id": p.event.transaction_id,
                "customer_id": p.customer_id,
                "subscription_id": p.sub.id,
                "metric_id": p.charges[0].metric.id,
                "timestamp": p.timestamp,
                "properties": p.event.properties,
                "body_hash": p.hash,
                "created_at": now,
            }
            for p in fresh
        ),
        key=lambda r: r["transaction_id"],  # one insertion order: concurrent batches never deadlock
    )
    stored = await event_store.insert_events(rows)
    others = [p for p in fresh if p.event.transaction_id not in stored]
    if others:
        hashes = await event_store.stored_hashes(
            tenant_id, [p.event.transaction_id for p in others]
        )
        for p in others:
            outcomes[p.event.index] = _repeat(p, hashes.get(p.event.transaction_id, ""))
    kept = [p for p in fresh if p.event.transaction_id in stored]
    for p in kept:
        outcomes[p.event.index] = EventOutcome(p.event.index, p.event.transaction_id, ACCEPTED)
    if not kept:
        return
    contributions: dict[event_store.AggregateKey, Contribution] = defaultdict(Contribution)
    for p in kept:
        for charge in p.charges:
            if not charge.matches(p.event.properties):
                continue
            key = (p.sub.id, charge.id, p.period[0], group_key(charge.metric, p.event.properties))
            fee = None
            terms = charge.prices.get(p.sub.currency)
            if charge.per_event_fee and terms is not None and p.value is not None:
                fee = event_fee(terms, p.value)
            contributions[key].add(
                charge.metric, p.value, p.timestamp, p.event.transaction_id, p.period[0], fee
            )
    await event_store.merge_contributions(tenant_id, contributions, now)
    late = [
        periods[(p.sub.id, p.period[0])][0]
        for p in kept
        if periods[(p.sub.id, p.period[0])][1] == "billed"
    ]
    await event_store.flag_changed(late)
    touched = sorted({(p.customer_id, p.sub.id) for p in kept})
    after_commit(lambda: live.usage_changed(tenant_id, touched))
