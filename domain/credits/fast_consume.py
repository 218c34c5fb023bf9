"""The common consumption in one statement, on PostgreSQL.

The consumption guards (`guards.py`: the refusals and the locked-path guards) are
the WHERE clause of one UPDATE of the wallet, and the ledger insert hangs off its
RETURNING, autocommitted: one round trip. It only matches the plain case: every
guard holds (nothing due on the wallet, no low-balance threshold crossed, no
auto-block to set, a customer in good standing) and the request id is new.
Anything else matches nothing and the caller takes the locked path
(`consume._locked`), which handles every case. The caller has asked `rules.decide`
first, on the same guards; the statement checks them again on the row itself,
because the caller's view of the wallet may be a cached one. A concurrent
duplicate request id fails the unique index, and the caller answers it as a replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from tortoise.exceptions import IntegrityError

from db import raw
from db.credit_models import CreditEntry
from domain.credits import guards, rules
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


# `{guards}` is every guard's fragment; `{name}` a parameter, numbered by `_numbered`.
# The daily limit (NULL: none), the low-balance threshold (NULL: none) and the
# tenant's auto-block and delinquency-block settings come from the customer's terms;
# everything about the wallet and the customer's standing is read here.
_TEMPLATE = """
WITH upd AS (
  UPDATE credit_wallet SET
    balance = balance - {cost},
    used_today = USED_ON_DAY + {cost},
    usage_day = COUNTING_DAY,
    consumed_total = consumed_total + {cost},
    updated_at = {now}
  WHERE id = {wallet_id}
    AND GUARDS
    AND NOT EXISTS (SELECT 1 FROM credit_entry WHERE tenant_id = {tenant_id}
                    AND request_id = {request_id})
  RETURNING balance, reserved, used_today, usage_day, blocked OR auto_blocked AS blocked
)
INSERT INTO credit_entry (public_id, tenant_id, wallet_id, customer_id, kind, amount,
  balance_after, module, action, quantity, request_id, request_hash, remaining_today,
  local_day, metadata, created_at)
SELECT {entry_id}, {tenant_id}, {wallet_id}, {customer_id}, 'consumption', -{cost},
  upd.balance, {module}, {action}, {quantity}, {request_id}, {request_hash},
  {daily_limit}::bigint - upd.used_today, upd.usage_day, {metadata}::jsonb, {now}
FROM upd
RETURNING balance_after, remaining_today,
  (SELECT reserved FROM upd) AS reserved, (SELECT used_today FROM upd) AS used_today,
  (SELECT blocked FROM upd) AS blocked, (SELECT usage_day FROM upd) AS usage_day
"""

_PARAMETERS = frozenset(
    (
        "cost day now wallet_id tenant_id request_id entry_id customer_id module action"
        " quantity request_hash daily_limit metadata low_threshold auto_block"
        " blocks_delinquent"
    ).split()
)


class _Numbering(dict[str, str]):
    """`{name}` -> `$n`, numbered in order of first use."""

    def __missing__(self, name: str) -> str:
        if name not in _PARAMETERS:
            raise KeyError(f"a guard uses an unknown parameter {{{name}}}")
        self[name] = f"${len(self) + 1}"
        return self[name]


def build_statement(guard_list: tuple[guards.Guard, ...]) -> tuple[str, tuple[str, ...]]:
    """The statement for these guards, and its parameters' names in `$n` order."""
    where = "\n    AND ".join(g.sql for g in guard_list if g.sql is not None)
    text = (
        _TEMPLATE.replace("GUARDS", where)
        .replace("USED_ON_DAY", guards.USED_ON_DAY_SQL)
        .replace("COUNTING_DAY", guards.COUNTING_DAY_SQL)
    )
    numbering = _Numbering()
    return text.format_map(numbering), tuple(numbering)


# Built once: asyncpg prepares it once per connection and reuses it.
STATEMENT, _PARAMS = build_statement(guards.GUARDS)


async def try_one_statement(
    account: Account, req: Any, now: datetime, decision: rules.Decision, day: str
) -> Debited | None:
    """`decision`: `rules.decide`'s answer on the caller's view of the wallet, made
    on the customer's `day` at `now`; only a plain one is tried. None: not the plain
    case (or a concurrent duplicate): take the other path."""
    if not decision.plain:
        return None
    digest = rules.request_digest(
        account.customer_id, req.module, req.action, req.quantity, req.metadata
    )
    try:
        return await _one_statement(account, req, digest, decision.cost, now, day)
    except IntegrityError:  # the same request id, committed concurrently: a replay
        return None


async def _one_statement(
    account: Account, req: Any, digest: str, cost: int, now: datetime, day: str
) -> Debited | None:
    entry_id = new_id("credit_entry")
    values = {
        "cost": cost,
        "day": day,
        "now": now,
        "wallet_id": account.wallet_id,
        "daily_limit": account.ent.daily_limit,
        "low_threshold": account.settings.low_threshold,
        "auto_block": account.settings.auto_block,
        "tenant_id": account.tenant_id,
        "request_id": req.request_id,
        "entry_id": entry_id,
        "customer_id": account.customer_id,
        "module": req.module,
        "action": req.action,
        "quantity": req.quantity,
        "request_hash": digest,
        "metadata": None if req.metadata is None else orjson.dumps(req.metadata).decode(),
        "blocks_delinquent": account.blocks_delinquent,
    }
    rows = await raw.fetch(CreditEntry, STATEMENT, [values[name] for name in _PARAMS])
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
