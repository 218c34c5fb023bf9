"""The MRR movement log, written in the transaction of each change that moves a
subscription's MRR (issue 17).

Every context that changes what a subscription is worth a month calls in here with
the subscription row after the change: the mutations (create, change, pause, cancel),
the billing run and test clocks (trial converted, resumed, canceled at period end, a
scheduled change applied, a coupon run out), dunning (canceled or unpaid) and
settlement (an unpaid subscription paid again). A change that leaves the MRR where it
was writes nothing.

Each row is classified at the customer level (domain/analytics/mrr.py): the customer's
MRR in the currency before and after comes from `customer_mrr`, updated by one
`INSERT … ON CONFLICT DO UPDATE … RETURNING` per customer and instant, so two changes
of one customer serialize on that row (and two billing batches lock customers in the
same order: by customer, currency, instant). Each subscription's move is classified
on its own, in time order (then by subscription id): two subscriptions of one
customer ending at the same instant are a contraction then a churn. Every sum is
exact either way; only the split between those kinds follows the order, and the
rebuild (domain/analytics/rebuild.py) follows the same one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from db.analytics_models import MrrDaily, MrrMovement
from db.models import Coupon, CouponAmount, Plan, Subscription
from db.raw import fetch_rows, is_postgres
from domain.analytics.live import metrics_moved
from domain.analytics.mrr import Kind, classify
from domain.analytics.subscription_mrr import mrr_of, terms_of

_UPSERT = """
INSERT INTO customer_mrr (tenant_id, customer_id, currency, mrr_minor, starts)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (customer_id, currency) DO UPDATE SET
    mrr_minor = customer_mrr.mrr_minor + excluded.mrr_minor,
    starts = customer_mrr.starts + CASE
        WHEN customer_mrr.mrr_minor = 0 AND customer_mrr.mrr_minor + excluded.mrr_minor > 0
        THEN 1 ELSE 0 END
RETURNING mrr_minor, starts
"""
_DAILY = """
INSERT INTO mrr_daily (tenant_id, currency, day, kind, amount_minor, customers, movements)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (tenant_id, currency, day, kind) DO UPDATE SET
    amount_minor = mrr_daily.amount_minor + excluded.amount_minor,
    customers = mrr_daily.customers + excluded.customers,
    movements = mrr_daily.movements + excluded.movements
"""


CUSTOMERS_DELTA = {Kind.NEW: 1, Kind.REACTIVATION: 1, Kind.CHURN: -1}


@dataclass(frozen=True, slots=True)
class Move:
    """A subscription's terms after something happened to it at `at`."""

    subscription: Any  # the Subscription row (tenant_id, customer_id, currency, mrr_minor)
    at: datetime
    cause: str
    terms: dict[str, Any]
    seq: int | None = None  # a logged row's id, when the rebuild replays the log


class TermsBook:
    """What terms need besides the subscription row: plan intervals and coupon
    discounts, loaded once for a batch."""

    def __init__(
        self, intervals: Mapping[int, int], discounts: Mapping[tuple[int, str], dict[str, int]]
    ) -> None:
        self.intervals = intervals
        self.discounts = discounts

    @classmethod
    async def load(cls, subs: Sequence[Any], plans: Mapping[int, Any] | None = None) -> TermsBook:
        plan_ids = {s.plan_id for s in subs} | {
            s.pending_change["plan_id"] for s in subs if s.pending_change
        }
        intervals = {p.id: p.interval_months for p in (plans or {}).values()}
        missing = sorted(plan_ids - intervals.keys())
        if missing:
            for pid, months in await Plan.filter(id__in=missing).values_list(
                "id", "interval_months"
            ):
                intervals[pid] = months
        coupon_ids = sorted({s.coupon_id for s in subs if s.coupon_id is not None})
        discounts: dict[tuple[int, str], dict[str, int]] = {}
        if coupon_ids:
            for cid, bp in await Coupon.filter(id__in=coupon_ids).values_list(
                "id", "percent_off_bp"
            ):
                if bp is not None:
                    discounts[(cid, "")] = {"percent_bp": bp}
            for cid, currency, amount in await CouponAmount.filter(
                coupon_id__in=coupon_ids
            ).values_list("coupon_id", "currency", "amount_minor"):
                discounts[(cid, currency)] = {"amount_minor": amount}
        return cls(intervals, discounts)

    def terms(self, sub: Any) -> dict[str, Any]:
        discount = None
        if sub.coupon_id is not None:
            discount = self.discounts.get((sub.coupon_id, "")) or self.discounts.get(
                (sub.coupon_id, sub.currency)
            )
        return terms_of(sub, self.intervals[sub.plan_id], discount)


