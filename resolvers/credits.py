"""Prepaid credits: thin adapters, and the live feeds."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.credits import admin, consume, queries, reservations
from domain.credits.live import credits_channel
from domain.credits.rules import CreditSettings
from domain.errors import BillingError
from domain.payments import invoice_actions
from domain.tenancy.access import Permission, Role
from resolvers import live
from resolvers.common import mutate, paged, query, to_data, to_error
from schema import credits as t
from schema.common import Connection


def _check(result: consume.CheckResult) -> t.CreditCheck:
    d = result.decision
    return t.CreditCheck(
        customer_id=strawberry.ID(result.customer),
        module=result.module,
        can_proceed=d.allowed,
        reason=t.CreditRefusal(d.refusal.value) if d.refusal else None,
        cost=d.cost,
        balance_after=d.balance_after,
        remaining_today=d.remaining_today,
        daily_limit=result.daily_limit,
    )


def _consumption(o: consume.Outcome) -> t.CreditConsumption:
    return t.CreditConsumption(
        customer_id=strawberry.ID(o.customer),
        module=o.module,
        consumed=o.consumed,
        reason=t.CreditRefusal(o.refusal.value) if o.refusal else None,
        cost=o.cost,
        balance=o.balance,
        remaining_today=o.remaining_today,
        entry_id=strawberry.ID(o.entry_id) if o.entry_id else None,
        replayed=o.replayed,
    )


def _wallet(view: queries.WalletView) -> t.CreditWallet:
    data = {k: getattr(view, k) for k in view.__slots__ if k != "lots"}
    data["customer_id"] = strawberry.ID(data.pop("customer"))
    lots = [
        t.CreditLot(kind=x.kind, remaining=x.remaining, expires_at=x.expires_at) for x in view.lots
    ]
    return t.CreditWallet(lots=lots, **data)


def _request(item: t.ConsumeCreditsInput) -> consume.ConsumeRequest:
    return consume.ConsumeRequest(
        customer=item.customer_id,
        module=item.module,
        action=item.action,
        quantity=item.quantity,
        request_id=item.request_id,
        metadata=item.metadata,
    )


# -- queries ---------------------------------------------------------------------------
async def check_credits(
    info: Info, customer_id: strawberry.ID, module: str, quantity: t.BigInt = 1
) -> t.CreditCheck:
    return _check(
        await query(
            lambda: consume.check_credits(info.context.caller, customer_id, module, quantity)
        )
    )


async def credit_wallet(info: Info, customer_id: strawberry.ID | None = None) -> t.CreditWallet:
    return _wallet(await query(lambda: queries.wallet_view(info.context.caller, customer_id)))


async def credit_ledger(
    info: Info,
    customer_id: strawberry.ID | None = None,
    first: int | None = None,
    after: str | None = None,
    module: str | None = None,
    kind: t.CreditEntryKind | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Connection[t.CreditEntry]:
    return await paged(
        info,
        lambda caller, page, **filters: queries.list_entries(caller, customer_id, page, **filters),
        first,
        after,
        module=module,
        kind=kind.value if kind else None,
        since=since,
        until=until,
    )


async def credit_usage(
    info: Info, from_day: date, to_day: date, customer_id: strawberry.ID | None = None
) -> list[t.DailyCreditUsage]:
    """Credits consumed per module per day (the customer's days)."""
    rows = await query(
        lambda: queries.usage_by_day(info.context.caller, customer_id, from_day, to_day)
    )
    return [
        t.DailyCreditUsage(
            day=date.fromisoformat(r.day),
            module=r.module,
            credits=r.credits,
            consumptions=r.consumptions,
        )
        for r in rows
    ]


async def credit_settings(info: Info) -> t.CreditSettings:
    async def run() -> Any:
        return settings_view(await queries.credit_settings(info.context.caller))

    return await query(run)


def settings_view(s: CreditSettings) -> t.CreditSettings:
    return t.CreditSettings(
        costs=[t.ModuleCost(module=m, credits=c) for m, c in sorted(s.costs.items())],
        low_threshold=s.low_threshold,
        auto_block=s.auto_block,
        unit_prices=[
            t.CreditUnitPrice(currency=c, amount_minor=a)
            for c, a in sorted((s.unit_prices or {}).items())
        ],
        customers_may_change_timezone=s.customers_may_change_timezone,
    )


# -- mutations -------------------------------------------------------------------------
async def consume_credits(
    info: Info,
    customer_id: strawberry.ID,
    module: str,
    action: str,
    request_id: str,
    quantity: t.BigInt = 1,
    metadata: JSON | None = None,
) -> t.ConsumeCreditsResult:
    """Arguments rather than an input object: this is the hottest call there is,
    and plain arguments cost a fraction of an input object to convert."""
    ctx = info.context
    req = consume.ConsumeRequest(customer_id, module, action, quantity, request_id, metadata)
    return await mutate(consume.consume_credits(ctx.caller, req, ctx.bus), _consumption)


async def consume_credits_batch(
    info: Info, items: list[t.ConsumeCreditsInput]
) -> t.ConsumeCreditsBatchResult:
    ctx = info.context

    def success(results: list[Any]) -> t.ConsumeCreditsBatchSuccess:
        return t.ConsumeCreditsBatchSuccess(
            results=[
                to_error(r) if isinstance(r, BillingError) else _consumption(r) for r in results
            ]
        )

    return await mutate(
        consume.consume_batch(ctx.caller, [_request(i) for i in items], ctx.bus),
        success,
    )


async def reserve_credits(
    info: Info, input: t.ConsumeCreditsInput, expires_in_seconds: int | None = None
) -> t.ReserveCreditsResult:
    ctx = info.context

    def success(r: reservations.ReserveOutcome) -> t.ReserveCreditsSuccess:
        d = r.decision
        return t.ReserveCreditsSuccess(
            reserved=r.reservation is not None,
            reason=t.CreditRefusal(d.refusal.value) if d.refusal else None,
            cost=d.cost,
            replayed=r.replayed,
            reservation=r.reservation,  # type: ignore[arg-type]
        )

    return await mutate(
        reservations.reserve_credits(
            ctx.caller,
            input.customer_id,
            input.module,
            input.action,
            input.quantity,
            input.request_id,
            expires_in=expires_in_seconds,
            metadata=input.metadata,
            bus=ctx.bus,
        ),
        success,
    )


async def commit_reservation(
    info: Info, id: strawberry.ID, quantity: t.BigInt | None = None
) -> t.ReservationResult:
    ctx = info.context
    return await mutate(
        reservations.commit_reservation(ctx.caller, id, quantity, ctx.bus),
        lambda r: t.ReservationSuccess(reservation=r),
    )


async def release_reservation(info: Info, id: strawberry.ID) -> t.ReservationResult:
    ctx = info.context
    return await mutate(
        reservations.release_reservation(ctx.caller, id, ctx.bus),
        lambda r: t.ReservationSuccess(reservation=r),
    )


def _wallet_success(view: queries.WalletView) -> t.CreditWalletSuccess:
    return t.CreditWalletSuccess(wallet=_wallet(view))


async def grant_credits(
    info: Info,
    customer_id: strawberry.ID,
    amount: t.BigInt,
    reason: str,
    kind: t.CreditGrantKind = t.CreditGrantKind.GRANT,
    expires_at: datetime | None = None,
) -> t.CreditWalletResult:
    ctx = info.context
    grant = admin.grant_credits(
        ctx.caller,
        customer_id,
        amount,
        kind=kind.value,
        reason=reason,
        expires_at=expires_at,
        author=ctx.api_key.name if ctx.api_key is not None else None,
        bus=ctx.bus,
    )
    return await mutate(queries.wallet_after(grant, ctx.caller, customer_id), _wallet_success)


async def _set_blocked(
    info: Info, customer_id: str, blocked: bool, reason: str | None
) -> t.CreditWalletResult:
    ctx = info.context
    change = admin.set_blocked(ctx.caller, customer_id, blocked, reason=reason, bus=ctx.bus)
    return await mutate(queries.wallet_after(change, ctx.caller, customer_id), _wallet_success)


async def block_customer(
    info: Info, customer_id: strawberry.ID, reason: str | None = None
) -> t.CreditWalletResult:
    return await _set_blocked(info, customer_id, True, reason)


async def unblock_customer(
    info: Info, customer_id: strawberry.ID, reason: str | None = None
) -> t.CreditWalletResult:
    return await _set_blocked(info, customer_id, False, reason)


async def refund_credits(
    info: Info, entry_id: strawberry.ID, reason: str, amount: t.BigInt | None = None
) -> t.CreditEntryResult:
    ctx = info.context
    return await mutate(
        admin.refund_consumption(ctx.caller, entry_id, amount, reason=reason, bus=ctx.bus),
        lambda e: t.CreditEntrySuccess(entry=e),
    )


async def purchase_credits(
    info: Info,
    customer_id: strawberry.ID,
    credits: t.BigInt,
    currency: str | None = None,
    expires_at: datetime | None = None,
) -> t.CreditPurchaseResult:
    return await mutate(
        invoice_actions.purchase_credits(
            info.context.caller, customer_id, credits, currency=currency, expires_at=expires_at
        ),
        lambda bought: t.CreditPurchaseSuccess(purchase=bought),
    )


async def update_credit_settings(
    info: Info, input: t.CreditSettingsInput
) -> t.CreditSettingsResult:
    return await mutate(
        admin.update_credit_settings(info.context.caller, to_data(input)),
        lambda tenant: t.CreditSettingsSuccess(
            settings=settings_view(CreditSettings.of(tenant.credit_settings))
        ),
    )


# -- live ------------------------------------------------------------------------------
async def _changes(info: Info, customer_id: str | None) -> AsyncGenerator[dict[str, Any], None]:
    """Wallet changes in the caller's tenant, for one customer (by id or external id)
    or all; a customer token only its own (naming another is NOT_FOUND)."""
    sees = await live.audience(info, Permission.CREDITS_READ, customer_id)
    channel = credits_channel(info.context.caller.tenant_id)
    async for message in live.events(info, channel, sees.customer_id):
        at = datetime.fromtimestamp(message["committed_at"], UTC)
        for change in message["changes"]:
            if not sees(change["customer_id"]):
                continue
            yield {**change, "committed_at": at}


async def credit_balance(
    info: Info, customer_id: strawberry.ID | None = None
) -> AsyncGenerator[t.CreditBalanceEvent, None]:
    """The wallet after every change (consumption, grant, hold, reset, block)."""
    if customer_id is None and info.context.caller.role is not Role.CUSTOMER:
        raise live.live_error(
            BillingError("give customerId", field="customerId", code="VALIDATION_ERROR")
        )
    async for change in _changes(info, customer_id):
        w = change["wallet"]
        yield t.CreditBalanceEvent(
            customer_id=strawberry.ID(change["customer"]),
            balance=w["balance"],
            reserved=w["reserved"],
            used_today=w["used_today"],
            blocked=w["blocked"],
            committed_at=change["committed_at"],
        )


async def usage_events(
    info: Info, customer_id: strawberry.ID | None = None
) -> AsyncGenerator[t.UsageEvent, None]:
    """Every ledger entry as it commits, for one customer or the whole tenant."""
    async for change in _changes(info, customer_id):
        e = change["entry"]
        if e is None:
            continue
        yield t.UsageEvent(
            customer_id=strawberry.ID(change["customer"]),
            entry_id=strawberry.ID(e["id"]),
            kind=t.CreditEntryKind(e["kind"]),
            amount=e["amount"],
            balance_after=e["balance_after"],
            module=e["module"],
            action=e["action"],
            quantity=e["quantity"],
            created_at=datetime.fromisoformat(e["created_at"]),
        )
