"""Operations that bill: their invoices are charged once they have committed.

A subscription change, a finalized invoice or a credit purchase writes invoices
and their first payment attempts in its transaction; the attempts go to the
provider only after the commit (a provider call never runs inside a transaction),
then the invoices are announced on the live feed. `billed` wraps a subscription
operation to do that; `charge_after_commit` is the step itself.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ParamSpec, TypeVar

from domain.events import feed
from domain.invoicing.events import publish_invoices
from domain.payments.attempt_sending import process_pending
from domain.unit_of_work import after_commit, collected, live_bus, operation

P = ParamSpec("P")
T = TypeVar("T")


def charge_after_commit(
    invoices: Sequence[Any], *, refresh: bool = False, event: str | None = None
) -> None:
    """After commit: send the invoices' pending attempts, then announce the invoices
    (re-read first with `refresh`, so a paid invoice is announced as paid)."""
    invoices = list(invoices)

    async def charge() -> None:
        charged = await process_pending(invoice_ids=[i.id for i in invoices])
        if refresh and charged:
            for invoice in invoices:
                await invoice.refresh_from_db()
        bus = live_bus()
        if bus is not None:
            await publish_invoices(bus, invoices, event)

    after_commit(charge)


def billed(event: str) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """A subscription operation that may bill: once it has committed, `event` goes to
    the live feed and the invoices it stored are charged and announced. A preview
    (`preview=True`) writes nothing and announces nothing."""

    def wrap(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @operation(transaction=False)
        @functools.wraps(fn)
        async def run(*args: P.args, **kwargs: P.kwargs) -> T:
            stored = collected("invoices")
            assert stored is not None  # inside the operation
            before = len(stored)
            result = await fn(*args, **kwargs)
            if kwargs.get("preview"):
                return result
            sub = result[0] if isinstance(result, tuple) else result
            feed.tell(event, sub, customer_id=sub.customer_id)
            charge_after_commit(stored[before:])
            return result

        return run

    return wrap
