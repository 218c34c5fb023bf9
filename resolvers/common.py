"""Shared resolver plumbing: input conversion, error mapping, connections."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from graphql import GraphQLError
from strawberry.types import Info

from domain import errors as domain_errors
from domain.pagination import Page, encode_cursor, page_request
from schema import common as s

T = TypeVar("T")

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


async def mutate(call: Awaitable[T], success: Callable[[T], Any]) -> Any:
    """Await one domain operation (which owns its transaction and what runs after
    commit); expected failures become members of the mutation's result union."""
    try:
        result = await call
    except domain_errors.BillingError as exc:
        return to_error(exc)
    return success(result)


async def query(action: Callable[[], Awaitable[T]]) -> T:
    """Queries have no result union: an expected failure is a GraphQL error with a code."""
    try:
        return await action()
    except domain_errors.BillingError as exc:
        raise GraphQLError(exc.message, extensions={"code": exc.code, "field": exc.field}) from exc


async def paged(
    info: Info,
    fetch: Callable[..., Awaitable[Page[Any]]],
    first: int | None,
    after: str | None,
    **filters: Any,
) -> s.Connection[Any]:
    """Every cursor-paginated list: the caller's page of `fetch` as a connection."""
    try:
        page = await fetch(info.context.caller, page_request(first, after), **filters)
    except domain_errors.BillingError as exc:
        raise GraphQLError(exc.message, extensions={"code": exc.code, "field": exc.field}) from exc
    return connection(page)


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
