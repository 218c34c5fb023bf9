"""Reading wallets and ledgers. A customer token reads only its own."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tortoise.functions import Count, Sum

from db.credit_models import CreditEntry, CreditLot, CreditWallet
from db.models import Tenant
from domain.credits import accounts, rules
from domain.credits.accounts import Account
from domain.credits.ledger_writer import CREDITS_ENTRY_KINDS
from domain.errors import NotFoundError, ValidationError
from domain.pagination import Page, PageRequest, paginate
from domain.tenancy.access import Permission, Principal, Role

MAX_USAGE_DAYS = 366


@dataclass(frozen=True, slots=True)
class LotView:
    kind: str
    remaining: int
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class WalletView:
    customer: str
    balance: int
    reserved: int
    available: int
    used_today: int
    daily_limit: int | None
    remaining_today: int | None
    next_reset_at: datetime
    blocked: bool
    blocked_reason: str | None
    unblocked_reason: str | None
    payment_overdue: bool  # blocked because an invoice is past due (or written off)
    payment_failed: bool  # blocked because a payment failed, no invoice past due yet
    modules: list[str]
    lots: list[LotView]


async def _account(principal: Principal, customer: str | None) -> Account:
    principal.require(Permission.CREDITS_READ)
    if principal.role is Role.CUSTOMER:
        from db.models import Customer

        own = await Customer.get(id=principal.customer_id).only("id", "public_id", "external_id")
        if customer not in (None, own.public_id, own.external_id):
            raise NotFoundError(f"no customer {customer}", field="customerId")
        customer = own.public_id
    if customer is None:
        raise ValidationError("give customerId", field="customerId")
    return await accounts.load_account(principal.tenant_id, customer)


async def wallet_view(principal: Principal, customer: str | None) -> WalletView:
    account = await _account(principal, customer)
    state, lots, reason, unblocked = account.state, [], None, None
    if account.wallet_id is not None:
        wallet = await CreditWallet.get(id=account.wallet_id)
        reason, unblocked = wallet.blocked_reason, wallet.unblocked_reason
        open_lots = await CreditLot.filter(wallet_id=wallet.id, closed_at=None)
        # What the lots hold now: the consumption not yet drawn from them, drawn here.
        takes = rules.draw(
            [rules.Lot(x.id, x.remaining, x.expires_at) for x in open_lots],
            wallet.consumed_total - wallet.consumed_settled,
        )
        ordered = rules.draw_order([rules.Lot(x.id, x.remaining, x.expires_at) for x in open_lots])
        kinds = {x.id: x.kind for x in open_lots}
        lots = [
            LotView(kinds[x.id], x.remaining - takes.get(x.id, 0), x.expires_at)
            for x in ordered
            if x.remaining - takes.get(x.id, 0) > 0
        ]
    day = account.day
    used = state.used_on(day)
    limit = account.ent.daily_limit
    return WalletView(
        customer=account.customer_public_id,
        balance=state.balance,
        reserved=state.reserved,
        available=state.available,
        used_today=used,
        daily_limit=limit,
        remaining_today=None if limit is None else max(limit - used, 0),
        next_reset_at=rules.next_reset(account.now, account.timezone, state.usage_day),
        blocked=state.blocked or state.auto_blocked,
        blocked_reason=reason,
        unblocked_reason=unblocked,
        payment_overdue=account.payment_overdue
        and account.standing is rules.Refusal.PAYMENT_OVERDUE,
        payment_failed=account.payment_overdue and account.standing is rules.Refusal.PAYMENT_FAILED,
        modules=sorted(account.ent.modules),
        lots=lots,
    )


async def list_entries(
    principal: Principal,
    customer: str | None,
    page: PageRequest,
    *,
    module: str | None = None,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[CreditEntry]:
    """The ledger, newest first, with filters."""
    account = await _account(principal, customer)
    query = CreditEntry.filter(tenant_id=principal.tenant_id, customer_id=account.customer_id)
    if module is not None:
        query = query.filter(module=module)
    if kind is not None:
        if kind not in CREDITS_ENTRY_KINDS:
            raise ValidationError(f"unknown entry kind {kind!r}", field="kind")
        query = query.filter(kind=kind)
    if since is not None:
        query = query.filter(created_at__gte=since)
    if until is not None:
        query = query.filter(created_at__lt=until)
    return await paginate(query, page)


@dataclass(frozen=True, slots=True)
class DailyUsage:
    day: str
    module: str
    credits: int
    consumptions: int


async def usage_by_day(
    principal: Principal, customer: str | None, start: date, end: date
) -> list[DailyUsage]:
    """Credits consumed per module per local day (the customer's time zone), from
    `start` to `end` inclusive."""
    if end < start or (end - start).days >= MAX_USAGE_DAYS:
        raise ValidationError(f"give 1-{MAX_USAGE_DAYS} days, from ≤ to", field="to")
    account = await _account(principal, customer)
    if account.wallet_id is None:
        return []
    rows: list[dict[str, Any]] = (
        await CreditEntry.filter(
            wallet_id=account.wallet_id,
            kind="consumption",
            local_day__gte=start.isoformat(),
            local_day__lte=end.isoformat(),
        )
        .group_by("local_day", "module")
        .annotate(total=Sum("amount"), count=Count("id"))
        .order_by("local_day", "module")
        .values("local_day", "module", "total", "count")
    )
    return [DailyUsage(r["local_day"], r["module"], -int(r["total"]), r["count"]) for r in rows]


async def credit_settings(principal: Principal) -> rules.CreditSettings:
    """The tenant's credit configuration (costs, thresholds, top-up prices)."""
    principal.require(Permission.CREDITS_READ)
    tenant = await Tenant.get(id=principal.tenant_id)
    return rules.CreditSettings.of(tenant.credit_settings)


async def wallet_after(change: Awaitable[Any], principal: Principal, customer: str) -> WalletView:
    """Make a wallet change (a grant, a block), then read the wallet as the caller sees it."""
    await change
    return await wallet_view(principal, customer)
