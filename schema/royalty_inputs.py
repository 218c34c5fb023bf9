"""Royalties inputs and enums: payees, works and their shares, contracts, advances,
adjustments, exchange rates, settings and reads."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

import strawberry

from schema.common import BigInt, MoneyInput, not_null_when_given


@strawberry.enum
class PayeeKind(enum.StrEnum):
    AUTHOR = "author"
    TRANSLATOR = "translator"
    ILLUSTRATOR = "illustrator"
    LABEL = "label"
    ESTATE = "estate"
    AGENT = "agent"


@strawberry.enum(
    description="MANUAL: a bank transfer recorded by hand; STRIPE_CONNECT: a transfer to "
    "the payee's connected account (acct_…); MOBILE_MONEY: a number in E.164."
)
class PayoutMethod(enum.StrEnum):
    MANUAL = "manual"
    STRIPE_CONNECT = "stripe_connect"
    MOBILE_MONEY = "mobile_money"


@strawberry.enum(description="What earned a royalty.")
class RoyaltyTransactionType(enum.StrEnum):
    SALE = "SALE"
    SUBSCRIPTION_READ = "SUBSCRIPTION_READ"
    USAGE = "USAGE"
    LICENSE = "LICENSE"
    ADJUSTMENT = "ADJUSTMENT"


@strawberry.enum(
    description="NET_RECEIPTS: the price after discounts, without tax, after refunds; "
    "LIST_PRICE: the list price (without tax) of what the customer kept."
)
class RoyaltyBasis(enum.StrEnum):
    NET_RECEIPTS = "NET_RECEIPTS"
    LIST_PRICE = "LIST_PRICE"


@strawberry.enum(description="DRAFT → APPROVED → PAID; CARRIED: below the threshold, carried.")
class RoyaltyStatementStatus(enum.StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    PAID = "paid"
    CARRIED = "carried"


# -- payees ------------------------------------------------------------------------------
@strawberry.input
class CreatePayeeInput:
    name: str
    payout_currency: str = strawberry.field(description="ISO 4217; statements are in it.")
    kind: PayeeKind = PayeeKind.AUTHOR
    email: str | None = strawberry.UNSET
    language: str | None = strawberry.field(
        default=strawberry.UNSET, description="Statements' language: en, fr, de, es or ar."
    )
    payout_method: PayoutMethod | None = strawberry.UNSET
    payout_account: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="STRIPE_CONNECT: the account id (acct_…); MOBILE_MONEY: the number "
        "(+221…); MANUAL: an optional reference.",
    )
    tax_id: str | None = strawberry.UNSET
    agent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Another payee through whom this one is paid."
    )
    threshold_minor: BigInt | None = strawberry.field(
        default=strawberry.UNSET,
        description="Minimum payout, payout currency; null: the tenant's, converted.",
    )


@strawberry.input
class UpdatePayeeInput:
    name: str | None = not_null_when_given()
    kind: PayeeKind | None = not_null_when_given()
    email: str | None = strawberry.UNSET
    language: str | None = not_null_when_given()
    payout_currency: str | None = not_null_when_given(
        description="Fixed once the payee has ledger entries."
    )
    payout_method: PayoutMethod | None = not_null_when_given()
    payout_account: str | None = strawberry.UNSET
    tax_id: str | None = strawberry.UNSET
    agent_id: strawberry.ID | None = strawberry.UNSET
    threshold_minor: BigInt | None = strawberry.UNSET


# -- works -------------------------------------------------------------------------------
@strawberry.input(description="One contributor's share of a work, a percent.")
class WorkShareInput:
    payee_id: strawberry.ID
    share: Decimal = strawberry.field(description='"33.33"; a work\'s shares sum to exactly 100.')
    role: str = strawberry.field(default="author", description="author, translator, …")


@strawberry.input
class CreateWorkInput:
    code: str = strawberry.field(description="Unique in the tenant (an ISBN, a SKU).")
    title: str
    shares: list[WorkShareInput] | None = strawberry.field(
        default=strawberry.UNSET, description="The contributors, from `effectiveFrom`."
    )
    effective_from: date | None = strawberry.field(
        default=strawberry.UNSET, description="When the shares apply from; today by default."
    )


@strawberry.input
class UpdateWorkInput:
    code: str | None = not_null_when_given()
    title: str | None = not_null_when_given()


# -- contracts ---------------------------------------------------------------------------
@strawberry.input(description="Units up to `upTo` (cumulative; null: no bound) earn `rate` %.")
class EscalatorInput:
    up_to: BigInt | None
    rate: Decimal


@strawberry.input(
    description="The terms for one transaction type: a flat `rate` or `escalators` "
    "(SALE, SUBSCRIPTION_READ, USAGE), or a `flatFee` per currency (LICENSE)."
)
class ContractRuleInput:
    type: RoyaltyTransactionType
    rate: Decimal | None = strawberry.field(default=None, description='Percent: "70".')
    basis: RoyaltyBasis | None = None
    escalators: list[EscalatorInput] | None = None
    flat_fee: list[MoneyInput] | None = None


@strawberry.input(description="Withhold `percent` of a period's sale earnings for returns.")
class ReserveInput:
    percent: Decimal
    release_after: int = strawberry.field(description="Released this many periods later.")


@strawberry.input
class CreateContractInput:
    work_id: strawberry.ID = strawberry.field(description="wrk_… or the work's code.")
    payee_id: strawberry.ID
    rules: list[ContractRuleInput]
    reserve: ReserveInput | None = None


@strawberry.input(description="New terms apply to the periods not stated yet.")
class UpdateContractInput:
    rules: list[ContractRuleInput] | None = not_null_when_given(description="All of them.")
    reserve: ReserveInput | None = strawberry.field(
        default=strawberry.UNSET, description="null: no reserve."
    )


# -- money movements ---------------------------------------------------------------------
@strawberry.input
class RecordRoyaltyAdvanceInput:
    payee_id: strawberry.ID
    amount: MoneyInput = strawberry.field(description="In the payee's payout currency.")
    paid_on: date | None = strawberry.field(default=None, description="Today by default.")
    reference: str | None = None
    work_id: strawberry.ID | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="A replay returns the first advance."
    )


@strawberry.input
class RecordRoyaltyAdjustmentInput:
    payee_id: strawberry.ID
    amount: MoneyInput = strawberry.field(description="Signed: negative takes back.")
    reason: str
    period: str = strawberry.field(description="YYYY-MM; not a period already stated.")
    work_id: strawberry.ID | None = None
    idempotency_key: str | None = None


@strawberry.input(description="1 fromCurrency = rate toCurrency.")
class RoyaltyExchangeRateInput:
    from_currency: str
    to_currency: str
    rate: Decimal


@strawberry.input
class UpdateRoyaltySettingsInput:
    pool_rate: Decimal | None = not_null_when_given(
        description="Percent of collected subscription revenue shared by reads."
    )
    threshold: MoneyInput | None = not_null_when_given(description="The default minimum payout.")
    read_event_code: str | None = not_null_when_given(
        description="Usage events of this metric code count as reads."
    )


@strawberry.input(description="Reads of a work; `requestId` makes each item idempotent.")
class RoyaltyReadInput:
    request_id: str
    work_id: strawberry.ID = strawberry.field(description="wrk_…")
    count: BigInt = strawberry.field(default=1)  # type: ignore[assignment]
    occurred_at: datetime | None = strawberry.field(default=None, description="Now by default.")
    customer_id: strawberry.ID | None = None
