"""Credits analytics (issue 17): what was consumed, per module and interval, per UTC
day and by the top customers, and where credits came from (allowances, grants,
purchases) over a range. Read-only over the credit ledger (db/credit_models.py);
every amount here is CREDITS, except the money paid for top-ups, which is per
currency in minor units.

What counts as consumption, from the ledger's rules (domain/credits/):
- a `consumption` entry, by when it was written, is consumed (its amount is negative
  in the ledger; here it is positive). A reservation writes nothing while it holds:
  committing it writes one consumption of what was used, releasing it or letting it
  expire writes nothing, so a released hold is never consumption.
- a `refund` entry gives back (part of) one consumption (`refund_of`). It is taken
  off THAT consumption, in its module and at its time, whenever it was made: a
  refunded consumption was never consumed, so a point or a day never goes negative
  and the refund of a consumption before the range changes nothing in the range
  (the refund of one in the range does, even if made after it). Each point says
  what was refunded of its consumptions (`refunded`, already taken off).
- expiries and month-end resets of allowances are credits lost, not consumed.

Granted and purchased credits are counted by when they reached the wallet: monthly
allowances, admin grants and promotions, paid top-ups; purchases' money is their
invoices' total in each invoice's currency, with and without tax, never summed
across currencies.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from db import raw
from db.credit_models import CreditEntry
from domain.analytics.buckets import (
    bounds_param,
    bucket,
    day_of,
    numbered,
    stamp,
    utc_days,
    whole,
)
from domain.analytics.cash import MAX_POINTS, Interval, boundaries
from domain.errors import ValidationError
from domain.tenancy.access import Permission, Principal

MAX_TOP = 100
GRANT_KINDS = ("grant", "promotion")
LOST_KINDS = ("expiry", "reset")


@dataclass(frozen=True, slots=True)
class ModuleConsumed:
    module: str
    consumed: int  # net of refunds
    refunded: int  # given back by refunds of these consumptions (already taken off)


@dataclass(frozen=True, slots=True)
class CreditsPoint:
    """One interval [start, end): every module consumed anywhere in the range, by code
    (zero where nothing was consumed in this interval)."""

    start: datetime
    end: datetime
    modules: tuple[ModuleConsumed, ...]

    @property
    def consumed(self) -> int:
        return sum(m.consumed for m in self.modules)

    @property
    def refunded(self) -> int:
        return sum(m.refunded for m in self.modules)


@dataclass(frozen=True, slots=True)
class CreditsDay:
    """One UTC day (the first and last cut to the range)."""

    day: date
    consumed: int


@dataclass(frozen=True, slots=True)
class TopConsumer:
    customer_id: str  # public id (cus_…)
    name: str
    consumed: int


@dataclass(frozen=True, slots=True)
class CreditsBought:
    """Top-ups granted in the range, in one invoice currency."""

    currency: str
    purchases: int
    credits: int
    net_minor: int  # the invoices' total less tax
    total_minor: int  # tax included


@dataclass(frozen=True, slots=True)
class CreditsUsage:
    start: datetime
    end: datetime
    interval: Interval
    points: tuple[CreditsPoint, ...]
    days: tuple[CreditsDay, ...]
    top_consumers: tuple[TopConsumer, ...]
    allowance: int  # monthly allowances of plans
    granted: int  # admin grants and promotions
    purchased: int  # paid top-ups
    expired: int  # expired lots and allowances reset at a month's end
    bought: tuple[CreditsBought, ...]  # what the purchases cost, per currency

    @property
    def consumed(self) -> int:
        return sum(p.consumed for p in self.points)

    @property
    def refunded(self) -> int:
        return sum(p.refunded for p in self.points)


# What each consumption of the range had given back, summed once per consumption (a
# consumption may be refunded in parts). A refund is never older than what it refunds.
_REFUNDED = """WITH back AS (
  SELECT refund_of, SUM(amount) AS given FROM credit_entry
  WHERE tenant_id = {tenant} AND kind = 'refund' AND refund_of IS NOT NULL
    AND created_at >= {start}
  GROUP BY refund_of
)"""
_CONSUMED = """FROM credit_entry e LEFT JOIN back ON back.refund_of = e.id
WHERE e.tenant_id = {tenant} AND e.kind = 'consumption'
  AND e.created_at >= {start} AND e.created_at < {end}"""


async def credits_usage(
    principal: Principal, start: datetime, end: datetime, interval: Interval, *, top: int = 10
) -> CreditsUsage:
    """Credits consumed in [start, end) per module and interval, per UTC day and by
    the `top` (1-100) customers (ties: the customer created first), and the credits
    granted, bought and lost in the range. Four statements."""
    principal.require(Permission.ANALYTICS_READ)
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= MAX_TOP:
        raise ValidationError(f"top must be 1-{MAX_TOP}", field="top")
    bounds = boundaries(start, end, interval)
    days = utc_days(start, end, MAX_POINTS)
    values = {"tenant": principal.tenant_id, "start": start, "end": end}
    points, per_day = await _consumed(values, bounds, days)
    flows = await _flows(values)
    return CreditsUsage(
        start=start,
        end=end,
        interval=interval,
        points=points,
        days=per_day,
        top_consumers=await _top(values, top),
        allowance=flows.get("allowance", 0),
        granted=sum(flows.get(k, 0) for k in GRANT_KINDS),
        purchased=flows.get("purchase", 0),
        expired=-sum(flows.get(k, 0) for k in LOST_KINDS),
        bought=await _bought(values),
    )


async def _fetch(sql: str, values: dict[str, object]) -> list[dict[str, object]]:
    conn = CreditEntry._meta.db
    stamped = {k: stamp(conn, v) if isinstance(v, datetime) else v for k, v in values.items()}
    text, params = numbered(sql, stamped)
    return await raw.fetch(CreditEntry, text, params)


async def _consumed(
    values: dict[str, object], bounds: list[datetime], days: list[datetime]
) -> tuple[tuple[CreditsPoint, ...], tuple[CreditsDay, ...]]:
    """One GROUP BY over the segments the interval bounds and the UTC midnights cut
    the range into (each inside one interval and one day), summed up both ways."""
    cuts = sorted(set(bounds) | set(days))
    conn = CreditEntry._meta.db
    rows = await _fetch(
        f"{_REFUNDED}\nSELECT {bucket(conn, 'e.created_at', 'cuts')} AS k, e.module AS module,"
        " SUM(-e.amount) AS gross, SUM(COALESCE(back.given, 0)) AS given"
        f"\n{_CONSUMED}\nGROUP BY k, e.module",
        {**values, "cuts": bounds_param(conn, cuts)},
    )
    n = len(bounds) - 1
    by_point: list[dict[str, list[int]]] = [defaultdict(lambda: [0, 0]) for _ in range(n)]
    by_day = [0] * (len(days) - 1)
    modules: set[str] = set()
    for row in rows:
        at = cuts[whole(row["k"]) - 1]
        module = str(row["module"] or "")
        gross, given = whole(row["gross"]), whole(row["given"])
        figures = by_point[bisect.bisect_right(bounds, at) - 1][module]
        figures[0] += gross - given
        figures[1] += given
        by_day[bisect.bisect_right(days, at) - 1] += gross - given
        modules.add(module)
    order = sorted(modules)
    points = tuple(
        CreditsPoint(
            bounds[i],
            bounds[i + 1],
            tuple(ModuleConsumed(m, *by_point[i].get(m, (0, 0))) for m in order),
        )
        for i in range(n)
    )
    return points, tuple(CreditsDay(day_of(days[i]), by_day[i]) for i in range(len(by_day)))


async def _top(values: dict[str, object], top: int) -> tuple[TopConsumer, ...]:
    rows = await _fetch(
        f"""{_REFUNDED}
