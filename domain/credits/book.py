"""Writing to locked wallets: every change is a ledger entry and moves the stored
balance by the same amount, in the same transaction. A `Book` collects a
transaction's entries and writes them in one statement at the end, with the
wallets, the `credits.low` outbox events and what the live feed will announce."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from db.bulk import insert_many, update_many
from db.credit_models import CreditEntry, CreditWallet
from db.raw import is_postgres
from domain.credits import rules
from domain.ids import new_id
from domain.webhooks import outbox

ENTRY_COLUMNS = (
    "public_id",
    "tenant_id",
    "wallet_id",
    "customer_id",
    "kind",
    "amount",
    "balance_after",
    "module",
    "action",
    "quantity",
    "request_id",
    "request_hash",
    "remaining_today",
    "local_day",
    "metadata",
    "reason",
    "author",
    "lot_id",
    "reservation_id",
    "refund_of",
    "created_at",
)
WALLET_COLUMNS = (
    "balance",
    "reserved",
    "consumed_total",
    "consumed_settled",
    "usage_day",
    "used_today",
    "blocked",
    "blocked_reason",
    "auto_blocked",
    "next_event_at",
    "updated_at",
)
CREDITS_ENTRY_KINDS = (
    "allowance",
    "grant",
    "promotion",
    "purchase",
    "consumption",
    "refund",
    "expiry",
    "reset",
)


_METADATA = ENTRY_COLUMNS.index("metadata")
_PG_TYPES = {
    "tenant_id": "bigint",
    "wallet_id": "bigint",
    "customer_id": "bigint",
    "amount": "bigint",
    "balance_after": "bigint",
    "quantity": "bigint",
    "remaining_today": "bigint",
    "lot_id": "bigint",
    "reservation_id": "bigint",
    "refund_of": "bigint",
    "created_at": "timestamptz",
}
_UNNEST_INSERT = (
    f"INSERT INTO credit_entry ({', '.join(ENTRY_COLUMNS)}) SELECT "
    + ", ".join(f"{c}::jsonb" if c == "metadata" else c for c in ENTRY_COLUMNS)
    + " FROM unnest("
    + ", ".join(f"${i}::{_PG_TYPES.get(c, 'text')}[]" for i, c in enumerate(ENTRY_COLUMNS, start=1))
    + f") AS t({', '.join(ENTRY_COLUMNS)})"
)


def _pg_rows(entries: list[dict[str, Any]]) -> list[list[Any]]:
    rows = []
    for entry in entries:
        row = [entry[c] for c in ENTRY_COLUMNS]
        if row[_METADATA] is not None:
            row[_METADATA] = orjson.dumps(row[_METADATA]).decode()
        rows.append(row)
    return rows


def count_today(wallet: CreditWallet, day: str, amount: int) -> None:
    """Add to the wallet's usage of the customer's `day` (a new day starts at 0)."""
    wallet.used_today = wallet.used_today + amount if wallet.usage_day == day else amount
    wallet.usage_day = day


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def wallet_snapshot(wallet: CreditWallet) -> dict[str, Any]:
    return {
        "balance": wallet.balance,
        "reserved": wallet.reserved,
        "used_today": wallet.used_today,
        "usage_day": wallet.usage_day,
        "blocked": wallet.blocked or wallet.auto_blocked,
    }


def entry_event(row: dict[str, Any]) -> dict[str, Any]:
    """An entry as the live feed carries it."""
    return {
        "id": row["public_id"],
        "kind": row["kind"],
        "amount": row["amount"],
        "balance_after": row["balance_after"],
        "module": row.get("module"),
        "action": row.get("action"),
        "quantity": row.get("quantity"),
        "created_at": iso(row["created_at"]),
    }


@dataclass(slots=True)
class Change:
    """One thing that happened to a wallet, for the live feed (after commit)."""

    customer_id: int
    customer: str
    wallet: dict[str, Any]
    entry: dict[str, Any] | None = None


@dataclass(slots=True)
class Book:
    tenant_id: int
    now: datetime
    entries: list[dict[str, Any]] = field(default_factory=list)
    wallets: dict[int, CreditWallet] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    events: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)

    def touch(self, wallet: CreditWallet, customer: str) -> None:
        """A change with no entry (a hold, a block): the balance feed still hears it."""
        self.wallets[wallet.id] = wallet
        wallet.updated_at = self.now
        self.changes.append(Change(wallet.customer_id, customer, wallet_snapshot(wallet)))

    def entry(
        self,
        wallet: CreditWallet,
        customer: str,
        kind: str,
        amount: int,
        *,
        settings: rules.CreditSettings | None = None,
        at: datetime | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """`at`: when it happened, if not `now` (a boundary caught up later)."""
        before = wallet.balance
        wallet.balance += amount
        wallet.updated_at = self.now
        self.wallets[wallet.id] = wallet
        if settings is not None:
            self._thresholds(wallet, customer, before, settings)
        row = {name: None for name in ENTRY_COLUMNS}
        row.update(
            public_id=new_id("credit_entry"),
            tenant_id=self.tenant_id,
            wallet_id=wallet.id,
            customer_id=wallet.customer_id,
            kind=kind,
            amount=amount,
            balance_after=wallet.balance,
            created_at=at or self.now,
        )
        row.update(fields)
        self.entries.append(row)
        self.changes.append(
            Change(wallet.customer_id, customer, wallet_snapshot(wallet), entry_event(row))
        )
        return row

    def _thresholds(
        self, wallet: CreditWallet, customer: str, before: int, settings: rules.CreditSettings
    ) -> None:
        after = wallet.balance
        threshold = settings.low_threshold
        if threshold is not None and before >= threshold > after:
            self.events.append(
                (
                    self.tenant_id,
                    "credits.low",
                    {
                        "object": "credit_wallet",
                        "customer": customer,
                        "balance": after,
                        "threshold": threshold,
                    },
                )
            )
        if settings.auto_block:
            if after - wallet.reserved <= 0 and after < before:
                wallet.auto_blocked = True
            elif wallet.auto_blocked and after - wallet.reserved > 0 and after > before:
                wallet.auto_blocked = False  # a top-up unblocks

    async def flush(self) -> None:
        if self.entries and is_postgres(CreditEntry._meta.db):
            # One INSERT of column arrays: for a batch of 1,000 entries it is several
            # times faster than 1,000 pipelined INSERTs, and skips 20,000 field
            # conversions (asyncpg takes these values as they are, JSON as text).
            columns = list(zip(*_pg_rows(self.entries), strict=True))
            await CreditEntry._meta.db.execute_query(_UNNEST_INSERT, [list(c) for c in columns])
        else:
            await insert_many(
                CreditEntry,
                ENTRY_COLUMNS,
                [[row[c] for c in ENTRY_COLUMNS] for row in self.entries],
            )
        await update_many(CreditWallet, WALLET_COLUMNS, list(self.wallets.values()))
        await outbox.emit_many(self.events)
