"""`rebuild-analytics`: compute the MRR movement log again from subscription history
and compare it with the log kept live; with `write`, replace it (issue 17).

The history is what each log row records of its subscription after the change (its
`terms`: status, interval, prices, quantity, recurring add-ons, coupon), in time
order, plus, for a subscription with no row at all (one that predates the log, made
before migration 0008), what its own row says: started (or its trial converted) on
its current terms, then paused, made unpaid or ended at the recorded instants. Each
subscription's MRR is computed again from those terms (domain/analytics/
subscription_mrr.py) and each customer's moves classified again in time order, by
the same rules the live writer follows (movement_log.movement_row), so a live log
that drifted from its own history, or a change of the MRR rules, shows as
differences, as do daily sums (`mrr_daily`) that disagree with the log; `write`
regenerates the log, the daily sums, the running totals per customer and each
subscription's MRR from the history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from tortoise.transactions import in_transaction

from db.analytics_models import CustomerMrr, MrrDaily, MrrMovement
from db.models import Subscription, Tenant
from db.raw import fetch, is_postgres
from domain.analytics.movement_log import Move, TermsBook, add_to_daily, daily_sums, movement_row
from domain.analytics.subscription_mrr import mrr_of

_COMPARED = (
    "customer_id",
    "subscription_id",
    "currency",
    "occurred_at",
    "cause",
    "kind",
    "subscription_mrr_before",
    "subscription_mrr_after",
    "customer_mrr_before",
    "customer_mrr_after",
    "customers_delta",
)


@dataclass
class TenantRebuild:
    tenant_id: int
    live_rows: int
    rebuilt_rows: int
    differences: list[str] = field(default_factory=list)  # the first few, readable
    difference_count: int = 0
    written: bool = False

    @property
    def equal(self) -> bool:
        return self.difference_count == 0


def replay(moves: Iterable[Move]) -> tuple[list[MrrMovement], dict[int, int], dict]:
    """The log rows `moves` give, each subscription's final MRR and each (customer,
    currency)'s (MRR, starts): the live writer's rules, in memory."""
    sub_mrr: dict[int, int] = {}
    changed: list[tuple[Move, int, int]] = []
    # A customer's moves are replayed in the order they were applied: the log's ids
    # (writers of one customer take its running total's row lock in turn, so ids follow
    # that order even when the instants of two racing changes do not), after what the
    # rows of subscriptions older than the log tell, in time order.
    for move in sorted(moves, key=_replay_order):
        before = sub_mrr.get(move.subscription.id, 0)
        after = mrr_of(move.terms)
        sub_mrr[move.subscription.id] = after
        if after != before:
            changed.append((move, before, after))
    changed.sort(key=lambda c: (c[0].subscription.customer_id, c[0].subscription.currency))
    customers: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    rows = []
    for move, before, after in changed:
        state = customers[(move.subscription.customer_id, move.subscription.currency)]
        if state[0] == 0 and after - before > 0:
            state[1] += 1
        customer_before = state[0]
        state[0] += after - before
        rows.append(movement_row(move, before, after, customer_before, state[1]))
    return rows, sub_mrr, dict(customers)


def _replay_order(move: Move) -> tuple:
    if move.seq is None:
        return (0, move.at, move.subscription.id)
    return (1, move.seq)


def _earlier_history(sub: Subscription, book: TermsBook) -> list[Move]:
    """What a subscription's own row tells of its past, for one with no log rows."""
    terms = book.terms(sub)

    def at(when: datetime, status: str, cause: str) -> Move:
        return Move(sub, when, cause, {**terms, "status": status})

    moves = []
    started = sub.trial_end if sub.trial_start is not None else sub.started_at
    if sub.status != "trialing" and not (sub.ended_at and sub.ended_at <= started):
        moves.append(at(started, "active", "trial_converted" if sub.trial_start else "created"))
    if sub.status == "paused" and sub.paused_at is not None:
        moves.append(at(sub.paused_at, "paused", "paused"))
    if sub.status == "unpaid":
        moves.append(at(sub.updated_at, "unpaid", "unpaid"))
    if sub.status == "canceled" and sub.ended_at is not None:
        moves.append(at(sub.ended_at, "canceled", "canceled"))
    return moves


async def _history(tenant_id: int) -> tuple[list[Move], list[MrrMovement]]:
    live = await MrrMovement.filter(tenant_id=tenant_id).order_by("occurred_at", "id")
    subs = {s.id: s for s in await Subscription.filter(tenant_id=tenant_id)}
    moves = []
    for row in live:
        sub = subs[row.subscription_id]
        moves.append(Move(_as_of(sub, row), row.occurred_at, row.cause, row.terms, row.id))
    logged = {row.subscription_id for row in live}
    unlogged = [s for s in subs.values() if s.id not in logged]
    book = await TermsBook.load(unlogged)
    for sub in unlogged:
        moves.extend(_earlier_history(sub, book))
    return moves, live


