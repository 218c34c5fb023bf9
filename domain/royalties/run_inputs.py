"""What the royalty run reads before it writes: the tenant's contracts, the works'
share history, what earlier periods earned (escalator units, the slices a refunded
line earned, refunds counted since), the period's exchange rates and reserves due.

Each is one set-based query for the whole tenant, so the run's query count does not
grow with its payees, works or sales.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from db.raw import fetch_rows
from db.royalty_models import (
    Contract,
    Payee,
    RoyaltyEarning,
    RoyaltyExchangeRate,
    RoyaltyLedgerEntry,
    Work,
    WorkShare,
)
from domain.royalties.balances import ExchangeRate
from domain.royalties.earnings import Slice, TransactionType
from domain.royalties.period_earnings import History
from domain.royalties.settings import RoyaltyPeriod
from domain.royalties.terms import ContractTerms, parse_terms


@dataclass(frozen=True, slots=True)
class WorkInfo:
    public_id: str
    code: str
    title: str


class ShareBook:
    """Every work's share history: the shares on a day are the rows of the latest
    `effective_from` on or before it (none before the first: nobody earns)."""

    def __init__(self, rows: Iterable[tuple[int, date, int, Decimal]]) -> None:
        dated: dict[int, dict[date, dict[int, Decimal]]] = defaultdict(lambda: defaultdict(dict))
        for work, day, payee, share in rows:
            dated[work][day][payee] = share
        self._days = {w: sorted(days) for w, days in dated.items()}
        self._shares = dated

    def at(self, work: int, day: date) -> Mapping[int, Decimal]:
        days = self._days.get(work)
        if not days:
            return {}
        index = bisect.bisect_right(days, day) - 1
        return self._shares[work][days[index]] if index >= 0 else {}


async def load_contracts(tenant_id: int) -> dict[tuple[int, int], ContractTerms]:
    rows = await Contract.filter(tenant_id=tenant_id, archived_at=None).values_list(
        "work_id", "payee_id", "rules", "reserve"
    )
    return {(w, p): parse_terms(rules, reserve) for w, p, rules, reserve in rows}


async def load_shares(tenant_id: int) -> ShareBook:
    rows = await fetch_rows(
        WorkShare,
        "SELECT s.work_id, s.effective_from, s.payee_id, s.share FROM royalty_work_share s "
        "JOIN royalty_work w ON w.id = s.work_id WHERE w.tenant_id = $1",
        [tenant_id],
    )
    return ShareBook(
        (
            r["work_id"],
            r["effective_from"]
            if isinstance(r["effective_from"], date)
            else date.fromisoformat(str(r["effective_from"])[:10]),
            r["payee_id"],
            Decimal(r["share"]),
        )
        for r in rows
    )


async def load_history(tenant_id: int, period: RoyaltyPeriod, lines: list[int]) -> History:
    """Escalator units per (payee, work, kind) before the period; for the lines the
    period's credit notes refund, the slices they earned and the refunds counted."""
    units_rows = await fetch_rows(
        RoyaltyEarning,
        "SELECT payee_id, work_id, kind, SUM(units) AS units FROM royalty_earning "
        "WHERE tenant_id = $1 AND movement = 'earning' AND period < $2 AND work_id IS NOT NULL "
        "GROUP BY payee_id, work_id, kind",
        [tenant_id, str(period)],
    )
    units = {
        (r["payee_id"], r["work_id"], TransactionType(r["kind"])): int(r["units"])
        for r in units_rows
    }
    slices: dict[tuple[int, int], dict[int, list]] = defaultdict(lambda: defaultdict(list))
    refunded: dict[tuple[int, int, int], int] = defaultdict(int)
    if lines:
        earned = await RoyaltyEarning.filter(
            tenant_id=tenant_id, invoice_line_id__in=lines, period__lt=str(period)
        ).order_by("id")
        for e in earned:
            if e.movement == "earning":
                slice_ = Slice(
                    e.tier or 0, e.units, e.basis_minor, Decimal(e.rate or 0), e.amount_minor
                )
                slices[(e.invoice_line_id, e.work_id)][e.payee_id].append(
                    (TransactionType(e.kind), e.line_kept_minor, slice_)
                )
            else:
                refunded[(e.invoice_line_id, e.work_id, e.payee_id)] += e.refund_counted_minor
    return History(units, slices, refunded)


async def load_rates(tenant_id: int, period: RoyaltyPeriod) -> list[ExchangeRate]:
    rows = await RoyaltyExchangeRate.filter(tenant_id=tenant_id, period=str(period)).values_list(
        "from_currency", "to_currency", "rate"
    )
    return [ExchangeRate(f, t, Decimal(r)) for f, t, r in rows]


async def load_releases(tenant_id: int, period: RoyaltyPeriod) -> dict[int, int]:
    """Per payee, the reserves withheld earlier that are released in this period."""
    rows = await fetch_rows(
        RoyaltyLedgerEntry,
        "SELECT payee_id, SUM(reserve_minor) AS due FROM royalty_ledger_entry "
        "WHERE tenant_id = $1 AND kind = 'reserve_withheld' AND release_period = $2 "
        "GROUP BY payee_id",
        [tenant_id, str(period)],
    )
    return {r["payee_id"]: int(r["due"]) for r in rows if int(r["due"])}


async def load_works(work_ids: set[int]) -> dict[int, WorkInfo]:
    if not work_ids:
        return {}
    rows = await Work.filter(id__in=sorted(work_ids)).values_list(
        "id", "public_id", "code", "title"
    )
    return {i: WorkInfo(p, c, t) for i, p, c, t in rows}


async def load_payees(tenant_id: int) -> dict[int, Payee]:
    """Every payee of the tenant (archived ones too: what they earned is still owed)."""
    return {p.id: p for p in await Payee.filter(tenant_id=tenant_id)}
