"""Approving a royalty statement and paying it: by hand (a bank transfer recorded
with its reference) or through a Stripe Connect transfer.

    draft ──approve──▶ approved ──record_payout / pay_with_stripe_connect──▶ paid

A payout writes the ledger's `payout` entry (minus the payable amount) with the
payee row locked, so the payee's balance and its entries move together, and the
statement can be paid once only: a second payout is ALREADY_PAID and changes nothing.

Stripe Connect follows the house rule for provider calls (no network call inside a
transaction): the payout row is written first, pending; the transfer is asked for
after that commit, with the idempotency key `royalty-statement-<statement id>`; the
answer is recorded in a second transaction. A retry (after an outage, a crash, a
lost answer) reuses the row and the key, so Stripe replays the first transfer
instead of making a second one. Locks are taken payee first, then statement, as the
ledger's other writers take them.

Outbound webhooks (`royalty_statement.approved`, `payout.paid`) go through the
outbox, in the transaction of the change they announce: delivered after its commit,
never for a change that rolled back.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import stripe

from db.models import Tenant
from db.royalty_models import Payee, RoyaltyPayout, RoyaltyStatement
from domain import clock, validation
from domain.bounds import EARLIEST, LATEST
from domain.errors import ConflictError, NotFoundError, ValidationError
from domain.ids import check_id, new_id
from domain.payments.providers import stripe_provider
from domain.payments.providers.registry import credentials_for
from domain.royalties.ledger import Posting, post
from domain.tenancy.access import Permission, Principal
from domain.unit_of_work import operation
from domain.webhooks import outbox


class StatementNotApprovable(ConflictError):
    code = "STATEMENT_NOT_APPROVABLE"


class StatementNotPayable(ConflictError):
    code = "STATEMENT_NOT_PAYABLE"


class AlreadyPaid(ConflictError):
    code = "ALREADY_PAID"


class PayoutInProgress(ConflictError):
    code = "PAYOUT_IN_PROGRESS"


class PayoutMethodError(ValidationError):
    code = "PAYOUT_METHOD_UNAVAILABLE"


FIELD = "statementId"


async def _statement(principal: Principal, statement_id: str, *, lock: bool) -> RoyaltyStatement:
    check_id(statement_id, "royalty_statement", field=FIELD)
    query = RoyaltyStatement.select_for_update() if lock else RoyaltyStatement
    found = await query.get_or_none(tenant_id=principal.tenant_id, public_id=statement_id)
    if found is None:
        raise NotFoundError(f"no royalty statement {statement_id}", field=FIELD)
    return found


async def _locked(principal: Principal, statement_id: str) -> tuple[Payee, RoyaltyStatement]:
    """The statement's payee and the statement, both locked, payee first."""
    seen = await _statement(principal, statement_id, lock=False)
    payee = await Payee.select_for_update().get(id=seen.payee_id)
    return payee, await _statement(principal, statement_id, lock=True)


def _payable(statement: RoyaltyStatement) -> None:
    if statement.status == "paid":
        raise AlreadyPaid(f"statement {statement.public_id} is paid already", field=FIELD)
    if statement.status != "approved":
        raise StatementNotPayable(
            f"statement {statement.public_id} is {statement.status}: only an approved "
            "statement is paid",
            field=FIELD,
        )
    if statement.payable_minor <= 0:
        raise StatementNotPayable(f"statement {statement.public_id} has nothing payable")


async def _public_id(model: Any, row_id: int | None) -> str | None:
    if row_id is None:
        return None
    return (await model.get(id=row_id).values("public_id"))["public_id"]


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def statement_object(statement: RoyaltyStatement, payee_public_id: str) -> dict[str, Any]:
    return {
        "object": "royalty_statement",
        "id": statement.public_id,
        "payee": payee_public_id,
        "period": statement.period,
        "status": statement.status,
        "currency": statement.currency,
        "payable_minor": statement.payable_minor,
        "closing_minor": statement.closing_minor,
        "approved_at": _iso(statement.approved_at),
        "paid_at": _iso(statement.paid_at),
    }


def payout_object(
    payout: RoyaltyPayout, statement_public_id: str, payee_public_id: str
) -> dict[str, Any]:
    return {
        "object": "royalty_payout",
        "id": payout.public_id,
        "statement": statement_public_id,
        "payee": payee_public_id,
        "method": payout.method,
        "status": payout.status,
        "amount_minor": payout.amount_minor,
        "currency": payout.currency,
        "reference": payout.reference,
        "provider_ref": payout.provider_ref,
        "paid_on": _iso(payout.paid_on),
    }


