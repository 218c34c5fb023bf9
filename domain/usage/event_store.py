"""The writes of ingestion, a fixed number of statements per batch on either database.

Events go in with `ON CONFLICT (tenant_id, transaction_id) DO NOTHING RETURNING`,
so the unique constraint decides which of two concurrent senders stored an event
and only the events actually stored reach the aggregates: sixteen clients sending
one id at once store it once and count it once. On PostgreSQL the batch travels as
one JSON document (`json_populate_recordset`), one bound parameter instead of nine
arrays; on SQLite as multi-row VALUES.

Aggregate rows are created if missing (`DO NOTHING`), then locked in id order
(`FOR UPDATE`: two batches touching one aggregate queue, never deadlock), merged
in Python with `Decimal` and written back with one prepared UPDATE.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from db.bulk import update_many
from db.raw import fetch_rows, is_postgres
from db.usage_models import UsageAggregate, UsageEvent, UsagePeriod
from domain.usage.aggregation import merge

EVENT_COLUMNS = (
    "tenant_id",
    "transaction_id",
    "customer_id",
    "subscription_id",
    "metric_id",
    "timestamp",
    "properties",
    "body_hash",
    "created_at",
)
AGGREGATE_FIELDS = (
    "events",
    "total",
    "maximum",
    "latest_at",
    "latest_value",
    "latest_tx",
    "weighted",
    "fees",
    "uniques",
    "updated_at",
)
AggregateKey = tuple[int, int, datetime, str]  # subscription, charge, period start, group


def _conn() -> Any:
    return UsageEvent._meta.db


def marks(start: int, count: int) -> str:
    return ", ".join(f"${i}" for i in range(start, start + count))


async def _query(sql: str, params: list[Any]) -> list[Any]:
    return await fetch_rows(UsageEvent, sql, params)


async def insert_events(rows: Sequence[dict[str, Any]]) -> set[str]:
    """Store the rows that are new; the transaction ids stored."""
    if not rows:
        return set()
    cols = ", ".join(EVENT_COLUMNS)
    conflict = "ON CONFLICT (tenant_id, transaction_id) DO NOTHING RETURNING transaction_id"
    if is_postgres(_conn()):
        document = orjson.dumps(list(rows), default=str).decode()
        sql = (
            f"INSERT INTO usage_event ({cols}) SELECT {cols} "
            f"FROM json_populate_recordset(NULL::usage_event, $1::json) {conflict}"
        )
        found = await _query(sql, [document])
        return {r["transaction_id"] for r in found}
    stored: set[str] = set()
    width = len(EVENT_COLUMNS)
    for i in range(0, len(rows), 200):
        chunk = rows[i : i + 200]
        values = ", ".join(f"({marks(1 + j * width, width)})" for j in range(len(chunk)))
        params: list[Any] = []
        for row in chunk:
            params.extend(
                orjson.dumps(row[c]).decode() if c == "properties" else row[c]
                for c in EVENT_COLUMNS
            )
        sql = f"INSERT INTO usage_event ({cols}) VALUES {values} {conflict}"
        stored.update(r["transaction_id"] for r in await _query(sql, params))
    return stored


async def stored_hashes(tenant_id: int, transaction_ids: Sequence[str]) -> dict[str, str]:
    """The body hash already stored for each of these ids (to tell a duplicate from a
    conflicting reuse)."""
    found: dict[str, str] = {}
    ids = list(transaction_ids)
    for i in range(0, len(ids), 500):
        chunk = ids[i : i + 500]
        sql = (
            "SELECT transaction_id, body_hash FROM usage_event WHERE tenant_id = $1 "
            f"AND transaction_id IN ({marks(2, len(chunk))})"
        )
        for row in await _query(sql, [tenant_id, *chunk]):
            found[row["transaction_id"]] = row["body_hash"]
    return found


async def lock_aggregates(
    tenant_id: int, keys: Sequence[AggregateKey], now: datetime
) -> dict[AggregateKey, UsageAggregate]:
    """The aggregate rows for `keys`, created when missing, locked (PostgreSQL)."""
    if not keys:
        return {}
    ordered = sorted(set(keys), key=lambda k: (k[0], k[1], k[2], k[3]))
    cols = "tenant_id, subscription_id, charge_id, period_start, group_key, events, total, "
    cols += "weighted, fees, uniques, updated_at"
    for i in range(0, len(ordered), 400):
        chunk = ordered[i : i + 400]
        params: list[Any] = []
        for sub, charge, start, group in chunk:
            params.extend([tenant_id, sub, charge, start, group, now])
        # Each row's updated_at is its sixth parameter: written as a placeholder of
        # its own so the numbering stays in order for SQLite's `?`.
        values = ", ".join(
            f"({marks(1 + j * 6, 5)}, 0, '0', '0', '0', 0, ${6 + j * 6})" for j in range(len(chunk))
        )
        await _query(
            f"INSERT INTO usage_aggregate ({cols}) VALUES {values} "
            "ON CONFLICT (subscription_id, charge_id, period_start, group_key) DO NOTHING",
            params,
        )
    subs = sorted({k[0] for k in ordered})
    charges = sorted({k[1] for k in ordered})
    starts = sorted({k[2] for k in ordered})
    lock = " FOR UPDATE" if is_postgres(_conn()) else ""
    sql = (
        f"SELECT * FROM usage_aggregate WHERE subscription_id IN ({marks(1, len(subs))}) "
        f"AND charge_id IN ({marks(1 + len(subs), len(charges))}) "
        f"AND period_start IN ({marks(1 + len(subs) + len(charges), len(starts))}) "
        f"ORDER BY id{lock}"
    )
    wanted = set(ordered)
    found: dict[AggregateKey, UsageAggregate] = {}
    for row in await _query(sql, [*subs, *charges, *starts]):
        agg = UsageAggregate._init_from_db(**dict(row))
        key = (agg.subscription_id, agg.charge_id, agg.period_start, agg.group_key)
        if key in wanted:
            found[key] = agg
    return found


async def add_uniques(pairs: Sequence[tuple[int, str]]) -> Counter[int]:
    """Record distinct values per aggregate; how many were new for each."""
    new: Counter[int] = Counter()
    unique_pairs = sorted(set(pairs))
    for i in range(0, len(unique_pairs), 500):
        chunk = unique_pairs[i : i + 500]
        values = ", ".join(f"({marks(1 + j * 2, 2)})" for j in range(len(chunk)))
        params = [v for pair in chunk for v in pair]
        rows = await _query(
            f"INSERT INTO usage_unique_value (aggregate_id, value) VALUES {values} "
            "ON CONFLICT (aggregate_id, value) DO NOTHING RETURNING aggregate_id",
            params,
        )
        new.update(r["aggregate_id"] for r in rows)
    return new


async def save_aggregates(rows: Sequence[UsageAggregate]) -> None:
    await update_many(UsageAggregate, AGGREGATE_FIELDS, rows)


async def lock_periods(
    tenant_id: int | dict[int, int],
    wanted: dict[tuple[int, datetime], tuple[datetime, str]],
    *,
    mode: str = "NO KEY UPDATE",
) -> dict[tuple[int, datetime], UsagePeriod]:
    """The usage periods (subscription, start) → (end, currency), created open when
    missing and locked (`mode`, in id order): a billing run closing one waits for
    this batch to commit (and then sees its events), or this batch waits for the
    close and then sees the period billed (its events become a late adjustment).
    Closing takes them with mode="UPDATE", for subscriptions of several tenants
    (`tenant_id` by subscription id)."""
    if not wanted:
        return {}
    keys = sorted(wanted)
    for i in range(0, len(keys), 400):
        chunk = keys[i : i + 400]
        values = ", ".join(
            f"({marks(1 + j * 5, 5)}, 'open', '{{}}', false, '[]')" for j in range(len(chunk))
        )
        params: list[Any] = []
        for sub, start in chunk:
            end, currency = wanted[(sub, start)]
            tenant = tenant_id if isinstance(tenant_id, int) else tenant_id[sub]
            params.extend([tenant, sub, start, end, currency])
        await _query(
            'INSERT INTO usage_period (tenant_id, subscription_id, start, "end", currency, '
            f"status, billed, changed, alerts_sent) VALUES {values} "
            "ON CONFLICT (subscription_id, start) DO NOTHING",
            params,
        )
    subs = sorted({k[0] for k in keys})
    lock = f" ORDER BY id FOR {mode}" if is_postgres(_conn()) else ""
    rows = await _query(
        f"SELECT * FROM usage_period WHERE subscription_id IN ({marks(1, len(subs))}){lock}",
        subs,
    )
    found = {}
    for row in rows:
        period = UsagePeriod._init_from_db(**dict(row))
        if (period.subscription_id, period.start) in wanted:
            found[(period.subscription_id, period.start)] = period
    return found


async def flag_changed(period_ids: Sequence[int]) -> None:
    """Late events reached billed periods: their difference is billed next time."""
    ids = sorted(set(period_ids))
    if ids:
        await _query(
            f"UPDATE usage_period SET changed = true WHERE id IN ({marks(1, len(ids))})", ids
        )


# -- PostgreSQL: fixed statement texts, set-based merges ---------------------------------
# The statements below take arrays (`= ANY($1)`, `unnest`), so their text is the same
# for every batch and asyncpg prepares each once per connection; rows come back as
# tuples, never as models.

_HELD_PERIODS = (
    "SELECT id, subscription_id, start, status FROM usage_period "
    "WHERE subscription_id = ANY($1::bigint[]) AND start = ANY($2::timestamptz[]) "
    "ORDER BY id FOR NO KEY UPDATE"
)
_NEW_PERIODS = (
    'INSERT INTO usage_period (tenant_id, subscription_id, start, "end", currency, status, '
    "billed, changed, alerts_sent) "
    "SELECT $1, s, st, e, c, 'open', '{}', false, '[]' "
    "FROM unnest($2::bigint[], $3::timestamptz[], $4::timestamptz[], $5::text[]) AS u(s, st, e, c) "
    "ORDER BY s, st ON CONFLICT (subscription_id, start) DO NOTHING"
)


async def hold_periods(
    tenant_id: int, wanted: dict[tuple[int, datetime], tuple[datetime, str]]
) -> dict[tuple[int, datetime], tuple[int, str]]:
    """`lock_periods` for ingestion: (subscription, start) → (period id, status), the
    rows created when missing and locked FOR NO KEY UPDATE, in id order. A billing
    run closing a period (FOR UPDATE) waits for this batch, or this batch waits for
    the close and then sees the period billed and flags it for a late adjustment:
    that flag is an UPDATE of a row this batch already holds. (FOR SHARE let two
    batches of late events hold one period and then deadlock upgrading to flag it.)
    Batches touching the same period queue here; they would queue on its aggregate
    rows anyway. On PostgreSQL the periods usually exist, so this is one statement;
    the insert runs only for new ones."""
    if not is_postgres(_conn()):
        rows = await lock_periods(tenant_id, wanted)
        return {key: (p.id, p.status) for key, p in rows.items()}
    found: dict[tuple[int, datetime], tuple[int, str]] = {}

    async def read(keys: list[tuple[int, datetime]]) -> None:
        params = [sorted({k[0] for k in keys}), sorted({k[1] for k in keys})]
        for row in await _query(_HELD_PERIODS, params):
            key = (row["subscription_id"], row["start"])
            if key in wanted:
                found[key] = (row["id"], row["status"])

    await read(list(wanted))
    missing = sorted(set(wanted) - set(found))
    if missing:
        await _query(
            _NEW_PERIODS,
            [
                tenant_id,
                [k[0] for k in missing],
                [k[1] for k in missing],
                [wanted[k][0] for k in missing],
                [wanted[k][1] for k in missing],
            ],
        )
        await read(missing)
    return found


_MERGE = """
INSERT INTO usage_aggregate AS a (tenant_id, subscription_id, charge_id, period_start,
  group_key, events, total, maximum, latest_at, latest_value, latest_tx, weighted, fees,
  uniques, updated_at)
