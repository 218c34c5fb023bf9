"""Scalars, Money, typed errors and the Relay connection shape shared by every type."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Generic, NewType, TypeVar

import strawberry

from domain.money import format_money

T = TypeVar("T")


def _parse_bigint(value: Any) -> int:
    # Accept an integer, or a string of digits for clients whose JSON numbers are doubles.
    if isinstance(value, bool | float):  # ok: floats are refused
        raise ValueError("BigInt must be an integer (or a string of digits), never a float")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str) and value.lstrip("-").isdigit():
        result = int(value)
    else:
        raise ValueError(f"BigInt cannot represent {value!r}")
    if not -(2**63) <= result < 2**63:
        raise ValueError("BigInt is out of the 64-bit range")
    return result


BigInt = NewType("BigInt", int)

BIGINT_SCALAR = strawberry.scalar(
    name="BigInt",
    description="A 64-bit integer (money in minor units, credit counts). "
    "Serialised as a JSON number; accepted as a number or a string of digits.",
    serialize=int,
    parse_value=_parse_bigint,
)


@strawberry.type(description="An amount of money: integer minor units and an ISO 4217 code.")
class Money:
    amount_minor: BigInt = strawberry.field(description="Minor units (cents); exact.")
    amount: str = strawberry.field(description='Major units as a decimal string ("29.99").')
    currency: str
    formatted: str = strawberry.field(
        description="Formatted for the request's locale (Accept-Language, else the tenant's)."
    )

    @strawberry.field(description='Formatted for the given locale ("29,99 €" in fr).')
    def formatted_in(self, locale: str) -> str:
        return format_money(self.amount_minor, self.currency, locale)


@strawberry.input(description="An amount: give amountMinor (integer) or amount (decimal string).")
class MoneyInput:
    currency: str
    amount_minor: BigInt | None = None
    amount: str | None = None


# -- errors ----------------------------------------------------------------------------
@strawberry.interface(description="An expected failure, returned as data in a result union.")
class Error:
    code: str
    message: str
    field: str | None = strawberry.field(description="The input field at fault, if any.")


@strawberry.type
class ValidationError(Error):
    pass


@strawberry.type
class NotFoundError(Error):
    pass


@strawberry.type
class ConflictError(Error):
    pass


@strawberry.type
class PermissionDeniedError(Error):
    pass


@strawberry.type
class IdempotencyError(Error):
    pass


ERROR_TYPES = (
    ValidationError,
    NotFoundError,
    ConflictError,
    PermissionDeniedError,
    IdempotencyError,
)


def result_union(name: str, success: type) -> Any:
    return Annotated[
        success
        | ValidationError
        | NotFoundError
        | ConflictError
        | PermissionDeniedError
        | IdempotencyError,
        strawberry.union(name),
    ]


# -- pagination ------------------------------------------------------------------------
@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="Total matching rows; costs one COUNT, so ask only when needed.")
    async def total_count(self) -> int:
        return await self.count_total()
