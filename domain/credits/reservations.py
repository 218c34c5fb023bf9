"""Reservations: hold credits for a long operation, then commit (possibly for
less) or release. A hold counts against the available balance and the day's
limit at once, so whatever the operation ends up costing it can be paid; an
expired hold gives both back (the next write to the wallet, or the sweep)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from db.credit_models import CreditReservation
from domain import clock
from domain.credits import accounts, rules
from domain.credits.accounts import Account
from domain.credits.ledger_writer import count_today
from domain.credits.requests import ConsumeRequest, validate
from domain.credits.wallets import give_back, release_expired, wallet_transaction
from domain.errors import ConflictError, IdempotencyError, NotFoundError, ValidationError
from domain.events.bus import EventBus
from domain.ids import check_id, new_id
from domain.tenancy.access import Permission, Principal

DEFAULT_HOLD_SECONDS = 15 * 60
MAX_HOLD_SECONDS = 7 * 24 * 3600


class ReservationNotHeld(ConflictError):
    code = "RESERVATION_NOT_HELD"


class ReservationExpired(ConflictError):
    code = "RESERVATION_EXPIRED"


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    reservation: CreditReservation | None
    decision: rules.Decision
    replayed: bool = False


async def reserve_credits(
    principal: Principal,
    customer: str,
    module: str,
    action: str,
    qty: int,
    request_id: str,
    *,
    expires_in: int | None = None,
    metadata: dict[str, Any] | None = None,
    bus: EventBus | None = None,
) -> ReserveOutcome:
    principal.require(Permission.CREDITS_CONSUME)
    req = validate(ConsumeRequest(customer, module, action, qty, request_id, metadata))
    seconds = DEFAULT_HOLD_SECONDS if expires_in is None else expires_in
    if not 0 < seconds <= MAX_HOLD_SECONDS:
        raise ValidationError(
            f"expiresInSeconds must be 1-{MAX_HOLD_SECONDS}", field="expiresInSeconds"
        )
    account = await accounts.load_account(principal.tenant_id, customer)
    digest = rules.request_digest(account.customer_id, module, action, qty, metadata)
    rules.cost_of(account.ent, module, qty)  # an unknown module is an error, not a refusal
    wallet_id = await accounts.ensure_wallet(account)
    try:
        async with wallet_transaction(principal.tenant_id, account.now, [wallet_id], bus=bus) as tx:
            first = await CreditReservation.get_or_none(
                tenant_id=principal.tenant_id, request_id=req.request_id
            )
            if first is not None:
                return _replay(first, account, digest)
            wallet = await tx.wallet(account)
            day = rules.counting_day(wallet.usage_day, account.day)
            decision = account.decide(module, qty, wallet=accounts.state_of(wallet), day=day)
            if not decision.allowed:
                return ReserveOutcome(None, decision)
            wallet.reserved += decision.cost
            count_today(wallet, day, decision.cost)
            hold = await CreditReservation.create(
                public_id=new_id("credit_reservation"),
                tenant_id=principal.tenant_id,
                wallet_id=wallet.id,
                customer_id=account.customer_id,
                module=module,
                action=action,
                quantity=qty,
                amount=decision.cost,
                status="held",
                request_id=req.request_id,
                request_hash=digest,
                usage_day=day,
                metadata=metadata,
                expires_at=account.now + timedelta(seconds=seconds),
                created_at=account.now,
                updated_at=account.now,
            )
            tx.book.touch(wallet, account.customer_public_id)
    except IntegrityError:  # the same request id, committed concurrently
        first = await CreditReservation.get(
            tenant_id=principal.tenant_id, request_id=req.request_id
        )
        return _replay(first, account, digest)
    return ReserveOutcome(hold, decision)


def _replay(first: CreditReservation, account: Account, digest: str) -> ReserveOutcome:
    if first.request_hash != digest or first.customer_id != account.customer_id:
        raise IdempotencyError(
            f"requestId {first.request_id!r} was used with other input", field="requestId"
        )
    decision = rules.Decision(first.amount, None, 0, None)
    return ReserveOutcome(first, decision, replayed=True)


async def _load(principal: Principal, public_id: str) -> tuple[CreditReservation, Account]:
    """The hold (read again once its wallet is locked) and its customer's account."""
    check_id(public_id, "credit_reservation", field="reservationId")
    hold = await CreditReservation.get_or_none(
        tenant_id=principal.tenant_id, public_id=public_id
    ).select_related("customer")
    if hold is None:
        raise NotFoundError(f"no reservation {public_id}", field="reservationId")
    account = await accounts.load_account(principal.tenant_id, hold.customer.public_id)
    return hold, account


