"""Shared resolver plumbing: input conversion, error mapping, post-commit events."""

from __future__ import annotations

import dataclasses
import enum
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from graphql import GraphQLError
from strawberry.types import Info

from domain import clock
from domain import errors as domain_errors
from domain.credits.live import held_until_done
from domain.events.bus import tenant_channel
from domain.pagination import Page, encode_cursor
from schema import common as s

T = TypeVar("T")
log = logging.getLogger("tally.events")

_ERROR_TYPES: list[tuple[type[domain_errors.BillingError], type[s.Error]]] = [
    (domain_errors.ValidationError, s.ValidationError),
    (domain_errors.NotFoundError, s.NotFoundError),
    (domain_errors.ConflictError, s.ConflictError),
    (domain_errors.PermissionDeniedError, s.PermissionDeniedError),
    (domain_errors.IdempotencyError, s.IdempotencyError),
]


def to_data(value: Any) -> Any:
    """A Strawberry input (nested inputs and lists included) as a plain dict of the
    fields the caller actually sent; UNSET fields are left out, explicit nulls kept."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            item = getattr(value, f.name)
            if item is not dataclasses.MISSING and not _is_unset(item):
                out[f.name] = to_data(item)
        return out
    if isinstance(value, list):
        return [to_data(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _is_unset(value: Any) -> bool:
    from strawberry import UNSET

    return value is UNSET


def to_error(exc: domain_errors.BillingError) -> s.Error:
    for domain_type, schema_type in _ERROR_TYPES:
        if isinstance(exc, domain_type):
            return schema_type(code=exc.code, message=exc.message, field=exc.field)
    return s.ValidationError(code=exc.code, message=exc.message, field=exc.field)


async def mutate(
    info: Info,
    action: Callable[[], Awaitable[T]],
    success: Callable[[T], Any],
    *,
    event: str | None = None,
    customer_of: Callable[[T], int | None] = lambda row: None,
) -> Any:
    """Run one domain call; expected failures become union members, and the event
    is published only once the domain call (and its transaction) has finished."""
    try:
        async with held_until_done(info.context.bus):  # credit changes, after commit
            result = await action()
    except domain_errors.BillingError as exc:
        return to_error(exc)
    if event is not None:
        await publish(info, event, result.public_id, customer_of(result))  # type: ignore[attr-defined]
    return success(result)


async def publish(
    info: Info,
    event: str,
    object_id: str,
    customer_id: int | None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Best-effort live fan-out: the change is committed already, so a bus failure
    (Redis down) is logged and must not turn a successful mutation into an error."""
    ctx = info.context
    payload = {
        "type": event,
        "object_id": object_id,
        # Internal id, used only to filter what a customer token may follow.
        "customer_id": customer_id,
        "occurred_at": clock.now().isoformat(),
        **(extra or {}),
    }
    try:
        await ctx.bus.publish(tenant_channel(ctx.caller.tenant_id), payload)
    except Exception:
        log.exception("could not publish %s for %s", event, object_id)


async def query(action: Callable[[], Awaitable[T]]) -> T:
    """Queries have no result union: an expected failure is a GraphQL error with a code."""
    try:
        return await action()
    except domain_errors.BillingError as exc:
        raise GraphQLError(exc.message, extensions={"code": exc.code, "field": exc.field}) from exc


def connection(page: Page[Any], node: Callable[[Any], Any] = lambda row: row) -> s.Connection[Any]:
    edges = [s.Edge(cursor=encode_cursor(row.id), node=node(row)) for row in page.items]
    return s.Connection(
        edges=edges,
        page_info=s.PageInfo(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        count_total=page.count,
    )