def movement_row(
    move: Move, before: int, after: int, customer_before: int, starts: int
) -> MrrMovement:
    """The log row of one subscription's move, classified by the customer's MRR in
    the currency before and after it; `starts` counts the customer's moves from 0 to
    paying, this one included (more than one: a reactivation)."""
    sub = move.subscription
    customer_after = customer_before + after - before
    kind = classify(customer_before, customer_after, churned_before=starts > 1)
    return MrrMovement(
        tenant_id=sub.tenant_id,
        customer_id=sub.customer_id,
        subscription_id=sub.id,
        currency=sub.currency,
        occurred_at=move.at,
        cause=move.cause,
        kind=kind.value if kind else None,
        subscription_mrr_before=before,
        subscription_mrr_after=after,
        customer_mrr_before=customer_before,
        customer_mrr_after=customer_after,
        customers_delta=CUSTOMERS_DELTA.get(kind, 0),
        terms=move.terms,
    )


def daily_sums(rows: Sequence[MrrMovement]) -> dict[tuple[int, str, date, str], list[int]]:
    """Rows summed per (tenant, currency, UTC day, kind): amount, customers, count."""
    sums: dict[tuple[int, str, date, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in rows:
        day = row.occurred_at.astimezone(UTC).date()
        cell = sums[(row.tenant_id, row.currency, day, row.kind or "")]
        cell[0] += row.subscription_mrr_after - row.subscription_mrr_before
        cell[1] += row.customers_delta
        cell[2] += 1
    return sums


async def add_to_daily(rows: Sequence[MrrMovement]) -> None:
    """Add rows to the daily sums, in key order (two writers lock them the same way)."""
    text_days = not is_postgres(MrrDaily._meta.db)  # SQLite keeps dates as ISO text
    for (tenant, currency, day, kind), (amount, customers, count) in sorted(
        daily_sums(rows).items()
    ):
        when = day.isoformat() if text_days else day
        await fetch_rows(MrrDaily, _DAILY, [tenant, currency, when, kind, amount, customers, count])


async def moved_after(customer_id: int, currency: str, at: datetime) -> bool:
    """Whether the customer's MRR in `currency` has a movement later than `at`: a
    subscription backdated before it would need that history rewritten."""
    return await MrrMovement.filter(
        customer_id=customer_id, currency=currency, occurred_at__gt=at
    ).exists()


async def follow(sub: Any, at: datetime, cause: str) -> list[MrrMovement]:
    """Record `sub`'s MRR after a change made at `at` (nothing if it did not move)."""
    book = await TermsBook.load([sub])
    return await record([Move(sub, at, cause, book.terms(sub))])


async def record(moves: Sequence[Move]) -> list[MrrMovement]:
    """Write the movements of `moves` (any order; several per subscription allowed,
    applied in time order) and set each subscription's `mrr_minor`."""
    current: dict[int, int] = {}
    changed: list[tuple[Move, int, int]] = []  # (move, subscription before, after)
    for move in sorted(moves, key=lambda m: (m.at, m.subscription.id)):
        sub = move.subscription
        before = current.get(sub.id, sub.mrr_minor)
        after = mrr_of(move.terms)
        current[sub.id] = after
        if after != before:
            changed.append((move, before, after))
    if not changed:
        return []

    # By customer and currency (the order PostgreSQL locks their rows in, the same in
    # every batch), then in time order: a customer's moves are classified in order.
    changed.sort(key=lambda c: (c[0].subscription.customer_id, c[0].subscription.currency))
    rows: list[MrrMovement] = []
    for move, before, after in changed:
        sub = move.subscription
        delta = after - before
        found = await fetch_rows(
            MrrMovement,
            _UPSERT,
            [sub.tenant_id, sub.customer_id, sub.currency, delta, 1 if delta > 0 else 0],
        )
        customer_after, starts = found[0]["mrr_minor"], found[0]["starts"]
        if customer_after < 0:  # a subscription taking away more than it brought: a bug
            raise RuntimeError(f"customer {sub.customer_id} MRR would be negative")
        rows.append(movement_row(move, before, after, customer_after - delta, starts))
    await MrrMovement.bulk_create(rows)
    await add_to_daily(rows)
    for tenant_id in {row.tenant_id for row in rows}:
        metrics_moved(tenant_id)
    subs = {move.subscription.id: move.subscription for move, _, _ in changed}
    for sub_id, sub in subs.items():
        sub.mrr_minor = current[sub_id]
        await Subscription.filter(id=sub_id).update(mrr_minor=sub.mrr_minor)
    return rows