async def commit_reservation(
    principal: Principal,
    public_id: str,
    qty: int | None = None,
    bus: EventBus | None = None,
) -> CreditReservation:
    """Consume what the operation used (at most what was held); the rest goes back."""
    principal.require(Permission.CREDITS_CONSUME)
    hold, account = await _load(principal, public_id)
    async with wallet_transaction(
        principal.tenant_id, account.now, [hold.wallet_id], bus=bus, catch_up=False
    ) as tx:
        wallet = tx.wallets[hold.wallet_id]
        await hold.refresh_from_db()  # the wallet lock orders every writer of its holds
        used = hold.quantity if qty is None else rules.quantity(qty)
        if used > hold.quantity:
            raise ValidationError(
                f"quantity must be at most the {hold.quantity} reserved", field="quantity"
            )
        _must_be_held(hold, account.now)
        amount = hold.amount * used // hold.quantity
        give_back(tx.book, wallet, account.customer_public_id, hold)
        if wallet.usage_day == hold.usage_day:
            wallet.used_today += amount
        wallet.consumed_total += amount
        tx.book.entry(
            wallet,
            account.customer_public_id,
            "consumption",
            -amount,
            settings=account.settings,
            module=hold.module,
            action=hold.action,
            quantity=used,
            reservation_id=hold.id,
            local_day=hold.usage_day,
            metadata=hold.metadata,
        )
        hold.status, hold.committed_amount, hold.updated_at = "committed", amount, account.now
        await hold.save(update_fields=("status", "committed_amount", "updated_at"))
    return hold


async def release_reservation(
    principal: Principal, public_id: str, bus: EventBus | None = None
) -> CreditReservation:
    principal.require(Permission.CREDITS_CONSUME)
    hold, account = await _load(principal, public_id)
    async with wallet_transaction(
        principal.tenant_id, account.now, [hold.wallet_id], bus=bus, catch_up=False
    ) as tx:
        wallet = tx.wallets[hold.wallet_id]
        await hold.refresh_from_db()  # the wallet lock orders every writer of its holds
        _must_be_held(hold, account.now)
        give_back(tx.book, wallet, account.customer_public_id, hold)
        hold.status, hold.updated_at = "released", account.now
        await hold.save(update_fields=("status", "updated_at"))
    return hold


def _must_be_held(hold: CreditReservation, now: datetime) -> None:
    if hold.status != "held":
        raise ReservationNotHeld(f"reservation {hold.public_id} is already {hold.status}")
    if hold.expires_at <= now:
        raise ReservationExpired(
            f"reservation {hold.public_id} expired at {hold.expires_at.isoformat()}"
        )


async def expire_due(
    now: datetime | None = None, bus: EventBus | None = None, *, test_clock_id: int | None = None
) -> int:
    """The sweep: give back every hold past its expiry (on real time, or on one
    test clock's customers). Returns how many wallets it changed."""
    now = now or clock.now()
    due = CreditReservation.filter(
        status="held", expires_at__lte=now, customer__test_clock_id=test_clock_id
    )
    wallets = sorted(set(await due.values_list("wallet_id", "tenant_id")))
    count = 0
    for wallet_id, tenant_id in wallets:
        async with wallet_transaction(tenant_id, now, [wallet_id], bus=bus, catch_up=False) as tx:
            wallet = tx.wallets[wallet_id]
            customer = await wallet.customer.only("id", "public_id")  # type: ignore[attr-defined]
            before = wallet.reserved
            await release_expired(tx.book, wallet, customer.public_id, now)
            count += before != wallet.reserved
    return count
