"""Idempotency keys for create mutations (Stripe's rule).

The first request with a key runs in one transaction that also stores the key,
under a unique (tenant, key) constraint. A replay with the same parameters
returns the first result; the same key with other parameters is an error. Two
racing first requests: one commits, the other hits the constraint and replays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import orjson
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from db.models import IdempotencyRecord
from domain import clock
from domain.errors import ConflictError, IdempotencyError, ValidationError

T = TypeVar("T")


def request_hash(operation: str, params: Mapping[str, Any]) -> str:
    body = orjson.dumps(
        {"op": operation, "params": params}, option=orjson.OPT_SORT_KEYS, default=str
    )
    return hashlib.sha256(body).hexdigest()


async def run_once(
    *,
    tenant_id: int,
    key: str | None,
    operation: str,
    params: Mapping[str, Any],
    create: Callable[[], Awaitable[T]],
    load: Callable[[int], Awaitable[T]],
) -> T:
    """Run `create` in a transaction once per key; `load` re-reads the first result."""
    if key is None:
        async with in_transaction():
            return await create()
    if not key or len(key) > 255:
        raise ValidationError("idempotencyKey must be 1-255 characters", field="idempotencyKey")
    digest = request_hash(operation, params)
    record = await IdempotencyRecord.get_or_none(tenant_id=tenant_id, key=key)
    if record is not None:
        return await _replay(record, operation, digest, load)
    try:
        async with in_transaction():
            result = await create()
            await IdempotencyRecord.create(
                tenant_id=tenant_id,
                key=key,
                operation=operation,
                request_hash=digest,
                resource_id=result.id,  # type: ignore[attr-defined]
                created_at=clock.now(),
            )
            return result
    except (IntegrityError, ConflictError):
        # Lost a race with a request carrying the same key: answer with its result.
        record = await IdempotencyRecord.get_or_none(tenant_id=tenant_id, key=key)
        if record is None:
            raise
        return await _replay(record, operation, digest, load)


async def _replay(
    record: IdempotencyRecord, operation: str, digest: str, load: Callable[[int], Awaitable[T]]
) -> T:
    if record.operation != operation or record.request_hash != digest:
        raise IdempotencyError(
            "this idempotencyKey was already used with different parameters",
            field="idempotencyKey",
        )
    return await load(record.resource_id)
