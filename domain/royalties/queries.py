"""Reading royalties: statements, the ledger and earnings per period and type.

A payee token reads only its own payee's rows (another payee's statement is "not
found", exactly like a missing one); admins read the whole tenant's.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from db.royalty_models import Payee, RoyaltyEarning, RoyaltyLedgerEntry, RoyaltyStatement, Work
from domain.errors import NotFoundError, ValidationError
from domain.ids import check_id
from domain.pagination import Page, PageRequest, paginate
from domain.royalties.settings import RoyaltyPeriod
from domain.tenancy.access import Permission, Principal, Role

STATUSES = ("draft", "approved", "paid", "carried")


def royalty_scope(principal: Principal) -> dict[str, Any]:
    """Filters for rows that belong to a payee (statements, ledger, earnings)."""
    principal.require(Permission.ROYALTIES_READ)
    found: dict[str, Any] = {"tenant_id": principal.tenant_id}
    if principal.role is Role.PAYEE:
        found["payee_id"] = principal.payee_id
    return found


async def _payee_id(principal: Principal, public_id: str | None) -> int | None:
    if public_id is None:
        return None
    check_id(public_id, "payee", field="payeeId")
    scope = royalty_scope(principal)
    query = Payee.filter(tenant_id=principal.tenant_id, public_id=public_id)
    if "payee_id" in scope:
        query = query.filter(id=scope["payee_id"])
    found = await query.values_list("id", flat=True)
    if not found:
        raise NotFoundError(f"no payee {public_id}", field="payeeId")
    return found[0]


async def list_statements(
    principal: Principal,
    *,
    payee_id: str | None,
    period: str | None,
    status: str | None,
    page: PageRequest,
) -> Page[RoyaltyStatement]:
    query = RoyaltyStatement.filter(**royalty_scope(principal))
    internal = await _payee_id(principal, payee_id)
    if internal is not None:
        query = query.filter(payee_id=internal)
    if period is not None:
        query = query.filter(period=str(RoyaltyPeriod.parse(period)))
    if status is not None:
        if status.lower() not in STATUSES:
            raise ValidationError(
                f"status is one of {', '.join(s.upper() for s in STATUSES)}", field="status"
            )
        query = query.filter(status=status.lower())
    return await paginate(query, page)


async def load_statement(principal: Principal, statement_id: str) -> RoyaltyStatement:
    check_id(statement_id, "royalty_statement", field="id")
    found = await RoyaltyStatement.get_or_none(public_id=statement_id, **royalty_scope(principal))
    if found is None:
        raise NotFoundError(f"no royalty statement {statement_id}", field="id")
    return found


async def ledger_page(
    principal: Principal, *, payee_id: str | None, page: PageRequest
) -> Page[RoyaltyLedgerEntry]:
    query = RoyaltyLedgerEntry.filter(**royalty_scope(principal))
    internal = await _payee_id(principal, payee_id)
    if internal is not None:
        query = query.filter(payee_id=internal)
    return await paginate(query, page)


@dataclass(frozen=True, slots=True)
class EarningsRow:
    period: str
    kind: str
    work_id: str | None
    payee_id: str
    currency: str
    units: int
    basis_minor: int
    earned_minor: int
    returned_minor: int


MAX_PERIODS = 120


async def earnings_report(
    principal: Principal,
    *,
    work_id: str | None,
    payee_id: str | None,
    from_period: str,
    to_period: str,
) -> list[EarningsRow]:
    """Earnings and returns per period, transaction type, work, payee and currency
    (sale currency), for the periods from `from_period` to `to_period` included."""
    start = RoyaltyPeriod.parse(from_period, field="from")
    end = RoyaltyPeriod.parse(to_period, field="to")
    if end < start:
        raise ValidationError("to must not be before from", field="to")
    if end.index - start.index >= MAX_PERIODS:
        raise ValidationError(f"at most {MAX_PERIODS} periods at once", field="to")
    scope = royalty_scope(principal)
    query = RoyaltyEarning.filter(
        tenant_id=principal.tenant_id, period__gte=str(start), period__lte=str(end)
    )
    if "payee_id" in scope:
        query = query.filter(payee_id=scope["payee_id"])
    internal_payee = await _payee_id(principal, payee_id)
    if internal_payee is not None:
        query = query.filter(payee_id=internal_payee)
    if work_id is not None:
        check_id(work_id, "work", field="workId")
        work = await Work.get_or_none(tenant_id=principal.tenant_id, public_id=work_id)
        if work is None:
            raise NotFoundError(f"no work {work_id}", field="workId")
        query = query.filter(work_id=work.id)
    rows = await query.values_list(
        "period",
        "kind",
        "work_id",
        "payee_id",
        "currency",
        "movement",
        "units",
        "basis_minor",
        "amount_minor",
    )
    sums: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for period, kind, work, payee, currency, movement, units, basis, amount in rows:
        figures = sums[(period, kind, work, payee, currency)]
        if movement == "earning":
            figures[0] += units
            figures[1] += basis
            figures[2] += amount
        else:
            figures[3] += amount
    work_ids = {k[2] for k in sums if k[2] is not None}
    payee_ids = {k[3] for k in sums}
    works = dict(await Work.filter(id__in=sorted(work_ids)).values_list("id", "public_id"))
    payees = dict(await Payee.filter(id__in=sorted(payee_ids)).values_list("id", "public_id"))
    return [
        EarningsRow(period, kind, works.get(work), payees[payee], currency, *figures)
        for (period, kind, work, payee, currency), figures in sorted(
            sums.items(),
            key=lambda item: (
                item[0][0],
                item[0][1],
                payees[item[0][3]],
                works.get(item[0][2]) or "",
                item[0][4],
            ),
        )
    ]
