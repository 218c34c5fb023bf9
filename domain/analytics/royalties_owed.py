"""Royalties owed (issue 17): per payout currency, what the tenant owes its payees
and what they owe it, now or at an instant. Read-only over the royalty ledger and
statements (db/royalty_models.py; meanings in docs/ROYALTIES.md).

The figures, as the royalty run itself reads them (domain/royalties/run.py):
- payable: what statements made payable (draft, then approved) and no payout has
  paid yet. A statement pays in full or not at all, so this is Σ payable_minor of
  the unpaid ones, split into awaiting approval and approved (a Stripe transfer in
  flight is approved until its answer comes).
- carried: a payee's balance owed (the sum of its ledger's `amount_minor`) less its
  unpaid payable, i.e. what its last statement carried forward. A positive one is
  owed once it reaches the payout threshold (`carried_minor`); a negative one (a
  refund after a payout) is the payee's debt, recovered from later earnings
  (`recoverable_minor`, as a positive amount). Each payee counts on one side only.
- advances outstanding: advances paid and not yet recouped (Σ `advance_minor`).
- reserve held: earnings withheld against returns, released in a later period
  (Σ `reserve_minor`); not in the balance owed until released.
Every figure is in the payees' payout currency, the ledger's, never converted nor
summed across currencies. A payee counts in a currency once it has a ledger entry
or an unpaid statement in it.

`as_of` reads the ledger entries and statements as they stood at that instant
(entries written then or before; a statement approved or paid after it is not yet
approved or paid); without it, everything written so far.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from db import raw
from db.royalty_models import RoyaltyLedgerEntry
from domain.analytics.buckets import numbered, stamp, whole
from domain.errors import ValidationError
from domain.tenancy.access import Permission, Principal


@dataclass(frozen=True, slots=True)
class RoyaltiesOwed:
    currency: str
    payable_minor: int  # made payable by statements, not paid
    awaiting_approval_minor: int  # of which on draft statements
    approved_minor: int  # of which approved, not paid yet
    unpaid_statements: int
    carried_minor: int  # positive balances carried forward (below the threshold)
    recoverable_minor: int  # negative balances carried, as a positive amount
    advances_outstanding_minor: int
    reserve_held_minor: int
    payees: int
    payees_payable: int  # with an unpaid payable statement
    payees_carrying: int  # with a positive balance carried
    payees_in_debt: int  # with a negative balance carried
    payees_with_advance: int  # with an advance not yet recouped

    @property
    def owed_minor(self) -> int:
        """What the tenant owes its payees in this currency now: payable and carried
        (reserves are not owed until released; debts are not netted off)."""
        return self.payable_minor + self.carried_minor


@dataclass(slots=True)
class _Payee:
    currency: str
    balance: int = 0
    advance: int = 0
    reserve: int = 0
    draft: int = 0
    approved: int = 0
    statements: int = 0


async def royalties_owed(
    principal: Principal, as_of: datetime | None = None
) -> list[RoyaltiesOwed]:
    """Per payout currency, by code: payable, carried, advances and reserves of the
    tenant's payees, at `as_of` (time-zone aware) or now. Two statements."""
    principal.require(Permission.ANALYTICS_READ)
    if as_of is not None and as_of.tzinfo is None:
        raise ValidationError("give times with a time zone", field="asOf")
    conn = RoyaltyLedgerEntry._meta.db
    values: dict[str, Any] = {"tenant": principal.tenant_id}
    if as_of is not None:
        values["at"] = stamp(conn, as_of)
    payees: dict[tuple[int, str], _Payee] = {}

    def payee(payee_id: Any, currency: Any) -> _Payee:
        key = (whole(payee_id), str(currency))
        return payees.setdefault(key, _Payee(key[1]))

    written = "" if as_of is None else " AND created_at <= {at}"
    ledger = await _fetch(
        "SELECT payee_id, currency, SUM(amount_minor) AS balance,"
        " SUM(advance_minor) AS advance, SUM(reserve_minor) AS reserve"
        " FROM royalty_ledger_entry WHERE tenant_id = {tenant}"
        + written
        + " GROUP BY payee_id, currency",
        values,
    )
    for r in ledger:
        p = payee(r["payee_id"], r["currency"])
        p.balance, p.advance, p.reserve = (
            whole(r["balance"]),
            whole(r["advance"]),
            whole(r["reserve"]),
        )
    if as_of is None:
        unpaid = "status IN ('draft', 'approved')"
        approved = "CASE WHEN status = 'approved' THEN 1 ELSE 0 END"
    else:
        unpaid = "status <> 'carried' AND (paid_at IS NULL OR paid_at > {at})"
        approved = "CASE WHEN approved_at <= {at} THEN 1 ELSE 0 END"
    statements = await _fetch(
        f"SELECT payee_id, currency, {approved} AS approved, COUNT(*) AS statements,"
        " SUM(payable_minor) AS payable FROM royalty_statement"
        f" WHERE tenant_id = {{tenant}} AND payable_minor > 0{written} AND {unpaid}"
        " GROUP BY payee_id, currency, approved",
        values,
    )
    for r in statements:
        p = payee(r["payee_id"], r["currency"])
        if whole(r["approved"]):
            p.approved += whole(r["payable"])
        else:
            p.draft += whole(r["payable"])
        p.statements += whole(r["statements"])
    return _by_currency(payees.values())


async def _fetch(sql: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    text, params = numbered(sql, values)
    return await raw.fetch(RoyaltyLedgerEntry, text, params)


def _by_currency(payees: Any) -> list[RoyaltiesOwed]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0] * 13)
    for p in payees:
        payable = p.draft + p.approved
        carried = p.balance - payable
        s = sums[p.currency]
        figures = (  # in RoyaltiesOwed's field order, after the currency
            payable,
            p.draft,
            p.approved,
            p.statements,
            max(carried, 0),
            max(-carried, 0),
            p.advance,
            p.reserve,
            1,
            payable > 0,
            carried > 0,
            carried < 0,
            p.advance > 0,
        )
        for i, v in enumerate(figures):
            s[i] += int(v)
    return [RoyaltiesOwed(currency, *sums[currency]) for currency in sorted(sums)]