def _as_of(sub: Subscription, row: MrrMovement) -> Any:
    """The subscription as a move refers to it (its id, customer, currency, tenant)."""
    return SimpleNamespace(
        id=sub.id, tenant_id=sub.tenant_id, customer_id=row.customer_id, currency=row.currency
    )


def _key(row: MrrMovement) -> tuple:
    return tuple(getattr(row, name) for name in _COMPARED)


def compare(live: Sequence[MrrMovement], rebuilt: Sequence[MrrMovement]) -> list[str]:
    """Readable differences between two logs (by customer, currency, time, subscription)."""

    def order(r: MrrMovement) -> tuple:
        return (r.customer_id, r.currency, r.occurred_at, r.subscription_id)

    a = [_key(r) for r in sorted(live, key=order)]
    b = [_key(r) for r in sorted(rebuilt, key=order)]
    out = [f"only live: {x}" for x in sorted(set(a) - set(b), key=str)]
    out += [f"only rebuilt: {x}" for x in sorted(set(b) - set(a), key=str)]
    if not out and a != b:
        out.append("the same rows in another order")
    return out


async def rebuild_tenant(tenant_id: int, *, write: bool = False) -> TenantRebuild:
    """Rebuild one tenant's log and compare; with `write`, replace the live one."""
    async with in_transaction() as conn:
        if write and is_postgres(conn):
            # Live writers wait for the new log instead of writing into the old one.
            await conn.execute_script("LOCK TABLE customer_mrr IN EXCLUSIVE MODE")
        moves, live = await _history(tenant_id)
        rows, sub_mrr, customers = replay(moves)
        report = TenantRebuild(tenant_id, len(live), len(rows))
        diffs = compare(live, rows)
        subs_now = dict(
            await Subscription.filter(tenant_id=tenant_id).values_list("id", "mrr_minor")
        )
        diffs += [
            f"subscription {sid}: MRR {now} live, {sub_mrr.get(sid, 0)} rebuilt"
            for sid, now in subs_now.items()
            if now != sub_mrr.get(sid, 0)
        ]
        stored = {
            (tenant_id, cur, day, kind): [amount, counted, count]
            for cur, day, kind, amount, counted, count in await MrrDaily.filter(
                tenant_id=tenant_id
            ).values_list("currency", "day", "kind", "amount_minor", "customers", "movements")
        }
        daily = daily_sums(rows)
        diffs += [
            f"daily sums of {key[1]} {key[2]} {key[3] or '-'}: {stored.get(key)} stored, "
            f"{daily.get(key)} from the log"
            for key in sorted(set(stored) | set(daily))
            if stored.get(key) != daily.get(key)
        ]
        report.difference_count, report.differences = len(diffs), diffs[:20]
        if write and diffs:
            await MrrMovement.filter(tenant_id=tenant_id).delete()
            await CustomerMrr.filter(tenant_id=tenant_id).delete()
            await MrrDaily.filter(tenant_id=tenant_id).delete()
            await MrrMovement.bulk_create(rows, batch_size=5000)
            await add_to_daily(rows)
            await CustomerMrr.bulk_create(
                [
                    CustomerMrr(
                        tenant_id=tenant_id, customer_id=c, currency=cur, mrr_minor=m, starts=s
                    )
                    for (c, cur), (m, s) in customers.items()
                ],
                batch_size=5000,
            )
            for sid, now in subs_now.items():
                if now != sub_mrr.get(sid, 0):
                    await Subscription.filter(id=sid).update(mrr_minor=sub_mrr.get(sid, 0))
            report.written = True
        return report


async def rebuild(
    tenant_public_id: str | None = None, *, write: bool = False
) -> list[TenantRebuild]:
    """Every tenant's (or one's) rebuild report."""
    tenants = Tenant.all().order_by("id")
    if tenant_public_id is not None:
        tenants = tenants.filter(public_id=tenant_public_id)
    return [
        await rebuild_tenant(t, write=write) for t in await tenants.values_list("id", flat=True)
    ]


_UNLOGGED = """
SELECT DISTINCT s.tenant_id FROM subscription s
WHERE s.status <> 'trialing' AND s.status <> 'incomplete'
  AND NOT (s.ended_at IS NOT NULL AND s.ended_at <= COALESCE(s.trial_end, s.started_at))
  AND NOT EXISTS (SELECT 1 FROM mrr_movement m WHERE m.subscription_id = s.id)
"""


async def backfill() -> list[TenantRebuild]:
    """Write the log of every tenant with subscriptions the log has never seen (made
    before migration 0008): `migrate` runs it, so the first series after an upgrade
    already counts them. A tenant whose rebuild finds nothing to add is left as it is."""
    rows = await fetch(MrrMovement, _UNLOGGED, [])
    return [await rebuild_tenant(row["tenant_id"], write=True) for row in rows]
