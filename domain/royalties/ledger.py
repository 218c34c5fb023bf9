"""The royalty ledger: append-only entries in the payee's payout currency, written
with the payee row locked, moving its running figures by the same amounts in the
same transaction. `verify_ledger` checks that every payee's figures equal the sums
of its entries (`python server.py verify-ledger`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from db.bulk import insert_many
from db.raw import fetch_rows
from db.royalty_models import Payee, RoyaltyLedgerEntry
from domain.ids import new_id

KINDS = (
    "earning",
    "clawback",
    "adjustment",
    "reserve_withheld",
    "reserve_released",
    "advance",
    "recoupment",
    "payout",
    "carried_forward",
)
COLUMNS = (
    "public_id",
    "tenant_id",
    "payee_id",
    "statement_id",
    "period",
    "kind",
    "amount_minor",
    "advance_minor",
    "reserve_minor",
    "balance_after_minor",
    "currency",
    "memo",
    "release_period",
    "created_at",
)


@dataclass(frozen=True, slots=True)
class Posting:
    """One ledger movement: `amount_minor` on the balance owed to the payee (an
    earning is positive, a payout negative), `advance_minor` on the unrecouped
    advance, `reserve_minor` on the reserve held."""

    kind: str
    amount_minor: int = 0
    advance_minor: int = 0
    reserve_minor: int = 0
    memo: str = ""
    release_period: str | None = None  # reserve_withheld: when it is released

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown ledger entry kind {self.kind!r}")


async def post(
    payee: Payee,
    postings: Sequence[Posting],
    *,
    at: datetime,
    statement_id: int | None = None,
    period: str | None = None,
) -> None:
    """Append `postings` for `payee` (a row the caller has locked, in its transaction)
    and move its running figures; the caller saves nothing else on the payee."""
    rows = []
    for p in postings:
        payee.balance_minor += p.amount_minor
        payee.advance_minor += p.advance_minor
        payee.reserve_minor += p.reserve_minor
        rows.append(
            (
                new_id("royalty_ledger_entry"),
                payee.tenant_id,
                payee.id,
                statement_id,
                period,
                p.kind,
                p.amount_minor,
                p.advance_minor,
                p.reserve_minor,
                payee.balance_minor,
                payee.payout_currency,
                p.memo[:500],
                p.release_period,
                at,
            )
        )
    await insert_many(RoyaltyLedgerEntry, COLUMNS, rows)
    payee.updated_at = at
    await payee.save(
        update_fields=["balance_minor", "advance_minor", "reserve_minor", "updated_at"]
    )


@dataclass(frozen=True, slots=True)
class Mismatch:
    payee: str
    figure: str
    stored_minor: int
    ledger_minor: int


_SUMS = """
SELECT p.public_id AS payee, p.balance_minor AS balance, p.advance_minor AS advance,
       p.reserve_minor AS reserve, COALESCE(SUM(e.amount_minor), 0) AS sum_balance,
       COALESCE(SUM(e.advance_minor), 0) AS sum_advance,
       COALESCE(SUM(e.reserve_minor), 0) AS sum_reserve
FROM royalty_payee p LEFT JOIN royalty_ledger_entry e ON e.payee_id = p.id
{where}
GROUP BY p.id, p.public_id, p.balance_minor, p.advance_minor, p.reserve_minor
ORDER BY p.id
"""


async def verify_ledger(tenant_id: int | None = None) -> tuple[int, list[Mismatch]]:
    """(payees checked, mismatches): each payee's balance, unrecouped advance and
    reserve held against the sums of its ledger entries (one query)."""
    where, args = ("WHERE p.tenant_id = $1", [tenant_id]) if tenant_id is not None else ("", [])
    rows = await fetch_rows(Payee, _SUMS.format(where=where), args)
    found = []
    for row in rows:
        for figure in ("balance", "advance", "reserve"):
            stored, summed = int(row[figure]), int(row["sum_" + figure])
            if stored != summed:
                found.append(Mismatch(row["payee"], figure, stored, summed))
    return len(rows), found
