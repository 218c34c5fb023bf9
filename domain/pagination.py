"""Cursor pagination (Relay connection shape) over ascending internal keys.

Cursors are opaque; `first` is bounded so no request can ask for an unbounded page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from domain.errors import ValidationError
from domain.ids import check_id

DEFAULT_PAGE = 25
MAX_PAGE = 100

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageRequest:
    first: int
    after_key: int | None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    has_next: bool
    has_previous: bool
    # Counting is a separate statement, run only when a caller asks for it.
    count: Callable[[], Awaitable[int]]


def encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"c1:{key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
        tag, _, raw = text.partition(":")
        if tag != "c1":
            raise ValueError
        key = int(raw)
        if key < 0:
            raise ValueError
        return key
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError("not a valid cursor", field="after", code="INVALID_CURSOR") from None


def page_request(first: int | None, after: str | None) -> PageRequest:
    size = DEFAULT_PAGE if first is None else first
    if size < 0 or size > MAX_PAGE:
        raise ValidationError(
            f"first must be between 0 and {MAX_PAGE}", field="first", code="INVALID_PAGE_SIZE"
        )
    return PageRequest(first=size, after_key=decode_cursor(after) if after else None)


async def paginate(
    queryset: Any,
    request: PageRequest,
    *,
    record: Callable[..., Any] | None = None,
    columns: tuple[str, ...] = (),
) -> Page[Any]:
    """One SELECT: fetch `first + 1` rows past the cursor to learn whether more exist.

    With `record` and `columns`, rows are read as plain values and built into that
    record type instead of ORM instances (cheaper on the hot listing paths)."""
    everything = queryset
    if request.after_key is not None:
        queryset = queryset.filter(id__gt=request.after_key)
    queryset = queryset.order_by("id").limit(request.first + 1)
    if record is not None:
        rows = [record(**row) for row in await queryset.values(*columns)]
    else:
        rows = await queryset
    return Page(
        items=list(rows[: request.first]),
        has_next=len(rows) > request.first,
        has_previous=request.after_key is not None,
        count=everything.count,
    )


def narrowed_to(query: Any, relation: str, public_id: str | None, kind: str, *, field: str) -> Any:
    """A list filter by a related row's public id (`invoiceId`, `customerId`, …): the
    id's prefix is checked, and None leaves the query as it is."""
    if public_id is None:
        return query
    check_id(public_id, kind, field=field)
    return query.filter(**{f"{relation}__public_id": public_id})
