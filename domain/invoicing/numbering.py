"""Gapless document numbers (invoices, credit notes), per tenant.

A number is taken in the same transaction that finalizes the document, by one
upsert on the tenant's counter row. The row stays locked until that transaction
ends, so concurrent finalizations queue on it; a rollback gives the numbers
back. Numbers are therefore never skipped, reused or assigned to drafts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from db.invoice_models import NumberSequence

_UPSERT = (
    "INSERT INTO number_sequence (tenant_id, kind, period, last_value) VALUES ({p}) "
    "ON CONFLICT (tenant_id, kind, period) "
    "DO UPDATE SET last_value = number_sequence.last_value + excluded.last_value "
    "RETURNING last_value"
)


def period_key(tenant: Any, at: datetime) -> str:
    if tenant.number_reset == "never":
        return "all"
    return str(at.astimezone(ZoneInfo(tenant.timezone)).year)


def format_number(prefix: str, period: str, value: int, digits: int) -> str:
    counter = str(value).zfill(digits)
    return f"{prefix}-{counter}" if period == "all" else f"{prefix}-{period}-{counter}"


async def take_numbers(tenant: Any, kind: str, at: datetime, count: int) -> list[str]:
    """`count` consecutive numbers for documents finalized at `at`."""
    if count <= 0:
        return []
    period = period_key(tenant, at)
    conn = NumberSequence._meta.db  # the current transaction's connection
    dialect = conn.capabilities.dialect
    placeholders = "$1, $2, $3, $4" if dialect == "postgres" else "?, ?, ?, ?"
    rows = await conn.execute_query_dict(
        _UPSERT.format(p=placeholders), [tenant.id, kind, period, count]
    )
    last = int(rows[0]["last_value"])
    prefix = tenant.invoice_prefix if kind == "invoice" else tenant.credit_note_prefix
    return [
        format_number(prefix, period, value, tenant.number_digits)
        for value in range(last - count + 1, last + 1)
    ]
