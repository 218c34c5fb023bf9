"""Shared plumbing of the live subscriptions: the caller's customer by reference, the
bus's events, and domain errors as GraphQL errors with a code (sent to the client as
a graphql-transport-ws `error` message when they happen before the first event)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql import GraphQLError
from strawberry.types import Info

from domain.customers.lookup import customer_by_ref
from domain.errors import BillingError
from domain.tenancy.access import Permission, Role

T = TypeVar("T")


def live_error(exc: BillingError) -> GraphQLError:
    return GraphQLError(exc.message, extensions={"code": exc.code, "field": exc.field})


def permit(info: Info, permission: Permission) -> None:
    try:
        info.context.caller.require(permission)
    except BillingError as exc:
        raise live_error(exc) from exc


async def followed_customer(info: Info, ref: str | None) -> tuple[int, str] | None:
    """(internal id, public id) of the customer a feed follows, or None for the whole
    tenant; an unknown, foreign or (for a customer token) other customer is an error
    before the stream opens, not a stream that stays silent."""
    if ref is None:
        return None
    try:
        customer = await customer_by_ref(info.context.caller, ref)
    except BillingError as exc:
        raise live_error(exc) from exc
    return customer.id, customer.public_id


@dataclass(frozen=True)
class Audience:
    """Which messages a caller may see, as a test of a message's customer (internal
    id), and the one customer it follows, if one (the bus then hands it only that
    customer's part of each message)."""

    own: int | None  # a customer token's customer
    wanted: int | None  # the customer the feed names

    def __call__(self, customer_id: int | None) -> bool:
        return (self.own is None or customer_id == self.own) and (
            self.wanted is None or customer_id == self.wanted
        )

    @property
    def customer_id(self) -> int | None:
        return self.wanted if self.wanted is not None else self.own


async def audience(info: Info, permission: Permission, customer_ref: str | None = None) -> Audience:
    """The one rule of every live feed: which messages the caller may see, as a test
    of a message's customer (internal id). A customer token sees only its own
    customer; `customer_ref` narrows the feed to one customer, and an unknown,
    foreign or (for a customer token) other customer is an error before the stream
    opens, never a stream that stays silent."""
    permit(info, permission)
    principal = info.context.caller
    own = principal.customer_id if principal.role is Role.CUSTOMER else None
    followed = await followed_customer(info, customer_ref)
    return Audience(own=own, wanted=followed[0] if followed else None)


async def events(
    info: Info, channel: str, customer_id: int | None = None
) -> AsyncIterator[dict[str, Any]]:
    """The channel's messages; with `customer_id`, only that customer's part of each."""
    try:
        async for event in info.context.bus.subscribe(channel, customer_id):
            yield event
    except BillingError as exc:  # the bus cannot subscribe (Redis unreachable)
        raise live_error(exc) from exc


async def refreshed(
    info: Info,
    channel: str,
    read: Callable[[], Awaitable[T]],
    *,
    concerns: Callable[[dict[str, Any]], bool] = lambda _: True,
    coalesce: float = 0.2,
    customer_id: int | None = None,
) -> AsyncGenerator[T, None]:
    """`read()` when the subscription opens, then again after a message on `channel`
    that `concerns` the caller (a burst coalesced: one read per `coalesce` seconds at
    most). The feeds that push a figure read afresh (usageUpdates, metricsUpdates)."""
    moved = asyncio.Event()

    async def listen() -> None:
        async for message in events(info, channel, customer_id):
            if concerns(message):
                moved.set()

    # Listen first, then read, so a change landing after the read is not missed (the
    # listener's first step subscribes; on Redis the subscription is confirmed later).
    listener = asyncio.create_task(listen())
    try:
        await asyncio.sleep(0)
        yield await read()
        while True:
            changed = asyncio.ensure_future(moved.wait())
            try:
                await asyncio.wait({changed, listener}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()  # the client left while waiting, or the listener ended
            if listener.done():
                listener.result()  # the bus failed: its error ends the stream
                return
            await asyncio.sleep(coalesce)  # let a burst land: one read for all of it
            moved.clear()  # before reading: what lands during the read triggers another
            yield await read()
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await listener