SELECT $1, s, c, p, g, e, t, m, la, lv, lt, w, f, 0, $2
FROM json_to_recordset($3::json) AS u(s bigint, c bigint, p timestamptz, g text, e bigint,
  t text, m text, la timestamptz, lv text, lt text, w text, f text)
ORDER BY s, c, p, g
ON CONFLICT (subscription_id, charge_id, period_start, group_key) DO UPDATE SET
  events = a.events + excluded.events,
  total = (a.total::numeric + excluded.total::numeric)::text,
  maximum = CASE WHEN excluded.maximum IS NOT NULL AND (a.maximum IS NULL
    OR excluded.maximum::numeric > a.maximum::numeric) THEN excluded.maximum ELSE a.maximum END,
  latest_value = CASE WHEN excluded.latest_at IS NOT NULL AND (a.latest_at IS NULL
    OR (excluded.latest_at, excluded.latest_tx) > (a.latest_at, a.latest_tx))
    THEN excluded.latest_value ELSE a.latest_value END,
  latest_tx = CASE WHEN excluded.latest_at IS NOT NULL AND (a.latest_at IS NULL
    OR (excluded.latest_at, excluded.latest_tx) > (a.latest_at, a.latest_tx))
    THEN excluded.latest_tx ELSE a.latest_tx END,
  latest_at = CASE WHEN excluded.latest_at IS NOT NULL AND (a.latest_at IS NULL
    OR (excluded.latest_at, excluded.latest_tx) > (a.latest_at, a.latest_tx))
    THEN excluded.latest_at ELSE a.latest_at END,
  weighted = (a.weighted::numeric + excluded.weighted::numeric)::text,
  fees = (a.fees::numeric + excluded.fees::numeric)::text,
  updated_at = excluded.updated_at
{returning}"""
_ADD_UNIQUES = (
    "UPDATE usage_aggregate SET uniques = uniques + u.n "
    "FROM unnest($1::bigint[], $2::bigint[]) AS u(id, n) WHERE usage_aggregate.id = u.id"
)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else format(value, "f")


async def merge_contributions(
    tenant_id: int, contributions: dict[AggregateKey, Any], now: datetime
) -> None:
    """Fold each key's contribution into its aggregate (created if missing). On
    PostgreSQL one INSERT … ON CONFLICT DO UPDATE does the arithmetic in SQL, rows
    in key order so concurrent batches lock them in the same order; on SQLite the
    rows are read, merged in Python and written back (writers are serialised)."""
    if not contributions:
        return
    keys = sorted(contributions)
    if not is_postgres(_conn()):
        aggregates = await lock_aggregates(tenant_id, keys, now)
        pairs = [(aggregates[k].id, v) for k in keys for v in contributions[k].uniques]
        new_uniques = await add_uniques(pairs) if pairs else Counter()
        for key in keys:
            row = aggregates[key]
            merge(row, contributions[key], new_uniques.get(row.id, 0))
            row.updated_at = now
        await save_aggregates(list(aggregates.values()))
        return
    # The rows travel as one JSON document: binding twelve arrays made asyncpg check
    # the type of each of their 12,000 elements.
    document = []
    for key in keys:
        c = contributions[key]
        latest = c.latest
        document.append(
            {
                "s": key[0],
                "c": key[1],
                "p": key[2].isoformat(),
                "g": key[3],
                "e": c.events,
                "t": format(c.total, "f"),
                "m": _text_or_none(c.maximum),
                "la": latest[0].isoformat() if latest else None,
                "lv": format(latest[2], "f") if latest else None,
                "lt": latest[1] if latest else None,
                "w": format(c.weighted, "f"),
                "f": format(c.fees, "f"),
            }
        )
    uniques = any(contributions[k].uniques for k in keys)
    returning = (
        "RETURNING id, subscription_id, charge_id, period_start, group_key" if uniques else ""
    )
    rows = await _query(
        _MERGE.format(returning=returning), [tenant_id, now, orjson.dumps(document).decode()]
    )
    if not uniques:
        return
    ids = {
        (r["subscription_id"], r["charge_id"], r["period_start"], r["group_key"]): r["id"]
        for r in rows
    }
    pairs = [(ids[k], v) for k in keys for v in contributions[k].uniques]
    new = await add_uniques(pairs)
    if new:
        counted = sorted(new.items())
        await _query(_ADD_UNIQUES, [[i for i, _ in counted], [n for _, n in counted]])