SELECT c.public_id AS public_id, c.name AS name, t.consumed AS consumed FROM (
  SELECT e.customer_id AS customer_id,
    SUM(-e.amount - COALESCE(back.given, 0)) AS consumed
  {_CONSUMED}
  GROUP BY e.customer_id
) t JOIN customer c ON c.id = t.customer_id
WHERE t.consumed > 0
ORDER BY t.consumed DESC, t.customer_id
LIMIT {{top}}""",
        {**values, "top": top},
    )
    return tuple(
        TopConsumer(str(r["public_id"]), str(r["name"]), whole(r["consumed"])) for r in rows
    )


async def _flows(values: dict[str, object]) -> dict[str, int]:
    """Credits in and out of wallets in the range by entry kind (as the ledger signs
    them), but consumption and its refunds."""
    rows = await _fetch(
        """SELECT kind, SUM(amount) AS amount FROM credit_entry
WHERE tenant_id = {tenant} AND created_at >= {start} AND created_at < {end}
  AND kind IN ('allowance', 'grant', 'promotion', 'purchase', 'expiry', 'reset')
GROUP BY kind""",
        values,
    )
    return {str(r["kind"]): whole(r["amount"]) for r in rows}


async def _bought(values: dict[str, object]) -> tuple[CreditsBought, ...]:
    rows = await _fetch(
        """SELECT i.currency AS currency, COUNT(*) AS purchases, SUM(p.credits) AS credits,
  SUM(i.total_minor - i.tax_minor) AS net, SUM(i.total_minor) AS total
FROM credit_purchase p JOIN invoice i ON i.id = p.invoice_id
WHERE p.tenant_id = {tenant} AND p.status = 'granted'
  AND p.granted_at >= {start} AND p.granted_at < {end}
GROUP BY i.currency
ORDER BY i.currency""",
        values,
    )
    return tuple(
        CreditsBought(
            str(r["currency"]),
            whole(r["purchases"]),
            whole(r["credits"]),
            whole(r["net"]),
            whole(r["total"]),
        )
        for r in rows
    )
