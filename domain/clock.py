"""The one clock. Domain code reads time here, never from `datetime.now()`,
so tests and test clocks can move it.

The current clock lives in a context variable: a test clock set for one request
(or one `advanceTestClock` run) never leaks into a concurrent request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from db.models import TestClock


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (tests, simulations, test clocks)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at

    def now(self) -> datetime:
        return self._at

    def advance(self, delta: timedelta) -> None:
        if delta < timedelta(0):
            raise ValueError("a clock never goes backwards")
        self._at += delta

    def set(self, at: datetime) -> None:
        if at < self._at:
            raise ValueError("a clock never goes backwards")
        self._at = at


_SYSTEM = SystemClock()
_clock: ContextVar[Clock | None] = ContextVar("tally_clock", default=None)


def now() -> datetime:
    return (_clock.get() or _SYSTEM).now()


@contextmanager
def using_clock(clock: Clock) -> Iterator[Clock]:
    token = _clock.set(clock)
    try:
        yield clock
    finally:
        _clock.reset(token)


@contextmanager
def frozen_at(at: datetime) -> Iterator[FixedClock]:
    """Run a block at one instant (a test clock's frozen time)."""
    with using_clock(FixedClock(at)) as clock:
        yield clock  # type: ignore[misc]


async def customer_now(customer: Any) -> datetime:
    """The customer's time: its test clock's frozen time, else the current clock. Every
    context that stamps a customer's rows (subscriptions, invoices, payments) asks here,
    so a test clock moves all of them together."""
    if customer.test_clock_id is None:
        return now()
    return (await TestClock.get(id=customer.test_clock_id)).frozen_time


def real_now() -> datetime:
    """Wall time, which no test clock moves: for what the outside world stamps
    (provider webhook signatures, outbound delivery timestamps and backoff)."""
    return _SYSTEM.now()