@operation
async def approve_statement(principal: Principal, statement_id: str) -> RoyaltyStatement:
    """A draft statement (payable at or above the threshold) approved for payment."""
    principal.require(Permission.ROYALTIES_MANAGE)
    statement = await _statement(principal, statement_id, lock=True)
    if statement.status != "draft":
        raise StatementNotApprovable(
            f"statement {statement.public_id} is {statement.status}: only a draft is approved",
            field=FIELD,
        )
    statement.status = "approved"
    statement.approved_at = statement.updated_at = clock.now()
    await statement.save(update_fields=["status", "approved_at", "updated_at"])
    payee = await _public_id(Payee, statement.payee_id)
    assert payee is not None
    await outbox.emit(
        statement.tenant_id, "royalty_statement.approved", statement_object(statement, payee)
    )
    return statement


async def _local_today(tenant_id: int, now: datetime) -> date:
    """The day a payout is made on, in the tenant's own time zone (its books)."""
    zone = (await Tenant.get(id=tenant_id).values("timezone"))["timezone"]
    return now.astimezone(ZoneInfo(zone or "UTC")).date()


async def _settle(
    payee: Payee, statement: RoyaltyStatement, payout: RoyaltyPayout, now: datetime
) -> None:
    """The payout's ledger entry, the statement paid, `payout.paid` in the outbox; the
    caller holds the payee and statement locks and has saved the paid payout."""
    memo = f"payout {payout.public_id} {payout.reference or payout.provider_ref or ''}"
    await post(
        payee,
        [Posting("payout", amount_minor=-statement.payable_minor, memo=memo.strip())],
        at=now,
        statement_id=statement.id,
        period=statement.period,
    )
    statement.status = "paid"
    statement.paid_at = statement.updated_at = now
    await statement.save(update_fields=["status", "paid_at", "updated_at"])
    await outbox.emit(
        statement.tenant_id,
        "payout.paid",
        payout_object(payout, statement.public_id, payee.public_id),
    )


@operation
async def record_payout(
    principal: Principal, statement_id: str, *, reference: str, paid_on: date | None = None
) -> RoyaltyPayout:
    """An approved statement paid by hand (a bank transfer, a cheque): `reference` is
    the transfer's, `paid_on` its date (default: today, in the tenant's time zone)."""
    principal.require(Permission.ROYALTIES_MANAGE)
    reference = validation.text(reference, field="reference", max_length=200, required=True)
    if paid_on is not None and not EARLIEST.date() <= paid_on < LATEST.date():
        raise ValidationError(
            f"paidOn must lie between {EARLIEST.date()} and {LATEST.date()}", field="paidOn"
        )
    payee, statement = await _locked(principal, statement_id)
    _payable(statement)
    now = clock.now()
    payout = await RoyaltyPayout.get_or_none(statement_id=statement.id)
    if payout is not None and payout.status == "pending":
        # A Stripe transfer was asked for and its answer is not recorded: paying by
        # hand now could pay twice. Retrying the transfer settles it (same key).
        raise PayoutInProgress(
            f"a Stripe transfer of statement {statement.public_id} is pending: retry it",
            field=FIELD,
        )
    values = {
        "method": "manual",
        "amount_minor": statement.payable_minor,
        "currency": statement.currency,
        "status": "paid",
        "reference": reference,
        "provider_ref": None,
        "failure": None,
        "paid_on": paid_on or await _local_today(statement.tenant_id, now),
        "updated_at": now,
    }
    if payout is None:
        payout = await RoyaltyPayout.create(
            public_id=new_id("royalty_payout"),
            tenant_id=statement.tenant_id,
            payee_id=payee.id,
            statement_id=statement.id,
            created_at=now,
            **values,
        )
    else:  # a Stripe transfer that failed (Stripe refused it), paid by hand instead
        payout.update_from_dict(values)
        await payout.save()
    await _settle(payee, statement, payout, now)
    return payout


