"""The royalty benchmark's set-based SQL baseline: every payee's payable amount in
one statement, computed from the same tables the royalty run reads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from bench.royalties_data import PERIOD

# Per payee, what the period makes payable, set-based, in one statement:
# - shares in force on the period's last day (the bench has one dated set);
# - each paid one-off SALE line's net (amount - discount; tax is exclusive) split
#   between the work's contributors by largest remainder (floor, then the leftover
#   minor units to the largest remainders, ties to the larger share then the smaller
#   payee id), each part x the contract's SALE rate, rounded half-up;
# - the pool (subscription invoices paid in the period, net, x the pool rate, half-up)
#   split between works by reads, largest remainder (ties: more reads, then smaller
#   work id), each work's part split by shares the same way, x the SUBSCRIPTION_READ
#   rate, half-up;
# - payable: the balance (opening + earnings) when it reaches the payee's threshold.
# Remainders are compared as integers over the same denominator, so it is exact.
BASELINE = """
WITH settings AS (
  SELECT coalesce((royalty_settings->>'poolRate')::numeric, 100) AS pool_rate,
         coalesce((royalty_settings->'threshold'->>'amountMinor')::bigint, 10000) AS threshold
  FROM tenant WHERE id = $1),
dated AS (
  SELECT s.work_id, s.payee_id, s.share::numeric AS share, s.effective_from,
         max(s.effective_from) OVER (PARTITION BY s.work_id) AS latest
  FROM royalty_work_share s JOIN royalty_work w ON w.id = s.work_id
  WHERE w.tenant_id = $1 AND s.effective_from <= $4),
shares AS (
  SELECT d.work_id, d.payee_id, d.share,
         (c.rules->'SALE'->>'rate')::numeric AS sale_rate,
         (c.rules->'SUBSCRIPTION_READ'->>'rate')::numeric AS read_rate
  FROM dated d LEFT JOIN royalty_contract c
    ON c.work_id = d.work_id AND c.payee_id = d.payee_id AND c.archived_at IS NULL
  WHERE d.effective_from = d.latest),
paid AS (
  SELECT i.id, i.subscription_id FROM invoice i
  WHERE i.tenant_id = $1 AND i.status = 'paid' AND i.currency = 'EUR'
    AND i.paid_at >= $2 AND i.paid_at < $3),
sale_split AS (
  SELECT l.id AS line_id, sh.payee_id, sh.share, sh.sale_rate,
         l.amount_minor - l.discount_minor AS net,
         div((l.amount_minor - l.discount_minor) * sh.share, 100) AS fl,
         (l.amount_minor - l.discount_minor) * sh.share
           - 100 * div((l.amount_minor - l.discount_minor) * sh.share, 100) AS rem
  FROM paid p JOIN invoice_line l ON l.invoice_id = p.id
  JOIN shares sh ON sh.work_id = l.work_id
  WHERE p.subscription_id IS NULL AND l.work_use = 'SALE'),
sale_parts AS (
  SELECT payee_id, sale_rate,
         fl + CASE WHEN row_number() OVER (PARTITION BY line_id
                                           ORDER BY rem DESC, share DESC, payee_id)
                        <= net - sum(fl) OVER (PARTITION BY line_id) THEN 1 ELSE 0 END AS part
  FROM sale_split),
sale_earned AS (
  SELECT payee_id, sum(round(part * sale_rate / 100)) AS earned
  FROM sale_parts WHERE sale_rate IS NOT NULL GROUP BY payee_id),
pool AS (
  SELECT round(greatest(coalesce(sum(l.amount_minor - l.discount_minor), 0), 0)
               * (SELECT pool_rate FROM settings) / 100) AS amount
  FROM paid p JOIN invoice_line l ON l.invoice_id = p.id
  WHERE p.subscription_id IS NOT NULL),
reads AS (
  SELECT work_id, sum(count) AS n FROM royalty_read
  WHERE tenant_id = $1 AND occurred_at >= $2 AND occurred_at < $3
  GROUP BY work_id HAVING sum(count) > 0),
work_split AS (
  SELECT r.work_id, r.n, p.amount AS pool, div(p.amount * r.n, t.total) AS fl,
         p.amount * r.n - t.total * div(p.amount * r.n, t.total) AS rem
  FROM reads r CROSS JOIN pool p CROSS JOIN (SELECT sum(n) AS total FROM reads) t),
work_parts AS (
  SELECT work_id,
         fl + CASE WHEN row_number() OVER (ORDER BY rem DESC, n DESC, work_id)
                        <= pool - sum(fl) OVER () THEN 1 ELSE 0 END AS part
  FROM work_split),
read_split AS (
  SELECT wp.work_id, sh.payee_id, sh.share, sh.read_rate, wp.part AS amount,
         div(wp.part * sh.share, 100) AS fl,
         wp.part * sh.share - 100 * div(wp.part * sh.share, 100) AS rem
  FROM work_parts wp JOIN shares sh ON sh.work_id = wp.work_id),
read_parts AS (
  SELECT payee_id, read_rate,
         fl + CASE WHEN row_number() OVER (PARTITION BY work_id
                                           ORDER BY rem DESC, share DESC, payee_id)
                        <= amount - sum(fl) OVER (PARTITION BY work_id) THEN 1 ELSE 0 END AS part
  FROM read_split),
read_earned AS (
  SELECT payee_id, sum(round(part * read_rate / 100)) AS earned
  FROM read_parts WHERE read_rate IS NOT NULL GROUP BY payee_id)
SELECT p.id AS payee_id,
       coalesce(s.earned, 0)::bigint AS sale_minor,
       coalesce(r.earned, 0)::bigint AS read_minor,
       (p.balance_minor + coalesce(s.earned, 0) + coalesce(r.earned, 0))::bigint AS balance_minor,
       CASE WHEN p.balance_minor + coalesce(s.earned, 0) + coalesce(r.earned, 0) > 0
             AND p.balance_minor + coalesce(s.earned, 0) + coalesce(r.earned, 0)
                 >= coalesce(p.threshold_minor, (SELECT threshold FROM settings))
            THEN (p.balance_minor + coalesce(s.earned, 0) + coalesce(r.earned, 0))::bigint
            ELSE 0 END AS payable_minor
FROM royalty_payee p
LEFT JOIN sale_earned s ON s.payee_id = p.id
LEFT JOIN read_earned r ON r.payee_id = p.id
WHERE p.tenant_id = $1
ORDER BY p.id"""


async def baseline(conn: asyncpg.Connection, tenant_id: int) -> list[Any]:
    """Per payee (id order): sale_minor, read_minor, balance_minor, payable_minor."""
    last_day = (PERIOD.end - timedelta(days=1)).date()
    return await conn.fetch(BASELINE, tenant_id, PERIOD.start, PERIOD.end, last_day)
