"""What an admin does to wallets: grant, block and unblock, refund a consumption,
configure the tenant's credits. Each is one transaction on the locked wallet."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.transactions import in_transaction

from db.credit_models import CreditEntry, CreditWallet
from db.models import Tenant
from domain import validation
from domain.credits import accounts, lots, rules
from domain.credits.accounts import Account
from domain.credits.ledger_writer import Book
from domain.credits.wallets import Action, on_wallet
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.events.bus import EventBus
from domain.tenancy.access import Permission, Principal

MAX_GRANT = 10**12
GRANT_KINDS = ("grant", "promotion")


async def with_wallet(
    principal: Principal, customer: str, action: Action, bus: EventBus | None
) -> Any:
    account = await accounts.load_account(principal.tenant_id, customer)
    return await on_wallet(account, action, bus=bus)


def _amount(value: int, field: str = "amount") -> int:
    if not isinstance(value, int) or not 0 < value <= MAX_GRANT:
        raise ValidationError(f"{field} must be 1-{MAX_GRANT:,} credits", field=field)
    return value


def _reason(value: str | None, *, required: bool) -> str | None:
    return validation.text(value, field="reason", max_length=300, required=required)


async def grant_credits(
    principal: Principal,
    customer: str,
    amount: int,
    *,
    kind: str = "grant",
    reason: str | None,
    expires_at: datetime | None = None,
    author: str | None = None,
    bus: EventBus | None = None,
) -> CreditWallet:
    """An admin grant or a promotion: a lot of its own (expiring or not)."""
    principal.require(Permission.CREDITS_MANAGE)
    amount = _amount(amount)
    reason = _reason(reason, required=True)
    if kind not in GRANT_KINDS:
        raise ValidationError(f"kind must be one of {', '.join(GRANT_KINDS)}", field="kind")

    async def grant(book: Book, account: Account, wallet: CreditWallet) -> CreditWallet:
        if expires_at is not None and expires_at <= account.now:
            raise ValidationError("expiresAt must be in the future", field="expiresAt")
        await lots.add_lot(
            book,
            wallet,
            account.customer_public_id,
            kind,
            amount,
            expires_at=expires_at,
            entry_kind=kind,
            settings=account.settings,
            reason=reason,
            author=author,
        )
        return wallet

    return await with_wallet(principal, customer, grant, bus)


async def set_blocked(
    principal: Principal,
    customer: str,
    blocked: bool,
    *,
    reason: str | None = None,
    bus: EventBus | None = None,
) -> CreditWallet:
    """Block or unblock, with the admin's reason (kept on the wallet: `blocked_reason`
    while blocked, `unblocked_reason` after). Unblocking also lifts an auto-block (an
    admin's decision overrides it)."""
    principal.require(Permission.CREDITS_MANAGE)
    reason = _reason(reason, required=False)

    async def apply(book: Book, account: Account, wallet: CreditWallet) -> CreditWallet:
        wallet.blocked = blocked
        wallet.blocked_reason = reason if blocked else None
        wallet.unblocked_reason = None if blocked else reason
        if not blocked:
            wallet.auto_blocked = False
        book.touch(wallet, account.customer_public_id)
        return wallet

    return await with_wallet(principal, customer, apply, bus)


async def refund_consumption(
    principal: Principal,
    entry_id: str,
    amount: int | None = None,
    *,
    reason: str | None,
    bus: EventBus | None = None,
) -> CreditEntry:
    """Give back (part of) a consumption, as credits that never expire. The total
    refunded never exceeds what was consumed."""
    principal.require(Permission.CREDITS_MANAGE)
    reason = _reason(reason, required=True)
    entry = await CreditEntry.get_or_none(
        tenant_id=principal.tenant_id, public_id=entry_id
    ).select_related("customer")
    if entry is None or entry.kind != "consumption":
        raise NotFoundError(f"no consumption {entry_id}", field="entryId")

    async def refund(book: Book, account: Account, wallet: CreditWallet) -> CreditEntry:
        done = sum(
            await CreditEntry.filter(
                wallet_id=wallet.id, kind="refund", refund_of=entry.id
            ).values_list("amount", flat=True)
        )
        left = -entry.amount - done
        give = left if amount is None else _amount(amount)
        if give <= 0 or give > left:
            raise ConflictError(
                f"at most {left} of this consumption can still be refunded",
                field="amount",
                code="REFUND_EXCEEDS_CONSUMPTION",
            )
        if entry.local_day is not None and wallet.usage_day == entry.local_day:
            wallet.used_today = max(wallet.used_today - give, 0)
        lot = await lots.add_lot(
            book, wallet, account.customer_public_id, "refund", give, expires_at=None
        )
        row = book.entry(
            wallet,
            account.customer_public_id,
            "refund",
            give,
            settings=account.settings,
            lot_id=lot.id,
            refund_of=entry.id,
            module=entry.module,
            action=entry.action,
            reason=reason,
        )
        return CreditEntry(**row)

    return await with_wallet(principal, entry.customer.public_id, refund, bus)


async def update_credit_settings(principal: Principal, data: dict[str, Any]) -> Tenant:
    principal.require(Permission.CREDITS_MANAGE)
    async with in_transaction():
        tenant = await Tenant.filter(id=principal.tenant_id).select_for_update().get()
        current = rules.CreditSettings.of(tenant.credit_settings)
        stored: dict[str, Any] = {
            "costs": dict(current.costs),
            "low_threshold": current.low_threshold,
            "auto_block": current.auto_block,
            "unit_prices": dict(current.unit_prices or {}),
            "customers_may_change_timezone": current.customers_may_change_timezone,
        }
        if "costs" in data:
            stored["costs"] = _costs(data["costs"])
        if "low_threshold" in data:
            value = data["low_threshold"]
            if value is not None and value < 0:
                raise ValidationError("lowThreshold must not be negative", field="lowThreshold")
            stored["low_threshold"] = value
        if "auto_block" in data:
            stored["auto_block"] = bool(data["auto_block"])
        if "customers_may_change_timezone" in data:
            stored["customers_may_change_timezone"] = bool(data["customers_may_change_timezone"])
        if "unit_prices" in data:
            stored["unit_prices"] = _prices(data["unit_prices"])
        tenant.credit_settings = stored
        await tenant.save(update_fields=("credit_settings",))
    accounts.forget_terms()
    return tenant


def _costs(items: list[dict[str, Any]]) -> dict[str, int]:
    costs = rules.module_costs(items, field="costs")
    if not costs:
        raise ValidationError("configure at least one module", field="costs")
    return costs


def _prices(items: list[dict[str, Any]]) -> dict[str, int]:
    from domain.money import normalise_currency

    prices: dict[str, int] = {}
    for item in items:
        currency = normalise_currency(item.get("currency", ""))
        value = item.get("amount_minor")
        if not isinstance(value, int) or value <= 0:
            raise ValidationError("a credit's price must be positive", field="unitPrices")
        prices[currency] = value
    return prices
