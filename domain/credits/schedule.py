"""Time-driven credit work: expiries, monthly allowances, expired holds and paid
top-ups, run by the worker in `serve`, by `bill`, and by test clocks at each
instant they pass. The hot path never depends on it running on time (a wallet
past its `next_event_at` catches up before it is used); this keeps balances and
live feeds current for wallets nobody is using."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db import raw
from db.credit_models import CreditWallet
from db.models import Customer, Plan
from domain import clock
from domain.credits import accounts, purchases, reservations
from domain.credits.wallets import on_wallet
from domain.events.bus import EventBus
from domain.subscriptions.statuses import ENTITLED_STATUSES, sql_list


async def refresh_customer(tenant_id: int, customer_id: int, bus: EventBus | None = None) -> None:
    """Bring one customer's wallet up to date (its allowances included), inside
    the caller's transaction if there is one."""
    customer = await Customer.get(id=customer_id).only("id", "public_id")
    account = await accounts.load_account(tenant_id, customer.public_id)
    await on_wallet(account, sync_allowances=True, bus=bus)


async def follow_subscription(sub: Any) -> None:
    """A subscription was created or changed (plan, status) in the caller's
    transaction: the credit terms cached in this process are stale, and a new,
    resumed or upgraded subscription gets this month's allowance now."""
    accounts.forget_terms()
    if await Plan.filter(id=sub.plan_id, monthly_credits__gt=0).exists():
        await refresh_customer(sub.tenant_id, sub.customer_id)


_CLOCK = "c.test_clock_id IS NULL"
_WITHOUT_ALLOWANCE = (
    """
SELECT DISTINCT s.tenant_id, s.customer_id FROM subscription s
JOIN plan p ON p.id = s.plan_id
JOIN customer c ON c.id = s.customer_id
WHERE s.status IN """
    + sql_list(ENTITLED_STATUSES)
    + """ AND p.monthly_credits > 0 AND {clock}
  AND NOT EXISTS (SELECT 1 FROM credit_lot l WHERE l.subscription_id = s.id
                  AND l.kind = 'allowance' AND l.closed_at IS NULL)
LIMIT {limit}"""
)


async def run_due(
    now: datetime | None = None,
    bus: EventBus | None = None,
    *,
    test_clock_id: int | None = None,
    limit: int = 500,
    find_missing: bool = True,
) -> int:
    """One pass, on real time or on one test clock's customers (at its `now`).
    `find_missing` also looks for entitled subscriptions with no allowance yet (a
    scan of the subscriptions, so the worker asks for it once a minute). Returns
    how many wallets it touched."""
    now = now or clock.now()
    due = (
        await CreditWallet.filter(next_event_at__lte=now, customer__test_clock_id=test_clock_id)
        .limit(limit)
        .values_list("tenant_id", "customer_id")
    )
    where = _CLOCK if test_clock_id is None else f"c.test_clock_id = {int(test_clock_id)}"
    missing = []
    if find_missing:
        sql = _WITHOUT_ALLOWANCE.format(clock=where, limit=int(limit))
        missing = await raw.fetch(CreditWallet, sql, [])
    todo = sorted(set(due) | {(r["tenant_id"], r["customer_id"]) for r in missing})
    for tenant_id, customer_id in todo:
        await refresh_customer(tenant_id, customer_id, bus)
    touched = len(todo)
    touched += await reservations.expire_due(now, bus, test_clock_id=test_clock_id)
    if test_clock_id is None:
        touched += await purchases.grant_paid_sweep()
    return touched


async def next_event_on_clock(test_clock_id: int, to: datetime) -> datetime | None:
    """The earliest credit event a test clock must stop at, up to `to`."""
    row = (
        await CreditWallet.filter(customer__test_clock_id=test_clock_id, next_event_at__lte=to)
        .order_by("next_event_at")
        .first()
        .values("next_event_at")
    )
    return row["next_event_at"] if row else None


@dataclass(frozen=True, slots=True)
class Mismatch:
    wallet_id: int
    customer: str
    stored: int  # the wallet row's balance
    ledger: int  # the sum of its ledger entries
    lots: int  # what its open lots hold, less consumption not yet drawn from them


_VERIFY = """
SELECT w.id, c.public_id, w.balance,
  (SELECT COALESCE(SUM(e.amount), 0) FROM credit_entry e WHERE e.wallet_id = w.id) AS ledger,
  (SELECT COALESCE(SUM(l.remaining), 0) FROM credit_lot l
   WHERE l.wallet_id = w.id AND l.closed_at IS NULL)
  - (w.consumed_total - w.consumed_settled) AS lots
FROM credit_wallet w
JOIN customer c ON c.id = w.customer_id
ORDER BY w.id"""


async def verify_ledger() -> tuple[int, list[Mismatch]]:
    """Every wallet's stored balance against the sum of its ledger and against its
    lots: (wallets checked, the ones that disagree)."""
    rows = await raw.fetch(CreditWallet, _VERIFY, [])
    bad = [
        Mismatch(r["id"], r["public_id"], r["balance"], r["ledger"], r["lots"])
        for r in rows
        if not r["balance"] == r["ledger"] == r["lots"]
    ]
    return len(rows), bad
