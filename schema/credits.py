"""Prepaid credits: wallets, ledger, checks, consumptions, reservations, top-ups,
and the live feeds."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from schema.billing import Invoice
from schema.catalog import ModuleCost, ModuleCostInput
from schema.common import BigInt, not_null_when_given, result_union


@strawberry.enum(description="Why a consumption cannot proceed.")
class CreditRefusal(enum.StrEnum):
    INSUFFICIENT_CREDITS = "INSUFFICIENT_CREDITS"
    DAILY_LIMIT_REACHED = "DAILY_LIMIT_REACHED"
    MODULE_NOT_IN_PLAN = "MODULE_NOT_IN_PLAN"
    CUSTOMER_BLOCKED = "CUSTOMER_BLOCKED"
    PAYMENT_OVERDUE = "PAYMENT_OVERDUE"
    PAYMENT_FAILED = "PAYMENT_FAILED"


@strawberry.enum
class CreditEntryKind(enum.StrEnum):
    ALLOWANCE = "allowance"
    GRANT = "grant"
    PROMOTION = "promotion"
    PURCHASE = "purchase"
    CONSUMPTION = "consumption"
    REFUND = "refund"
    EXPIRY = "expiry"
    RESET = "reset"


@strawberry.enum
class CreditGrantKind(enum.StrEnum):
    GRANT = "grant"
    PROMOTION = "promotion"


@strawberry.enum
class ReservationStatus(enum.StrEnum):
    HELD = "held"
    COMMITTED = "committed"
    RELEASED = "released"
    EXPIRED = "expired"


@strawberry.type(description="What `checkCredits` found; nothing was written.")
class CreditCheck:
    customer_id: strawberry.ID
    module: str
    can_proceed: bool
    reason: CreditRefusal | None
    cost: BigInt
    balance_after: BigInt = strawberry.field(description="The balance if it proceeded.")
    remaining_today: BigInt | None = strawberry.field(
        description="Credits left today after it; null when the plan has no daily limit."
    )
    daily_limit: BigInt | None


@strawberry.type(description="The result of one consumption (also a replay's).")
class CreditConsumption:
    customer_id: strawberry.ID
    module: str
    consumed: bool
    reason: CreditRefusal | None = strawberry.field(description="Why not, when not consumed.")
    cost: BigInt
    balance: BigInt = strawberry.field(description="The balance after it.")
    remaining_today: BigInt | None
    entry_id: strawberry.ID | None = strawberry.field(description="The ledger entry.")
    replayed: bool = strawberry.field(
        description="True when this requestId was consumed before: the first result."
    )


@strawberry.type
class CreditLot:
    kind: str = strawberry.field(
        description="allowance, rollover, grant, promotion, purchase or refund."
    )
    remaining: BigInt
    expires_at: datetime | None


@strawberry.type
class CreditWallet:
    customer_id: strawberry.ID
    balance: BigInt
    reserved: BigInt = strawberry.field(description="Held by open reservations.")
    available: BigInt = strawberry.field(description="balance - reserved.")
    used_today: BigInt = strawberry.field(description="In the customer's time zone.")
    daily_limit: BigInt | None
    remaining_today: BigInt | None
    next_reset_at: datetime = strawberry.field(description="The customer's next local midnight.")
    blocked: bool
    blocked_reason: str | None = strawberry.field(description="An admin's reason, if given.")
    unblocked_reason: str | None = strawberry.field(
        description="Why an admin last unblocked it, if given (cleared by the next block)."
    )
    payment_overdue: bool = strawberry.field(
        description="Blocked because an invoice is past its due date (or written off)."
    )
    payment_failed: bool = strawberry.field(
        description="Blocked because a payment failed; no invoice is past due yet."
    )
    modules: list[str] = strawberry.field(description="What the customer's plans allow.")
    lots: list[CreditLot] = strawberry.field(
        description="The balance by kind and expiry, in the order it is spent."
    )


@strawberry.type
class CreditEntry:
    public_id: strawberry.ID = strawberry.field(name="id")
    kind: CreditEntryKind
    amount: BigInt = strawberry.field(description="Signed: negative for what left the wallet.")
    balance_after: BigInt
    module: str | None
    action: str | None
    quantity: BigInt | None
    request_id: str | None
    reason: str | None
    author: str | None
    local_day: str | None = strawberry.field(description="A consumption's day, customer time.")
    metadata: JSON | None
    created_at: datetime


@strawberry.type
class CreditReservation:
    public_id: strawberry.ID = strawberry.field(name="id")
    status: ReservationStatus
    module: str
    action: str
    quantity: BigInt
    amount: BigInt = strawberry.field(description="Credits held.")
    committed_amount: BigInt | None
    request_id: str
    expires_at: datetime
    created_at: datetime


@strawberry.type
class CreditPurchase:
    public_id: strawberry.ID = strawberry.field(name="id")
    credits: BigInt
    status: str = strawberry.field(description="pending (until paid), granted or canceled.")
    expires_at: datetime | None
    created_at: datetime
    granted_at: datetime | None

    @strawberry.field
    async def invoice(self, info: Info) -> Invoice | None:
        return await info.context.loaders.invoice_by_id.load(self.invoice_id)  # type: ignore[attr-defined]


@strawberry.type
class DailyCreditUsage:
    day: date
    module: str
    credits: BigInt
    consumptions: int


@strawberry.type
class CreditUnitPrice:
    currency: str
    amount_minor: BigInt


@strawberry.type
class CreditSettings:
    costs: list[ModuleCost]
    low_threshold: BigInt | None = strawberry.field(
        description="`credits.low` is sent when a balance drops below it."
    )
    auto_block: bool = strawberry.field(
        description="Block an exhausted wallet; a top-up unblocks it."
    )
    unit_prices: list[CreditUnitPrice] = strawberry.field(description="Top-up prices.")
    customers_may_change_timezone: bool = strawberry.field(
        description="Whether a customer token may change its own time zone (the daily"
        " limit resets at the customer's local midnight). Default false: admin keys only."
    )


@strawberry.input
class ConsumeCreditsInput:
    customer_id: strawberry.ID = strawberry.field(description="cus_… or your external id.")
    module: str
    action: str
    quantity: BigInt = 1
    request_id: str = strawberry.field(description="Idempotency key, unique per tenant.")
    metadata: JSON | None = None


@strawberry.input
class CreditUnitPriceInput:
    currency: str
    amount_minor: BigInt


@strawberry.input
class CreditSettingsInput:
    costs: list[ModuleCostInput] | None = not_null_when_given()
    low_threshold: BigInt | None = strawberry.UNSET
    auto_block: bool | None = strawberry.UNSET
    unit_prices: list[CreditUnitPriceInput] | None = not_null_when_given()
    customers_may_change_timezone: bool | None = strawberry.UNSET


ConsumeCreditsResult = result_union("ConsumeCreditsResult", CreditConsumption)


@strawberry.type
class ConsumeCreditsBatchSuccess:
    results: list[ConsumeCreditsResult] = strawberry.field(
        description="One per item, in the order sent."
    )


def _consume_input(cls: type, value: Any, context: Any) -> Any:
    """Build a ConsumeCreditsInput straight from the value graphql-core has already
    coerced (its scalars parsed, its defaults filled in): Strawberry's generic
    field-by-field conversion cost more than the whole consumption in a batch of
    1,000. A test checks the result against the generic conversion."""
    return cls(
        customer_id=value["customerId"],
        module=value["module"],
        action=value["action"],
        quantity=value["quantity"],
        request_id=value["requestId"],
        metadata=value.get("metadata"),
    )


ConsumeCreditsInput.__strawberry_definition__.from_input = _consume_input  # type: ignore[attr-defined]


@strawberry.type
class ReserveCreditsSuccess:
    reserved: bool
    reason: CreditRefusal | None
    cost: BigInt
    replayed: bool
    reservation: CreditReservation | None


@strawberry.type
class ReservationSuccess:
    reservation: CreditReservation


@strawberry.type
class CreditWalletSuccess:
    wallet: CreditWallet


@strawberry.type
class CreditEntrySuccess:
    entry: CreditEntry


@strawberry.type
class CreditPurchaseSuccess:
    purchase: CreditPurchase


@strawberry.type
class CreditSettingsSuccess:
    settings: CreditSettings


@strawberry.type(description="A wallet as it stands after a change.")
class CreditBalanceEvent:
    customer_id: strawberry.ID
    balance: BigInt
    reserved: BigInt
    used_today: BigInt
    blocked: bool
    committed_at: datetime


@strawberry.type(description="One ledger entry, as it commits.")
class UsageEvent:
    customer_id: strawberry.ID
    entry_id: strawberry.ID
    kind: CreditEntryKind
    amount: BigInt
    balance_after: BigInt
    module: str | None
    action: str | None
    quantity: BigInt | None
    created_at: datetime


ConsumeCreditsBatchResult = result_union("ConsumeCreditsBatchResult", ConsumeCreditsBatchSuccess)
ReserveCreditsResult = result_union("ReserveCreditsResult", ReserveCreditsSuccess)
ReservationResult = result_union("ReservationResult", ReservationSuccess)
CreditWalletResult = result_union("CreditWalletResult", CreditWalletSuccess)
CreditEntryResult = result_union("CreditEntryResult", CreditEntrySuccess)
CreditPurchaseResult = result_union("CreditPurchaseResult", CreditPurchaseSuccess)
CreditSettingsResult = result_union("CreditSettingsResult", CreditSettingsSuccess)
