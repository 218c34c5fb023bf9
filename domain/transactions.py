"""One transaction per domain operation (DESIGN.md: the caller owns the transaction;
for a mutation the caller is this decorator around the domain entry point)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from tortoise.transactions import in_transaction

P = ParamSpec("P")
T = TypeVar("T")


def atomic(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Run the whole operation in one transaction (a savepoint when nested)."""

    @functools.wraps(fn)
    async def run(*args: P.args, **kwargs: P.kwargs) -> T:
        async with in_transaction():
            return await fn(*args, **kwargs)

    return run
