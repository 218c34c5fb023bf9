"""The common consumption in one statement, on PostgreSQL.

The rules' checks (`rules.decide`) are the WHERE clause of one UPDATE of the
wallet, and the ledger insert hangs off its RETURNING, autocommitted: one round
trip. It only matches the plain case: nothing due on the wallet (no expiry or
allowance boundary passed), no low-balance threshold crossed, no auto-block to
set, a customer in good standing, a new request id. Anything else matches nothing
and the caller takes the locked path (`consume._locked`), which handles every
case; a test holds the two paths to the same rows. A concurrent duplicate request
id fails the unique index, and the caller answers it as a replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from tortoise.exceptions import IntegrityError

from db import raw
from db.credit_models import CreditEntry
from domain.credits import rules
from domain.credits.accounts import Account
from domain.credits.ledger_writer import Change, entry_event
from domain.ids import new_id


@dataclass(frozen=True, slots=True)
class Debited:
    entry_id: str
    cost: int
    balance: int
    remaining_today: int | None
    change: Change


# The rules' checks as one WHERE clause; $5 is the daily limit (NULL: none), $6 the
# low-balance threshold (NULL: none) and $7 the tenant's auto-block setting, both of
# which send the request down the locked path when they would trigger; $17 whether
# the tenant blocks customers with overdue invoices (their standing is read here).
_ONE_STATEMENT = """
WITH upd AS (
  UPDATE credit_wallet SET
    balance = balance - $1,
    used_today = CASE WHEN usage_day COLLATE "C" >= $2 THEN used_today + $1 ELSE $1 END,
    usage_day = GREATEST(usage_day COLLATE "C", $2),
    consumed_total = consumed_total + $1,
    updated_at = $3
  WHERE id = $4 AND NOT blocked AND NOT auto_blocked
    AND balance - reserved >= $1
    AND (next_event_at IS NULL OR next_event_at > $3)
    AND ($5::bigint IS NULL
         OR (CASE WHEN usage_day COLLATE "C" >= $2 THEN used_today ELSE 0 END) + $1 <= $5::bigint)
    AND ($6::bigint IS NULL OR balance - $1 >= $6::bigint OR balance < $6::bigint)
    AND (NOT $7::boolean OR balance - reserved - $1 > 0)
    AND NOT EXISTS (SELECT 1 FROM credit_entry WHERE tenant_id = $8 AND request_id = $9)
    AND NOT ($17::boolean AND EXISTS (SELECT 1 FROM customer WHERE id = $11 AND delinquent))
  RETURNING balance, reserved, used_today, usage_day, blocked OR auto_blocked AS blocked
)
INSERT INTO credit_entry (public_id, tenant_id, wallet_id, customer_id, kind, amount,
  balance_after, module, action, quantity, request_id, request_hash, remaining_today,
  local_day, metadata, created_at)
SELECT $10, $8, $4, $11, 'consumption', -$1, upd.balance, $12, $13, $14, $9, $15,
  $5::bigint - upd.used_today, upd.usage_day, $16::jsonb, $3
FROM upd
RETURNING balance_after, remaining_today,
  (SELECT reserved FROM upd) AS reserved, (SELECT used_today FROM upd) AS used_today,
  (SELECT blocked FROM upd) AS blocked, (SELECT usage_day FROM upd) AS usage_day
"""


async def try_one_statement(account: Account, req: Any, now: datetime) -> Debited | None:
    """None: not the plain case (or a concurrent duplicate): take the other path."""
    digest = rules.request_digest(
        account.customer_id, req.module, req.action, req.quantity, req.metadata
    )
    cost = rules.cost_of(account.ent, req.module, req.quantity)
    try:
        return await _one_statement(account, req, digest, cost, now)
    except IntegrityError:  # the same request id, committed concurrently: a replay
        return None


async def _one_statement(
    account: Account, req: Any, digest: str, cost: int, now: datetime
) -> Debited | None:
    entry_id = new_id("credit_entry")
    day = rules.local_day(now, account.timezone)
    rows = await raw.fetch(
        CreditEntry,
        _ONE_STATEMENT,
        [
            cost,
            day,
            now,
            account.wallet_id,
            account.ent.daily_limit,
            account.settings.low_threshold,
            account.settings.auto_block,
            account.tenant_id,
            req.request_id,
            entry_id,
            account.customer_id,
            req.module,
            req.action,
            req.quantity,
            digest,
            None if req.metadata is None else orjson.dumps(req.metadata).decode(),
            account.blocks_delinquent,
        ],
    )
    if not rows:
        return None
    row = rows[0]
    change = Change(
        account.customer_id,
        account.customer_public_id,
        {
            "balance": row["balance_after"],
            "reserved": row["reserved"],
            "used_today": row["used_today"],
            "usage_day": row["usage_day"],
            "blocked": row["blocked"],
        },
        entry_event(
            {
                "public_id": entry_id,
                "kind": "consumption",
                "amount": -cost,
                "balance_after": row["balance_after"],
                "module": req.module,
                "action": req.action,
                "quantity": req.quantity,
                "created_at": now,
            }
        ),
    )
    return Debited(entry_id, cost, row["balance_after"], row["remaining_today"], change)
