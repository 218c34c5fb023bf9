"""A domain operation's unit of work: its transaction, and what runs after commit.

The caller owns the transaction, and for a mutation the caller is the domain
operation: `@operation` opens it (a savepoint when an operation runs inside
another) and holds everything that must wait for the commit (charging invoices
at the provider, live events, credit changes on the feed) until the outermost
operation has returned. If the operation raises, none of it runs: nothing is
announced that did not happen.

    @operation
    async def create_subscription(...):
        ...                                  # rows written in one transaction
        after_commit(lambda: charge(ids))    # provider calls wait for the commit

Operations that manage their own transactions (a consumption that commits in one
statement, a purchase whose charge happens between two commits) use
`@operation(transaction=False)`: they still collect their after-commit work.

The live bus is the one of the request (the API sets it with `use_bus` when it
builds a request's context; the CLI and worker for theirs). Without one (a
domain test, a script), live events are simply not sent.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from tortoise.transactions import in_transaction

if TYPE_CHECKING:
    from domain.events.bus import EventBus

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("tally.events")

AfterCommit = Callable[[], Awaitable[Any]]


class Unit:
    """The after-commit work of one outermost operation, in the order it was asked for."""

    __slots__ = ("after", "lists")

    def __init__(self) -> None:
        self.after: list[AfterCommit] = []
        self.lists: dict[str, list[Any]] = {}

    def mark(self) -> tuple[int, dict[str, int]]:
        return len(self.after), {name: len(items) for name, items in self.lists.items()}

    def undo_to(self, mark: tuple[int, dict[str, int]]) -> None:
        """A nested operation failed (its savepoint rolled back): forget what it added."""
        count, sizes = mark
        del self.after[count:]
        for name in list(self.lists):
            if name in sizes:
                del self.lists[name][sizes[name] :]
            else:
                del self.lists[name]

    async def finish(self) -> None:
        for work in self.after:
            try:
                await work()
            except Exception:  # committed already: one failure must not hide the rest
                log.exception("after-commit work failed: %r", work)


_unit: ContextVar[Unit | None] = ContextVar("tally_unit_of_work", default=None)
_bus: ContextVar[EventBus | None] = ContextVar("tally_live_bus", default=None)


def use_bus(bus: EventBus | None) -> None:
    """The live bus of this request (or command): set once, where its context is built."""
    _bus.set(bus)


def live_bus() -> EventBus | None:
    return _bus.get()


def in_operation() -> bool:
    return _unit.get() is not None


def after_commit(work: AfterCommit) -> None:
    """Run `work` once the outermost operation has committed; outside an operation
    (the caller committed already, or holds no transaction) it is a mistake."""
    unit = _unit.get()
    if unit is None:
        raise RuntimeError("after_commit outside an operation")
    unit.after.append(work)


def collected(name: str) -> list[Any] | None:
    """A list that lives as long as the current unit (what its operations stored, to
    act on after commit), created on first use; None outside an operation."""
    unit = _unit.get()
    if unit is None:
        return None
    return unit.lists.setdefault(name, [])


@overload
def operation(fn: Callable[P, Awaitable[T]], /) -> Callable[P, Awaitable[T]]: ...
@overload
def operation(
    *, transaction: bool = True
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]: ...


def operation(fn: Any = None, /, *, transaction: bool = True) -> Any:
    """Make `fn` a domain operation: one transaction (unless `transaction=False`),
    and its after-commit work run once the outermost operation has returned."""

    def wrap(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            outer = _unit.get()
            if outer is not None:  # part of the caller's unit
                mark = outer.mark()
                try:
                    if not transaction:
                        return await fn(*args, **kwargs)
                    async with in_transaction():
                        return await fn(*args, **kwargs)
                except BaseException:
                    outer.undo_to(mark)
                    raise
            unit = Unit()
            token = _unit.set(unit)
            try:
                if transaction:
                    async with in_transaction():
                        result = await fn(*args, **kwargs)
                else:
                    result = await fn(*args, **kwargs)
            finally:
                _unit.reset(token)
            await unit.finish()
            return result

        return run

    return wrap(fn) if fn is not None else wrap