async def pay_with_stripe_connect(principal: Principal, statement_id: str) -> RoyaltyPayout:
    """An approved statement paid by a Stripe Connect transfer to the payee's connected
    account (or its agent's, when it is paid through one). Returns the payout: paid,
    or failed with Stripe's message (then calling again retries it, safely)."""
    principal.require(Permission.ROYALTIES_MANAGE)
    payout, request, api_key = await _open_transfer(principal, statement_id)
    try:
        transfer = await stripe_provider.client().v1.transfers.create_async(
            params=request,  # type: ignore[arg-type]
            options={"api_key": api_key, "idempotency_key": f"royalty-statement-{statement_id}"},
        )
    except stripe.StripeError as exc:
        message = (exc.user_message or str(exc)) or "Stripe error"
        return await _transfer_failed(payout.id, message, refused=not _ambiguous(exc))
    return await _transfer_made(principal, statement_id, payout.id, str(transfer.to_dict()["id"]))


@operation
async def _open_transfer(
    principal: Principal, statement_id: str
) -> tuple[RoyaltyPayout, dict[str, Any], str]:
    """The payout row, pending (created, or the earlier attempt's taken up again), the
    transfer's parameters and the tenant's Stripe key."""
    payee, statement = await _locked(principal, statement_id)
    _payable(statement)
    recipient = payee if payee.agent_id is None else await Payee.get(id=payee.agent_id)
    account = recipient.payout_account or ""
    if recipient.payout_method != "stripe_connect" or not account.startswith("acct_"):
        raise PayoutMethodError(
            f"payee {recipient.public_id} has no Stripe Connect account (acct_…)", field=FIELD
        )
    tenant = await Tenant.get(id=statement.tenant_id)
    api_key = credentials_for("stripe", tenant).api_key
    if not api_key:
        raise PayoutMethodError(
            "this tenant has no Stripe secret key", field=FIELD, code="PROVIDER_NOT_CONFIGURED"
        )
    now = clock.now()
    payout = await RoyaltyPayout.select_for_update().get_or_none(statement_id=statement.id)
    if payout is None:
        payout = await RoyaltyPayout.create(
            public_id=new_id("royalty_payout"),
            tenant_id=statement.tenant_id,
            payee_id=payee.id,
            statement_id=statement.id,
            method="stripe_connect",
            amount_minor=statement.payable_minor,
            currency=statement.currency,
            status="pending",
            created_at=now,
            updated_at=now,
        )
    elif payout.status == "failed":
        payout.status, payout.failure, payout.updated_at = "pending", None, now
        await payout.save(update_fields=["status", "failure", "updated_at"])
    request = {
        "amount": payout.amount_minor,
        "currency": payout.currency.lower(),
        "destination": account,
        "description": f"Royalties {statement.period}",
        "metadata": {
            "tally_statement": statement.public_id,
            "tally_payout": payout.public_id,
            "tally_payee": payee.public_id,
        },
    }
    return payout, request, api_key


def _ambiguous(exc: stripe.StripeError) -> bool:
    """A connection error, a timeout or a 5xx may hide a transfer Stripe made: only a
    definite refusal (a 4xx answer) may be followed by a payout by hand."""
    status = exc.http_status
    return isinstance(exc, stripe.APIConnectionError) or status is None or status >= 500


@operation
async def _transfer_failed(payout_id: int, message: str, *, refused: bool) -> RoyaltyPayout:
    """Refused: the payout is failed (retry it, or pay by hand). Not known: it stays
    pending with the error noted, so only a retry of the same transfer settles it."""
    payout = await RoyaltyPayout.select_for_update().get(id=payout_id)
    if payout.status == "pending":  # not settled meanwhile by a concurrent retry
        if refused:
            payout.status = "failed"
        payout.failure = message[:300] if refused else f"outcome unknown: {message}"[:300]
        payout.updated_at = clock.now()
        await payout.save(update_fields=["status", "failure", "updated_at"])
    return payout


@operation
async def _transfer_made(
    principal: Principal, statement_id: str, payout_id: int, transfer_id: str
) -> RoyaltyPayout:
    payee, statement = await _locked(principal, statement_id)
    payout = await RoyaltyPayout.select_for_update().get(id=payout_id)
    if payout.status == "paid":  # a concurrent retry got the same transfer and settled it
        return payout
    _payable(statement)  # never a second ledger entry, whatever happened meanwhile
    now = clock.now()
    payout.status, payout.provider_ref, payout.failure = "paid", transfer_id, None
    payout.paid_on = await _local_today(statement.tenant_id, now)
    payout.updated_at = now
    await payout.save(update_fields=["status", "provider_ref", "failure", "paid_on", "updated_at"])
    await _settle(payee, statement, payout, now)
    return payout
