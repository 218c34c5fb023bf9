"""Scalars, Money, typed errors and the Relay connection shape shared by every type."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any, Generic, NewType, TypeVar

import strawberry
from graphql import FloatValueNode, GraphQLError, IntValueNode, StringValueNode, ValueNode

from domain.errors import ValidationError as DomainValidationError
from domain.money import Money as MoneyValue
from domain.money import format_money, parse_decimal

T = TypeVar("T")


def _bigint_error(message: str) -> GraphQLError:
    # A GraphQLError (not a ValueError), so the reason reaches the client instead of
    # being masked as an unexpected error; the value itself is never echoed whole.
    return GraphQLError(message, extensions={"code": "INVALID_BIGINT"})


def _parse_bigint(value: Any) -> int:
    # Accept an integer, or a string of digits for clients whose JSON numbers are doubles.
    if isinstance(value, bool | float):  # ok: floats are refused
        raise _bigint_error("BigInt must be an integer (or a string of digits), never a float")
    if isinstance(value, int):
        result = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        result = _int_of_digits(value)
    else:
        raise _bigint_error("BigInt must be an integer or a string of ASCII digits")
    if not -(2**63) <= result < 2**63:
        raise _bigint_error("BigInt is out of the 64-bit range")
    return result


def _parse_bigint_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> int:
    """The same rules for a value written in the document (`quantity: 3`)."""
    if isinstance(node, IntValueNode):
        return _parse_bigint(_int_of_digits(node.value))
    if isinstance(node, StringValueNode):
        return _parse_bigint(node.value)
    if isinstance(node, FloatValueNode):
        return _parse_bigint(1.0)  # refused with the float message
    raise _bigint_error("BigInt must be an integer or a string of ASCII digits")


_DIGITS = re.compile(r"-?[0-9]+")


def _int_of_digits(digits: str) -> int:
    # More than 19 significant digits is out of range whatever they are; checking the
    # length first also spares int() a megabyte of digits.
    if len(digits.lstrip("-").lstrip("0")) > 19:
        raise _bigint_error("BigInt is out of the 64-bit range")
    return int(digits)


BigInt = NewType("BigInt", int)


# -- Decimal ---------------------------------------------------------------------------
# Strawberry's own Decimal scalar is Decimal(str(value)), which takes "1e3", "1_000",
# "Infinity" and other scripts' digits; percentages and rates are plain decimals here,
# by the domain's one parser.
def _parse_decimal(value: Any) -> Decimal:
    if isinstance(value, float):  # a JSON number: its shortest text ("1e-07" is refused)
        value = repr(value)
    try:
        return parse_decimal(value, field="value")
    except DomainValidationError:
        raise GraphQLError(
            "Decimal must be written with ASCII digits and an optional '.' "
            "(no exponent, '_' or other scripts' digits)",
            extensions={"code": "INVALID_DECIMAL"},
        ) from None


def _parse_decimal_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> Decimal:
    return _parse_decimal(getattr(node, "value", None))


DECIMAL_SCALAR = strawberry.scalar(
    name="Decimal",
    description='A decimal number as a string of ASCII digits ("12.5").',
    serialize=str,
    parse_value=_parse_decimal,
    parse_literal=_parse_decimal_literal,
)

BIGINT_SCALAR = strawberry.scalar(
    name="BigInt",
    description="A 64-bit integer (money in minor units, credit counts). "
    "Serialised as a JSON number; accepted as a number or a string of digits.",
    serialize=int,
    parse_value=_parse_bigint,
    parse_literal=_parse_bigint_literal,
)

# Metadata key marking an optional input field whose explicit null means nothing:
# leave the field out to keep (or default) its value; `null` is refused by the input
# gate (schema/input_guard.py) with NULL_NOT_ALLOWED instead of reaching the domain.
NOT_NULL = "tally.not_null"


def not_null_when_given(*, description: str | None = None) -> Any:
    """An optional input field that takes a value or is left out, never `null`."""
    note = "Leave out to keep the current value; null is refused."
    return strawberry.field(
        default=strawberry.UNSET,
        description=f"{description} {note}" if description else note,
        metadata={NOT_NULL: True},
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


def money(minor: int, currency: str) -> Money:
    """A Money field's value: the domain's Money, which has every field of the type."""
    return MoneyValue(minor, currency)  # type: ignore[return-value]


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
